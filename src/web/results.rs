//! The results as an `.xlsx` download, and how a CSV file cake-recon wrote is read back.

use std::path::Path;

/// The delimiter of a CSV file cake-recon wrote, from its first bytes: its header starts `row`
/// (after a BOM, when it has one).
pub(super) fn delimiter_of(head: &[u8]) -> u8 {
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    body.strip_prefix(b"row")
        .and_then(|r| r.first().copied())
        .filter(|b| matches!(b, b',' | b';' | b'\t' | b'|'))
        .unwrap_or(b',')
}

/// A CSV file cake-recon wrote in the served folder `root` (never through a link: `jail.rs`),
/// without its BOM, and its delimiter (the header starts `row`).
fn read_cake_recon_csv(root: &Path, path: &Path) -> Option<(String, u8)> {
    let bytes = super::jail::read(root, path).ok()?;
    let delimiter = delimiter_of(&bytes);
    let text = String::from_utf8_lossy(&bytes)
        .trim_start_matches('\u{feff}')
        .to_string();
    Some((text, delimiter))
}

/// The results CSV as an `.xlsx`, cells typed by their column (`report::xlsx`): amounts and
/// counts as numbers, everything else as text, so nothing in it is ever a formula.
pub(super) fn to_xlsx(root: &Path, path: &Path) -> Result<Vec<u8>, String> {
    use crate::report::xlsx::{Cell, write};
    let (text, delimiter) =
        read_cake_recon_csv(root, path).ok_or_else(|| format!("cannot read {}", path.display()))?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Results").map_err(|e| e.to_string())?;
    let head = rdr.headers().map_err(|e| e.to_string())?.clone();
    let kinds: Vec<Cell> = head.iter().map(Cell::of).collect();
    for (c, title) in (0u16..).zip(head.iter()) {
        write(sheet, 0, c, Cell::Text, title).map_err(|e| e.to_string())?;
    }
    for (r, rec) in (1u32..).zip(rdr.records()) {
        let rec = rec.map_err(|e| e.to_string())?;
        for ((c, cell), kind) in (0u16..)
            .zip(rec.iter())
            .zip(kinds.iter().chain(std::iter::repeat(&Cell::Text)))
        {
            write(sheet, r, c, *kind, cell).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

//! Reading the files cake-recon writes (results, check file) for the pages, and the results as
//! an `.xlsx` download.

use std::path::Path;

/// A CSV file cake-recon wrote in the served folder `root` (never through a link: `jail.rs`),
/// without its BOM, and its delimiter (the header starts `row`).
fn read_cake_recon_csv(root: &Path, path: &Path) -> Option<(String, u8)> {
    let bytes = super::jail::read(root, path).ok()?;
    let text = String::from_utf8_lossy(&bytes)
        .trim_start_matches('\u{feff}')
        .to_string();
    let delimiter = text
        .strip_prefix("row")
        .and_then(|r| r.bytes().next())
        .filter(|b| matches!(b, b',' | b';' | b'\t' | b'|'))
        .unwrap_or(b',');
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

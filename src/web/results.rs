//! Reading the files cake-recon writes (results, check file) for the pages, and the results as
//! an `.xlsx` download.

use super::html::esc;
use std::collections::BTreeMap;
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

/// Reads a CSV file cake-recon wrote (its delimiter, its BOM): the header, the rows whose
/// `key` column passes `keep` (escaped, the first `limit`), and the count of each `key` value.
pub(super) type Rows = (Vec<String>, Vec<Vec<String>>, BTreeMap<String, u64>);

pub(super) fn read_csv_rows(
    root: &Path,
    path: &Path,
    key: &str,
    keep: impl Fn(&str) -> bool,
    limit: usize,
) -> Option<Rows> {
    let (text, delimiter) = read_cake_recon_csv(root, path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let head: Vec<String> = rdr.headers().ok()?.iter().map(str::to_string).collect();
    let k = head.iter().position(|h| h == key)?;
    let shown: Vec<usize> = [
        "row",
        "status",
        "message",
        "differences",
        "conversion_id",
        "request_session_id",
        "transaction_id",
    ]
    .iter()
    .filter_map(|c| head.iter().position(|h| h == c))
    .collect();
    let mut rows = Vec::new();
    let mut counts = BTreeMap::new();
    for rec in rdr.records().flatten() {
        let v = rec.get(k).unwrap_or("");
        *counts.entry(v.to_string()).or_insert(0) += 1;
        if keep(v) && rows.len() < limit {
            rows.push(
                shown
                    .iter()
                    .map(|i| esc(rec.get(*i).unwrap_or("")))
                    .collect(),
            );
        }
    }
    let head = shown.iter().filter_map(|i| head.get(*i).cloned()).collect();
    Some((head, rows, counts))
}

/// Σ payout set, Σ payout added and Σ received over the rows the results file says were
/// updated (`+3.00` is an addition, `12.50` a new value; blank: unchanged).
pub(super) fn applied_sums(root: &Path, path: &Path) -> Option<[rust_decimal::Decimal; 3]> {
    let (text, delimiter) = read_cake_recon_csv(root, path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let head = rdr.headers().ok()?.clone();
    let col = |name: &str| head.iter().position(|h| h == name);
    let (st, pay, rec) = (col("status")?, col("payout")?, col("received")?);
    let mut sums = [rust_decimal::Decimal::ZERO; 3];
    for r in rdr.records().flatten() {
        if r.get(st) != Some("updated") {
            continue;
        }
        let amount = |i: usize| {
            let text = r.get(i).unwrap_or("").replace(',', "");
            let added = text.starts_with('+');
            let value = text
                .trim_start_matches('+')
                .parse::<rust_decimal::Decimal>()
                .unwrap_or_default();
            (added, value)
        };
        // Sums saturate: a file edited by hand never panics the page.
        let (added, payout) = amount(pay);
        let slot = usize::from(added);
        sums[slot] = sums[slot].saturating_add(payout);
        sums[2] = sums[2].saturating_add(amount(rec).1);
    }
    Some(sums)
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

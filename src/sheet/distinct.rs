//! The distinct cells of one column, for a screen that asks what each of them means (a value
//! map made by dropdowns instead of `--values`).

use super::options::SheetOptions;
use super::stream::Sheet;
use std::path::Path;

/// How many rows are read looking for distinct cells: a decision column repeats a handful of
/// words, which show up long before this.
const ROWS_READ: u64 = 200_000;

/// Up to `max` distinct non-empty cells of column `index` below the header, as first written
/// (cells that differ only in case or spacing are one). Cells a value map cannot name (`,`,
/// `:`, `=`) are left out. Empty when the sheet cannot be opened.
#[must_use]
pub(crate) fn distinct_cells(
    path: &Path,
    opts: &SheetOptions,
    index: usize,
    max: usize,
) -> Vec<String> {
    let Ok(mut sheet) = Sheet::open(path, opts) else {
        return Vec::new();
    };
    let mut seen: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut rows = 0u64;
    while let Ok(Some(_)) = sheet.next_row(&super::Duplicates::new()) {
        rows += 1;
        if rows > ROWS_READ || seen.len() >= max {
            break;
        }
        let Some(cell) = sheet.record().get(index).map(str::trim) else {
            continue;
        };
        if cell.is_empty() || cell.contains([',', ':', '=']) || cell.chars().count() > 40 {
            continue;
        }
        let key = super::parse::normalize_token(cell);
        if !keys.contains(&key) {
            keys.push(key);
            seen.push(cell.to_string());
        }
    }
    seen
}

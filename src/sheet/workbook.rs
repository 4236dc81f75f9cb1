//! `.xlsx`, `.xlsm`, `.xls` and `.ods` workbooks, read directly (calamine).
//!
//! A workbook's cells are typed, so nothing is guessed from text: numbers become the decimal
//! text Excel shows (15 significant digits, the precision Excel keeps), never a binary
//! fraction's long tail, so `12.34` stays `12.34` and not `12.339999999999999`; dates become
//! ISO text read in no order but their own. The sheet's rows then flow through the same
//! header search, evidence and validation as a CSV's.

use super::SheetError;
pub(crate) use super::xml_attr::column_name;
use calamine::{Data, Reader as _};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::Path;

/// A workbook sheet, as rows of cell text with their spreadsheet row numbers.
pub(crate) struct Workbook {
    /// `xlsx`, `xls`, `ods`, …
    pub kind: &'static str,
    /// The sheet read.
    pub sheet: String,
    /// Every sheet of the workbook, in order (for `--sheet` advice).
    pub sheets: Vec<String>,
    /// The sheets hidden in the workbook (never read unless named).
    pub hidden_sheets: Vec<String>,
    pub rows: std::vec::IntoIter<(u64, Vec<String>)>,
    /// What the sheet hides and what its cells show, where that differs from what they hold.
    pub seen: Seen,
}

/// What the person sees of a sheet, where it is not what the sheet holds (`.xlsx` family).
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    pub layout: super::layout::Layout,
    /// (spreadsheet row, column index) → what a number cell shows, where its format shows
    /// fewer decimals than it holds (the cell's text is what it holds).
    pub shown: HashMap<(u64, usize), super::shown::Display>,
    /// Cells merged across rows, as `(first row, last row, first column, last column)`
    /// (spreadsheet rows, 0-based columns): one value shown for several rows, stored in the
    /// first only.
    pub merged: Vec<(u64, u64, usize, usize)>,
}

/// The workbook kind of `path`, by its name or, for a misnamed file, its first bytes.
pub(crate) fn kind(path: &Path) -> Option<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("xlsx") => return Some("xlsx"),
        Some("xlsm") => return Some("xlsm"),
        Some("xlsb") => return Some("xlsb"),
        Some("xls") => return Some("xls"),
        Some("ods") => return Some("ods"),
        _ => {}
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    match head.get(..n) {
        Some([0x50, 0x4b, 0x03, 0x04]) => Some("zip-packed workbook"),
        Some([0xd0, 0xcf, 0x11, 0xe0]) => Some("xls"),
        _ => None,
    }
}

/// Reads the sheet `wanted` (default: the first) of the workbook at `path`.
pub(crate) fn read(
    path: &Path,
    kind: &'static str,
    wanted: Option<&str>,
    limits: &super::limits::Limits,
) -> Result<Workbook, SheetError> {
    let fail = |problem: String| SheetError::Format {
        path: path.to_path_buf(),
        problem,
    };
    // Measured before any reader holds a part of it (`limits.rs`).
    if kind != "xls" {
        super::limits::check_package(path, limits).map_err(fail)?;
    }
    let mut book = calamine::open_workbook_auto(path).map_err(|e| {
        fail(format!(
            "could not be read as a {kind} workbook ({e}); save it again from the spreadsheet \
             program, or export the sheet as CSV"
        ))
    })?;
    let sheets = book.sheet_names();
    let sheet = match wanted {
        Some(w) => sheets
            .iter()
            .find(|s| s.as_str() == w)
            .or_else(|| sheets.iter().find(|s| s.eq_ignore_ascii_case(w)))
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "has no sheet named \"{w}\"; its sheets are: {}",
                    quoted(&sheets)
                ))
            })?,
        // The first sheet the person can see: a hidden sheet (last month's, a lookup) is
        // read only when named with --sheet.
        None => book
            .sheets_metadata()
            .iter()
            .find(|m| m.visible == calamine::SheetVisible::Visible)
            .map(|m| m.name.clone())
            .or_else(|| sheets.first().cloned())
            .ok_or_else(|| fail("has no sheets".into()))?,
    };
    let hidden_sheets: Vec<String> = book
        .sheets_metadata()
        .iter()
        .filter(|m| m.visible != calamine::SheetVisible::Visible)
        .map(|m| m.name.clone())
        .collect();
    let mut seen = Seen::default();
    // The sheet's extent is read from its cells' references before its range is held.
    if let calamine::Sheets::Xlsx(_) = &book {
        seen.layout = super::layout::read(path, &sheet, limits).map_err(fail)?;
    }
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| fail(format!("sheet \"{sheet}\" could not be read: {e}")))?;
    unsaved_formulas(path, &mut book, &sheet, &range).map_err(fail)?;
    if let calamine::Sheets::Xlsx(xlsx) = &mut book {
        // Number formats: a workbook whose styles cannot be read shows its values as stored.
        if let Ok(styles) = xlsx.worksheet_style(&sheet) {
            seen.shown = shown_amounts(&range, &styles);
        }
        seen.merged = xlsx
            .merge_cells_by_sheet_name(&sheet)
            .map_err(|e| {
                fail(format!(
                    "sheet \"{sheet}\": its merged cells could not be read ({e})"
                ))
            })?
            .into_iter()
            .filter(|d| d.end.0 > d.start.0)
            .map(|d| {
                (
                    u64::from(d.start.0) + 1,
                    u64::from(d.end.0) + 1,
                    d.start.1 as usize,
                    d.end.1 as usize,
                )
            })
            .collect();
    }
    let (top, _) = range.start().unwrap_or((0, 0));
    let (_, left) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::with_capacity(range.height());
    for (i, cells) in range.rows().enumerate() {
        let row = u64::from(top) + i as u64 + 1;
        // Columns left of the used range are empty: keep positions as the sheet shows them.
        let mut texts: Vec<String> = vec![String::new(); left as usize];
        for (j, c) in cells.iter().enumerate() {
            texts.push(text(c).map_err(|why| {
                fail(format!(
                    "sheet \"{sheet}\", row {row}, column {}: {why}",
                    column_name(left as usize + j)
                ))
            })?);
        }
        rows.push((row, texts));
    }
    Ok(Workbook {
        kind,
        sheet,
        sheets,
        hidden_sheets,
        rows: rows.into_iter(),
        seen,
    })
}

/// Excel's built-in currency formats 5 to 8, which a workbook names by id alone (calamine
/// knows them as General).
fn builtin_currency(id: Option<u32>) -> Option<&'static str> {
    Some(match id? {
        5 => "\"$\"#,##0_);(\"$\"#,##0)",
        6 => "\"$\"#,##0_);[Red](\"$\"#,##0)",
        7 => "\"$\"#,##0.00_);(\"$\"#,##0.00)",
        8 => "\"$\"#,##0.00_);[Red](\"$\"#,##0.00)",
        _ => return None,
    })
}

/// Every number cell whose format shows fewer decimals than it holds, with what it shows.
fn shown_amounts(
    values: &calamine::Range<Data>,
    styles: &calamine::StyleRange,
) -> HashMap<(u64, usize), super::shown::Display> {
    let mut shown = HashMap::new();
    for (r, c, cell) in values.used_cells() {
        let Data::Float(f) = cell else { continue };
        let (top, left) = values.start().unwrap_or((0, 0));
        let at = (
            top + u32::try_from(r).unwrap_or(u32::MAX),
            left + u32::try_from(c).unwrap_or(u32::MAX),
        );
        let Some(code) = styles
            .get(at)
            .and_then(|s| s.number_format.as_ref())
            .map(|n| builtin_currency(n.format_id).unwrap_or(n.format_code.as_str()))
        else {
            continue;
        };
        let Ok(stored) = decimal(*f) else { continue };
        if let Some(display) = super::shown::display_of(stored, code) {
            shown.insert((u64::from(at.0) + 1, at.1 as usize), display);
        }
    }
    shown
}

/// Refuses a sheet whose formula cells have no saved value (written by a script or an
/// exporter that does not compute): read as blank, `=10*1.25` would leave the payout
/// unchanged, silently. The spreadsheet program stores every value when it saves.
fn unsaved_formulas<RS: std::io::Read + std::io::Seek>(
    path: &Path,
    book: &mut calamine::Sheets<RS>,
    sheet: &str,
    values: &calamine::Range<Data>,
) -> Result<(), String> {
    use calamine::Reader as _;
    // A format without formulas (or one calamine cannot read them from) has nothing to check.
    let Ok(formulas) = book.worksheet_formula(sheet) else {
        return Ok(());
    };
    // A writer that leaves the computing to Excel says so (`fullCalcOnLoad`), and stores 0 as
    // the value of every formula it did not compute: such a 0 is not what the sheet shows.
    let stale = recalculated_on_open(path);
    let (top, left) = formulas.start().unwrap_or((0, 0));
    let mut cells = Vec::new();
    let mut count = 0usize;
    for (r, c, f) in formulas.used_cells() {
        if f.trim().is_empty() {
            continue;
        }
        let at = (
            top + u32::try_from(r).unwrap_or(u32::MAX),
            left + u32::try_from(c).unwrap_or(u32::MAX),
        );
        let value = values.get_value(at);
        let unsaved = value.is_none_or(|v| matches!(v, Data::Empty))
            || (stale
                && value.is_some_and(|v| match v {
                    Data::Float(f) => *f == 0.0,
                    Data::Int(i) => *i == 0,
                    Data::String(s) => s.is_empty(),
                    _ => false,
                }));
        if unsaved {
            count += 1;
            if cells.len() < 10 {
                cells.push(format!("{}{}", column_name(at.1 as usize), at.0 + 1));
            }
        }
    }
    if count == 0 {
        return Ok(());
    }
    Err(format!(
        "sheet \"{sheet}\": {count} formula cell(s) have no saved value ({}{}), so what they \
         show cannot be read and nothing was sent. Open the file in Excel or LibreOffice and \
         save it, so the values are stored with the formulas, then run again",
        cells.join(", "),
        if count > cells.len() { ", …" } else { "" }
    ))
}

/// Whether an `.xlsx` asks to be recalculated when opened (`<calcPr fullCalcOnLoad="1"/>`):
/// what script writers (`XlsxWriter`, `rust_xlsxwriter`) write, their formula values all 0.
fn recalculated_on_open(path: &Path) -> bool {
    use std::io::Read as _;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return false;
    };
    let Ok(part) = zip.by_name("xl/workbook.xml") else {
        return false;
    };
    // The workbook part is small; a bomb is cut off (the calcPr element is near its end, but
    // no real workbook part is anywhere near this size).
    let mut text = String::new();
    if part.take(8 << 20).read_to_string(&mut text).is_err() {
        return false;
    }
    let Some(at) = text.find("<calcPr") else {
        return false;
    };
    let element = text[at..].split('>').next().unwrap_or("");
    element.contains("fullCalcOnLoad=\"1\"") || element.contains("fullCalcOnLoad=\"true\"")
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cell as text the sheet parsers read exactly.
fn text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f)?,
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_duration() => number(d.as_f64())?,
        Data::DateTime(d) => {
            let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
            let at = chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(day))
                .and_then(|date| date.and_hms_opt(u32::from(h), u32::from(mi), u32::from(s)))
                .ok_or_else(|| format!("holds a date Excel cannot show ({})", d.as_f64()))?;
            // Excel keeps milliseconds; CAKE takes whole seconds: round, never truncate.
            let at = if ms >= 500 {
                at + chrono::Duration::seconds(1)
            } else {
                at
            };
            at.format("%Y-%m-%dT%H:%M:%S").to_string()
        }
        Data::Error(e) => format!("#{e:?}"),
    })
}

/// A binary double as the decimal Excel shows: 15 significant digits, trailing zeros dropped.
fn number(f: f64) -> Result<String, String> {
    decimal(f).map(decimal_text)
}

/// A binary double as the decimal Excel keeps: 15 significant digits.
fn decimal(f: f64) -> Result<Decimal, String> {
    if !f.is_finite() {
        return Err("holds a number that is not finite".into());
    }
    if f == 0.0 {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_scientific(&format!("{f:.14e}"))
        .map_err(|_| format!("holds a number beyond what an amount can hold ({f:e})"))
}

/// A workbook's decimal as text the sheet parsers read exactly.
pub(crate) fn decimal_text(d: Decimal) -> String {
    let mut text = d.normalize().to_string();
    // A typed number is never ambiguous: `3.333` as text could be a European 3333, so three
    // decimals are written as four (`3.3330`, the same amount), which no sheet format reads as
    // a thousands group — and which proves the decimal point, as the workbook's numbers are.
    if text
        .split_once('.')
        .is_some_and(|(_, frac)| frac.len() == 3)
    {
        text.push('0');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_excel_shows_them_never_as_the_binary_tail() {
        assert_eq!(number(12.34).unwrap(), "12.34");
        assert_eq!(number(0.1 + 0.2).unwrap(), "0.3");
        assert_eq!(number(1234.5).unwrap(), "1234.5");
        assert_eq!(number(707_658.0).unwrap(), "707658");
        assert_eq!(number(-2.5).unwrap(), "-2.5");
        assert_eq!(number(123_456_789_012.0).unwrap(), "123456789012");
        assert_eq!(number(0.0001).unwrap(), "0.0001");
        assert_eq!(number(3.333).unwrap(), "3.3330");
        assert_eq!(number(1.5).unwrap(), "1.5");
        assert!(number(1e-30).is_err());
        assert!(number(f64::NAN).is_err());
        assert!(number(1e300).is_err());
    }

    #[test]
    fn columns_are_named_as_the_spreadsheet_names_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}

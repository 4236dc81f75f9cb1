//! What a workbook sheet hides: rows and columns hidden by hand, and rows a filter left out.
//!
//! calamine reads a cell's value whether the person can see it or not, so a row filtered out
//! of view (`Status = Rejected` filtered away before the sheet went back) would be sent like the
//! rest. The sheet's own XML says which rows are hidden (`<row r="5" hidden="1">`, which is also
//! how Excel and `LibreOffice` store a filter's result) and which columns
//! (`<col min="2" max="2" hidden="1">`): read here with quick-xml, streaming, in the `.xlsx` family only (`.xls` and
//! `.ods` are not checked, and README says so).

use super::xml_attr::attribute;
use quick_xml::events::Event;
use std::collections::BTreeSet;
use std::io::{BufReader, Read};
use std::path::Path;

/// What a sheet hides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Hidden rows, as the spreadsheet numbers them (1 = the first).
    pub hidden_rows: BTreeSet<u64>,
    /// Hidden columns, 0 = `A`.
    pub hidden_columns: BTreeSet<usize>,
    /// The sheet has a filter (`<autoFilter>`): its hidden rows are most likely filtered out.
    pub filtered: bool,
    /// The rows and columns its cells span (what a reader of the whole range holds).
    pub extent: super::limits::Extent,
}

/// The most a part of the workbook (the workbook part, its relationships) may hold: real
/// ones are a few KiB; a bomb is cut off here.
const SMALL_PART: u64 = 8 << 20;

/// Points below which a row shows no line of text (Excel's default row is 15).
const MIN_VISIBLE_HEIGHT: f64 = 2.0;

/// Characters below which a column shows no digit (Excel's default column is 8.43).
const MIN_VISIBLE_WIDTH: f64 = 0.5;

/// The most columns one `<col>` element may hide (Excel's last column is XFD, 16 384).
const MAX_COLUMNS: u64 = 16_384;

/// The layout of the sheet named `sheet` of the `.xlsx`/`.xlsm` at `path`; a sheet whose cells
/// span more than `limits` allow, or whose part unpacks beyond them, is refused (before any
/// reader holds its range).
pub(crate) fn read(
    path: &Path,
    sheet: &str,
    limits: &super::limits::Limits,
) -> Result<Layout, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        format!(
            "which rows of sheet \"{sheet}\" are hidden could not be read ({what}: {e}); save \
             the file again from the spreadsheet program, or export the sheet as CSV"
        )
    };
    let file = std::fs::File::open(path).map_err(|e| fail("the file", &e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| fail("the zip", &e))?;
    let workbook = small_part(&mut zip, "xl/workbook.xml").map_err(|e| fail("workbook", &e))?;
    let Some(rid) = sheet_relation(&workbook, sheet) else {
        return Ok(Layout::default());
    };
    let rels = small_part(&mut zip, "xl/_rels/workbook.xml.rels")
        .map_err(|e| fail("workbook relationships", &e))?;
    let Some(target) = relation_target(&rels, &rid) else {
        return Ok(Layout::default());
    };
    let part = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    let entry = zip
        .by_name(&part)
        .map_err(|e| fail(&format!("part {part}"), &e))?;
    let capped = super::limits::Capped::new(entry, limits.unpacked_bytes);
    let layout = scan_sheet(BufReader::new(capped)).map_err(|e| {
        if e.to_string().contains(super::limits::TOO_LARGE) {
            super::limits::unpacks_too_far(&part, limits)
        } else {
            fail(&format!("part {part}"), &e)
        }
    })?;
    layout.extent.check(sheet, limits)?;
    Ok(layout)
}

/// A cell reference's row and column (`B7` → 7, 1), when it is one.
fn cell_ref(r: &str) -> Option<(u64, u64)> {
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let column = letters
        .bytes()
        .fold(0u64, |n, b| n * 26 + u64::from(b - b'A' + 1))
        - 1;
    Some((digits.parse().ok()?, column))
}

fn small_part<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<String, String> {
    let part = zip.by_name(name).map_err(|e| e.to_string())?;
    let mut text = String::new();
    part.take(SMALL_PART)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

fn is_true(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "true"))
}

/// The relationship id (`r:id`) of the sheet named `sheet` in the workbook part.
fn sheet_relation(workbook: &str, sheet: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(workbook);
    let mut first_ci = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sheet" => {
                let (Some(name), Some(id)) = (attribute(&e, "name"), attribute(&e, "id")) else {
                    continue;
                };
                if name == sheet {
                    return Some(id);
                }
                if first_ci.is_none() && name.eq_ignore_ascii_case(sheet) {
                    first_ci = Some(id);
                }
            }
            Event::Eof => return first_ci,
            _ => {}
        }
    }
}

/// The target of relationship `rid`.
fn relation_target(rels: &str, rid: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(rels);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e)
                if e.local_name().as_ref() == "Relationship"
                    && attribute(&e, "Id").as_deref() == Some(rid) =>
            {
                return attribute(&e, "Target");
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Streams the sheet part for hidden rows and columns and a filter; cell contents are skipped.
fn scan_sheet<R: std::io::BufRead>(input: R) -> Result<Layout, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut layout = Layout::default();
    let mut buf = Vec::new();
    // Rows without `r` follow the one before them.
    let mut last_row = 0u64;
    let mut next_column = 0u64;
    // `<sheetFormatPr zeroHeight="1">`: rows are hidden unless given a height of their own.
    let mut zero_height = false;
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "row" => {
                    let row = attribute(&e, "r")
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(last_row + 1);
                    last_row = row;
                    next_column = 0;
                    let height = attribute(&e, "ht").and_then(|h| h.parse::<f64>().ok());
                    // A row too low to show a line of text is hidden however it got so.
                    let flat = height.map_or(zero_height, |h| h < MIN_VISIBLE_HEIGHT);
                    if is_true(attribute(&e, "hidden").as_deref()) || flat {
                        layout.hidden_rows.insert(row);
                    }
                }
                "sheetFormatPr" => {
                    zero_height = is_true(attribute(&e, "zeroHeight").as_deref());
                }
                "col"
                    if is_true(attribute(&e, "hidden").as_deref())
                        || attribute(&e, "width")
                            .and_then(|w| w.parse::<f64>().ok())
                            .is_some_and(|w| w < MIN_VISIBLE_WIDTH) =>
                {
                    let bound = |name| {
                        attribute(&e, name)
                            .and_then(|v| v.parse::<u64>().ok())
                            .filter(|v| (1..=MAX_COLUMNS).contains(v))
                    };
                    if let (Some(min), Some(max)) = (bound("min"), bound("max")) {
                        for c in min..=max {
                            layout
                                .hidden_columns
                                .insert(usize::try_from(c - 1).unwrap_or(usize::MAX));
                        }
                    }
                }
                "autoFilter" => layout.filtered = true,
                // Cells without a reference follow the one before them, as readers place them.
                "c" => {
                    let (row, column) = attribute(&e, "r")
                        .and_then(|r| cell_ref(&r))
                        .unwrap_or((last_row.max(1), next_column));
                    layout.extent.add(row, column);
                    next_column = column + 1;
                }
                _ => {}
            },
            Event::Eof => return Ok(layout),
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_rows_columns_and_a_filter_are_read_from_the_sheet_xml() {
        let xml = r#"<?xml version="1.0"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<cols><col min="2" max="3" width="9" hidden="1" customWidth="1"/><col min="4" max="4"/><col min="5" max="5" width="0" customWidth="1"/></cols>
<sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c></row>
<row r="2" hidden="1"><c r="A2"><v>101</v></c></row>
<row r="3"><c r="A3"><v>102</v></c></row>
<row hidden="true"><c r="A4"><v>103</v></c></row>
<row r="5" ht="0" customHeight="1"><c r="A5"><v>104</v></c></row>
<row r="6" ht="0.75" customHeight="1"><c r="A6"><v>105</v></c></row>
<row r="7" ht="15"><c r="A7"><v>106</v></c></row>
</sheetData>
<autoFilter ref="A1:D4"/>
</worksheet>"#;
        let layout = scan_sheet(xml.as_bytes()).unwrap();
        assert_eq!(layout.hidden_rows, BTreeSet::from([2, 4, 5, 6]));
        assert_eq!(layout.hidden_columns, BTreeSet::from([1, 2, 4]));
        assert!(layout.filtered);
    }

    #[test]
    fn a_zero_height_default_hides_every_row_without_a_height_of_its_own() {
        let xml = r#"<worksheet><sheetFormatPr defaultRowHeight="15" zeroHeight="1"/><sheetData>
<row r="1" ht="15" customHeight="1"/><row r="2"/><row r="3" ht="15" customHeight="1"/>
</sheetData></worksheet>"#;
        let layout = scan_sheet(xml.as_bytes()).unwrap();
        assert_eq!(layout.hidden_rows, BTreeSet::from([2]));
    }

    #[test]
    fn the_sheet_part_is_found_through_the_workbook_relationships() {
        let workbook = r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Summary" sheetId="1" r:id="rId1"/><sheet name="Q&amp;A" sheetId="2" r:id="rId7"/></sheets></workbook>"#;
        assert_eq!(sheet_relation(workbook, "Q&A").as_deref(), Some("rId7"));
        assert_eq!(sheet_relation(workbook, "summary").as_deref(), Some("rId1"));
        assert_eq!(sheet_relation(workbook, "Other"), None);
        let rels = r#"<Relationships><Relationship Id="rId7" Type="…/worksheet" Target="worksheets/sheet2.xml"/></Relationships>"#;
        assert_eq!(
            relation_target(rels, "rId7").as_deref(),
            Some("worksheets/sheet2.xml")
        );
    }
}

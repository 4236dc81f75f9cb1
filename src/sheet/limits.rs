//! How big a workbook may be, checked from the file itself before any reader allocates for it.
//!
//! calamine holds a sheet's whole used range in memory, one cell per row × column, so two
//! cells at `A1` and `XFD1048576` of a 2 KB file ask for half a terabyte; a zip-bombed part
//! unpacks gigabytes from kilobytes; an `.ods` row repeated a million times expands as often.
//! So before calamine opens a zip-packed workbook, its parts are measured (declared sizes, and
//! the parts read whole at open streamed through a cap), an `.ods`'s tables are measured as
//! they would expand, and an `.xlsx` sheet's extent is read from its cells' references
//! (`layout.rs`, in the same streaming pass that finds hidden rows) before its range is read.
//! An `.xls` (BIFF8) cannot span more than 65 536 × 256 cells, which these limits allow.

use quick_xml::events::Event;
use std::io::{BufReader, Read};
use std::path::Path;

/// The limits a workbook is read within (`--max-cells`, `--max-unpacked-mb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most cells a sheet's used range may span (rows × columns): a million rows of 30
    /// columns, about a gigabyte held while the sheet is read.
    pub cells: u64,
    /// The most bytes a workbook's parts may unpack to, together (and each one).
    pub unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cells: DEFAULT_CELLS,
            unpacked_bytes: DEFAULT_UNPACKED_MB << 20,
        }
    }
}

/// `--max-cells`'s default.
pub(crate) const DEFAULT_CELLS: u64 = 30_000_000;
/// `--max-unpacked-mb`'s default.
pub(crate) const DEFAULT_UNPACKED_MB: u64 = 1024;

/// The rows and columns a sheet's cells span (1-based rows, 0-based columns), as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Extent {
    pub rows: Option<(u64, u64)>,
    pub columns: Option<(u64, u64)>,
}

impl Extent {
    /// Takes in one cell.
    pub(crate) fn add(&mut self, row: u64, column: u64) {
        let grow = |span: Option<(u64, u64)>, v: u64| {
            Some(span.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
        };
        self.rows = grow(self.rows, row);
        self.columns = grow(self.columns, column);
    }

    /// How many cells a reader holding the whole range holds.
    pub(crate) fn cells(&self) -> u64 {
        match (self.rows, self.columns) {
            (Some((r0, r1)), Some((c0, c1))) => (r1 - r0 + 1).saturating_mul(c1 - c0 + 1),
            _ => 0,
        }
    }

    /// Refuses an extent beyond `limits`, naming the sheet, its span and the way out.
    pub(crate) fn check(&self, sheet: &str, limits: &Limits) -> Result<(), String> {
        let cells = self.cells();
        if cells <= limits.cells {
            return Ok(());
        }
        let (r0, r1) = self.rows.unwrap_or_default();
        let (c0, c1) = self.columns.unwrap_or_default();
        let name = |c: u64| super::xml_attr::column_name(usize::try_from(c).unwrap_or(usize::MAX));
        Err(format!(
            "sheet \"{sheet}\" spans rows {r0} to {r1} and columns {} to {}: {} cells, more than \
             the {} read (--max-cells N raises the limit). A sheet this large is most often a \
             stray cell far below or right of the data: delete the rows and columns past the \
             data in the spreadsheet program, save, and try again",
            name(c0),
            name(c1),
            cells,
            limits.cells
        ))
    }
}

/// A reader that fails once more than `left` bytes come through: a part that unpacks beyond
/// the limit is cut off, not held.
pub(crate) struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Capped<R> {
    pub(crate) fn new(inner: R, cap: u64) -> Self {
        Self { inner, left: cap }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = n as u64;
        if got > self.left {
            return Err(std::io::Error::other(TOO_LARGE));
        }
        self.left -= got;
        Ok(n)
    }
}

/// What [`Capped`] answers past its cap.
pub(crate) const TOO_LARGE: &str = "unpacks beyond the limit";

/// The words for a part that unpacks beyond the limit.
pub(super) fn unpacks_too_far(part: &str, limits: &Limits) -> String {
    format!(
        "its part {part} unpacks to more than {} MB (--max-unpacked-mb N raises the limit); a \
         workbook this large is most often damaged or built to exhaust the reader: save it again \
         from the spreadsheet program, or export the sheet as CSV",
        limits.unpacked_bytes >> 20
    )
}

/// Measures a zip-packed workbook before calamine opens it: the parts' declared sizes, the
/// parts read whole at open (shared strings, styles, an `.ods`'s content) streamed through
/// the cap, and an `.ods`'s tables as they would expand.
pub(crate) fn check_package(path: &Path, limits: &Limits) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        // Not a zip after all: calamine says what it is.
        return Ok(());
    };
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        declared = declared.saturating_add(entry.size());
        if declared > limits.unpacked_bytes {
            let name = entry
                .name()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            return Err(unpacks_too_far(&name, limits));
        }
    }
    for part in ["xl/sharedStrings.xml", "xl/styles.xml"] {
        if let Ok(entry) = zip.by_name(part) {
            let mut sink = std::io::sink();
            std::io::copy(&mut Capped::new(entry, limits.unpacked_bytes), &mut sink)
                .map_err(|_| unpacks_too_far(part, limits))?;
        }
    }
    if let Ok(entry) = zip.by_name("content.xml") {
        ods_tables(
            BufReader::new(Capped::new(entry, limits.unpacked_bytes)),
            limits,
        )
        .map_err(|e| {
            if e.contains(TOO_LARGE) {
                unpacks_too_far("content.xml", limits)
            } else {
                e
            }
        })?;
    }
    Ok(())
}

/// Every table of an `.ods`'s content as it would expand (rows and columns repeated), against
/// the cell limit. Only up to the last cell with content: the empty rest of a sheet, which
/// `LibreOffice` writes as one row or cell repeated a million times, holds nothing to read.
fn ods_tables<R: std::io::BufRead>(input: R, limits: &Limits) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut table = String::new();
    // Rows and cells so far (repeats expanded), and the furthest row and column with content.
    let (mut rows, mut width, mut last_row, mut widest) = (0u64, 0u64, 0u64, 0u64);
    let number = |e: &quick_xml::events::BytesStart<'_>, name: &str| {
        super::xml_attr::attribute(e, name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let over = |table: &str, last_row: u64, widest: u64| {
        let extent = Extent {
            rows: (last_row > 0).then_some((1, last_row)),
            columns: (widest > 0).then_some((0, widest - 1)),
        };
        extent.check(table, limits)
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("its content could not be read ({e})"))?;
        let (e, has_children) = match &event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(e) if e.local_name().as_ref() == "table" => {
                over(&table, last_row, widest)?;
                buf.clear();
                continue;
            }
            Event::Eof => return Ok(()),
            _ => {
                buf.clear();
                continue;
            }
        };
        match e.local_name().as_ref() {
            "table" => {
                table = super::xml_attr::attribute(e, "name").unwrap_or_default();
                (rows, last_row, widest) = (0, 0, 0);
            }
            "table-row" => {
                rows = rows.saturating_add(number(e, "number-rows-repeated"));
                width = 0;
            }
            "table-cell" | "covered-table-cell" => {
                width = width.saturating_add(number(e, "number-columns-repeated"));
                let content = has_children || super::xml_attr::attribute(e, "value-type").is_some();
                if content {
                    // A row with content repeated is read as often as it is repeated.
                    (last_row, widest) = (rows, widest.max(width));
                    over(&table, last_row, widest)?;
                }
            }
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extent_is_refused_by_its_area_naming_the_limit_and_the_way_out() {
        let mut e = Extent::default();
        e.add(1, 0);
        e.add(1_048_576, 16_383);
        assert_eq!(e.cells(), 17_179_869_184);
        let err = e.check("June", &Limits::default()).unwrap_err();
        assert!(
            err.contains("rows 1 to 1048576 and columns A to XFD") && err.contains("--max-cells"),
            "{err}"
        );
        let mut small = Extent::default();
        small.add(3, 2);
        small.add(1_000_002, 11);
        assert!(small.check("June", &Limits::default()).is_ok());
    }

    #[test]
    fn a_capped_reader_fails_past_its_cap_and_not_before() {
        let mut out = Vec::new();
        assert!(Capped::new(&b"12345"[..], 5).read_to_end(&mut out).is_ok());
        let err = Capped::new(&b"123456"[..], 5)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(err.to_string().contains(TOO_LARGE));
    }

    #[test]
    fn ods_repeats_are_counted_as_the_reader_would_expand_them() {
        let content = |rows: u64, cols: u64| {
            format!(
                "<office:document-content><table:table table:name=\"S\"><table:table-row \
                 table:number-rows-repeated=\"{rows}\"><table:table-cell \
                 office:value-type=\"float\" table:number-columns-repeated=\"{cols}\"/>\
                 </table:table-row><table:table-row table:number-rows-repeated=\"1048000\">\
                 <table:table-cell table:number-columns-repeated=\"1024\"/></table:table-row>\
                 </table:table></office:document-content>"
            )
        };
        let limits = Limits::default();
        assert!(ods_tables(content(1000, 20).as_bytes(), &limits).is_ok());
        let err = ods_tables(content(1_048_576, 16_384).as_bytes(), &limits).unwrap_err();
        assert!(
            err.contains("sheet \"S\"") && err.contains("--max-cells"),
            "{err}"
        );
    }
}

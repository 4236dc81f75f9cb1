//! The results CSV: exactly one line per data row, in input order, safe to open in a spreadsheet.

use crate::sheet::{Format, Invalid};
use crate::update::{ConversionUpdate, ECHOED, Param, Status, format_amount};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// The columns after the echoed parameters.
const OUTCOME_COLUMNS: [&str; 4] = ["status", "attempts", "http_status", "message"];

/// The columns, in the contract's order: `row`, the echoed parameters ([`ECHOED`]), then the
/// outcome.
pub(crate) fn columns() -> impl Iterator<Item = &'static str> {
    std::iter::once("row")
        .chain(ECHOED.iter().map(|p| p.name()))
        .chain(OUTCOME_COLUMNS)
}

/// One line of the results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResultLine {
    pub row: u64,
    /// The [`ECHOED`] parameters — as sent (valid rows) or as written in the sheet (invalid
    /// rows).
    pub cells: [String; 7],
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: String,
}

/// What a results file's `payout` or `received` cell says its row does: leave the value, set
/// it, or add to it. Written by [`update_cells`] and read back by the screen — one rule, so a
/// page's sums are the file's. An addition always carries a leading `+` (`+3.00`, and `+-3.00`
/// for a claw-back), so a negative set (`--allow-negative`) never reads as an addition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmountCell {
    Leaves,
    Sets(Decimal),
    Adds(Decimal),
}

impl AmountCell {
    #[must_use]
    pub(crate) fn render(self) -> String {
        match self {
            Self::Leaves => String::new(),
            Self::Sets(d) => format_amount(d),
            Self::Adds(d) => format!("+{}", format_amount(d)),
        }
    }

    /// The cell as [`render`](Self::render) wrote it; `None` for anything else (an invalid
    /// row's cell as the sheet had it).
    #[must_use]
    pub(crate) fn read(cell: &str) -> Option<Self> {
        if cell.is_empty() {
            return Some(Self::Leaves);
        }
        let (adds, digits) = match cell.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, cell),
        };
        if !is_plain_number(digits) || digits.starts_with('+') {
            return None;
        }
        let d = Decimal::from_str_exact(digits).ok()?;
        Some(if adds { Self::Adds(d) } else { Self::Sets(d) })
    }
}

/// The id/amount cells of a valid row: ids as sent; payout and received as what the row does
/// ([`AmountCell`]).
#[must_use]
pub(crate) fn update_cells(u: &ConversionUpdate) -> [String; 7] {
    let added = u.additions();
    ECHOED.map(|p| match p {
        Param::Payout if u.payout_unchanged() => String::new(),
        Param::Payout if added.payout.is_some() => AmountCell::Adds(u.payout).render(),
        Param::Payout => AmountCell::Sets(u.payout).render(),
        Param::Received => match (added.received, u.received_option.sets()) {
            (Some((_, received)), _) => AmountCell::Adds(received).render(),
            (None, Some(_)) => AmountCell::Sets(u.received).render(),
            (None, None) => String::new(),
        },
        // The offer sent (blank while CAKE has yet to give it).
        Param::OfferId => u.sent_offer().map_or_else(String::new, |o| o.to_string()),
        _ => u.wire_value(p, false).into_owned(),
    })
}

impl ResultLine {
    /// A line for a valid row.
    #[must_use]
    pub(crate) fn for_update(u: &ConversionUpdate, status: Status) -> Self {
        Self {
            row: u.row,
            cells: update_cells(u),
            status,
            attempts: 0,
            http_status: None,
            message: String::new(),
        }
    }

    /// A line for an invalid row.
    #[must_use]
    pub(crate) fn for_invalid(row: u64, invalid: &Invalid) -> Self {
        Self {
            row,
            cells: invalid.cells.clone(),
            status: if invalid.skipped {
                Status::Skipped
            } else {
                Status::Invalid
            },
            attempts: 0,
            http_status: None,
            message: invalid.message.clone(),
        }
    }
}

/// True for plain numbers such as `-12.50`, which a spreadsheet shows as numbers, not formulas.
/// An addition's sign before a signed amount (`+-3.00`) is a plain number too: a spreadsheet
/// reads it as that number, and no function can follow.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix("+-").unwrap_or(s);
    let body = body.strip_prefix(['-', '+']).unwrap_or(body);
    let mut parts = body.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()))
        && digits(int)
        && frac.is_none_or(digits)
}

/// Prefixes `'` to a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR).
#[must_use]
pub(crate) fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Writes the results file through a temporary name, renamed into place when complete, so a
/// reader never sees a half-written file.
///
/// The temporary file has a unique name beside the results (two runs, or a dry run beside a
/// run, never share one) and is removed on every exit path but `kill -9`. A CSV uses the
/// sheet's own delimiter, and a BOM when the sheet had one (or was a workbook), so it opens in
/// Excel the way the sheet did; a path ending in `.xlsx` gets a real workbook.
pub(crate) struct ResultsWriter {
    sink: Sink,
    path: PathBuf,
    /// `--read-back`: what CAKE held before, by row, written after `message`.
    before: Option<HashMap<u64, [String; 3]>>,
}

/// The columns `--read-back` appends after the contract's (what CAKE held before this job).
pub(crate) const BEFORE_COLUMNS: [&str; 3] =
    ["payout_before", "received_before", "disposition_before"];

enum Sink {
    Csv(Box<csv::Writer<BufWriter<NamedTempFile>>>),
    /// Cells are typed (amounts and counts numbers, the rest text: never formulas), so nothing
    /// needs neutralising.
    Xlsx {
        sheet: Box<rust_xlsxwriter::Worksheet>,
        next_row: u32,
        /// What each column holds, by its title.
        kinds: Vec<super::xlsx::Cell>,
        tmp: NamedTempFile,
    },
}

/// The directory a path lives in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// True when `path` asks for an Excel workbook.
#[must_use]
pub(crate) fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

fn xlsx_err(e: &rust_xlsxwriter::XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

impl ResultsWriter {
    /// Creates a temporary file beside `path` and writes the header, in the manner of the sheet
    /// read (`format`).
    pub(crate) fn create(path: &Path, format: &Format) -> io::Result<Self> {
        Self::create_with(path, format, None)
    }

    /// [`ResultsWriter::create`], with what CAKE held before (`--read-back`) after `message`.
    pub(crate) fn create_with(
        path: &Path,
        format: &Format,
        before: Option<HashMap<u64, [String; 3]>>,
    ) -> io::Result<Self> {
        let extra: &[&str] = if before.is_some() {
            &BEFORE_COLUMNS
        } else {
            &[]
        };
        let name = path
            .file_name()
            .map_or_else(|| "results".into(), |n| n.to_string_lossy().into_owned());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir_of(path))?;
        let sink = if is_xlsx(path) {
            let mut sheet = rust_xlsxwriter::Worksheet::new();
            sheet.set_name("Results").map_err(|e| xlsx_err(&e))?;
            for (c, title) in columns().chain(extra.iter().copied()).enumerate() {
                let c = u16::try_from(c).unwrap_or(u16::MAX);
                sheet.write_string(0, c, title).map_err(|e| xlsx_err(&e))?;
            }
            Sink::Xlsx {
                sheet: Box::new(sheet),
                next_row: 1,
                kinds: columns()
                    .chain(extra.iter().copied())
                    .map(super::xlsx::Cell::of)
                    .collect(),
                tmp,
            }
        } else {
            let mut out = BufWriter::with_capacity(256 * 1024, tmp);
            if format.bom || format.workbook.is_some() {
                io::Write::write_all(&mut out, "\u{feff}".as_bytes())?;
            }
            let mut csv = csv::WriterBuilder::new()
                .delimiter(format.delimiter)
                .from_writer(out);
            csv.write_record(columns().chain(extra.iter().copied()))
                .map_err(io::Error::other)?;
            Sink::Csv(Box::new(csv))
        };
        Ok(Self {
            sink,
            path: path.to_path_buf(),
            before,
        })
    }

    /// Appends one line.
    pub(crate) fn write(&mut self, line: &ResultLine) -> io::Result<()> {
        let row = line.row.to_string();
        let attempts = line.attempts.to_string();
        let http = line.http_status.map(|s| s.to_string()).unwrap_or_default();
        let no_before: [String; 3] = Default::default();
        let before: Option<&[String; 3]> = self
            .before
            .as_ref()
            .map(|m| m.get(&line.row).unwrap_or(&no_before));
        match &mut self.sink {
            Sink::Csv(csv) => {
                let [c0, c1, c2, c3, c4, c5, c6] = &line.cells;
                let record = [
                    row.as_str(),
                    &neutralize(c0),
                    &neutralize(c1),
                    &neutralize(c2),
                    &neutralize(c3),
                    &neutralize(c4),
                    &neutralize(c5),
                    &neutralize(c6),
                    line.status.as_str(),
                    &attempts,
                    &http,
                    &neutralize(&line.message),
                ];
                match before {
                    Some(b) => csv
                        .write_record(record.iter().copied().chain(b.iter().map(String::as_str)))
                        .map_err(io::Error::other),
                    None => csv.write_record(record).map_err(io::Error::other),
                }
            }
            Sink::Xlsx {
                sheet,
                next_row,
                kinds,
                ..
            } => {
                let r = *next_row;
                let texts = [row.as_str()]
                    .into_iter()
                    .chain(line.cells.iter().map(String::as_str))
                    .chain([
                        line.status.as_str(),
                        &attempts,
                        &http,
                        line.message.as_str(),
                    ])
                    .chain(before.into_iter().flatten().map(String::as_str));
                for ((c, text), kind) in (0u16..).zip(texts).zip(kinds.iter()) {
                    super::xlsx::write(sheet, r, c, *kind, text).map_err(|e| xlsx_err(&e))?;
                }
                *next_row = r.checked_add(1).ok_or_else(|| {
                    io::Error::other("more rows than a workbook sheet holds; write a .csv")
                })?;
                Ok(())
            }
        }
    }

    /// Flushes, fsyncs and renames the file into place, then fsyncs the directory.
    pub(crate) fn finish(self) -> io::Result<PathBuf> {
        let tmp = match self.sink {
            Sink::Csv(csv) => (*csv)
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string()))?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?,
            Sink::Xlsx { sheet, tmp, .. } => {
                let mut book = rust_xlsxwriter::Workbook::new();
                book.push_worksheet(*sheet);
                book.save_to_writer(tmp.as_file())
                    .map_err(|e| xlsx_err(&e))?;
                tmp
            }
        };
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        File::open(dir_of(&self.path))?.sync_all()?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_but_numbers_are_not() {
        assert_eq!(neutralize("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralize("+1+1"), "'+1+1");
        assert_eq!(neutralize("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize("\tx"), "'\tx");
        assert_eq!(neutralize("\rx"), "'\rx");
        assert_eq!(neutralize("-"), "'-");
        assert_eq!(neutralize("-inf"), "'-inf");
        assert_eq!(neutralize("-12.50"), "-12.50");
        assert_eq!(neutralize("+5"), "+5");
        assert_eq!(neutralize("-.5"), "-.5");
        assert_eq!(neutralize("plain"), "plain");
        assert_eq!(neutralize(""), "");
    }

    #[test]
    fn an_abandoned_writer_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = ResultsWriter::create(&dir.path().join("out.csv"), &Format::default()).unwrap();
        let b = ResultsWriter::create(&dir.path().join("out.csv"), &Format::default()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "unique names"
        );
        drop((a, b));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn writes_header_and_lines_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut w = ResultsWriter::create(&path, &Format::default()).unwrap();
        assert!(!path.exists());
        w.write(&ResultLine {
            row: 2,
            cells: [
                "1".into(),
                "0".into(),
                "=cmd".into(),
                "0".into(),
                "-1.5".into(),
                "0".into(),
                "approved".into(),
            ],
            status: Status::Updated,
            attempts: 1,
            http_status: Some(200),
            message: "Conversion Updated".into(),
        })
        .unwrap();
        w.finish().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "row,conversion_id,request_session_id,transaction_id,offer_id,payout,received,disposition_type,status,attempts,http_status,message\n\
             2,1,0,'=cmd,0,-1.5,0,approved,updated,1,200,Conversion Updated\n"
        );
    }
}

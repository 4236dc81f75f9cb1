//! Opening a sheet: finding its header row, and deciding its decimal mark and date order from
//! its own cells (kept apart from the row stream in `stream.rs`).

use super::SheetError;
use super::cells::CellParser;
use super::columns::{Columns, resolve_header};
use super::evidence::{Evidence, Formats, Quote, Why};
use super::options::SheetOptions;
use super::reader::RecordReader;
use super::validate::cell;
use crate::update::Param;
use std::path::Path;

/// How far down the header is looked for (titles and blank lines above it are skipped).
pub(super) const HEADER_SEARCH_ROWS: u64 = 20;

/// Finds the header: `--header-row`, or the first row within [`HEADER_SEARCH_ROWS`] that reads
/// as one (titles above it are skipped); resolved against `--map`/`--set`.
pub(super) fn find_header(
    path: &Path,
    reader: &mut RecordReader,
    opts: &SheetOptions,
    cells: CellParser,
    header: &mut csv::StringRecord,
) -> Result<(u64, Columns), SheetError> {
    let mut first_error = None;
    loop {
        let Some(row) = reader.next_record(header)? else {
            return Err(first_error.unwrap_or_else(|| SheetError::Empty {
                path: path.to_path_buf(),
            }));
        };
        if let Some(wanted) = opts.header_row {
            if row < wanted {
                continue;
            }
            if row > wanted {
                return Err(SheetError::Header {
                    problem: format!(
                        "--header-row {wanted}: row {wanted} is empty; give the row that \
                         holds the column names"
                    ),
                });
            }
        }
        match resolve_header(
            header,
            &opts.maps,
            &opts.sets,
            &opts.values,
            opts.api_version,
            cells,
        ) {
            Ok(columns) => return Ok((row, columns)),
            // The header is the first row that reads as one; titles above it are skipped.
            // A row that does name fields is the header, and its problem is the answer.
            Err(e) if opts.header_row.is_some() || super::columns::recognised(header) > 0 => {
                return Err(e);
            }
            Err(e) if row >= HEADER_SEARCH_ROWS => return Err(first_error.unwrap_or(e)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
}

/// A total line's label: `Total`, `Totals`, `Sum`, `Grand total` (a trailing colon allowed).
///
/// Asked of every cell of every row: compared in place, never allocated.
pub(super) fn is_total_label(c: &str) -> bool {
    let c = c.trim().trim_end_matches(':');
    [
        "total",
        "totals",
        "sum",
        "grand total",
        "grand_total",
        "subtotal",
        "sub total",
        "sub-total",
        "sub_total",
    ]
    .iter()
    .any(|l| c.eq_ignore_ascii_case(l))
}

/// Decides the decimal mark and the date order: the flags, or else the sheet's own cells (read
/// once, from the row below the header, only as far as it takes to decide).
pub(super) fn decide_formats(
    path: &Path,
    opts: &SheetOptions,
    header_row: u64,
    header: &csv::StringRecord,
    columns: &Columns,
) -> Result<Formats, SheetError> {
    let amounts: Vec<Param> = [Param::Payout, Param::Received]
        .into_iter()
        .filter(|p| columns.column(*p).is_some())
        .collect();
    // The conversion date is a date column like custom_date: its cells are evidence too.
    let conversion_date = columns.conversion_date;
    let dated = columns.column(Param::CustomDate).is_some() || conversion_date.is_some();
    let need_decimal = opts.decimal.is_none() && !amounts.is_empty();
    let need_dates = opts.date_order.is_none() && dated;
    let mut evidence = Evidence::default();
    if need_decimal || need_dates {
        let mut reader = RecordReader::open(path, &opts.read)?;
        let mut record = csv::StringRecord::new();
        while let Some(row) = reader.next_record(&mut record)? {
            // A total line's cells are not evidence: `3,75` under `1.500` and `2.250` is the
            // total being wrong, not the sheet being European.
            if row <= header_row || record.iter().any(is_total_label) {
                continue;
            }
            let quote = |p: Param, v: &str| Quote {
                row,
                column: columns.label(p),
                value: v.to_string(),
            };
            for p in &amounts {
                if let Some(c) = cell(columns, &record, *p) {
                    evidence.amount(|| quote(*p, c), c);
                }
            }
            if let Some(c) = cell(columns, &record, Param::CustomDate) {
                evidence.date(|| quote(Param::CustomDate, c), c);
            }
            if let Some(i) = conversion_date
                && let Some(c) = record.get(i).map(str::trim)
            {
                let q = || Quote {
                    row,
                    column: header.get(i).unwrap_or("").to_string(),
                    value: c.to_string(),
                };
                evidence.date(q, c);
            }
            if evidence.settled(need_decimal, need_dates) {
                break;
            }
        }
    }
    let mut formats = evidence
        .decide(opts.decimal, opts.date_order)
        .map_err(|problem| SheetError::Evidence {
            path: path.to_path_buf(),
            problem,
        })?;
    // A format nothing in the sheet needs is not "decided" by anything.
    if !dated && opts.date_order.is_none() {
        formats.date_why = Why::Default;
    }
    Ok(formats)
}

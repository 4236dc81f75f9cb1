//! An opened sheet: header resolved, rows streamed as typed updates or row errors.

use super::SheetError;
use super::cells::CellParser;
use super::columns::{Columns, Source, resolve_header};
use super::duplicates::Duplicates;
use super::evidence::Formats;
use super::opening::{HEADER_SEARCH_ROWS, decide_formats, find_header, is_total_label};
use super::options::SheetOptions;
use super::parse::parse_amount;
use super::reader::{Format, RecordReader};
use super::validate::{RowParser, cell};
use crate::update::ConversionUpdate;
use crate::update::ECHOED;
use crate::update::Param;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

/// A row that will not be sent, with the cells to show for it in the results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Every problem of the row, joined with `; `.
    pub message: String,
    /// Raw cells for the results file's id/amount columns, in output order.
    pub cells: [String; 7],
    /// Not a data row at all (a total line): reported `skipped`, never sent, not an error.
    pub skipped: bool,
}

/// One data row: its spreadsheet row number and the update, or why it is invalid.
#[derive(Debug, Clone)]
pub struct SheetRow {
    pub row: u64,
    pub result: Result<ConversionUpdate, Invalid>,
}

/// An opened sheet, positioned after its header row.
pub struct Sheet {
    path: PathBuf,
    reader: RecordReader,
    header: csv::StringRecord,
    header_row: u64,
    formats: Formats,
    parser: RowParser,
    record: csv::StringRecord,
    /// Σ payout and Σ received of the valid rows so far, and how many, to recognise and check a
    /// total line.
    /// Σ payout and Σ received of every data row above (valid or not: a total covers the
    /// sheet, not what this tool could read of it).
    sums: (Decimal, Decimal),
    /// The same sums over the rows that are not hidden: a total under a filter (Excel's
    /// `SUBTOTAL`) sums only what it shows.
    visible_sums: (Decimal, Decimal),
    /// The same sums since the last total line: what a subtotal covers.
    section_sums: (Decimal, Decimal),
    valid_above: u64,
    /// Hidden rows and amounts shown otherwise than stored, met so far.
    unseen: super::visibility::Unseen,
    /// Total lines whose amounts do not match the rows above, in words.
    total_mismatches: Vec<String>,
}

impl Sheet {
    /// Opens `path`, reads the header row and resolves it against `--map`/`--set`.
    pub fn open(path: &Path, opts: &SheetOptions) -> Result<Self, SheetError> {
        let mut reader = RecordReader::open(path, &opts.read)?;
        let mut cells = CellParser {
            decimal: opts.decimal.unwrap_or_default(),
            date_order: opts.date_order.unwrap_or_default(),
        };
        let mut header = csv::StringRecord::new();
        let (header_row, mut columns) = find_header(path, &mut reader, opts, cells, &mut header)?;
        // Columns hidden in the workbook are ignored (the person did not see them), unless named.
        let (hidden, hidden_notes) = super::visibility::hidden_columns(
            &header,
            reader.seen(),
            &columns,
            (&opts.maps, &opts.values),
        );
        let mut maps = opts.maps.clone();
        if !hidden.is_empty() {
            maps.extend(hidden);
            columns = resolve_header(
                &header,
                &maps,
                &opts.sets,
                &opts.values,
                opts.api_version,
                cells,
            )?;
        }
        let mut formats = decide_formats(path, opts, header_row, &header, &columns)?;
        if (formats.decimal, formats.date_order) != (cells.decimal, cells.date_order) {
            cells = CellParser {
                decimal: formats.decimal,
                date_order: formats.date_order,
            };
            columns = resolve_header(
                &header,
                &maps,
                &opts.sets,
                &opts.values,
                opts.api_version,
                cells,
            )?;
        }
        // What the ignored columns hold: a column of decisions or amounts is never ignored
        // silently.
        let decided = match &opts.profiled {
            Some(d) => d.clone(),
            None => super::profile::decide(path, &opts.read, header_row, &header, &columns, &maps)?,
        };
        formats.profile = Some(decided.clone());
        if !decided.maps.is_empty() {
            maps.extend(decided.maps);
            columns = resolve_header(
                &header,
                &maps,
                &opts.sets,
                &opts.values,
                opts.api_version,
                cells,
            )?;
        }
        super::visibility::merged_across_rows(reader.seen(), header_row, &columns).map_err(
            |problem| SheetError::Format {
                path: path.to_path_buf(),
                problem,
            },
        )?;
        columns.inferred = hidden_notes;
        columns.inferred.extend(decided.notes);
        super::columns::changes_something(&columns)?;
        let filtered = reader.seen().layout.filtered;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            header,
            header_row,
            formats,
            parser: RowParser {
                columns,
                cells,
                allow_negative: opts.allow_negative,
            },
            record: csv::StringRecord::new(),
            sums: (Decimal::ZERO, Decimal::ZERO),
            visible_sums: (Decimal::ZERO, Decimal::ZERO),
            section_sums: (Decimal::ZERO, Decimal::ZERO),
            valid_above: 0,
            total_mismatches: Vec::new(),
            unseen: super::visibility::Unseen {
                filtered,
                hidden_choice: opts.hidden_rows,
                amounts_choice: opts.amounts,
                ..super::visibility::Unseen::default()
            },
        })
    }

    /// The row that is most likely the header, as written, when [`Sheet::open`] refused the
    /// header itself (so a screen can still offer a mapping for each column): the first row
    /// within the header search that names a field, else the first non-empty one.
    #[must_use]
    pub(crate) fn probable_header(path: &Path, opts: &SheetOptions) -> Vec<String> {
        let Ok(mut reader) = RecordReader::open(path, &opts.read) else {
            return Vec::new();
        };
        let mut record = csv::StringRecord::new();
        let mut first = None;
        while let Ok(Some(row)) = reader.next_record(&mut record) {
            let cells: Vec<String> = record.iter().map(str::to_string).collect();
            if super::columns::recognised(&record) > 0 {
                return cells;
            }
            if first.is_none() && cells.iter().filter(|c| !c.trim().is_empty()).count() > 1 {
                first = Some(cells);
            }
            if row >= HEADER_SEARCH_ROWS {
                break;
            }
        }
        first.unwrap_or_default()
    }

    /// Encoding and delimiter as decided.
    #[must_use]
    pub fn format(&self) -> &Format {
        self.reader.format()
    }

    /// The decimal mark and date order the sheet is read with, and why.
    #[must_use]
    pub fn formats(&self) -> &Formats {
        &self.formats
    }

    /// The spreadsheet row the header was found on (1 unless titles stand above it).
    #[must_use]
    pub(crate) fn header_row(&self) -> u64 {
        self.header_row
    }

    /// The header row as written.
    #[must_use]
    pub fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// Which column feeds which parameter.
    #[must_use]
    pub fn columns(&self) -> &Columns {
        &self.parser.columns
    }

    /// Size and SHA-256 of the file bytes read so far.
    #[must_use]
    pub fn fingerprint(&self) -> (u64, String) {
        self.reader.fingerprint()
    }

    /// The file being read.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record most recently returned by [`Sheet::next_row`] (for samples in the report).
    #[must_use]
    pub fn record(&self) -> &csv::StringRecord {
        &self.record
    }

    /// The next data row, validated; `duplicates` (from the pre-pass) marks rows that share a
    /// conversion with another row.
    pub fn next_row(&mut self, duplicates: &Duplicates) -> Result<Option<SheetRow>, SheetError> {
        let Some(row) = self.reader.next_record(&mut self.record)? else {
            return Ok(None);
        };
        let hidden = self.unseen.meet(
            row,
            &mut self.record,
            &self.parser.columns,
            self.reader.seen(),
        );
        let mut result = self.parser.parse(row, &self.record).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        });
        if let (Ok(_), Some(dup)) = (&result, duplicates.get(&row)) {
            result = Err(dup.message(row));
        }
        // More cells than the header: most often a comma inside an unquoted amount
        // (`1,234.56`), which shifts every cell after it. Never read on a guess.
        let width = self.header.len();
        if self.record.iter().skip(width).any(|c| !c.trim().is_empty()) {
            let message = format!(
                "row {row} has {} cells but the header has {width}: a comma inside an \
                 unquoted amount (1,234.56) or text shifts the cells after it; quote that \
                 cell or remove the thousands separator, then run again",
                self.record.len()
            );
            result = Err(match result {
                Err(e) => format!("{message}; {e}"),
                Ok(_) => message,
            });
        }
        // A `Total` label anywhere makes the line a total, even beside a count in an id column.
        let labelled = self.record.iter().any(is_total_label);
        if labelled && result.is_ok() {
            result = Err(String::new());
        }
        let total = if let Ok(u) = &result {
            self.add_to_sums((u.payout, u.received), hidden);
            self.valid_above += 1;
            None
        } else {
            let total = self.total_line(row).or_else(|| self.note_line(row));
            if total.is_none() {
                // An invalid row still counts toward a total, for the amounts it shows.
                let columns = &self.parser.columns;
                let amount = |p: Param| {
                    cell(columns, &self.record, p)
                        .and_then(|c| parse_amount(c, self.parser.cells.decimal).ok())
                        .unwrap_or_default()
                };
                let amounts = (amount(Param::Payout), amount(Param::Received));
                self.add_to_sums(amounts, hidden);
            }
            total
        };
        // A hidden row that is data (not a total, not a note): counted, and left out if chosen.
        let skip_hidden = if hidden && total.is_none() {
            self.unseen.hidden_data_row(row);
            self.unseen.skipped(row)
        } else {
            None
        };
        let result = match (result, total.or(skip_hidden)) {
            // Only a hidden row left out by choice is valid and set aside.
            (_, Some(message)) => Err(Invalid {
                message,
                cells: self.raw_cells(),
                skipped: true,
            }),
            (Ok(u), None) => Ok(u),
            (Err(message), None) => Err(Invalid {
                message,
                cells: self.raw_cells(),
                skipped: false,
            }),
        };
        Ok(Some(SheetRow { row, result }))
    }

    /// A note under (or between) the data: text, but no id and nothing that reads as an amount
    /// (`Note: rejected rows carry a 0 payout`, `Questions: ap@example.com`). Set aside as
    /// `skipped`, said; never an invalid row that blocks the run.
    fn note_line(&self, row: u64) -> Option<String> {
        let columns = &self.parser.columns;
        let has_text = self.record.iter().any(|c| !c.trim().is_empty());
        let has_amount = self
            .record
            .iter()
            .any(|c| super::evidence::amount_shaped(c).is_some());
        // A row missing only its id (`,approved`) is an error, not a note: no cell of a field's
        // column (an id's included) may read as a value of that field.
        let reads_as_a_field = crate::update::PARAMS.iter().any(|s| {
            cell(columns, &self.record, s.param)
                .filter(|c| !c.is_empty())
                .is_some_and(|c| self.parser.cells.parse(s.param, c).is_ok())
        });
        (has_text && !has_amount && !reads_as_a_field).then(|| {
            let text: String = self
                .record
                .iter()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(60)
                .collect();
            format!("row {row}: a note below the data, not sent (\"{text}\")")
        })
    }

    /// Adds a data row's amounts to the sums a total line is checked against.
    fn add_to_sums(&mut self, (payout, received): (Decimal, Decimal), hidden: bool) {
        self.sums.0 = self.sums.0.saturating_add(payout);
        self.sums.1 = self.sums.1.saturating_add(received);
        self.section_sums.0 = self.section_sums.0.saturating_add(payout);
        self.section_sums.1 = self.section_sums.1.saturating_add(received);
        if !hidden {
            self.visible_sums.0 = self.visible_sums.0.saturating_add(payout);
            self.visible_sums.1 = self.visible_sums.1.saturating_add(received);
        }
    }

    /// Hidden rows and amounts shown otherwise than stored, met so far.
    #[must_use]
    pub(crate) fn unseen(&self) -> &super::visibility::Unseen {
        &self.unseen
    }

    /// The total lines read so far whose amounts do not match the rows above them.
    #[must_use]
    pub(crate) fn total_mismatches(&self) -> &[String] {
        &self.total_mismatches
    }

    /// A total line: no id, and either a `Total`/`Sum`/`Grand total` label or amounts equal to
    /// the sums of the rows above. Says whether its amounts match those sums (a mismatch is
    /// also kept: it stops the run before sending).
    fn total_line(&mut self, row: u64) -> Option<String> {
        let columns = &self.parser.columns;
        let labelled = self.record.iter().any(is_total_label);
        // No id (the label often stands in the first column, which is an id column), unless
        // labelled: a count beside the label in an id column is not a conversion.
        let ids = [
            Param::ConversionId,
            Param::RequestSessionId,
            Param::TransactionId,
        ];
        if !labelled
            && ids
                .iter()
                .any(|p| cell(columns, &self.record, *p).is_some_and(|c| !c.is_empty()))
        {
            return None;
        }
        let amount = |p: Param| {
            cell(columns, &self.record, p)
                .filter(|c| !c.is_empty())
                .and_then(|c| parse_amount(c, self.parser.cells.decimal).ok())
        };
        let (payout, received) = (amount(Param::Payout), amount(Param::Received));
        let agrees = |v: Option<Decimal>, sum: Decimal| v.is_none_or(|v| v == sum);
        // The rows above, the rows shown (a filter's SUBTOTAL), or those since the last total
        // (a subtotal).
        let matches = (payout.is_some() || received.is_some())
            && [self.sums, self.visible_sums, self.section_sums]
                .iter()
                .any(|(p, r)| agrees(payout, *p) && agrees(received, *r));
        // Unlabelled, only sums of two or more rows that are not zero are taken for a total.
        let sums_a_total = matches
            && self.valid_above >= 2
            && (payout.is_some_and(|v| !v.is_zero()) || received.is_some_and(|v| !v.is_zero()));
        if !labelled && !sums_a_total {
            return None;
        }
        let check = if payout.is_none() && received.is_none() {
            "it has no amounts to check".to_string()
        } else if matches {
            "its amounts match the sums of the rows above".to_string()
        } else {
            let differs = |name: &str, total: Option<Decimal>, sum: Decimal| {
                total.filter(|t| *t != sum).map(|t| {
                    format!(
                        "{name} total {t} but the rows above sum to {sum} (a difference of {})",
                        t - sum
                    )
                })
            };
            let why: Vec<String> = [
                differs("payout", payout, self.sums.0),
                differs("received", received, self.sums.1),
            ]
            .into_iter()
            .flatten()
            .collect();
            self.total_mismatches
                .push(format!("row {row}: {}", why.join("; ")));
            format!(
                "its amounts do NOT match the rows above ({}): check the sheet",
                why.join("; ")
            )
        };
        self.section_sums = (Decimal::ZERO, Decimal::ZERO);
        Some(format!("row {row}: a total line, not sent; {check}"))
    }

    fn raw_cells(&self) -> [String; 7] {
        ECHOED.map(|p| match self.parser.columns.source(p) {
            Source::Column { .. } => cell(&self.parser.columns, &self.record, p)
                .unwrap_or("")
                .to_string(),
            Source::Set { raw, .. } => raw.clone(),
            Source::Default => String::new(),
        })
    }
}

//! An opened sheet: header resolved, rows streamed as typed updates or row errors.

use super::SheetError;
use super::cells::CellParser;
use super::columns::{Columns, Source, resolve};
use super::duplicates::Duplicates;
use super::parse::{DateOrder, DecimalStyle};
use super::reader::{Format, ReadOptions, RecordReader};
use super::validate::{RowParser, cell};
use crate::update::ConversionUpdate;
use crate::update::ECHOED;
use std::path::{Path, PathBuf};

/// Everything that changes how a sheet is read (all from the command line).
#[derive(Debug, Clone, Default)]
pub struct SheetOptions {
    pub read: ReadOptions,
    pub decimal: DecimalStyle,
    pub date_order: DateOrder,
    /// `--map "HEADER=FIELD"` pairs.
    pub maps: Vec<(String, String)>,
    /// `--set FIELD=VALUE` pairs.
    pub sets: Vec<(String, String)>,
    pub api_version: u8,
}

/// A row that will not be sent, with the cells to show for it in the results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Every problem of the row, joined with `; `.
    pub message: String,
    /// Raw cells for the results file's id/amount columns, in output order.
    pub cells: [String; 7],
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
    parser: RowParser,
    record: csv::StringRecord,
}

impl Sheet {
    /// Opens `path`, reads the header row and resolves it against `--map`/`--set`.
    pub fn open(path: &Path, opts: &SheetOptions) -> Result<Self, SheetError> {
        let mut reader = RecordReader::open(path, &opts.read)?;
        let mut header = csv::StringRecord::new();
        if reader.next_record(&mut header)?.is_none() {
            return Err(SheetError::Empty {
                path: path.to_path_buf(),
            });
        }
        let cells = CellParser {
            decimal: opts.decimal,
            date_order: opts.date_order,
        };
        let columns = resolve(&header, &opts.maps, &opts.sets, opts.api_version, cells)?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            header,
            parser: RowParser { columns, cells },
            record: csv::StringRecord::new(),
        })
    }

    /// Encoding and delimiter as decided.
    #[must_use]
    pub fn format(&self) -> &Format {
        self.reader.format()
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
        let result = result.map_err(|message| Invalid {
            message,
            cells: self.raw_cells(),
        });
        Ok(Some(SheetRow { row, result }))
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

//! Everything that changes how a sheet is read, as one value the command line, the screen and
//! every reading of the same sheet share.

use super::evidence::Formats;
use super::parse::{DateOrder, DecimalStyle};
use super::reader::ReadOptions;

/// Everything that changes how a sheet is read (all from the command line).
#[derive(Debug, Clone, Default)]
pub struct SheetOptions {
    pub read: ReadOptions,
    /// `None`: decided by the sheet's amounts.
    pub decimal: Option<DecimalStyle>,
    /// `None`: decided by the sheet's dates.
    pub date_order: Option<DateOrder>,
    /// `--map "HEADER=FIELD"` pairs.
    pub maps: Vec<(String, String)>,
    /// `--set FIELD=VALUE` pairs.
    pub sets: Vec<(String, String)>,
    /// `--values "COLUMN=CELL:VALUE,…"` maps.
    pub values: Vec<super::columns::ValueMap>,
    /// `--allow-negative`: a payout or revenue may be set below zero.
    pub allow_negative: bool,
    /// `--hidden-rows`: rows hidden or filtered out in a workbook (`None`: listed, and a run
    /// stops before sending until chosen).
    pub hidden_rows: Option<super::shown::HiddenRows>,
    /// `--amounts`: amounts whose cell shows fewer decimals than it holds (`None`: as stored,
    /// listed, and a run stops before sending until chosen).
    pub amounts: Option<super::shown::AmountsAs>,
    /// The column profile's decision, once made (see [`Self::pinned`]).
    pub profiled: Option<super::decided::Decided>,
    pub api_version: u8,
    /// `--header-row N`: the spreadsheet row that holds the header (found when `None`).
    pub header_row: Option<u64>,
}

impl SheetOptions {
    /// These options with the formats and the column profile decided (so another reading of
    /// the same sheet skips the evidence scan and the profile).
    #[must_use]
    pub fn pinned(&self, f: &Formats) -> Self {
        Self {
            decimal: Some(f.decimal),
            date_order: Some(f.date_order),
            profiled: f.profile.clone().or_else(|| self.profiled.clone()),
            ..self.clone()
        }
    }
}

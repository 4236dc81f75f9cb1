//! What a dry run found, as one value: the command line prints it as text, `--summary-json`
//! writes it as JSON, and the screen (which runs `cake-recon run --dry-run` as a child
//! process, under memory and time limits) renders the same value as HTML. The money on the
//! screen's Apply button is this value's: it cannot differ from the command line's.
//!
//! Owned, serializable types only: nothing of the reader's insides crosses this seam.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many invalid rows (and duplicates) the model lists by row; all of them are in the
/// results file.
pub(crate) const ROWS_LISTED: usize = 200;

/// A dry run of one sheet with one set of choices.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DryRun {
    /// The sheet's columns as written (also when the sheet could not be read: the header as
    /// far as it could be found), with what each feeds.
    pub columns: Vec<ColumnRead>,
    /// The reading, or why the sheet cannot be read this way (the message names row, column
    /// and value, and what to do).
    pub read: Result<Reading, String>,
    /// The exit code the dry run ended with (a run would meet the same).
    pub exit: u8,
}

/// One column of the sheet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ColumnRead {
    /// As written in the header.
    pub header: String,
    /// The CAKE field it feeds, as detected or chosen (`None`: ignored).
    pub field: Option<String>,
    /// An ignored column named like a field no other column gives.
    pub looks_like: Option<String>,
    /// Up to two non-empty values, as read.
    pub samples: Vec<String>,
    /// What its cells were read as meaning (`Yes → approved`), when that was inferred.
    pub values_said: Option<String>,
    /// The conversion date: not sent, it gives the window CAKE is read in.
    pub conversion_date: bool,
}

/// A sheet that could be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Reading {
    /// The API version the sheet was read for (which fields exist, their defaults).
    pub api_version: u8,
    /// How the sheet was read (encoding, delimiter or workbook, amounts, dates, header,
    /// skipped lines), label and words.
    pub detected: Vec<(String, String)>,
    /// The fields no column and no value set gives, and what CAKE gets for each.
    pub defaults: Vec<(String, String)>,
    /// Rows below the header; of them valid (to send), invalid, set aside (total lines).
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    pub skipped: u64,
    /// Valid rows that give no offer.
    pub offerless: u64,
    /// A run would stop for want of offers: rows give none, and no days to read their
    /// conversions' in were given (the run's own rule).
    pub offers_wanting: bool,
    /// A column gives each row's conversion date (and so the window CAKE is read in).
    pub conversion_date_column: bool,
    /// What would be sent (rows held back as duplicates not counted).
    pub totals: Money,
    /// Invalid rows (not total lines, not duplicates): row and message, the first
    /// [`ROWS_LISTED`].
    pub invalid_rows: Vec<(u64, String)>,
    /// Rows that target the same conversion as another row (not sent either), the first
    /// [`ROWS_LISTED`].
    pub duplicates: Vec<(u64, String)>,
    /// Every row held back as a duplicate (invalid in the results file), so the screen's row
    /// table can say which invalid rows are duplicates.
    #[serde(default)]
    pub duplicate_rows: Vec<u64>,
    /// Total lines that do not match the rows above them.
    pub total_mismatches: Vec<String>,
    /// Hidden rows and amounts shown otherwise than stored, and what is left to choose.
    pub unseen: UnseenCounts,
    /// Against the run recorded in the checkpoint beside it.
    pub standing: Option<Standing>,
    /// The disposition column, when its cells need saying what they mean (`Yes`, `No`): its
    /// header and distinct cells. Only with `--summary-json` (it costs a reading).
    pub decision: Option<(String, Vec<String>)>,
    /// Why a run of this sheet, as given, would stop before sending anything.
    pub would_stop: Vec<String>,
    /// The command line's words for all of it.
    pub text: String,
}

/// What the rows would send.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Money {
    pub rows: u64,
    /// Rows that set values, rows that add to the payout.
    pub idempotent: u64,
    pub additive: u64,
    pub by_disposition: BTreeMap<String, u64>,
    pub by_received_option: BTreeMap<String, u64>,
    pub payout_set: Decimal,
    pub payout_added: Decimal,
    pub received: Decimal,
}

impl Money {
    /// Σ payout, set and added.
    pub(crate) fn payout(&self) -> Decimal {
        self.payout_set + self.payout_added
    }
}

impl From<&crate::sheet::Totals> for Money {
    fn from(t: &crate::sheet::Totals) -> Self {
        let owned = |m: &BTreeMap<&'static str, u64>| {
            m.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
        };
        Self {
            rows: t.rows,
            idempotent: t.idempotent,
            additive: t.additive,
            by_disposition: owned(&t.by_disposition),
            by_received_option: owned(&t.by_received_option),
            payout_set: t.payout_set,
            payout_added: t.payout_added,
            received: t.received,
        }
    }
}

/// A workbook's hidden rows and amounts shown with fewer decimals than they hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UnseenCounts {
    pub hidden_rows: u64,
    /// `hidden` or `filtered out`.
    pub hidden_word: String,
    pub amounts: u64,
    /// What is left for the person to choose before a run may send (empty: nothing).
    pub questions: Vec<String>,
}

/// A sheet beside the run recorded in its checkpoint.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Rows that keep their outcome (never sent twice).
    pub kept: u64,
    pub changed: u64,
    pub new: u64,
}

//! The check file (`INPUT.check.csv`): one line per data row saying how it stands against what
//! CAKE holds, and the summary of a check.

use super::atomic::AtomicCsv;
use super::money::grouped;
use super::output::neutralize;
use crate::sheet::Format;
use crate::update::{Comparison, Held};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// How a row stands against CAKE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CheckStatus {
    AlreadyCorrect,
    Differs,
    Additive,
    NotFound,
    Ambiguous,
    Invalid,
}

impl CheckStatus {
    pub(crate) const ALL: [CheckStatus; 6] = [
        CheckStatus::AlreadyCorrect,
        CheckStatus::Differs,
        CheckStatus::Additive,
        CheckStatus::NotFound,
        CheckStatus::Ambiguous,
        CheckStatus::Invalid,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CheckStatus::AlreadyCorrect => "already_correct",
            CheckStatus::Differs => "differs",
            CheckStatus::Additive => "additive",
            CheckStatus::NotFound => "not_found",
            CheckStatus::Ambiguous => "ambiguous",
            CheckStatus::Invalid => "invalid",
        }
    }
}

/// The columns: the contract's six, then what CAKE holds.
pub(crate) const COLUMNS: [&str; 14] = [
    "row",
    "conversion_id",
    "request_session_id",
    "transaction_id",
    "status",
    "differences",
    "cake_conversion_id",
    "cake_payout",
    "cake_received",
    "cake_disposition",
    "cake_offer_id",
    "cake_offer_name",
    "cake_affiliate_id",
    "cake_affiliate_name",
];

/// One line of the check file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckLine {
    pub row: u64,
    /// The row's ids as written (or sent).
    pub ids: [String; 3],
    pub status: CheckStatus,
    pub differences: String,
    /// The conversion found, when exactly one was.
    pub held: Option<Held>,
}

/// A line for a row that was compared.
#[must_use]
pub(crate) fn line_for(
    row: u64,
    ids: [String; 3],
    found: &[Held],
    cmp: Option<&Comparison>,
) -> CheckLine {
    let (status, differences) = match (found.len(), cmp) {
        (0, _) => (
            CheckStatus::NotFound,
            "no conversion with these ids in the window read; check the ids, or widen \
             --since/--until"
                .to_string(),
        ),
        (1, Some(Comparison::Differs(d))) => (
            CheckStatus::Differs,
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (1, Some(Comparison::Additive { current, differs })) => {
            let mut parts: Vec<String> = current
                .iter()
                .map(|(field, now)| {
                    let now = if now.is_empty() {
                        "empty"
                    } else {
                        now.as_str()
                    };
                    format!("{field} now {now} (the row adds to it)")
                })
                .collect();
            parts.extend(differs.iter().map(ToString::to_string));
            (CheckStatus::Additive, parts.join("; "))
        }
        (1, Some(Comparison::AlreadyCorrect) | None) => {
            (CheckStatus::AlreadyCorrect, String::new())
        }
        (n, _) => (
            CheckStatus::Ambiguous,
            format!(
                "{n} conversions match these ids: {}",
                found
                    .iter()
                    .map(|h| h.conversion_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    CheckLine {
        row,
        ids,
        status,
        differences,
        held: (found.len() == 1).then(|| found.first().cloned()).flatten(),
    }
}

/// Writes the check file through a temporary name, renamed into place when complete.
pub(crate) struct CheckWriter(AtomicCsv);

impl CheckWriter {
    pub(crate) fn create(path: &Path, format: &Format) -> io::Result<Self> {
        let bom = format.bom || format.workbook.is_some();
        AtomicCsv::create(path, &COLUMNS, format.delimiter, bom).map(Self)
    }

    pub(crate) fn write(&mut self, l: &CheckLine) -> io::Result<()> {
        let held = l.held.as_ref();
        let money = |d: Option<Decimal>| d.map(|d| d.normalize().to_string()).unwrap_or_default();
        let id = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
        let text = |t: Option<&str>| neutralize(t.unwrap_or("")).into_owned();
        let record = [
            l.row.to_string(),
            neutralize(&l.ids[0]).into_owned(),
            neutralize(&l.ids[1]).into_owned(),
            neutralize(&l.ids[2]).into_owned(),
            l.status.as_str().to_string(),
            neutralize(&l.differences).into_owned(),
            held.map(|h| h.conversion_id.to_string())
                .unwrap_or_default(),
            money(held.and_then(|h| h.paid)),
            money(held.and_then(|h| h.received)),
            held.and_then(|h| h.disposition)
                .map_or(String::new(), |d| d.as_str().to_string()),
            id(held.and_then(|h| h.offer_id)),
            text(held.and_then(|h| h.offer_name.as_deref())),
            id(held.and_then(|h| h.affiliate_id)),
            text(held.and_then(|h| h.affiliate_name.as_deref())),
        ];
        self.0.write(&record)
    }

    pub(crate) fn finish(self) -> io::Result<PathBuf> {
        self.0.finish()
    }
}

/// What a check found, for the summary.
#[derive(Debug, Default)]
pub(crate) struct CheckTally {
    pub counts: BTreeMap<CheckStatus, u64>,
    /// Σ (wanted − held) over the rows that differ, by field.
    pub payout_delta: Decimal,
    pub received_delta: Decimal,
}

/// The summary a person reads.
#[must_use]
pub(crate) fn check_summary(
    t: &CheckTally,
    window: (chrono::NaiveDate, chrono::NaiveDate),
    rows_read: u64,
    output: &Path,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Checked against CAKE ({rows_read} conversions read, {} to {} CAKE time):",
        window.0, window.1
    );
    let counts: Vec<String> = CheckStatus::ALL
        .iter()
        .map(|st| format!("{} {}", st.as_str(), t.counts.get(st).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(s, "  {}", counts.join(", "));
    let _ = writeln!(
        s,
        "  to bring CAKE to the sheet: Σ payout {}, Σ received {} (rows that differ)",
        grouped(t.payout_delta),
        grouped(t.received_delta)
    );
    let _ = writeln!(s, "  check file: {}", output.display());
    s
}

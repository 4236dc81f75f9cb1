//! The undo sheet (`--read-back`): a sheet cake-recon itself accepts, one absolute row per row
//! that was sent, putting back what CAKE held before. Notes cannot be un-appended: a row that
//! only appended one has no undo line, and a row that also appended one says so in
//! `undo_note` (a column cake-recon ignores).

use super::atomic::AtomicCsv;
use crate::update::{ConversionUpdate, DispositionType, Held, ReceivedField};
use rust_decimal::Decimal;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) const COLUMNS: [&str; 9] = [
    "conversion_id",
    "offer_id",
    "payout",
    "add_to_existing_payout",
    "received",
    "received_option",
    "disposition_type",
    "disposition_id",
    "undo_note",
];

/// Writes the undo sheet through a temporary name.
pub(crate) struct UndoWriter {
    csv: AtomicCsv,
    /// Lines written.
    pub lines: u64,
    /// Rows that only appended a note (nothing to put back).
    pub notes_only: u64,
}

fn amount(d: Option<Decimal>) -> String {
    d.unwrap_or(Decimal::ZERO).normalize().to_string()
}

impl UndoWriter {
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Ok(Self {
            csv: AtomicCsv::create(path, &COLUMNS, b',', false)?,
            lines: 0,
            notes_only: 0,
        })
    }

    /// The undo line of `u`, sent to the conversion that held `before`.
    pub(crate) fn add(&mut self, u: &ConversionUpdate, before: &Held) -> io::Result<()> {
        let payout = !u.payout_unchanged();
        let received = u.received_changes();
        let disposition = u.disposition_type != DispositionType::NoChange || u.disposition_id != 0;
        if !payout && received.is_none() && !disposition {
            self.notes_only += 1;
            return Ok(());
        }
        let (received_value, received_option) = match received {
            None => (String::new(), "no_change"),
            Some(ReceivedField::SaleAmount) => (amount(before.sale_amount), "total_sale_amount"),
            Some(ReceivedField::Revenue) => (amount(before.received), "total_revenue"),
        };
        let record = [
            before.conversion_id.to_string(),
            before.offer_id.map(|o| o.to_string()).unwrap_or_default(),
            if payout {
                amount(before.paid)
            } else {
                String::new()
            },
            if payout { "false" } else { "true" }.to_string(),
            received_value,
            received_option.to_string(),
            if disposition {
                before
                    .disposition
                    .map_or("no_change", DispositionType::as_str)
                    .to_string()
            } else {
                "no_change".to_string()
            },
            before
                .disposition_id
                .filter(|d| disposition && *d != 0)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            u.additions().note.map_or_else(String::new, |note| {
                format!(
                    "row {} appended the note \"{note}\": a note cannot be taken back",
                    u.row
                )
            }),
        ];
        self.lines += 1;
        self.csv.write(&record)
    }

    pub(crate) fn finish(self) -> io::Result<(PathBuf, u64, u64)> {
        Ok((self.csv.finish()?, self.lines, self.notes_only))
    }
}

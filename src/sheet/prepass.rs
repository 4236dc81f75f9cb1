//! The streaming pre-pass: every row is validated before anything could be sent.
//!
//! Memory stays flat: rows are not kept, only counts, a few samples and the duplicate index
//! (≤ 12 bytes per id).

use super::SheetError;
use super::columns::Columns;
use super::duplicates::{DuplicateIndex, Duplicates, IdKind, by_row, split_by_text};
use super::evidence::Formats;
use super::options::SheetOptions;
use super::reader::Format;
use super::stream::Sheet;
use crate::update::{ConversionUpdate, Idempotency};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// How many row errors a report lists before summarising the rest.
pub(crate) const ERRORS_SHOWN: usize = 20;

/// What the pre-pass learnt about the sheet.
#[derive(Debug)]
pub struct PrePass {
    pub format: Format,
    /// The decimal mark and date order, and why.
    pub formats: Formats,
    pub header: Vec<String>,
    /// The spreadsheet row the header was found on.
    pub header_row: u64,
    /// Total lines recognised (never sent), and what was said of them.
    pub skipped: u64,
    pub skipped_notes: Vec<String>,
    pub columns: Columns,
    /// Up to two non-empty values per column, as read.
    pub samples: Vec<Vec<String>>,
    pub rows: u64,
    pub invalid: u64,
    /// The first [`ERRORS_SHOWN`] row errors, in row order.
    pub errors: Vec<String>,
    /// Rows that share a conversion with another row: row → (id kind, other rows).
    pub duplicates: Duplicates,
    /// Size and SHA-256 of the file, streamed during the pass (the checkpoint's fingerprint).
    pub input_size: u64,
    pub input_sha256: String,
    /// Valid rows that add (duplicates included): whether a run must read CAKE first.
    pub additive: u64,
    /// Valid rows that give no offer (duplicates included): CAKE's reports must give each its
    /// conversion's offer before it is sent.
    pub offerless: u64,
    /// Total lines that do not match the rows above them: a run stops before sending unless
    /// `--accept-total-mismatch`.
    pub total_mismatches: Vec<String>,
    /// Hidden rows and amounts shown otherwise than stored (a workbook's).
    pub unseen: super::visibility::Unseen,
}

impl PrePass {
    /// Rows that would be sent.
    #[must_use]
    pub fn valid(&self) -> u64 {
        self.rows - self.invalid - self.skipped
    }
}

/// Validates every row of the sheet at `path`.
pub fn prepass(path: &Path, opts: &SheetOptions) -> Result<PrePass, SheetError> {
    prepass_visit(path, opts, |_| {})
}

/// [`prepass`], handing each row to `visit` as it goes (duplicates are known only at the end:
/// rows are visited as if there were none).
pub(crate) fn prepass_visit(
    path: &Path,
    opts: &SheetOptions,
    mut visit: impl FnMut(super::SheetRow),
) -> Result<PrePass, SheetError> {
    let mut sheet = Sheet::open(path, opts)?;
    let formats = sheet.formats().clone();
    // Later readings of the sheet need not gather the evidence again.
    let opts = &opts.pinned(&formats);
    let header: Vec<String> = sheet.header().iter().map(str::to_string).collect();
    let header_row = sheet.header_row();
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    let mut unfilled = header.len();
    let mut dup_index = DuplicateIndex::default();
    let (mut rows, mut invalid, mut skipped, mut additive) = (0u64, 0u64, 0u64, 0u64);
    let mut offerless = 0u64;
    let mut skipped_notes = Vec::new();
    let mut errors: Vec<(u64, String)> = Vec::new();
    let no_dups = Duplicates::new();
    while let Some(row) = sheet.next_row(&no_dups)? {
        rows += 1;
        match &row.result {
            Ok(update) => {
                dup_index.add(update);
                additive += u64::from(update.additions().is_additive());
                offerless += u64::from(update.offer == crate::update::Offer::Unknown);
            }
            Err(skipped_row) if skipped_row.skipped => {
                skipped += 1;
                if skipped_notes.len() < ERRORS_SHOWN {
                    skipped_notes.push(skipped_row.message.clone());
                }
            }
            Err(invalid_row) => {
                invalid += 1;
                if errors.len() < ERRORS_SHOWN {
                    errors.push((row.row, invalid_row.message.clone()));
                }
            }
        }
        if unfilled > 0 {
            for (i, value) in sheet.record().iter().enumerate() {
                if let Some(s) = samples.get_mut(i)
                    && s.len() < 2
                    && !value.trim().is_empty()
                {
                    s.push(value.trim().to_string());
                    if s.len() == 2 {
                        unfilled -= 1;
                    }
                }
            }
        }
        visit(row);
    }
    if rows == 0 {
        return Err(SheetError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let (input_size, input_sha256) = sheet.fingerprint();
    let format = sheet.format().clone();
    let columns = sheet.columns().clone();
    let total_mismatches = sheet.total_mismatches().to_vec();
    let unseen = sheet.unseen().clone();
    drop(sheet);
    let duplicates = find_duplicates(path, opts, dup_index)?;
    invalid += duplicates.len() as u64;
    let mut dup_rows: Vec<_> = duplicates.iter().collect();
    dup_rows.sort_unstable_by_key(|(r, _)| **r);
    for (row, dup) in dup_rows.into_iter().take(ERRORS_SHOWN) {
        errors.push((*row, dup.message(*row)));
    }
    errors.sort_by_key(|(r, _)| *r);
    errors.truncate(ERRORS_SHOWN);
    Ok(PrePass {
        format,
        formats,
        header,
        header_row,
        skipped,
        skipped_notes,
        columns,
        samples,
        rows,
        invalid,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        duplicates,
        input_size,
        input_sha256,
        additive,
        offerless,
        total_mismatches,
        unseen,
    })
}

/// The index's groups, with transaction-id groups (equal hashes) confirmed on the ids' text by
/// reading just those rows again — rare, since it takes a duplicate or a hash collision.
fn find_duplicates(
    path: &Path,
    opts: &SheetOptions,
    index: DuplicateIndex,
) -> Result<Duplicates, SheetError> {
    let groups = index.groups();
    let wanted: HashSet<u64> = groups
        .iter()
        .filter(|g| g.kind == IdKind::TransactionId)
        .flat_map(|g| g.rows.iter().copied())
        .collect();
    if wanted.is_empty() {
        return Ok(by_row(&groups));
    }
    let mut text = HashMap::with_capacity(wanted.len());
    let mut sheet = Sheet::open(path, opts)?;
    while let Some(row) = sheet.next_row(&Duplicates::new())? {
        if let Ok(update) = row.result
            && wanted.contains(&row.row)
        {
            text.insert(row.row, update.transaction_id);
        }
    }
    Ok(by_row(&split_by_text(groups, &text)))
}

/// Sums and counts over the rows that would be (or were) sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Totals {
    pub rows: u64,
    pub by_disposition: BTreeMap<&'static str, u64>,
    pub by_received_option: BTreeMap<&'static str, u64>,
    /// Σ payout of rows that set the payout.
    pub payout_set: Decimal,
    /// Σ payout of rows that add to the payout.
    pub payout_added: Decimal,
    /// Σ received of rows that change it.
    pub received: Decimal,
    pub idempotent: u64,
    pub additive: u64,
}

impl Totals {
    /// Counts one row in.
    pub(crate) fn add(&mut self, u: &ConversionUpdate) {
        self.rows += 1;
        *self
            .by_disposition
            .entry(u.disposition_type.as_str())
            .or_default() += 1;
        *self
            .by_received_option
            .entry(u.received_option.as_str())
            .or_default() += 1;
        let adds = u.additions();
        if let Some(payout) = adds.payout {
            self.payout_added = self.payout_added.saturating_add(payout);
        } else if !u.payout_unchanged() {
            self.payout_set = self.payout_set.saturating_add(u.payout);
        }
        if let Some((_, received)) = adds.received {
            self.received = self.received.saturating_add(received);
        } else if u.received_option.sets().is_some() {
            self.received = self.received.saturating_add(u.received);
        }
        match u.idempotency() {
            Idempotency::Idempotent => self.idempotent += 1,
            Idempotency::Additive => self.additive += 1,
        }
    }

    /// Σ payout over all rows (set and added).
    #[must_use]
    pub(crate) fn payout(&self) -> Decimal {
        self.payout_set.saturating_add(self.payout_added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    #[test]
    fn totals_never_panic_on_overflow() {
        let mut t = Totals::default();
        let mut u = crate::update::ConversionUpdate::test_default();
        u.payout = Decimal::MAX;
        u.received = Decimal::MAX;
        u.received_option = crate::update::ReceivedOption::AdditionalRevenue;
        for add in [true, true, false, false] {
            u.add_to_existing_payout = add;
            t.add(&u);
        }
        assert_eq!(t.payout(), Decimal::MAX);
        assert_eq!(t.received, Decimal::MAX);
    }

    fn run_bytes(bytes: &[u8]) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let opts = SheetOptions {
            api_version: 4,
            ..SheetOptions::default()
        };
        // Errors are fine; panics are not. A second, full pass must agree on the row count.
        if let Ok(pre) = prepass(f.path(), &opts) {
            let mut sheet = Sheet::open(f.path(), &opts).unwrap();
            let mut n = 0;
            while let Ok(Some(_)) = sheet.next_row(&pre.duplicates) {
                n += 1;
            }
            assert_eq!(n, pre.rows);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn no_byte_sequence_panics_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            run_bytes(&bytes);
        }

        #[test]
        fn no_csv_shaped_input_panics_the_reader(
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b','), Just(b';'), Just(b'\t'), Just(b'\r'), Just(b'\n'), Just(b'"'),
                    Just(b'$'), Just(b'('), Just(b')'), Just(b'-'), Just(b'.'), Just(b'E'),
                    Just(0xFF), Just(0xEF), Just(0xBB), Just(0xBF), Just(0xFE), Just(0x00),
                    (b'0'..=b'9'), (b'a'..=b'z'),
                ],
                0..400,
            ),
            header in prop_oneof![
                Just(&b"conversion_id,payout,received,received_option,custom_date,note_to_append\n"[..]),
                Just(&b"transaction_id;add_to_existing_payout;disposition_type;effective_date_option\r\n"[..]),
                Just(&b"\xEF\xBB\xBFrequest_id\tdisallow_on_billing_status\tdisposition_id\n"[..]),
                Just(&b"\xFF\xFEc\x00"[..]),
            ],
        ) {
            let mut bytes = header.to_vec();
            bytes.extend(body);
            run_bytes(&bytes);
        }
    }
}

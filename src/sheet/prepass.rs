//! The streaming pre-pass: every row is validated before anything could be sent.
//!
//! Memory stays flat: rows are not kept, only counts, a few samples and the duplicate index
//! (≤ 12 bytes per id).

use super::SheetError;
use super::columns::Columns;
use super::reader::Format;
use super::stream::{Sheet, SheetOptions};
use super::validate::DuplicateIndex;
use crate::update::{ConversionUpdate, Idempotency};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// How many row errors a report lists before summarising the rest.
pub const ERRORS_SHOWN: usize = 20;

/// What the pre-pass learnt about the sheet.
#[derive(Debug)]
pub struct PrePass {
    pub format: Format,
    pub header: Vec<String>,
    pub columns: Columns,
    /// Up to two non-empty values per column, as read.
    pub samples: Vec<Vec<String>>,
    pub rows: u64,
    pub invalid: u64,
    /// The first [`ERRORS_SHOWN`] row errors, in row order.
    pub errors: Vec<String>,
    /// Rows that share a conversion with another row: row → (id kind, other rows).
    pub duplicates: HashMap<u64, (String, Vec<u64>)>,
    /// Size and SHA-256 of the file, streamed during the pass (the checkpoint's fingerprint).
    pub input_size: u64,
    pub input_sha256: String,
}

impl PrePass {
    /// Rows that would be sent.
    #[must_use]
    pub fn valid(&self) -> u64 {
        self.rows - self.invalid
    }
}

/// Validates every row of the sheet at `path`.
pub fn prepass(path: &Path, opts: &SheetOptions) -> Result<PrePass, SheetError> {
    prepass_visit(path, opts, |_| {})
}

/// [`prepass`], handing each row to `visit` as it goes (duplicates are known only at the end:
/// rows are visited as if there were none).
pub fn prepass_visit(
    path: &Path,
    opts: &SheetOptions,
    mut visit: impl FnMut(super::SheetRow),
) -> Result<PrePass, SheetError> {
    let mut sheet = Sheet::open(path, opts)?;
    let header: Vec<String> = sheet.header().iter().map(str::to_string).collect();
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    let mut unfilled = header.len();
    let mut dup_index = DuplicateIndex::default();
    let (mut rows, mut invalid) = (0u64, 0u64);
    let mut errors: Vec<(u64, String)> = Vec::new();
    let no_dups = HashMap::new();
    while let Some(row) = sheet.next_row(&no_dups)? {
        rows += 1;
        match &row.result {
            Ok(update) => dup_index.add(update),
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
    let duplicates = dup_index.finish();
    invalid += duplicates.len() as u64;
    let mut dup_rows: Vec<(&u64, &(String, Vec<u64>))> = duplicates.iter().collect();
    dup_rows.sort_unstable_by_key(|(r, _)| **r);
    for (row, (kind, others)) in dup_rows.into_iter().take(ERRORS_SHOWN) {
        errors.push((*row, super::stream::duplicate_message(*row, kind, others)));
    }
    errors.sort_by_key(|(r, _)| *r);
    let (input_size, input_sha256) = sheet.fingerprint();
    errors.truncate(ERRORS_SHOWN);
    Ok(PrePass {
        format: sheet.format().clone(),
        header,
        columns: sheet.columns().clone(),
        samples,
        rows,
        invalid,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        duplicates,
        input_size,
        input_sha256,
    })
}

/// Sums and counts over the rows that would be (or were) sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
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
    pub fn add(&mut self, u: &ConversionUpdate) {
        self.rows += 1;
        *self
            .by_disposition
            .entry(u.disposition_type.as_str())
            .or_default() += 1;
        *self
            .by_received_option
            .entry(u.received_option.as_str())
            .or_default() += 1;
        if u.add_to_existing_payout {
            self.payout_added = self.payout_added.saturating_add(u.payout);
        } else {
            self.payout_set = self.payout_set.saturating_add(u.payout);
        }
        if u.received_option != crate::update::ReceivedOption::NoChange {
            self.received = self.received.saturating_add(u.received);
        }
        match u.idempotency() {
            Idempotency::Idempotent => self.idempotent += 1,
            Idempotency::Additive => self.additive += 1,
        }
    }

    /// Σ payout over all rows (set and added).
    #[must_use]
    pub fn payout(&self) -> Decimal {
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

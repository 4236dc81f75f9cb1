//! Rows that target the same conversion: found in ≤ 12 bytes per id, exactly.
//!
//! Keys are packed `u64`s (kind in the top bits; a transaction id is hashed) sorted once at the
//! end of the pre-pass. A hash can collide, so rows that share only a transaction-id *hash* are
//! candidates: the pre-pass reads those rows' ids again and compares the text
//! ([`DuplicateIndex::groups`] says which groups need it). Every step is linear in the size of a
//! group: a filled-down id over 100k rows is 100k entries, not 10¹⁰ pairs.

use crate::update::{ConversionUpdate, Target};
use std::collections::HashMap;
use std::fmt::Write as _;

/// How many other rows a duplicate's message names before it counts the rest.
const OTHERS_SHOWN: usize = 3;

/// The id kind a group shares.
#[expect(
    clippy::enum_variant_names,
    reason = "named after the CAKE fields they stand for"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    ConversionId,
    RequestSessionId,
    TransactionId,
}

impl IdKind {
    #[must_use]
    pub fn column(self) -> &'static str {
        match self {
            Self::ConversionId => "conversion_id",
            Self::RequestSessionId => "request_session_id",
            Self::TransactionId => "transaction_id",
        }
    }
}

/// Rows (ascending) that share one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub kind: IdKind,
    pub rows: Vec<u64>,
}

/// One row's part in a duplicate group: a few of the other rows and how many more there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub kind: IdKind,
    pub others: Vec<u64>,
    pub more: u64,
}

impl Duplicate {
    /// The row error: which rows share the conversion and what to do.
    #[must_use]
    pub fn message(&self, row: u64) -> String {
        let mut list = self
            .others
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if self.more > 0 {
            let _ = write!(list, " and {} more", self.more);
        }
        let plural = if self.others.len() == 1 && self.more == 0 {
            ""
        } else {
            "s"
        };
        format!(
            "row {row}, column \"{}\": the same conversion is targeted by row{plural} {list}; \
             keep one row per conversion (combine the amounts) and run again",
            self.kind.column()
        )
    }
}

/// Row → its duplicate entry (a row in two groups keeps the first).
pub(crate) type Duplicates = HashMap<u64, Duplicate>;

/// Turns groups into per-row entries, linear in the rows of each group.
#[must_use]
pub(crate) fn by_row(groups: &[Group]) -> Duplicates {
    let mut out = Duplicates::new();
    for g in groups {
        let total = g.rows.len() as u64;
        for &row in &g.rows {
            let others: Vec<u64> = g
                .rows
                .iter()
                .copied()
                .filter(|&o| o != row)
                .take(OTHERS_SHOWN)
                .collect();
            let more = total - 1 - others.len() as u64;
            out.entry(row).or_insert(Duplicate {
                kind: g.kind,
                others,
                more,
            });
        }
    }
    out
}

/// The ids of every valid row, packed.
#[derive(Debug, Default)]
pub(crate) struct DuplicateIndex {
    entries: Vec<[u32; 3]>,
}

impl DuplicateIndex {
    /// Records the ids of a valid row.
    pub(crate) fn add(&mut self, update: &ConversionUpdate) {
        let row = u32::try_from(update.row).unwrap_or(u32::MAX);
        for target in update.targets() {
            let key = match target {
                Target::ConversionId(v) => (1u64 << 62) | u64::from(v.cast_unsigned()),
                Target::RequestSessionId(v) => (2u64 << 62) | u64::from(v.cast_unsigned()),
                Target::TransactionId(t) => (3u64 << 62) | (fnv1a(t) >> 2),
            };
            #[expect(clippy::cast_possible_truncation, reason = "splitting a u64 in halves")]
            self.entries.push([(key >> 32) as u32, key as u32, row]);
        }
    }

    /// Groups of two or more rows sharing a key. Transaction-id groups share a hash only: the
    /// caller confirms them with [`split_by_text`].
    #[must_use]
    pub(crate) fn groups(mut self) -> Vec<Group> {
        self.entries.sort_unstable();
        self.entries
            .chunk_by(|a, b| a[0] == b[0] && a[1] == b[1])
            .filter(|g| g.len() > 1)
            .map(|g| Group {
                kind: match g.first().map_or(0, |e| e[0] >> 30) {
                    1 => IdKind::ConversionId,
                    2 => IdKind::RequestSessionId,
                    _ => IdKind::TransactionId,
                },
                rows: g.iter().map(|e| u64::from(e[2])).collect(),
            })
            .collect()
    }
}

/// Splits hash-equal transaction-id groups by the ids' real text (`text`: row → transaction
/// id), keeping the groups that still hold two or more rows.
#[must_use]
pub(crate) fn split_by_text(groups: Vec<Group>, text: &HashMap<u64, String>) -> Vec<Group> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        if g.kind != IdKind::TransactionId {
            out.push(g);
            continue;
        }
        let mut keyed: Vec<(&str, u64)> = g
            .rows
            .iter()
            .map(|r| (text.get(r).map_or("", String::as_str), *r))
            .collect();
        keyed.sort_unstable();
        for same in keyed.chunk_by(|a, b| a.0 == b.0).filter(|s| s.len() > 1) {
            out.push(Group {
                kind: IdKind::TransactionId,
                rows: same.iter().map(|(_, r)| *r).collect(),
            });
        }
    }
    out
}

/// FNV-1a, 64 bit (only a first sort key: equal hashes are confirmed on the text).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(row: u64, conversion_id: i32, tx: &str) -> ConversionUpdate {
        ConversionUpdate {
            row,
            conversion_id,
            transaction_id: tx.into(),
            ..ConversionUpdate::test_default()
        }
    }

    #[test]
    fn duplicates_name_every_row() {
        let mut idx = DuplicateIndex::default();
        for (row, id, tx) in [
            (2, 5, ""),
            (3, 6, "A"),
            (4, 5, ""),
            (5, 0, "A"),
            (6, 7, "B"),
        ] {
            idx.add(&update(row, id, tx));
        }
        let text = [(3, "A"), (5, "A")]
            .map(|(r, t)| (r, t.to_string()))
            .into_iter()
            .collect();
        let d = by_row(&split_by_text(idx.groups(), &text));
        let entry = |kind, others: Vec<u64>| Duplicate {
            kind,
            others,
            more: 0,
        };
        assert_eq!(d.get(&2), Some(&entry(IdKind::ConversionId, vec![4])));
        assert_eq!(d.get(&4), Some(&entry(IdKind::ConversionId, vec![2])));
        assert_eq!(d.get(&3), Some(&entry(IdKind::TransactionId, vec![5])));
        assert_eq!(d.get(&5), Some(&entry(IdKind::TransactionId, vec![3])));
        assert!(!d.contains_key(&6));
    }

    #[test]
    fn a_hash_collision_is_not_a_duplicate() {
        // Two different ids under one (pretend) hash: the text decides.
        let group = Group {
            kind: IdKind::TransactionId,
            rows: vec![2, 3, 4],
        };
        let text = [(2, "X1"), (3, "Y2"), (4, "X1")]
            .map(|(r, t)| (r, t.to_string()))
            .into_iter()
            .collect();
        let split = split_by_text(vec![group], &text);
        assert_eq!(
            split,
            vec![Group {
                kind: IdKind::TransactionId,
                rows: vec![2, 4]
            }]
        );
    }

    #[test]
    fn a_huge_group_is_linear_and_its_message_bounded() {
        let n = 200_000u64;
        let group = Group {
            kind: IdKind::TransactionId,
            rows: (2..n + 2).collect(),
        };
        let d = by_row(&[group]);
        assert_eq!(d.len() as u64, n);
        let m = d[&5].message(5);
        assert!(m.contains("rows 2, 3, 4 and 199996 more"), "{m}");
        assert!(m.len() < 200);
    }
}

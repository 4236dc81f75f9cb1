//! `--resend-in-doubt`: which in-doubt rows a run sends again — none, all, the rows named by
//! number, or the rows naming given conversions. Validated once, in configuration; the
//! dispatcher only asks [`ResendInDoubt::selects`].

use crate::update::{ConversionUpdate, Target};
use std::collections::BTreeSet;

/// One conversion as a selection file names it (the way `status` prints it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[expect(clippy::enum_variant_names, reason = "CAKE's own names for the ids")]
pub(crate) enum Pick {
    ConversionId(i32),
    RequestSessionId(i32),
    TransactionId(String),
}

impl Pick {
    fn matches(&self, t: Target<'_>) -> bool {
        match (self, t) {
            (Pick::ConversionId(a), Target::ConversionId(b))
            | (Pick::RequestSessionId(a), Target::RequestSessionId(b)) => *a == b,
            (Pick::TransactionId(a), Target::TransactionId(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::ConversionId(v) => Target::ConversionId(*v).fmt(f),
            Pick::RequestSessionId(v) => Target::RequestSessionId(*v).fmt(f),
            Pick::TransactionId(v) => Target::TransactionId(v).fmt(f),
        }
    }
}

/// Which in-doubt additive rows to send again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ResendInDoubt {
    /// None: an in-doubt row stays in doubt (the default).
    #[default]
    None,
    /// Every in-doubt row (`--resend-in-doubt` alone).
    All,
    /// The rows with these numbers (`--resend-in-doubt 4,7,10-12`).
    Rows(BTreeSet<u64>),
    /// The rows naming one of these conversions (`--resend-in-doubt @FILE`,
    /// `--resend-in-doubt-file FILE`).
    Conversions(BTreeSet<Pick>),
}

impl ResendInDoubt {
    /// Whether the in-doubt row `u` is to be sent again.
    #[must_use]
    pub(crate) fn selects(&self, u: &ConversionUpdate) -> bool {
        match self {
            ResendInDoubt::None => false,
            ResendInDoubt::All => true,
            ResendInDoubt::Rows(rows) => rows.contains(&u.row),
            ResendInDoubt::Conversions(picks) => {
                u.targets().any(|t| picks.iter().any(|p| p.matches(t)))
            }
        }
    }
}

impl ResendInDoubt {
    /// What the selection named that no in-doubt row of this run answered (`resent`: the rows
    /// it sent again), in words: a row number that is not in doubt, a conversion no in-doubt
    /// row names.
    #[must_use]
    pub(crate) fn unmatched(&self, resent: &[ConversionUpdate]) -> Vec<String> {
        match self {
            ResendInDoubt::None | ResendInDoubt::All => Vec::new(),
            ResendInDoubt::Rows(rows) => rows
                .iter()
                .filter(|r| !resent.iter().any(|u| u.row == **r))
                .map(|r| format!("row {r}"))
                .collect(),
            ResendInDoubt::Conversions(picks) => picks
                .iter()
                .filter(|p| !resent.iter().any(|u| u.targets().any(|t| p.matches(t))))
                .map(ToString::to_string)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_picks_rows_by_number_or_by_conversion() {
        let mut u = ConversionUpdate::test_default();
        u.row = 7;
        u.conversion_id = 0;
        u.transaction_id = "T7".into();
        assert!(!ResendInDoubt::None.selects(&u));
        assert!(ResendInDoubt::All.selects(&u));
        assert!(ResendInDoubt::Rows([4, 7].into()).selects(&u));
        assert!(!ResendInDoubt::Rows([4, 8].into()).selects(&u));
        let by = |p: Pick, u: &ConversionUpdate| ResendInDoubt::Conversions([p].into()).selects(u);
        assert!(by(Pick::TransactionId("T7".into()), &u));
        assert!(!by(Pick::TransactionId("t7".into()), &u));
        assert!(!by(Pick::ConversionId(7), &u), "row 7 is not conversion 7");
        u.conversion_id = 7;
        assert!(by(Pick::ConversionId(7), &u));
        assert!(!by(Pick::RequestSessionId(7), &u));
        let picks =
            ResendInDoubt::Conversions([Pick::ConversionId(7), Pick::ConversionId(8)].into());
        assert_eq!(
            picks.unmatched(std::slice::from_ref(&u)),
            ["conversion_id 8"]
        );
        assert_eq!(
            ResendInDoubt::Rows([4, 7].into()).unmatched(&[u]),
            ["row 4"]
        );
    }
}

//! THE one computation of what a row *adds* (contract §1, "Idempotency").
//!
//! Whether a row may be sent twice, the preview's and the summary's totals, the results cells,
//! the refusal of a double apply, settling an unknown outcome, the undo sheet and `status` all
//! ask [`ConversionUpdate::additions`]; nothing else looks at `add_to_existing_payout` or the
//! `additional_*` options to decide what is added. A zero addition adds nothing: it is not an
//! addition (sending it twice changes nothing), everywhere.

use super::row::{ConversionUpdate, ReceivedOption};
use rust_decimal::Decimal;

/// Which of CAKE's amounts a `received` value goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceivedField {
    /// `received/amount`: the revenue (`*_revenue`).
    Revenue,
    /// `order_total/amount`: the sale amount (`*_sale_amount`).
    SaleAmount,
}

impl ReceivedField {
    /// The field's name in messages, the checkpoint's snapshot and the read-back
    /// (`received`, `sale_amount`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ReceivedField::Revenue => "received",
            ReceivedField::SaleAmount => "sale_amount",
        }
    }
}

impl ReceivedOption {
    /// The field an `additional_*` option adds to; `None` for the others.
    #[must_use]
    pub fn adds_to(self) -> Option<ReceivedField> {
        match self {
            ReceivedOption::AdditionalRevenue => Some(ReceivedField::Revenue),
            ReceivedOption::AdditionalSaleAmount => Some(ReceivedField::SaleAmount),
            ReceivedOption::TotalRevenue
            | ReceivedOption::TotalSaleAmount
            | ReceivedOption::NoChange => None,
        }
    }

    /// The field a `total_*` option sets; `None` for the others.
    #[must_use]
    pub fn sets(self) -> Option<ReceivedField> {
        match self {
            ReceivedOption::TotalRevenue => Some(ReceivedField::Revenue),
            ReceivedOption::TotalSaleAmount => Some(ReceivedField::SaleAmount),
            ReceivedOption::AdditionalRevenue
            | ReceivedOption::AdditionalSaleAmount
            | ReceivedOption::NoChange => None,
        }
    }
}

/// What one row adds to its conversion: every amount is non-zero, the note non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Additions<'a> {
    /// Added to the payout (`add_to_existing_payout=true` with a payout other than 0).
    pub payout: Option<Decimal>,
    /// Added to the revenue or the sale amount (`additional_*` with a `received` other than 0).
    pub received: Option<(ReceivedField, Decimal)>,
    /// Appended to the conversion's notes.
    pub note: Option<&'a str>,
}

impl Additions<'_> {
    /// True when the row adds anything: sending it twice would change the conversion twice.
    #[must_use]
    pub fn is_additive(&self) -> bool {
        self.payout.is_some() || self.received.is_some() || self.note.is_some()
    }

    /// The amounts added, by field name (`payout`, `received`, `sale_amount`), payout first.
    pub fn amounts(&self) -> impl Iterator<Item = (&'static str, Decimal)> + '_ {
        self.payout
            .map(|p| ("payout", p))
            .into_iter()
            .chain(self.received.map(|(f, d)| (f.as_str(), d)))
    }
}

/// `+3.00 payout, +5.50 received, a note`; `nothing` when it adds nothing.
impl std::fmt::Display for Additions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .amounts()
            .map(|(field, d)| {
                let sign = if d.is_sign_negative() { "" } else { "+" };
                format!("{sign}{} {field}", shown_amount(d))
            })
            .collect();
        if self.note.is_some() {
            parts.push("a note".into());
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl ConversionUpdate {
    /// What this row adds (see the module documentation): the one place that decides it.
    #[must_use]
    pub fn additions(&self) -> Additions<'_> {
        Additions {
            payout: (self.add_to_existing_payout && !self.payout.is_zero()).then_some(self.payout),
            received: self
                .received_option
                .adds_to()
                .filter(|_| !self.received.is_zero())
                .map(|field| (field, self.received)),
            note: Some(self.note_to_append.as_str()).filter(|n| !n.is_empty()),
        }
    }

    /// The `received` field this row changes, whether it sets or adds (a zero addition
    /// changes nothing).
    #[must_use]
    pub fn received_changes(&self) -> Option<ReceivedField> {
        self.additions()
            .received
            .map(|(field, _)| field)
            .or_else(|| self.received_option.sets())
    }
}

/// An amount as a person reads it in a message: no trailing zeros past the cents (`1.0000` →
/// `1.00`, `0.0865` stays).
#[must_use]
pub fn shown_amount(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(
        payout: i64,
        add: bool,
        received: i64,
        option: ReceivedOption,
        note: &str,
    ) -> ConversionUpdate {
        ConversionUpdate {
            payout: Decimal::new(payout, 2),
            add_to_existing_payout: add,
            received: Decimal::new(received, 2),
            received_option: option,
            note_to_append: note.into(),
            ..ConversionUpdate::test_default()
        }
    }

    #[test]
    fn each_kind_of_addition_is_found() {
        let u = row(300, true, 550, ReceivedOption::AdditionalSaleAmount, "ok");
        let a = u.additions();
        assert_eq!(a.payout, Some(Decimal::new(300, 2)));
        assert_eq!(
            a.received,
            Some((ReceivedField::SaleAmount, Decimal::new(550, 2)))
        );
        assert_eq!(a.note, Some("ok"));
        assert!(a.is_additive());
        assert_eq!(a.to_string(), "+3.00 payout, +5.50 sale_amount, a note");
        let u = row(-125, true, 100, ReceivedOption::AdditionalRevenue, "");
        assert_eq!(u.additions().to_string(), "-1.25 payout, +1.00 received");
    }

    #[test]
    fn zero_amounts_add_nothing() {
        for option in ReceivedOption::ALL {
            let u = row(0, true, 0, *option, "");
            assert_eq!(u.additions(), Additions::default(), "{option}");
            assert!(!u.additions().is_additive());
            assert_eq!(u.idempotency(), crate::update::Idempotency::Idempotent);
            assert_eq!(u.additions().to_string(), "nothing");
        }
        // A zero payout added, a real revenue added: only the revenue counts.
        let u = row(0, true, 700, ReceivedOption::AdditionalRevenue, "");
        assert_eq!(
            u.additions().amounts().collect::<Vec<_>>(),
            [("received", Decimal::new(700, 2))]
        );
    }

    #[test]
    fn absolute_values_are_not_additions() {
        let u = row(300, false, 550, ReceivedOption::TotalRevenue, "");
        assert!(!u.additions().is_additive());
        assert_eq!(u.received_changes(), Some(ReceivedField::Revenue));
        let u = row(300, false, 550, ReceivedOption::NoChange, "");
        assert_eq!(u.received_changes(), None);
        let u = row(300, false, 0, ReceivedOption::AdditionalSaleAmount, "");
        assert_eq!(
            u.received_changes(),
            None,
            "a zero addition changes nothing"
        );
    }

    proptest! {
        #[test]
        fn additive_exactly_when_something_non_zero_is_added(
            payout in -3i64..3, add in any::<bool>(), received in -3i64..3,
            option in 0usize..5, note in prop::bool::ANY,
        ) {
            let option = ReceivedOption::ALL[option];
            let u = row(payout, add, received, option, if note { "n" } else { "" });
            let a = u.additions();
            prop_assert_eq!(a.payout.is_some(), add && payout != 0);
            prop_assert_eq!(
                a.received.is_some(),
                option.adds_to().is_some() && received != 0
            );
            prop_assert!(a.amounts().all(|(_, d)| !d.is_zero()));
            prop_assert_eq!(
                a.is_additive(),
                (add && payout != 0) || (option.adds_to().is_some() && received != 0) || note
            );
            prop_assert_eq!(
                u.idempotency() == crate::update::Idempotency::Additive,
                a.is_additive()
            );
        }
    }
}

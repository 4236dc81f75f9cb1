//! What CAKE holds for a conversion (read back through the reports API), and how a sheet row
//! compares with it.

use super::additions::{ReceivedField, shown_amount};
use super::row::{ConversionUpdate, DispositionType};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// One conversion as a report row shows it. Every field but the id may be missing (CAKE omits
/// elements, sends `xsi:nil`, or an empty element).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Held {
    pub conversion_id: i32,
    pub request_session_id: Option<i32>,
    pub transaction_id: Option<String>,
    pub offer_id: Option<i32>,
    /// `site_offer_name` (`offer_name` in older reports): for totals a person reads.
    pub offer_name: Option<String>,
    /// `source_affiliate` (`affiliate` in older reports): who is paid.
    pub affiliate_id: Option<i32>,
    pub affiliate_name: Option<String>,
    /// `paid/amount`: the payout.
    pub paid: Option<Decimal>,
    /// `received/amount`: the revenue.
    pub received: Option<Decimal>,
    /// `order_total/amount`: the sale amount.
    pub sale_amount: Option<Decimal>,
    /// `current_disposition/disposition_type/disposition_type_name`, lower case; `None` when
    /// the conversion has no disposition.
    pub disposition: Option<DispositionType>,
    pub disposition_id: Option<i32>,
    /// CAKE-local, no zone.
    pub conversion_date: Option<NaiveDateTime>,
    pub last_updated: Option<NaiveDateTime>,
    pub note: Option<String>,
}

/// One field's difference: its name, what CAKE holds, what the row wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    pub held: String,
    pub wanted: String,
}

/// How a row stands against what CAKE holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Every field the row sets already holds that value.
    AlreadyCorrect,
    /// Absolute fields that differ.
    Differs(Vec<Difference>),
    /// The row adds (payout, revenue or a note): CAKE's state alone cannot say whether it was
    /// applied. The current values of what it adds to, and any absolute differences.
    Additive {
        current: Vec<(&'static str, String)>,
        differs: Vec<Difference>,
    },
}

/// [`shown_amount`], or `(none)` when CAKE showed none.
#[must_use]
pub fn held_amount(d: Option<Decimal>) -> String {
    d.map_or_else(|| "(none)".into(), shown_amount)
}

/// Compares `u` with `held`, field by field, amounts as decimals (never as text).
#[must_use]
pub fn compare(u: &ConversionUpdate, held: &Held) -> Comparison {
    let mut differs = Vec::new();
    let mut current = Vec::new();
    let eq = |a: Option<Decimal>, b: Decimal| a.is_some_and(|a| a == b);
    let adds = u.additions();
    let holds = |field: ReceivedField| match field {
        ReceivedField::Revenue => held.received,
        ReceivedField::SaleAmount => held.sale_amount,
    };
    if adds.payout.is_some() {
        current.push(("payout", held_amount(held.paid)));
    } else if !u.payout_unchanged() && !eq(held.paid, u.payout) {
        differs.push(Difference {
            field: "payout",
            held: held_amount(held.paid),
            wanted: shown_amount(u.payout),
        });
    }
    if let Some((field, _)) = adds.received {
        current.push((field.as_str(), held_amount(holds(field))));
    } else if let Some(field) = u.received_option.sets()
        && !eq(holds(field), u.received)
    {
        differs.push(Difference {
            field: field.as_str(),
            held: held_amount(holds(field)),
            wanted: shown_amount(u.received),
        });
    }
    if u.disposition_type != DispositionType::NoChange
        && held.disposition != Some(u.disposition_type)
    {
        differs.push(Difference {
            field: "disposition",
            held: held
                .disposition
                .map_or("(none)".into(), |d| d.as_str().into()),
            wanted: u.disposition_type.as_str().into(),
        });
    }
    if u.disposition_id != 0 && held.disposition_id != Some(u.disposition_id) {
        differs.push(Difference {
            field: "disposition_id",
            held: held
                .disposition_id
                .map_or("(none)".into(), |d| d.to_string()),
            wanted: u.disposition_id.to_string(),
        });
    }
    if adds.note.is_some() {
        current.push(("note", held.note.clone().unwrap_or_default()));
    }
    if !current.is_empty() {
        Comparison::Additive { current, differs }
    } else if differs.is_empty() {
        Comparison::AlreadyCorrect
    } else {
        Comparison::Differs(differs)
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.field, self.held, self.wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::ReceivedOption;

    fn held() -> Held {
        Held {
            conversion_id: 1,
            paid: Some(Decimal::new(10_000, 4)),
            received: Some(Decimal::new(150_000_000_000, 10)),
            disposition: Some(DispositionType::Pending),
            ..Held::default()
        }
    }

    #[test]
    fn amounts_compare_as_decimals_and_differences_are_named() {
        let u = ConversionUpdate {
            payout: Decimal::new(100, 2),
            add_to_existing_payout: false,
            received: Decimal::new(15, 0),
            received_option: ReceivedOption::TotalRevenue,
            ..ConversionUpdate::test_default()
        };
        assert_eq!(
            compare(&u, &held()),
            Comparison::AlreadyCorrect,
            "1.0000 = 1.00"
        );
        let u = ConversionUpdate {
            payout: Decimal::new(1250, 2),
            disposition_type: DispositionType::Approved,
            ..u
        };
        let Comparison::Differs(d) = compare(&u, &held()) else {
            panic!("differs")
        };
        let text: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            ["payout 1.00 -> 12.50", "disposition pending -> approved"]
        );
    }

    #[test]
    fn adding_rows_are_additive_and_show_what_is_there() {
        let u = ConversionUpdate {
            payout: Decimal::new(300, 2),
            add_to_existing_payout: true,
            ..ConversionUpdate::test_default()
        };
        assert_eq!(
            compare(&u, &held()),
            Comparison::Additive {
                current: vec![("payout", "1.00".into())],
                differs: vec![]
            }
        );
    }
}

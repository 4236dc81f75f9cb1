//! What to tell a person about a column the header rules did not read: the advice depends
//! on the header's words (a `Bonus Payout` adds to the payout, a `Sale Amount` is the sale
//! amount), so the hint never suggests setting what the sheet means to add.

use super::parse::normalize_token;
use crate::update::Param;

/// How to read an ignored column of amounts, from its header's words. A header that says a
/// change (`Bonus Payout`, `Payout Adjustment`, `Payout (+/-)`) adds to the payout; setting
/// the payout to the bonus would be wrong, so the hint says the adding way. When another
/// column already gives that field (`given`: the header giving it), the hint says so instead:
/// one update sets a payout or adds to it, never both, so a second column cannot be mapped.
pub(crate) fn amount_hint(header: &str, given: impl Fn(Param) -> Option<String>) -> String {
    let hint = target_hint(header);
    let field = if hint.1 {
        Param::Received
    } else {
        Param::Payout
    };
    match given(field) {
        Some(other) => format!(
            "column \"{other}\" already gives {}, and one update cannot take two: put these \
             amounts into \"{other}\" (or send them in a second sheet after this one)",
            field.name()
        ),
        None => hint.0,
    }
}

/// The hint from the header's words alone, and whether it names the revenue (or the sale
/// amount, sent as the revenue) rather than the payout.
fn target_hint(header: &str) -> (String, bool) {
    let h = normalize_token(header);
    // `+/-` before normalising (which reads `-` as a word break).
    let change = [
        "bonus",
        "adjust",
        "additional",
        "extra",
        "increase",
        "delta",
        "add",
    ]
    .iter()
    .any(|w| h.contains(w))
        || header.contains("+/-");
    let revenue = h.contains("revenue") || h.contains("received");
    let sale = h.contains("sale") || h.contains("order_total") || h.contains("order_value");
    let text = match (change, revenue, sale) {
        (true, false, false) => {
            format!("it reads as a change to the payout: --map \"{header}=payout+\" adds it")
        }
        (true, false, true) => format!(
            "it reads as a change to the sale amount: --map \"{header}=sale_amount+\" adds it"
        ),
        (true, true, _) => {
            format!("it reads as a change to the revenue: --map \"{header}=revenue+\" adds it")
        }
        (false, _, true) => format!("it reads as the sale amount: --map \"{header}=sale_amount\""),
        (false, true, false) => format!("--map \"{header}=received\" reads it as the revenue"),
        (false, false, false) => format!("--map \"{header}=payout\" reads it as the payout"),
    };
    (text, revenue || sale)
}

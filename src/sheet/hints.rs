//! What to tell a person about a column the header rules did not read: the advice depends
//! on the header's words (a `Bonus Payout` adds to the payout, a `Sale Amount` is the sale
//! amount), so the hint never suggests setting what the sheet means to add.

use super::parse::normalize_token;

/// How to read an ignored column of amounts, from its header's words. A header that says a
/// change (`Bonus Payout`, `Payout Adjustment`, `Payout (+/-)`) adds to the payout; setting
/// the payout to the bonus would be wrong, so the hint says the adding way.
pub(crate) fn amount_hint(header: &str) -> String {
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
    match (change, revenue, sale) {
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
    }
}

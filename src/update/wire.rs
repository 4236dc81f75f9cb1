//! How values are written on the wire (and in the results file): one place for each format.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// The largest amount CAKE can store: its amounts are SQL Server `money`
/// (922,337,203,685,477.5807). Bounding amounts by it also keeps every sum of a sheet's
/// amounts far inside `Decimal`'s range.
pub const MONEY_MAX: Decimal = Decimal::from_parts(u32::MAX, 0x7FFF_FFFF, 0, false, 4);

/// Formats an amount exactly as it is sent and reported: `.` decimal, no grouping, scale kept.
#[must_use]
pub fn format_amount(d: Decimal) -> String {
    d.to_string()
}

/// The `MM/DD/YYYY HH:MM:SS` form CAKE's GET/POST binding parses.
#[must_use]
pub fn format_cake_date(d: &NaiveDateTime) -> String {
    d.format("%m/%d/%Y %H:%M:%S").to_string()
}

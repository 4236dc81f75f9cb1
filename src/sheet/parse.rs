//! Cell parsers: one function per CAKE type, each turning a spreadsheet cell into the typed value
//! or a message that says what was expected.
//!
//! These are pure functions so each rule is unit-tested on its own. Callers pass cells already
//! trimmed; an empty cell means "not given" and never reaches these functions.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;

/// How amounts in the sheet write their decimal separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalStyle {
    /// `1,234.56` (the default, and what CAKE itself uses).
    #[default]
    Point,
    /// `1.234,56` — only with `--decimal-comma`.
    Comma,
}

/// Which comes first in a slashed date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// `09/30/2026` — CAKE's own order.
    #[default]
    Mdy,
    /// `30/09/2026`.
    Dmy,
}

/// Parses an Int32 id. Leading zeros are fine; `0` means "not used".
pub fn parse_id(s: &str) -> Result<i32, String> {
    if looks_like_excel_scientific(s) {
        return Err(excel_damage());
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number (an id such as 707658)".into());
    }
    let digits = s.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    if digits.len() > 10 {
        return Err("is larger than CAKE's largest id (2147483647)".into());
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| "is larger than CAKE's largest id (2147483647)".into())
}

/// Checks a transaction id: any text is kept exactly, except Excel's scientific mangling.
pub(crate) fn parse_transaction_id(s: &str) -> Result<String, String> {
    if looks_like_excel_scientific(s) {
        return Err(excel_damage());
    }
    Ok(s.to_owned())
}

fn excel_damage() -> String {
    "is a number in scientific notation: Excel has damaged this id; \
     re-export the column formatted as Text"
        .to_string()
}

/// `1.23457E+11`, `1E+11`, `2.5e-3`: digits with one optional point, then an exponent.
fn looks_like_excel_scientific(s: &str) -> bool {
    let Some(pos) = s.find(['e', 'E']) else {
        return false;
    };
    let (mantissa, exp) = (&s[..pos], &s[pos + 1..]);
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    let mantissa_ok = !mantissa.is_empty()
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().filter(|&b| b == b'.').count() <= 1
        && mantissa.bytes().any(|b| b.is_ascii_digit());
    mantissa_ok && !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a money amount as written by Excel or a person, without ever rounding.
///
/// Accepts `1234.56`, `1,234.56`, `$1,234.56`, `-12.5`, `(12.50)`, `-$5`, `$-5`, `12.`, `.5`.
/// Rejects exponents (`1e3` is how Excel mangles cells), `1,234` (ambiguous: thousands or a
/// decimal comma), misplaced separators and anything else.
pub fn parse_amount(s: &str, style: DecimalStyle) -> Result<Decimal, String> {
    parse_amount_as(s, style).map_err(|e| {
        // A European export read with the default style: say which flag reads it.
        let other = match style {
            DecimalStyle::Point => DecimalStyle::Comma,
            DecimalStyle::Comma => DecimalStyle::Point,
        };
        if s.contains([',', '.']) && !e.contains("ambiguous") && parse_amount_as(s, other).is_ok() {
            let flag = match other {
                DecimalStyle::Comma => "add --decimal-comma",
                DecimalStyle::Point => "add --decimal-point",
            };
            format!("{e}; it reads as an amount with the other decimal separator: {flag}")
        } else {
            e
        }
    })
}

/// Currency codes written beside an amount (`12.50 USD`, `EUR 12,50`).
const CURRENCY_CODES: [&str; 6] = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF"];

/// The sign, parentheses and currency around an amount, taken off: whether it is negative, and
/// the number left (`-$1,234.56`, `$ (12.50)`, `+12.50`, `12,50 €`, `12.50 USD`, `$ -`). Each
/// at most once, in any order; `None` for a minus inside parentheses. The one rule for what
/// may stand around an amount, for reading it and for taking it as evidence.
pub(crate) fn amount_affixes(s: &str) -> Option<(bool, &str)> {
    let mut rest = s.trim();
    let (mut negative, mut signed, mut paren, mut currency) = (false, false, false, false);
    loop {
        if !paren && let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            if signed {
                return None;
            }
            (paren, negative, rest) = (true, true, inner.trim());
            continue;
        }
        if !signed
            && let Some(c) = rest
                .chars()
                .next()
                .filter(|c| matches!(c, '-' | '+' | '\u{2212}'))
        {
            if paren && c != '+' {
                return None;
            }
            signed = true;
            negative |= c != '+';
            rest = rest[c.len_utf8()..].trim_start();
            continue;
        }
        if !currency && let Some(r) = strip_currency(rest) {
            (currency, rest) = (true, r.trim());
            continue;
        }
        return Some((negative, rest));
    }
}

/// `rest` without a currency symbol or code at its start or end.
fn strip_currency(rest: &str) -> Option<&str> {
    if let Some(r) = rest
        .strip_prefix("US$")
        .or_else(|| rest.strip_prefix(['$', '€', '£']))
        .or_else(|| rest.strip_suffix(['$', '€', '£']))
    {
        return Some(r);
    }
    let code = |t: &str| CURRENCY_CODES.iter().any(|c| t.eq_ignore_ascii_case(c));
    if let Some((head, tail)) = rest.split_at_checked(3)
        && code(head)
        && !tail.starts_with(|c: char| c.is_alphabetic())
    {
        return Some(tail);
    }
    if rest.len() >= 3
        && let Some((head, tail)) = rest.split_at_checked(rest.len() - 3)
        && code(tail)
        && !head.ends_with(|c: char| c.is_alphabetic())
    {
        return Some(head);
    }
    None
}

fn parse_amount_as(s: &str, style: DecimalStyle) -> Result<Decimal, String> {
    let (negative, rest) = amount_affixes(s).ok_or_else(|| amount_expected(style))?;
    if rest.contains(['e', 'E']) && rest.bytes().any(|b| b.is_ascii_digit()) {
        return Err(format!(
            "is in exponent form, which is how Excel mangles amounts; \
             format the column as Number with decimals and export again ({})",
            amount_expected(style)
        ));
    }
    let (group, point) = match style {
        DecimalStyle::Point => (',', '.'),
        DecimalStyle::Comma => ('.', ','),
    };
    let (int_part, frac_part) = match rest.split_once(point) {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if let Some(f) = frac_part
        && (f.is_empty() && int_part.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(amount_expected(style));
    }
    if style == DecimalStyle::Point
        && let Some(f) = frac_part
        && thousands_shaped(int_part, f)
    {
        return Err(format!(
            "is ambiguous: \"{rest}\" could be {int_part} and a fraction or {int_part}{f} with a \
             thousands point (as European sheets write it); write {} or {int_part}{f} (if the \
             whole sheet is written the European way, --decimal-comma)",
            Decimal::from_str_exact(&format!("{int_part}.{f}"))
                .map(|d| d.normalize().to_string())
                .unwrap_or_default()
        ));
    }
    if rest.is_empty() && negative && frac_part.is_none() {
        // `$ -` or `-`: how Excel's accounting format shows a zero.
        return Ok(Decimal::ZERO);
    }
    let int_digits = strip_grouping(int_part, group, frac_part.is_some(), style)?;
    if int_digits.is_empty() && frac_part.is_none_or(str::is_empty) {
        return Err(amount_expected(style));
    }
    let mut canonical = String::with_capacity(rest.len() + 2);
    if negative {
        canonical.push('-');
    }
    canonical.push_str(if int_digits.is_empty() {
        "0"
    } else {
        &int_digits
    });
    if let Some(f) = frac_part.filter(|f| !f.is_empty()) {
        canonical.push('.');
        canonical.push_str(f);
    }
    let amount = Decimal::from_str_exact(&canonical)
        .map_err(|_| "has more digits than an amount can hold (at most 28)".to_string())?;
    if amount.abs() > crate::update::MONEY_MAX {
        return Err(
            "is larger than CAKE can store (at most 922,337,203,685,477.5807); check the cell"
                .to_string(),
        );
    }
    Ok(amount)
}

/// `1.500`: one to three digits (not a lone `0`), a point and exactly three digits — a
/// thousands group in a European sheet.
fn thousands_shaped(int_part: &str, frac: &str) -> bool {
    (1..=3).contains(&int_part.len())
        && int_part != "0"
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
}

/// The spaces a sheet groups thousands with (`1 234,56`): never a decimal mark.
pub(crate) const GROUP_SPACES: [char; 3] = [' ', '\u{a0}', '\u{202f}'];

/// Removes thousands separators from the integer part, insisting on groups of three.
fn strip_grouping(
    int_part: &str,
    group: char,
    has_fraction: bool,
    style: DecimalStyle,
) -> Result<String, String> {
    if int_part.contains(GROUP_SPACES) {
        // `1 234,56`: a space (or a no-break space) groups thousands whatever the decimal mark,
        // and is never one itself, so it is never ambiguous.
        let groups: Vec<&str> = int_part.split(GROUP_SPACES).collect();
        let well_grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
        return if well_grouped {
            Ok(groups.concat())
        } else {
            Err(amount_expected(style))
        };
    }
    if !int_part.contains(group) {
        return if int_part.bytes().all(|b| b.is_ascii_digit()) {
            Ok(int_part.to_owned())
        } else {
            Err(amount_expected(style))
        };
    }
    let groups: Vec<&str> = int_part.split(group).collect();
    let well_grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    if !well_grouped {
        return Err(amount_expected(style));
    }
    // `1,500` in a decimal-point sheet could be a decimal comma; in a decimal-comma sheet
    // `1.500` is what it looks like there: fifteen hundred.
    if groups.len() == 2 && !has_fraction && style == DecimalStyle::Point {
        return Err(format!(
            "is ambiguous: \"{int_part}\" could be a thousands separator or a decimal comma; \
             write it without the separator (e.g. {}) or check the sheet's format \
             (--decimal-comma)",
            groups.concat()
        ));
    }
    Ok(groups.concat())
}

fn amount_expected(style: DecimalStyle) -> String {
    match style {
        DecimalStyle::Point => "expected an amount such as 1234.56, 1,234.56, $1,234.56 or (12.50)",
        DecimalStyle::Comma => "expected an amount such as 1234,56 or 1.234,56 (--decimal-comma)",
    }
    .to_string()
}

/// Parses a boolean the way spreadsheets write them.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err("expected true or false (also yes/no, y/n, 1/0)".into()),
    }
}

/// Normalises an enumeration cell: `Total Revenue` → `total_revenue`.
#[must_use]
pub(crate) fn normalize_token(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_sep = false;
    for c in s.trim().chars() {
        if c == ' ' || c == '-' || c == '_' {
            pending_sep = !out.is_empty();
        } else {
            if pending_sep {
                out.push('_');
                pending_sep = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Parses an enumeration cell with the given wire parser.
pub(crate) fn parse_enum<T>(
    s: &str,
    from_wire: fn(&str) -> Option<T>,
    choices: fn() -> String,
) -> Result<T, String> {
    // Hot path (every row of a big sheet): no allocation for short ASCII cells.
    let mut buf = [0u8; 48];
    let found = match normalize_ascii(s, &mut buf) {
        Some(token) => from_wire(token),
        None => from_wire(&normalize_token(s)),
    };
    found.ok_or_else(|| format!("expected one of: {}", choices()))
}

/// [`normalize_token`] for short ASCII text, into `buf`; `None` when `s` does not fit.
fn normalize_ascii<'b>(s: &str, buf: &'b mut [u8; 48]) -> Option<&'b str> {
    if !s.is_ascii() {
        return None;
    }
    let mut len = 0;
    let mut pending_sep = false;
    for b in s.trim().bytes() {
        if b == b' ' || b == b'-' || b == b'_' {
            pending_sep = len > 0;
            continue;
        }
        if pending_sep {
            *buf.get_mut(len)? = b'_';
            len += 1;
            pending_sep = false;
        }
        *buf.get_mut(len)? = b.to_ascii_lowercase();
        len += 1;
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

const DATE_EXPECTED: &str = "expected a date such as 09/30/2026 14:05:00, 9/30/2026 2:05 PM \
                             or 2026-09-30T14:05:00 (in the CAKE instance's time zone)";

/// Parses a `custom_date` in the CAKE instance's local time.
///
/// Slashed dates follow `order` (month first by default, as CAKE writes them); ISO dates are
/// always year-month-day. A UTC offset or `Z` is refused: CAKE dates have no zone, and shifting
/// them would move conversions between days.
pub fn parse_date(s: &str, order: DateOrder) -> Result<NaiveDateTime, String> {
    let upper = s.to_ascii_uppercase();
    let has_offset = upper.ends_with('Z')
        || upper
            .find('T')
            .is_some_and(|t| upper[t..].contains(['+', '-']))
        || upper.rsplit(' ').next().is_some_and(|last| {
            last.len() >= 5 && (last.starts_with('+') || last.starts_with('-'))
        });
    if has_offset && upper.contains(':') {
        return Err(format!(
            "has a time zone ({s}); CAKE dates are in the instance's own zone: \
             write the local time without an offset or Z"
        ));
    }
    if s.contains('/') {
        let (date_part, time_part) = match s.split_once(' ') {
            Some((d, t)) => (d, t.trim()),
            None => (s, ""),
        };
        // Two-digit years (`09/01/26`, as LibreOffice writes them) are this century's.
        let two_digits = date_part
            .rsplit('/')
            .next()
            .is_some_and(|y| y.len() == 2 && y.bytes().all(|b| b.is_ascii_digit()));
        let date_fmt = match (order, two_digits) {
            (DateOrder::Mdy, false) => "%m/%d/%Y",
            (DateOrder::Dmy, false) => "%d/%m/%Y",
            (DateOrder::Mdy, true) => "%m/%d/%y",
            (DateOrder::Dmy, true) => "%d/%m/%y",
        };
        let date = NaiveDate::parse_from_str(date_part, date_fmt)
            .ok()
            .filter(|d| {
                plausible_year(*d)
                    && (two_digits || date_part.rsplit('/').next().is_some_and(four_digits))
            })
            .ok_or_else(|| {
                let hint = match order {
                    DateOrder::Mdy => "month first (use --date-order dmy for day first)",
                    DateOrder::Dmy => "day first (--date-order dmy)",
                };
                format!("{DATE_EXPECTED}; slashed dates are read {hint}")
            })?;
        return Ok(date.and_time(parse_time(time_part)?));
    }
    if let Some(date) = named_month(s) {
        return Ok(date.and_time(chrono::NaiveTime::MIN));
    }
    let (date_part, time_part) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, t.trim()),
        None => (s, ""),
    };
    // `30.09.2026`: dotted dates are written day first wherever they are written.
    if date_part.contains('.') {
        let two_digits = date_part.rsplit('.').next().is_some_and(|y| y.len() == 2);
        let date =
            NaiveDate::parse_from_str(date_part, if two_digits { "%d.%m.%y" } else { "%d.%m.%Y" })
                .ok()
                .filter(|d| {
                    plausible_year(*d)
                        && (two_digits || date_part.rsplit('.').next().is_some_and(four_digits))
                })
                .ok_or_else(|| DATE_EXPECTED.to_string())?;
        return Ok(date.and_time(parse_time(time_part)?));
    }
    let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .ok()
        .filter(|d| {
            plausible_year(*d)
                && date_part.len() == 10
                && date_part.get(..4).is_some_and(four_digits)
        })
        .ok_or_else(|| DATE_EXPECTED.to_string())?;
    Ok(date.and_time(parse_time(time_part)?))
}

/// A date with its month named (`Sep 7 2026`, `September 7, 2026`, `7 Sep 2026`,
/// `07-Sep-2026`): read in no order but its own.
fn named_month(s: &str) -> Option<NaiveDate> {
    // Asked of every date cell: an ISO date's `T` names no month, and costs no allocation.
    if !s
        .bytes()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'T' | b't'))
    {
        return None;
    }
    let s = s.replace(',', " ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    [
        "%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y",
    ]
    .iter()
    .find_map(|f| {
        NaiveDate::parse_from_str(&s, f)
            .ok()
            .filter(|d| plausible_year(*d))
    })
}

/// Four ASCII digits (chrono's `%Y` also takes signs and other widths).
fn four_digits(y: &str) -> bool {
    y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
}

/// A year a conversion can have been booked in (a year 0366 is a typo, not a date).
fn plausible_year(d: NaiveDate) -> bool {
    (1900..=2999).contains(&chrono::Datelike::year(&d))
}

fn parse_time(t: &str) -> Result<NaiveTime, String> {
    if t.is_empty() {
        return Ok(NaiveTime::MIN);
    }
    for fmt in [
        "%H:%M:%S",
        "%H:%M",
        "%H:%M:%S%.f",
        "%I:%M:%S %p",
        "%I:%M %p",
    ] {
        if let Ok(time) = NaiveTime::parse_from_str(t, fmt) {
            // CAKE takes whole seconds: dropping a fraction would change the date silently.
            if chrono::Timelike::nanosecond(&time) != 0 {
                return Err(format!(
                    "has a fraction of a second ({t}); CAKE takes whole seconds: round it in the sheet"
                ));
            }
            return Ok(time);
        }
    }
    Err(DATE_EXPECTED.to_string())
}

#[cfg(test)]
mod tests;

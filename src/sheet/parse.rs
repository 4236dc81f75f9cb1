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
mod tests {
    use super::*;

    fn amt(s: &str) -> Result<String, String> {
        parse_amount(s, DecimalStyle::Point).map(|d| d.to_string())
    }
    fn amt_comma(s: &str) -> Result<String, String> {
        parse_amount(s, DecimalStyle::Comma).map(|d| d.to_string())
    }

    #[test]
    fn ids() {
        assert_eq!(parse_id("707658"), Ok(707_658));
        assert_eq!(parse_id("000123"), Ok(123));
        assert_eq!(parse_id("0"), Ok(0));
        assert_eq!(parse_id("2147483647"), Ok(i32::MAX));
        assert!(parse_id("2147483648").unwrap_err().contains("larger"));
        assert!(
            parse_id("99999999999999999999")
                .unwrap_err()
                .contains("larger")
        );
        assert!(parse_id("-5").is_err());
        assert!(parse_id("12.0").is_err());
        assert!(parse_id("12a").is_err());
        assert!(parse_id("1.23457E+11").unwrap_err().contains("Excel"));
        assert!(parse_id("1E+11").unwrap_err().contains("Excel"));
    }

    #[test]
    fn transaction_ids_are_text() {
        assert_eq!(parse_transaction_id("00871").as_deref(), Ok("00871"));
        assert_eq!(parse_transaction_id("abc-1 e2").as_deref(), Ok("abc-1 e2"));
        assert_eq!(parse_transaction_id("TXE5").as_deref(), Ok("TXE5"));
        assert!(
            parse_transaction_id("1.23457E+11")
                .unwrap_err()
                .contains("Excel")
        );
    }

    #[test]
    fn amounts_beyond_what_cake_stores_are_refused() {
        assert!(parse_amount("922,337,203,685,477.5807", DecimalStyle::Point).is_ok());
        for s in [
            "922337203685477.5808",
            "-1000000000000000",
            "79228162514264337593543950335",
        ] {
            let e = parse_amount(s, DecimalStyle::Point).unwrap_err();
            assert!(e.contains("larger than CAKE can store"), "{s}: {e}");
        }
    }

    #[test]
    fn amounts_point() {
        assert_eq!(amt("1234.56"), Ok("1234.56".into()));
        assert_eq!(amt("1,234.56"), Ok("1234.56".into()));
        assert_eq!(amt("$1,234.56"), Ok("1234.56".into()));
        assert_eq!(amt("$1,234,567.5"), Ok("1234567.5".into()));
        assert_eq!(amt("1,234,567"), Ok("1234567".into()));
        assert_eq!(amt("-12.5"), Ok("-12.5".into()));
        assert_eq!(amt("(12.50)"), Ok("-12.50".into()));
        assert_eq!(amt("($12.50)"), Ok("-12.50".into()));
        assert_eq!(amt("-$5"), Ok("-5".into()));
        assert_eq!(amt("$-5"), Ok("-5".into()));
        assert_eq!(amt("20"), Ok("20".into()));
        assert_eq!(amt("0"), Ok("0".into()));
        assert_eq!(amt(".5"), Ok("0.5".into()));
        assert_eq!(amt("12."), Ok("12".into()));
        assert_eq!(amt("0.123456789"), Ok("0.123456789".into()));
        assert_eq!(amt("12.50 €"), Ok("12.50".into()));
        // As sheets write signs and currencies around an amount.
        assert_eq!(amt("+12.50"), Ok("12.50".into()));
        assert_eq!(amt("$ (12.50)"), Ok("-12.50".into()));
        assert_eq!(amt("$(1.25)"), Ok("-1.25".into()));
        assert_eq!(amt("(+1.25)"), Ok("-1.25".into()));
        assert_eq!(amt("12.50 USD"), Ok("12.50".into()));
        assert_eq!(amt("usd 12.50"), Ok("12.50".into()));
        assert_eq!(amt("US$1,234.50"), Ok("1234.50".into()));
        assert_eq!(amt("\u{2212}3.00"), Ok("-3.00".into()));
        assert_eq!(amt_comma("EUR 12,50"), Ok("12.50".into()));
        assert!(amt("+").is_err());
        assert!(amt("+-5").is_err());
        assert!(amt("12.50 USDX").is_err());
        assert!(amt("$ $5").is_err());
    }

    #[test]
    fn amounts_rejected() {
        assert!(amt("1e3").unwrap_err().contains("exponent"));
        assert!(amt("1.2E+05").unwrap_err().contains("exponent"));
        assert!(amt("1,234").unwrap_err().contains("ambiguous"));
        assert!(amt("12,34.5").is_err());
        assert!(amt("1,2345.5").is_err());
        assert!(amt("abc").is_err());
        assert!(amt("$").is_err());
        assert!(amt(".").is_err());
        assert!(amt("--5").is_err());
        assert!(amt("(-5)").is_err());
        assert!(amt("1.2.3").is_err());
        assert!(amt("12%").is_err());
        assert!(amt("1234,56").unwrap_err().contains("add --decimal-comma"));
        assert!(amt("1.234,56").unwrap_err().contains("add --decimal-comma"));
        assert!(!amt("abc").unwrap_err().contains("decimal-comma"));
        assert!(amt("99999999999999999999999999999999").is_err());
    }

    #[test]
    fn amounts_comma() {
        assert_eq!(amt_comma("1234,56"), Ok("1234.56".into()));
        assert_eq!(amt_comma("1.234,56"), Ok("1234.56".into()));
        assert_eq!(amt_comma("(12,50)"), Ok("-12.50".into()));
        assert_eq!(amt_comma("1.234"), Ok("1234".into()));
        assert_eq!(amt_comma("1.500"), Ok("1500".into()));
        assert_eq!(amt_comma("1 234,56"), Ok("1234.56".into()));
        assert_eq!(amt_comma("1\u{a0}234\u{a0}567,5 €"), Ok("1234567.5".into()));
        assert_eq!(amt("1 234.56"), Ok("1234.56".into()));
        assert_eq!(amt("1 234"), Ok("1234".into()));
        assert!(amt("12 34").is_err());
        assert!(amt_comma("1 234,5 6").is_err());
        // Excel's accounting zero.
        assert_eq!(amt("$ -"), Ok("0".into()));
        assert_eq!(amt("-"), Ok("0".into()));
        assert_eq!(amt_comma("- €"), Ok("0".into()));
        assert!(amt("--").is_err());
        assert!(amt("$").is_err());
        assert!(amt("1.500").unwrap_err().contains("ambiguous"));
        assert!(amt("€12.345").unwrap_err().contains("ambiguous"));
        assert_eq!(amt("0.125"), Ok("0.125".into()));
        assert_eq!(amt("1,234.500"), Ok("1234.500".into()));
        assert!(
            amt_comma("1,234.56")
                .unwrap_err()
                .contains("add --decimal-point")
        );
    }

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "Yes", "y", "1", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["false", "FALSE", "no", "N", "0"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert!(parse_bool("maybe").is_err());
        assert!(parse_bool("2").is_err());
    }

    #[test]
    fn enums() {
        use crate::update::{DispositionType, ReceivedOption};
        let r = |s| parse_enum(s, ReceivedOption::from_wire, ReceivedOption::choices);
        assert_eq!(r("Total Revenue"), Ok(ReceivedOption::TotalRevenue));
        assert_eq!(
            r("ADDITIONAL-SALE-AMOUNT"),
            Ok(ReceivedOption::AdditionalSaleAmount)
        );
        assert_eq!(r(" no_change "), Ok(ReceivedOption::NoChange));
        assert!(r("revenue").unwrap_err().contains("total_revenue"));
        let d = |s| parse_enum(s, DispositionType::from_wire, DispositionType::choices);
        assert_eq!(d("Approved"), Ok(DispositionType::Approved));
        assert_eq!(d("No Change"), Ok(DispositionType::NoChange));
        assert!(d("approve").is_err());
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn dates_mdy() {
        let p = |s| parse_date(s, DateOrder::Mdy);
        assert_eq!(p("09/30/2026 14:05:00"), Ok(dt("2026-09-30 14:05:00")));
        assert_eq!(p("9/30/2026 14:05"), Ok(dt("2026-09-30 14:05:00")));
        assert_eq!(p("9/30/2026"), Ok(dt("2026-09-30 00:00:00")));
        assert_eq!(p("9/30/2026 2:05 PM"), Ok(dt("2026-09-30 14:05:00")));
        assert_eq!(p("2026-09-30"), Ok(dt("2026-09-30 00:00:00")));
        assert_eq!(p("2026-09-30T14:05:07"), Ok(dt("2026-09-30 14:05:07")));
        assert_eq!(p("2026-09-30 14:05"), Ok(dt("2026-09-30 14:05:00")));
        assert!(p("30/09/2026").unwrap_err().contains("dmy"));
        assert!(p("2026-09-30T14:05:00Z").unwrap_err().contains("zone"));
        assert!(p("2026-09-30T14:05:00+02:00").unwrap_err().contains("zone"));
        assert!(p("2026-09-30 14:05:00 -0500").unwrap_err().contains("zone"));
        // Two-digit years, as LibreOffice writes them: this century's.
        assert_eq!(p("9/30/26"), Ok(dt("2026-09-30 00:00:00")));
        assert_eq!(p("09/01/26 14:05"), Ok(dt("2026-09-01 14:05:00")));
        assert!(p("9/30/+6").is_err());
        assert!(p("2/30/2026").is_err());
        assert!(p("yesterday").is_err());
        assert!(p("9/30/2026 25:00").is_err());
        // Found by fuzzing: chrono's %Y takes a sign, so "-366" passed as a 4-character year.
        assert!(p("9/2/-366").is_err());
        assert!(p("-366-09-02").is_err());
        assert!(p("+366-09-02").is_err());
        assert!(p("1/1/0042").is_err());
        // Found by fuzzing: a fraction of a second was dropped on the way out.
        assert!(p("03/2/2096 1:4:2.564").unwrap_err().contains("fraction"));
        assert_eq!(p("9/30/2026 14:05:00.000"), Ok(dt("2026-09-30 14:05:00")));
    }

    #[test]
    fn dotted_and_named_month_dates_read_in_their_own_order() {
        let day = |s: &str| parse_date(s, DateOrder::Mdy).map(|d| d.date().to_string());
        for s in [
            "30.09.2026",
            "30.09.26",
            "Sep 30 2026",
            "September 30, 2026",
            "30 Sep 2026",
            "30-Sep-2026",
            "30-Sep-26",
        ] {
            assert_eq!(day(s).as_deref(), Ok("2026-09-30"), "{s}");
        }
        assert_eq!(
            parse_date("30.09.2026 14:05", DateOrder::Mdy)
                .map(|d| d.to_string())
                .as_deref(),
            Ok("2026-09-30 14:05:00")
        );
        for bad in ["31.02.2026", "Sept 30 20266", "30.09.0026", "Smarch 3 2026"] {
            assert!(day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_dmy() {
        let p = |s| parse_date(s, DateOrder::Dmy);
        assert_eq!(p("30/09/2026 14:05"), Ok(dt("2026-09-30 14:05:00")));
        assert_eq!(p("2026-09-30"), Ok(dt("2026-09-30 00:00:00")));
        assert!(p("09/30/2026").is_err());
    }

    #[test]
    fn ascii_fast_path_agrees_with_normalize_token() {
        for s in [
            "Total Revenue",
            "  a--b__c  ",
            "X",
            "",
            "-lead",
            "trail-",
            "Approved",
        ] {
            let mut buf = [0u8; 48];
            assert_eq!(
                normalize_ascii(s, &mut buf),
                Some(normalize_token(s).as_str()),
                "{s:?}"
            );
        }
        let mut buf = [0u8; 48];
        assert_eq!(normalize_ascii("é", &mut buf), None);
        assert_eq!(normalize_ascii(&"x".repeat(49), &mut buf), None);
    }

    /// Inputs the fuzzers found (`fuzz/`), replayed with the fuzz target's own checks.
    #[test]
    fn fuzz_crashers_stay_fixed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("cell_parsers")
            {
                continue;
            }
            let s = std::fs::read_to_string(&path).unwrap();
            for order in [DateOrder::Mdy, DateOrder::Dmy] {
                if let Ok(d) = parse_date(&s, order) {
                    assert_eq!(
                        parse_date(&crate::update::format_cake_date(&d), DateOrder::Mdy),
                        Ok(d),
                        "{}",
                        path.display()
                    );
                }
            }
            if let Ok(a) = parse_amount(&s, DecimalStyle::Point) {
                assert_eq!(parse_amount(&a.to_string(), DecimalStyle::Point), Ok(a));
            }
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(normalize_token("Total Revenue"), "total_revenue");
        assert_eq!(normalize_token("  Conversion  ID "), "conversion_id");
        assert_eq!(normalize_token("request-session-id"), "request_session_id");
    }

    #[test]
    fn cake_date_format() {
        assert_eq!(
            crate::update::format_cake_date(&dt("2026-09-03 04:05:06")),
            "09/03/2026 04:05:06"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn amount_round_trips(mantissa in -922_337_203_685_477_i64..=922_337_203_685_477, scale in 0u32..10) {
                let d = Decimal::new(mantissa, scale);
                let text = d.to_string();
                let (int_part, frac) = text.trim_start_matches('-').split_once('.').unwrap_or((&text, ""));
                if thousands_shaped(int_part, frac) {
                    // `1.500`: refused as ambiguous, in every form.
                    prop_assert!(parse_amount(&text, DecimalStyle::Point).is_err());
                    return Ok(());
                }
                prop_assert_eq!(parse_amount(&text, DecimalStyle::Point), Ok(d));
                // Grouped, dollar-signed and bracketed forms give the same value, except the
                // one ambiguous shape (a single group and no fraction) which must be refused.
                let grouped = group_thousands(&text);
                let dollar = format!("${grouped}");
                if text.contains('.') || grouped.matches(',').count() != 1 {
                    prop_assert_eq!(parse_amount(&dollar, DecimalStyle::Point), Ok(d));
                    if let Some(pos) = grouped.strip_prefix('-') {
                        prop_assert_eq!(parse_amount(&format!("({pos})"), DecimalStyle::Point), Ok(d));
                    }
                } else {
                    prop_assert!(parse_amount(&dollar, DecimalStyle::Point).is_err());
                }
            }

            #[test]
            fn amount_parser_never_panics(s in "\\PC{0,30}") {
                let _ = parse_amount(&s, DecimalStyle::Point);
                let _ = parse_amount(&s, DecimalStyle::Comma);
                let _ = parse_id(&s);
                let _ = parse_date(&s, DateOrder::Mdy);
            }

            #[test]
            fn date_round_trips(days in 0i64..60_000, secs in 0u32..86_400) {
                let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap();
                let date = base + chrono::Duration::days(days);
                let d = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap());
                prop_assert_eq!(parse_date(&crate::update::format_cake_date(&d), DateOrder::Mdy), Ok(d));
                let iso = d.format("%Y-%m-%dT%H:%M:%S").to_string();
                prop_assert_eq!(parse_date(&iso, DateOrder::Dmy), Ok(d));
                let dmy = d.format("%d/%m/%Y %H:%M:%S").to_string();
                prop_assert_eq!(parse_date(&dmy, DateOrder::Dmy), Ok(d));
            }
        }

        fn group_thousands(text: &str) -> String {
            let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
            let (int, frac) = rest
                .split_once('.')
                .map_or((rest, None), |(i, f)| (i, Some(f)));
            let mut out = String::new();
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{sign}{out}{frac}")
        }
    }
}

//! How a results cell goes into a workbook: amounts and counts as numbers (so `SUM` works),
//! everything else as text (so nothing is ever a formula). One rule for the results a run
//! writes as `.xlsx` and for the screen's download of a results CSV.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

/// What a column of the results holds, by its name in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    /// Money: `payout`, `received` and what CAKE held before. `+3.00` is an addition.
    Amount,
    /// A whole number: the row, the attempts, the HTTP status.
    Count,
    /// Ids, statuses, messages: text, whatever it looks like.
    Text,
}

impl Cell {
    #[must_use]
    pub(crate) fn of(column: &str) -> Self {
        match column {
            "payout" | "received" | "payout_before" | "received_before" => Self::Amount,
            "row" | "attempts" | "http_status" => Self::Count,
            _ => Self::Text,
        }
    }
}

/// An amount as the number a workbook stores and its display format (an addition, `+3.00`,
/// keeps its sign on show); `None` when the text is no plain amount (an invalid row's cell as the sheet wrote
/// it) or when a double would not read back as the same decimal (more than 15 significant
/// digits): such a cell stays text, exactly as written.
fn amount(text: &str) -> Option<(f64, String)> {
    let added = text.starts_with('+');
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty()
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return None;
    }
    let d: Decimal = digits.parse().ok()?;
    let f = d.to_f64()?;
    // The double must say the same amount: Excel keeps 15 significant digits.
    if Decimal::try_from(f).ok()?.normalize() != d.normalize() {
        return None;
    }
    let extra = usize::try_from(d.scale()).unwrap_or(0).saturating_sub(2);
    let body = format!("#,##0.00{}", "#".repeat(extra));
    let format = if added {
        format!("+{body};-{body};0.00")
    } else {
        body
    };
    Some((f, format))
}

/// Writes `text` at (`r`, `c`) as `kind` says; an empty cell is left empty.
pub(crate) fn write(
    sheet: &mut Worksheet,
    r: u32,
    c: u16,
    kind: Cell,
    text: &str,
) -> Result<(), XlsxError> {
    if text.is_empty() {
        return Ok(());
    }
    match kind {
        Cell::Amount => {
            if let Some((f, format)) = amount(text) {
                sheet.write_number_with_format(r, c, f, &Format::new().set_num_format(format))?;
                return Ok(());
            }
        }
        Cell::Count => {
            if let Ok(n) = text.parse::<u32>() {
                sheet.write_number(r, c, f64::from(n))?;
                return Ok(());
            }
        }
        Cell::Text => {}
    }
    sheet.write_string(r, c, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_numbers_only_when_the_number_says_the_same() {
        assert_eq!(amount("12.50"), Some((12.5, "#,##0.00".into())));
        assert_eq!(
            amount("+3.00"),
            Some((3.0, "+#,##0.00;-#,##0.00;0.00".into()))
        );
        assert_eq!(amount("-2.5"), Some((-2.5, "#,##0.00".into())));
        assert_eq!(amount("0.125"), Some((0.125, "#,##0.00#".into())));
        for (text, f) in [
            ("1234.56", 1234.56),
            ("0.10", 0.1),
            ("99999999.99", 99_999_999.99),
            ("0.07", 0.07),
        ] {
            assert_eq!(amount(text).map(|a| a.0), Some(f), "{text}");
        }
        // As the sheet wrote it (an invalid row), or beyond a double's digits: text.
        for text in [
            "$1,234.56",
            "1e3",
            "=1+1",
            "abc",
            "",
            "+",
            "12345678901234567.89",
        ] {
            assert_eq!(amount(text), None, "{text}");
        }
        assert_eq!(Cell::of("payout_before"), Cell::Amount);
        assert_eq!(Cell::of("conversion_id"), Cell::Text);
    }
}

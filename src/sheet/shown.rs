//! What a workbook shows against what it stores, and the two choices a person makes about it.
//!
//! A cell formatted `$#,##0.00` that holds `1234.565` shows `$1,234.57`: the person approved
//! what they saw, a script would send what is stored. Neither is a safe guess, so a sheet with
//! such amounts stops before sending until `--amounts as-shown|as-stored` says which. The same
//! for rows the person could not see (hidden, or filtered out): `--hidden-rows send|skip`.

use rust_decimal::{Decimal, RoundingStrategy};

/// `--hidden-rows`: what to do with rows hidden or filtered out in the workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HiddenRows {
    /// Send them like the visible rows.
    Send,
    /// Leave them out (`skipped`, never sent).
    Skip,
}

impl HiddenRows {
    /// The flag's value, as written on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Skip => "skip",
        }
    }

    /// The value [`Self::as_str`] wrote.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Send, Self::Skip]
            .into_iter()
            .find(|h| h.as_str() == name)
    }
}

/// `--amounts`: which reading of an amount whose cell shows fewer decimals than it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AmountsAs {
    /// What the cell shows, rounded as the spreadsheet rounds it (half away from zero).
    AsShown,
    /// What the cell holds, every decimal.
    AsStored,
}

impl AmountsAs {
    /// The flag's value, as written on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsShown => "as-shown",
            Self::AsStored => "as-stored",
        }
    }

    /// The value [`Self::as_str`] wrote.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::AsShown, Self::AsStored]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// The value a cell of number format `code` shows for `stored`, when it shows fewer decimals
/// than `stored` has; `None` when it shows all of them, or when the format is not one whose
/// decimals can be told (General, text, dates, scientific, scaled by thousands).
#[must_use]
pub(crate) fn rounded_for_display(stored: Decimal, code: &str) -> Option<Decimal> {
    let decimals = shown_decimals(code, stored)?;
    let stored = stored.normalize();
    (stored.scale() > decimals)
        .then(|| stored.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero))
}

/// How many decimals of the value the format `code` shows for `value` (a `%` shows two more of
/// the value than it prints).
fn shown_decimals(code: &str, value: Decimal) -> Option<u32> {
    let sections = split_sections(code);
    // Sections: positive; negative; zero; text. One section serves every number.
    let section = match (sections.len(), value.is_sign_negative() && !value.is_zero()) {
        (n, true) if n >= 2 => sections[1],
        _ => sections[0],
    };
    if section.trim().is_empty() || section.to_ascii_lowercase().contains("general") {
        return None;
    }
    let mut decimals = None::<u32>;
    let mut percent = 0u32;
    let mut after_placeholder_comma = false;
    let mut chars = section.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                for q in chars.by_ref() {
                    if q == ']' {
                        break;
                    }
                }
            }
            '0' | '#' | '?' => {
                after_placeholder_comma = false;
                if let Some(d) = &mut decimals {
                    *d += 1;
                }
            }
            '.' => {
                decimals.get_or_insert(0);
            }
            ',' => after_placeholder_comma = true,
            '%' => percent += 1,
            // Dates, times, scientific notation, text: not an amount's decimals.
            'y' | 'Y' | 'm' | 'M' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' | 'e' | 'E' | '@' | '/' => {
                return None;
            }
            _ => {}
        }
    }
    // A comma after the last digit (`#,##0,`) shows thousands: not decimals of the value.
    if after_placeholder_comma {
        return None;
    }
    Some(decimals.unwrap_or(0) + 2 * percent)
}

/// The `;`-separated sections of a format code (a `;` inside quotes or brackets is text).
fn split_sections(code: &str) -> Vec<&str> {
    let mut sections = Vec::new();
    let (mut start, mut quoted, mut bracket, mut escaped) = (0, false, false, false);
    for (i, c) in code.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            ';' if !quoted && !bracket => {
                sections.push(&code[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    sections.push(&code[start..]);
    sections
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr as _;

    fn shown(value: &str, code: &str) -> Option<String> {
        rounded_for_display(Decimal::from_str(value).unwrap(), code).map(|d| d.to_string())
    }

    #[test]
    fn an_amount_with_more_decimals_than_its_format_shows_is_told() {
        assert_eq!(
            shown("1234.565", "\"$\"#,##0.00").as_deref(),
            Some("1234.57")
        );
        assert_eq!(
            shown("1234.565", "[$$-409]#,##0.00").as_deref(),
            Some("1234.57")
        );
        assert_eq!(
            shown("-1234.565", "#,##0.00;[Red]-#,##0.00").as_deref(),
            Some("-1234.57")
        );
        assert_eq!(shown("2.5", "0").as_deref(), Some("3"));
        assert_eq!(shown("-2.5", "0").as_deref(), Some("-3"));
        assert_eq!(shown("0.12345", "0.00%").as_deref(), Some("0.1235"));
        assert_eq!(shown("3.333", "#,##0.0#").as_deref(), Some("3.33"));
        assert_eq!(
            shown(
                "1.005",
                "_(\"$\"* #,##0.00_);_(\"$\"* \\(#,##0.00\\);_(\"$\"* \"-\"??_);_(@_)"
            )
            .as_deref(),
            Some("1.01")
        );
    }

    #[test]
    fn formats_that_show_every_decimal_or_none_that_can_be_told_say_nothing() {
        assert_eq!(shown("1234.56", "#,##0.00"), None);
        assert_eq!(shown("1234.5", "#,##0.00"), None);
        assert_eq!(shown("1234.565", "General"), None);
        assert_eq!(shown("1234.565", ""), None);
        assert_eq!(shown("1234.565", "@"), None);
        assert_eq!(shown("45000.25", "yyyy-mm-dd"), None);
        assert_eq!(shown("1234.565", "0.00E+00"), None);
        assert_eq!(shown("1234565.5", "#,##0,"), None);
        assert_eq!(shown("12", "0"), None);
    }

    #[test]
    fn the_choices_read_back_what_they_write() {
        for h in [HiddenRows::Send, HiddenRows::Skip] {
            assert_eq!(HiddenRows::from_name(h.as_str()), Some(h));
        }
        for a in [AmountsAs::AsShown, AmountsAs::AsStored] {
            assert_eq!(AmountsAs::from_name(a.as_str()), Some(a));
        }
    }
}

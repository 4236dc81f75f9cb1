//! What a workbook shows against what it stores, and the two choices a person makes about it.
//!
//! A cell formatted `$#,##0.00` that holds `1234.565` shows `$1,234.57`: the person approved
//! what they saw, a script would send what is stored. Neither is a safe guess, so a sheet with
//! such amounts stops before sending until `--amounts as-shown|as-stored` says which. The same
//! for rows the person could not see (hidden, or filtered out): `--hidden-rows send|skip`.

use rust_decimal::{Decimal, RoundingStrategy};

/// `--hidden-rows`: what to do with rows hidden or filtered out in the workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What a number cell shows, where that is not the number it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Display {
    /// Rounded to fewer decimals (`$1,234.57` for `1234.565`).
    Rounded(Decimal),
    /// Nothing at all (`;;;`, or an empty section for zeros): the person saw a blank cell.
    Blank,
    /// A form no amount can be sent as (thousands `#,##0,`, fractions, scientific, a
    /// condition): only what it holds can be sent, and only when the person says so.
    Other,
}

/// What a cell of number format `code` shows for `stored`, where that differs from `stored`;
/// `None` when it shows the number (every decimal of it), or a date, text or General.
#[must_use]
pub(crate) fn display_of(stored: Decimal, code: &str) -> Option<Display> {
    let decimals = match shown_decimals(code, stored)? {
        Shows::Decimals(d) => d,
        Shows::Nothing => return Some(Display::Blank),
        Shows::Other => return Some(Display::Other),
    };
    let stored = stored.normalize();
    (stored.scale() > decimals).then(|| {
        Display::Rounded(
            stored.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero),
        )
    })
}

/// How a format section shows a number.
enum Shows {
    /// This many decimals of the value (a `%` shows two more of the value than it prints).
    Decimals(u32),
    /// No number at all.
    Nothing,
    /// Not the value's own digits.
    Other,
}

/// How the format `code` shows `value`; `None` for formats that are not a number's (General,
/// dates, times, text).
fn shown_decimals(code: &str, value: Decimal) -> Option<Shows> {
    let sections = split_sections(code);
    // Sections: positive; negative; zero; text. One section serves every number.
    let negative = value.is_sign_negative() && !value.is_zero();
    let section = match sections.len() {
        n if n >= 3 && value.is_zero() => sections[2],
        n if n >= 2 && negative => sections[1],
        _ => sections[0],
    };
    if code.trim().is_empty() || code.to_ascii_lowercase().contains("general") {
        return None;
    }
    let mut decimals = None::<u32>;
    let mut percent = 0u32;
    let mut placeholders = 0u32;
    let mut literal = false;
    let mut after_placeholder_comma = false;
    let mut chars = section.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    literal |= !q.is_whitespace();
                }
            }
            '\\' => {
                literal |= chars.next().is_some_and(|q| !q.is_whitespace());
            }
            // Padding: the width of the next character, or it repeated to fill the cell.
            '_' | '*' => {
                chars.next();
            }
            '[' => {
                let mut inside = String::new();
                for q in chars.by_ref() {
                    if q == ']' {
                        break;
                    }
                    inside.push(q);
                }
                // A condition (`[<1]`) picks the section by the value: not read here.
                if inside.starts_with(['<', '>', '=']) {
                    return Some(Shows::Other);
                }
            }
            '0' | '#' | '?' => {
                placeholders += 1;
                after_placeholder_comma = false;
                if let Some(d) = &mut decimals {
                    *d += 1;
                }
            }
            '.' => {
                decimals.get_or_insert(0);
            }
            ',' => after_placeholder_comma = placeholders > 0,
            '%' => percent += 1,
            // Scientific notation and fractions show other digits than the value's.
            'e' | 'E' | '/' if placeholders > 0 => return Some(Shows::Other),
            // Dates, times, text: not an amount's format.
            'y' | 'Y' | 'm' | 'M' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' | 'e' | 'E' | '@' | '/' => {
                return None;
            }
            c if !c.is_whitespace() => literal = true,
            _ => {}
        }
    }
    if placeholders == 0 {
        // `;;;` or an empty zero section shows a blank cell; a dash (`"-"`) shows the zero.
        return (!literal).then_some(Shows::Nothing);
    }
    // A comma after the last digit (`#,##0,`) shows thousands.
    if after_placeholder_comma {
        return Some(Shows::Other);
    }
    Some(Shows::Decimals(decimals.unwrap_or(0) + 2 * percent))
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
        display_of(Decimal::from_str(value).unwrap(), code).map(|d| match d {
            Display::Rounded(d) => d.to_string(),
            Display::Blank => "(blank)".into(),
            Display::Other => "(other)".into(),
        })
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
        assert_eq!(shown("12", "0"), None);
        assert_eq!(
            shown("0", "#,##0;-#,##0;\"-\""),
            None,
            "a dash shows the zero"
        );
    }

    #[test]
    fn formats_that_hide_a_value_or_show_other_digits_are_told() {
        assert_eq!(shown("250", ";;;").as_deref(), Some("(blank)"));
        assert_eq!(
            shown("0", "#,##0.00;-#,##0.00;").as_deref(),
            Some("(blank)")
        );
        assert_eq!(shown("1234.565", "0.00E+00").as_deref(), Some("(other)"));
        assert_eq!(shown("12345.67", "#,##0,").as_deref(), Some("(other)"));
        assert_eq!(shown("12.333", "# ?/?").as_deref(), Some("(other)"));
        assert_eq!(shown("5.555", "[<1]0.000;0.00").as_deref(), Some("(other)"));
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

//! European or American? The sheet's own cells decide, never a guess.
//!
//! An amount such as `1.234,56` or `12,50` proves a decimal comma; `1,234.56` or `12.50` a
//! decimal point; `1.500` proves nothing (thousands, or one and a half). A slashed date whose
//! first number is above 12 proves day-first; whose second is, month-first; `01/10/2026` proves
//! nothing. The first proving cell of each kind is kept to say *why* in the "interpreted as"
//! report. Cells that contradict each other, or a European sheet whose dates nothing decides,
//! stop the run before anything is sent and say which flag settles it.

use super::parse::{DateOrder, DecimalStyle, GROUP_SPACES};

/// One cell, as evidence is quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quote {
    pub row: u64,
    pub column: String,
    pub value: String,
}

impl std::fmt::Display for Quote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} {} \"{}\"", self.row, self.column, self.value)
    }
}

/// How a format was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A command-line flag (or the config file) said so.
    Flag,
    /// This cell proves it.
    Cell(String),
    /// Nothing in the sheet decides; the default (CAKE's own format) applies.
    Default,
}

/// The formats a sheet is read with, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats {
    pub decimal: DecimalStyle,
    pub decimal_why: Why,
    pub date_order: DateOrder,
    pub date_why: Why,
    /// What the column profile decided (`None` until it ran): kept with the formats so a
    /// later reading of the same sheet (`SheetOptions::pinned`) does not profile it again.
    pub profile: Option<super::decided::Decided>,
}

impl Formats {
    /// In words, for the "interpreted as" report.
    #[must_use]
    pub fn describe(&self) -> (String, String) {
        let why = |w: &Why, default: &str| match w {
            Why::Flag => "as given".to_string(),
            Why::Cell(q) => format!("from {q}"),
            Why::Default => default.to_string(),
        };
        (
            format!(
                "decimal {} ({})",
                match self.decimal {
                    DecimalStyle::Point => "point: 1,234.56",
                    DecimalStyle::Comma => "comma: 1.234,56",
                },
                why(&self.decimal_why, "no amount decides; CAKE's own")
            ),
            format!(
                "slashed dates {} ({})",
                match self.date_order {
                    DateOrder::Mdy => "month first: 09/30/2026",
                    DateOrder::Dmy => "day first: 30/09/2026",
                },
                why(&self.date_why, "no date decides; CAKE's own")
            ),
        )
    }
}

/// The number in a cell shaped as an amount (`-$1 234,56`, `(12.50)`, `12,5 €`): digits and
/// separators only, beginning and ending with a digit (or `.5`), once a sign, parentheses and a
/// currency symbol are taken off. `None` for anything else — `n/a,0`, `=SUM(A1,2)`, `12,5
/// (pending)` — which is therefore never evidence of how the sheet writes numbers.
pub(crate) fn amount_shaped(cell: &str) -> Option<&str> {
    let (_, t) = super::parse::amount_affixes(cell)?;
    let first = t.chars().next()?;
    let last = t.chars().last()?;
    let ok = t
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',' || GROUP_SPACES.contains(&c))
        && last.is_ascii_digit()
        && (first.is_ascii_digit() || (matches!(first, '.' | ',') && t.len() > 1));
    ok.then_some(t)
}

/// What one amount cell proves about the decimal mark. Only a cell shaped as an amount is
/// evidence: one junk cell (`n/a,0`) must not turn `1.500` into fifteen hundred.
pub(crate) fn amount_proves(cell: &str) -> Option<DecimalStyle> {
    let t: String = amount_shaped(cell)?
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    let (commas, points) = (t.matches(',').count(), t.matches('.').count());
    let mark = |c: char| match c {
        ',' => DecimalStyle::Comma,
        _ => DecimalStyle::Point,
    };
    match (commas, points) {
        (0, 0) => None,
        // Both: the last one is the decimal mark.
        (_, _) if commas > 0 && points > 0 => {
            t.chars().rev().find(|c| !c.is_ascii_digit()).map(mark)
        }
        // One kind, several times: grouping, so the other one is the decimal mark.
        (n, 0) if n > 1 => Some(DecimalStyle::Point),
        (0, n) if n > 1 => Some(DecimalStyle::Comma),
        _ => {
            let sep = if commas == 1 { ',' } else { '.' };
            let (head, tail) = t.split_once(sep)?;
            // `1.500` could be either; `0.125`, `12.5` and `1.2345` could not be a thousands group.
            let group_like = tail.len() == 3 && (1..=3).contains(&head.len()) && head != "0";
            (!group_like).then(|| mark(sep))
        }
    }
}

/// What one slashed date proves about the order of day and month.
pub(crate) fn date_proves(cell: &str) -> Option<DateOrder> {
    let (a, b) = slashed(cell)?;
    match (a > 12, b > 12) {
        (true, false) => Some(DateOrder::Dmy),
        (false, true) => Some(DateOrder::Mdy),
        _ => None,
    }
}

/// A slashed date that reads two ways (`01/10/2026`).
pub(crate) fn date_is_ambiguous(cell: &str) -> bool {
    slashed(cell).is_some_and(|(a, b)| a <= 12 && b <= 12 && a != b)
}

fn slashed(cell: &str) -> Option<(u32, u32)> {
    let date = cell.split_whitespace().next()?;
    let mut parts = date.split('/');
    let a = parts.next()?.parse::<u32>().ok()?;
    let b = parts.next()?.parse::<u32>().ok()?;
    parts.next()?;
    Some((a, b))
}

/// Collects the evidence of a sheet's cells, cell by cell.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    comma: Option<Quote>,
    point: Option<Quote>,
    dmy: Option<Quote>,
    mdy: Option<Quote>,
    ambiguous_date: Option<Quote>,
}

impl Evidence {
    pub(crate) fn amount(&mut self, q: impl FnOnce() -> Quote, cell: &str) {
        match amount_proves(cell) {
            Some(DecimalStyle::Comma) if self.comma.is_none() => self.comma = Some(q()),
            Some(DecimalStyle::Point) if self.point.is_none() => self.point = Some(q()),
            _ => {}
        }
    }

    pub(crate) fn date(&mut self, q: impl FnOnce() -> Quote, cell: &str) {
        match date_proves(cell) {
            Some(DateOrder::Dmy) if self.dmy.is_none() => self.dmy = Some(q()),
            Some(DateOrder::Mdy) if self.mdy.is_none() => self.mdy = Some(q()),
            None if self.ambiguous_date.is_none() && date_is_ambiguous(cell) => {
                self.ambiguous_date = Some(q());
            }
            _ => {}
        }
    }

    /// True when more cells cannot change the decision (`need_*`: that format is not given).
    pub(crate) fn settled(&self, need_decimal: bool, need_dates: bool) -> bool {
        let decimal = !need_decimal || self.comma.is_some() || self.point.is_some();
        let dates = !need_dates || self.dmy.is_some() || self.mdy.is_some();
        decimal && dates
    }

    /// The formats, given the flags (`None`: decide from the cells).
    pub(crate) fn decide(
        self,
        decimal: Option<DecimalStyle>,
        date_order: Option<DateOrder>,
    ) -> Result<Formats, String> {
        let (decimal, decimal_why) = match (decimal, self.comma, self.point) {
            (Some(d), _, _) => (d, Why::Flag),
            (None, Some(c), Some(p)) => {
                return Err(format!(
                    "its amounts disagree on the decimal mark: {c} has a decimal comma, {p} a \
                     decimal point. Correct the cell that is wrong, or say how the sheet is \
                     written with --decimal-comma or --decimal-point"
                ));
            }
            (None, Some(c), None) => (DecimalStyle::Comma, Why::Cell(c.to_string())),
            (None, None, Some(p)) => (DecimalStyle::Point, Why::Cell(p.to_string())),
            (None, None, None) => (DecimalStyle::Point, Why::Default),
        };
        let (date_order, date_why) = match (date_order, self.dmy, self.mdy) {
            (Some(o), _, _) => (o, Why::Flag),
            (None, Some(d), Some(m)) => {
                return Err(format!(
                    "its dates disagree on the order of day and month: {d} is day first, {m} \
                     month first. Correct the cell that is wrong, or give --date-order dmy or \
                     --date-order mdy"
                ));
            }
            (None, Some(d), None) => (DateOrder::Dmy, Why::Cell(d.to_string())),
            (None, None, Some(m)) => (DateOrder::Mdy, Why::Cell(m.to_string())),
            (None, None, None) => {
                if let (DecimalStyle::Comma, Some(q)) = (decimal, &self.ambiguous_date) {
                    return Err(format!(
                        "its amounts are written the European way, but no date says whether \
                         day or month comes first: {q} could be either. Nothing was sent. Add \
                         --date-order dmy (day first, 01/10 = 1 October) or --date-order mdy \
                         (month first, 01/10 = January 10)"
                    ));
                }
                (DateOrder::Mdy, Why::Default)
            }
        };
        Ok(Formats {
            decimal,
            decimal_why,
            date_order,
            date_why,
            profile: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_prove_their_decimal_mark_only_when_they_can() {
        use DecimalStyle::{Comma, Point};
        for (cell, proves) in [
            ("1.234,56", Some(Comma)),
            ("12,50", Some(Comma)),
            ("€ 12,5", Some(Comma)),
            ("0,125", Some(Comma)),
            ("1.234.567", Some(Comma)),
            ("1,234.56", Some(Point)),
            ("$12.50", Some(Point)),
            ("0.125", Some(Point)),
            ("1,234,567", Some(Point)),
            ("(1.2345)", Some(Point)),
            ("1.500", None),
            ("1,500", None),
            ("123.456", None),
            ("1500", None),
            ("", None),
            ("1 234,56", Some(Comma)),
            ("1\u{a0}234,56 €", Some(Comma)),
            ("-$1,234.56", Some(Point)),
            // Junk is never evidence.
            ("n/a,0", None),
            ("abc,5", None),
            ("see note,1", None),
            ("=SUM(A1,2)", None),
            ("12,5 (pending)", None),
            ("1,2,", None),
            (",", None),
        ] {
            assert_eq!(amount_proves(cell), proves, "{cell}");
        }
    }

    #[test]
    fn dates_prove_their_order_only_past_the_twelfth() {
        assert_eq!(date_proves("30/09/2026"), Some(DateOrder::Dmy));
        assert_eq!(date_proves("9/30/2026 14:05"), Some(DateOrder::Mdy));
        assert_eq!(date_proves("01/10/2026"), None);
        assert_eq!(date_proves("2026-09-30"), None);
        assert!(date_is_ambiguous("01/10/2026"));
        assert!(!date_is_ambiguous("05/05/2026"));
        assert!(!date_is_ambiguous("2026-01-10"));
    }

    fn q(row: u64, value: &str) -> Quote {
        Quote {
            row,
            column: "x".into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_european_sheet_whose_dates_prove_nothing_is_asked_about() {
        let mut e = Evidence::default();
        e.amount(|| q(2, "1.234,56"), "1.234,56");
        e.date(|| q(2, "01/10/2026"), "01/10/2026");
        let err = e.decide(None, None).unwrap_err();
        assert!(
            err.contains("row 2 x \"01/10/2026\"") && err.contains("--date-order dmy"),
            "{err}"
        );
        // An American one reads them CAKE's way; a flag settles either.
        let mut e = Evidence::default();
        e.amount(|| q(2, "12.50"), "12.50");
        e.date(|| q(2, "01/10/2026"), "01/10/2026");
        let f = e.decide(None, None).unwrap();
        assert_eq!(
            (f.decimal, f.date_order),
            (DecimalStyle::Point, DateOrder::Mdy)
        );
        let mut e = Evidence::default();
        e.amount(|| q(2, "12,50"), "12,50");
        e.date(|| q(2, "01/10/2026"), "01/10/2026");
        let f = e.decide(None, Some(DateOrder::Dmy)).unwrap();
        assert_eq!(
            (f.decimal, f.date_order),
            (DecimalStyle::Comma, DateOrder::Dmy)
        );
    }

    #[test]
    fn contradicting_cells_are_named() {
        let mut e = Evidence::default();
        e.amount(|| q(2, "12,50"), "12,50");
        e.amount(|| q(9, "1,234.00"), "1,234.00");
        let err = e.decide(None, None).unwrap_err();
        assert!(err.contains("row 2") && err.contains("row 9"), "{err}");
        let mut e = Evidence::default();
        e.date(|| q(3, "30/09/2026"), "30/09/2026");
        e.date(|| q(4, "09/30/2026"), "09/30/2026");
        assert!(e.settled(false, true));
        let err = e.decide(None, None).unwrap_err();
        assert!(err.contains("row 3") && err.contains("row 4"), "{err}");
    }
}

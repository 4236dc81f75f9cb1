//! Amounts as a finance reader reads them: `1,234,567.50`.

use rust_decimal::Decimal;

/// `d` with thousands separators and at least two decimals, never rounded (`0.1234` keeps its
/// four).
#[must_use]
pub(crate) fn grouped(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    let text = d.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + text.len() / 3 + 1);
    if d.is_sign_negative() && !d.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A count with thousands separators: `1,204`.
#[must_use]
pub(crate) fn count(n: u64) -> String {
    let text = n.to_string();
    let mut out = String::with_capacity(text.len() + text.len() / 3);
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_without_cents() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_204), "1,204");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    #[test]
    fn thousands_are_grouped_and_cents_kept() {
        let g = |s: &str| grouped(s.parse().unwrap());
        assert_eq!(g("1234567.5"), "1,234,567.50");
        assert_eq!(g("999"), "999.00");
        assert_eq!(g("1000"), "1,000.00");
        assert_eq!(g("-1234.5678"), "-1,234.5678");
        assert_eq!(g("0"), "0.00");
        assert_eq!(g("0.1234"), "0.1234");
        assert_eq!(g("922337203685477.5807"), "922,337,203,685,477.5807");
    }
}

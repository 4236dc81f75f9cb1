//! One chart, drawn as inline SVG by hand: no script, no external file, nothing the page's
//! Content-Security-Policy would have to allow. Bars of an amount by category.

use super::html::esc;
use crate::report::money::grouped;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use std::fmt::Write as _;

/// How many categories a chart draws (the rest are summed in one bar).
const BARS: usize = 12;

/// A horizontal bar per category, its length the category's share of the largest amount;
/// a negative amount (a claw-back) is drawn in another colour. Each bar carries its amount as
/// text and as a tooltip, so the chart reads without colour and in a screen reader.
#[must_use]
pub(super) fn bars(title: &str, id: &str, values: &[(String, Decimal)]) -> String {
    let mut shown: Vec<(String, Decimal)> = values.iter().take(BARS).cloned().collect();
    if values.len() > BARS {
        let rest = values
            .iter()
            .skip(BARS)
            .fold(Decimal::ZERO, |a, (_, d)| a.saturating_add(*d));
        shown.push((format!("{} others", values.len() - BARS), rest));
    }
    let max = shown
        .iter()
        .map(|(_, d)| d.abs())
        .max()
        .unwrap_or(Decimal::ZERO)
        .to_f64()
        .unwrap_or(0.0);
    let (label_w, bar_w, row_h) = (180.0, 320.0, 26.0);
    let height = row_h * f64::from(u32::try_from(shown.len().max(1)).unwrap_or(1)) + 8.0;
    let mut svg = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg id=\"{}\" role=\"img\" \
         aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 {height}\" \
         width=\"640\" height=\"{height}\">",
        esc(title),
        esc(id),
        esc(title)
    );
    for (i, (label, amount)) in shown.iter().enumerate() {
        let y = 4.0 + row_h * f64::from(u32::try_from(i).unwrap_or(0));
        let value = amount.to_f64().unwrap_or(0.0);
        let w = if max > 0.0 {
            (value.abs() / max * bar_w).max(1.0)
        } else {
            1.0
        };
        let fill = if value < 0.0 { "#b3261e" } else { "#2f6f9f" };
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            svg,
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"13\">{short}</text>\
             <rect class=\"mark\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" \
             fill=\"{fill}\"><title>{label}: {amount}</title></rect>\
             <text x=\"{ax:.1}\" y=\"{ty}\" font-size=\"13\">{amount}</text>",
            tx = label_w - 8.0,
            ty = y + 14.0,
            short = esc(&short),
            label = esc(label),
            amount = grouped(*amount),
            ax = label_w + w + 6.0,
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mark_per_category_and_the_rest_summed() {
        let values: Vec<(String, Decimal)> = (0..15)
            .map(|i| (format!("<offer {i}>"), Decimal::new(i64::from(i) - 2, 0)))
            .collect();
        let svg = bars("Σ payout by offer", "chart", &values);
        assert_eq!(svg.matches("<rect class=\"mark\"").count(), BARS + 1);
        assert!(svg.contains("3 others"));
        assert!(svg.contains("&lt;offer 0&gt;") && !svg.contains("<offer"));
        assert!(svg.contains("#b3261e"), "a negative bar has its own colour");
        assert_eq!(bars("t", "c", &[]).matches("<rect").count(), 0);
    }
}

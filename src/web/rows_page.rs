//! The row table as HTML: a filter by status (a GET form: a filter changes no state), the sums
//! of the rows it selects, one page of rows, the pager; and the totals by disposition, offer
//! and affiliate with the chart of where the money goes.

use super::html::{esc, table};
use super::pages::urlencode;
use super::rows::{Change, PAGE_ROWS, RowIndex, RowView, Sums};
use crate::report::money::{count, grouped};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Which rows of the table a request asks for: `?status=…&page=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TableQuery {
    pub status: Option<String>,
    pub page: usize,
}

impl TableQuery {
    pub(super) fn from_query(q: &HashMap<String, String>) -> Self {
        Self {
            status: q
                .get("status")
                .filter(|s| !s.is_empty() && s.len() <= 32)
                .cloned(),
            page: q
                .get("page")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }
}

/// A status as a person reads it.
pub(super) fn status_label(s: &str) -> String {
    s.replace('_', " ")
}

/// What a row's status means, in the page's words, where the file's own message would speak
/// another language (or say nothing).
fn note(v: &RowView) -> String {
    let said = super::words::page_words(&v.message);
    match v.status.as_str() {
        "not_found" => "CAKE has no conversion with these ids in the days read: check the \
                        ids, or widen the days (From, To) and compare again"
            .into(),
        "ambiguous" => "more than one conversion matches these ids: give the conversion_id".into(),
        "already_correct" => "CAKE already holds these values".into(),
        "additive" => "adds to what CAKE holds".into(),
        "duplicate" => format!("held back: another row targets the same conversion. {said}"),
        _ => said,
    }
}

fn amount(d: Option<Decimal>) -> String {
    d.map_or_else(|| "—".into(), grouped)
}

/// What a row does to a field: `set 12.50`, `add 2.00`, or nothing.
fn does(c: Change) -> String {
    use crate::report::output::AmountCell;
    match c.does {
        Some(AmountCell::Sets(d)) => format!("set {}", grouped(d)),
        Some(AmountCell::Adds(d)) => format!("add {}", grouped(d)),
        Some(AmountCell::Leaves) => String::new(),
        None => "(not an amount)".into(),
    }
}

fn signed(d: Option<Decimal>) -> String {
    match d {
        Some(d) if d.is_sign_positive() && !d.is_zero() => format!("+{}", grouped(d)),
        Some(d) => grouped(d),
        None => "—".into(),
    }
}

/// A cell, marked when the comparison found a difference there.
fn cell(text: &str, differs: bool) -> String {
    if differs {
        format!("<span class=\"differs\">{}</span>", esc(text))
    } else {
        esc(text)
    }
}

fn money_cells(c: Change, compared: bool) -> Vec<String> {
    if compared {
        vec![
            esc(&amount(c.now)),
            cell(&amount(c.after()), c.differs()),
            cell(&signed(c.delta()), c.differs()),
        ]
    } else {
        vec![esc(&does(c))]
    }
}

/// The sums of the rows a filter selects, as one line.
fn sums_line(s: &Sums, compared: bool) -> String {
    let mut out = format!(
        "<p id=\"filtered-sums\"><strong id=\"filtered-rows\">{}</strong> rows · Σ payout set \
         <strong id=\"filtered-payout-set\">{}</strong> · Σ payout added <strong \
         id=\"filtered-payout-added\">{}</strong> · Σ received set <strong>{}</strong> · Σ \
         received added <strong>{}</strong>",
        count(s.rows),
        grouped(s.payout_set),
        grouped(s.payout_added),
        grouped(s.received_set),
        grouped(s.received_added),
    );
    if compared {
        let _ = write!(
            out,
            " · Δ payout <strong id=\"filtered-payout-delta\">{}</strong> · Δ received \
             <strong>{}</strong>",
            signed(Some(s.payout_delta)),
            signed(Some(s.received_delta))
        );
    }
    out.push_str("</p>");
    out
}

/// The table section: `path` is the page's own address (the filter and pager stay on it).
#[expect(
    clippy::too_many_lines,
    reason = "the filter, its sums, the rows, the pager"
)]
pub(super) fn rows_section(t: &RowIndex, q: &TableQuery, path: &str, heading: &str) -> String {
    let status = q.status.as_deref();
    let pages = t.pages(status);
    let page = q.page.min(pages);
    let mut out = format!(
        "<section aria-labelledby=\"rows-h\"><h2 id=\"rows-h\">{}</h2>",
        esc(heading)
    );
    // A GET form: filtering changes nothing, and the address can be bookmarked.
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{}#rows-h\" class=\"filter\"><label for=\"status\">Show\
         </label> <select id=\"status\" name=\"status\"><option value=\"\">all rows ({})</option>",
        esc(path),
        count(t.all.rows)
    );
    for (s, sums) in &t.statuses {
        let selected = if Some(s.as_str()) == status {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{} ({})</option>",
            esc(s),
            esc(&status_label(s)),
            count(sums.rows)
        );
    }
    out.push_str(
        "</select> <button type=\"submit\" class=\"secondary\" id=\"filter\">Show</button></form>",
    );
    out.push_str(&sums_line(&t.sums(status), t.compared));
    let rows = match t.page(status, page) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = write!(
                out,
                "<p class=\"hint\">The rows cannot be read ({}): reload the page.</p></section>",
                esc(&e.to_string())
            );
            return out;
        }
    };
    let mut head = vec!["Row", "Conversion", "Offer", "Disposition"];
    if t.compared {
        head.extend([
            "Payout now",
            "Payout new",
            "Δ payout",
            "Received now",
            "Received new",
            "Δ received",
        ]);
    } else {
        head.extend(["Payout", "Received"]);
    }
    head.extend(["Status", "Note"]);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|v| {
            let ids = v
                .ids
                .iter()
                // An id the row does not give is sent as 0 (or nothing).
                .filter(|i| !i.is_empty() && *i != "0")
                .cloned()
                .collect::<Vec<_>>()
                .join(" · ");
            let offer = if v.offer_name.is_empty() {
                v.offer.clone()
            } else {
                format!("{} {}", v.offer, v.offer_name)
            };
            let disposition = if t.compared && !v.disposition_now.is_empty() {
                let new = if v.disposition_new.is_empty() {
                    &v.disposition_now
                } else {
                    &v.disposition_new
                };
                cell(
                    &format!("{} → {new}", v.disposition_now),
                    v.disposition_differs(),
                )
            } else {
                esc(&v.disposition_new)
            };
            let mut r = vec![v.row.to_string(), esc(&ids), esc(&offer), disposition];
            r.extend(money_cells(v.payout, t.compared));
            r.extend(money_cells(v.received, t.compared));
            r.push(format!(
                "<span class=\"status {}\">{}</span>",
                esc(&v.status),
                esc(&status_label(&v.status))
            ));
            r.push(esc(&note(v)));
            r
        })
        .collect();
    let first = (page - 1) * PAGE_ROWS + 1;
    out.push_str(&table(
        &format!(
            "Rows {}–{} of {} ({})",
            count(first as u64),
            count((first + body.len()).saturating_sub(1) as u64),
            count(t.sums(status).rows),
            status.map_or_else(|| "all".to_string(), status_label)
        ),
        &head,
        &body,
        "rows",
    ));
    out.push_str(&pager(path, status, page, pages));
    out.push_str("</section>");
    out
}

fn pager(path: &str, status: Option<&str>, page: usize, pages: usize) -> String {
    let link = |p: usize, label: &str, id: &str| {
        format!(
            "<a id=\"{id}\" href=\"{}?status={}&amp;page={p}#rows-h\">{label}</a>",
            esc(path),
            esc(&urlencode(status.unwrap_or("")))
        )
    };
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages of rows\">");
    if page > 1 {
        out.push_str(&link(1, "« First", "page-first"));
        out.push(' ');
        out.push_str(&link(page - 1, "‹ Previous", "page-prev"));
        out.push(' ');
    }
    let _ = write!(
        out,
        "<span id=\"page-at\">page {} of {}</span>",
        count(page as u64),
        count(pages as u64)
    );
    if page < pages {
        out.push(' ');
        out.push_str(&link(page + 1, "Next ›", "page-next"));
        out.push(' ');
        out.push_str(&link(pages, "Last »", "page-last"));
    }
    out.push_str("</nav>");
    out
}

/// The totals by disposition, offer and affiliate (affiliates once compared), and the chart of
/// Σ payout by disposition. `what`: which rows they count, said in the caption.
pub(super) fn totals_section(t: &RowIndex, what: &str) -> String {
    let mut out = String::new();
    let rows = |groups: &[(String, Sums)]| -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|(k, s)| {
                let mut r = vec![
                    esc(k),
                    count(s.rows),
                    grouped(s.payout_set),
                    grouped(s.payout_added),
                    grouped(s.received_set.saturating_add(s.received_added)),
                ];
                if t.compared {
                    r.push(signed(Some(s.payout_delta)));
                }
                r
            })
            .collect()
    };
    let mut head = vec!["", "Rows", "Σ payout set", "Σ payout added", "Σ received"];
    if t.compared {
        head.push("Δ payout");
    }
    let chart: Vec<(String, Decimal)> = t
        .by_disposition
        .iter()
        .map(|(k, s)| (k.clone(), s.payout()))
        .collect();
    out.push_str(&super::chart::bars(
        &format!("Where the money goes: Σ payout by disposition ({what})"),
        "money-chart",
        &chart,
    ));
    out.push_str(&table(
        &format!("By disposition ({what})"),
        &head,
        &rows(&t.by_disposition),
        "by-disposition",
    ));
    out.push_str(&table(
        &format!("By offer ({what})"),
        &head,
        &rows(&t.by_offer),
        "by-offer",
    ));
    if t.compared {
        out.push_str(&table(
            &format!("By affiliate, as CAKE names them ({what})"),
            &head,
            &rows(&t.by_affiliate),
            "by-affiliate",
        ));
    } else {
        out.push_str(
            "<p class=\"hint\">Totals by affiliate, and offer names, appear once the sheet is \
             compared with CAKE.</p>",
        );
    }
    out
}

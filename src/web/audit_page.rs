//! The Audit page: the screen's audit log (`audit_log.rs`), its chain checked, filtered by
//! sheet and person.

use super::audit_log::log_path;
use super::html::{esc, table};
use super::pages::{Shared, blocking, html};
use super::state::App;
use crate::report::audit::verify;
use crate::report::money::{count, grouped};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use std::fmt::Write as _;

pub(super) async fn audit_page(
    State(app): Shared,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let a = std::sync::Arc::clone(&app);
    let body = blocking(move || render(&a, &q)).await.unwrap_or_default();
    html(&app, StatusCode::OK, "Audit", &body)
}

#[expect(
    clippy::too_many_lines,
    reason = "the chain, the filter, the table: one page"
)]
fn render(app: &App, q: &HashMap<String, String>) -> String {
    let root = app.jobs.root();
    let text = super::jail::read_to_string(root, &log_path(root)).unwrap_or_default();
    let mut out =
        String::from("<p class=\"crumbs\"><a href=\"/\">Home</a> › Audit</p><h1>Audit log</h1>");
    let (events, holds) = match verify(&text) {
        Ok((events, last)) => {
            let said = format!(
                "<p id=\"chain\" class=\"notice ok\">The log holds: {} events, each chained to \
                 the one before. Last hash <code>{}</code> — keep a copy of it to prove later \
                 that nothing was cut off.</p>",
                count(events.len() as u64),
                esc(&last)
            );
            (events, said)
        }
        Err(b) => (
            Vec::new(),
            format!(
                "<p id=\"chain\" class=\"notice error\" role=\"alert\">The log was edited: {}. \
                 Keep the file as evidence and restore it from a backup.</p>",
                esc(&b.to_string())
            ),
        ),
    };
    out.push_str(&holds);
    let sheet = q.get("sheet").filter(|s| !s.is_empty());
    let person = q.get("who").filter(|s| !s.is_empty());
    let mut sheets: Vec<&str> = events
        .iter()
        .map(|e| e.sheet.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    sheets.sort_unstable();
    sheets.dedup();
    let mut people: Vec<&str> = events.iter().map(|e| e.who.as_str()).collect();
    people.sort_unstable();
    people.dedup();
    let options = |all: &[&str], chosen: Option<&String>| {
        all.iter().fold(String::new(), |mut s, v| {
            let sel = if chosen.is_some_and(|c| c == v) {
                " selected"
            } else {
                ""
            };
            let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(v));
            s
        })
    };
    let _ = write!(
        out,
        "<form method=\"get\" action=\"/audit\" class=\"filter\"><label for=\"a-sheet\">Sheet</label> \
         <select id=\"a-sheet\" name=\"sheet\"><option value=\"\">every sheet</option>{}</select> \
         <label for=\"a-who\">Person</label> <select id=\"a-who\" name=\"who\"><option \
         value=\"\">everyone</option>{}</select> <button type=\"submit\" class=\"secondary\" \
         id=\"audit-filter\">Show</button></form>",
        options(&sheets, sheet),
        options(&people, person)
    );
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .filter(|e| sheet.is_none_or(|s| *s == e.sheet))
        .filter(|e| person.is_none_or(|p| *p == e.who))
        .take(1000)
        .map(|e| {
            let money = |t: &str| {
                t.parse::<rust_decimal::Decimal>()
                    .map(grouped)
                    .unwrap_or_default()
            };
            vec![
                esc(&e.at),
                esc(&e.who),
                esc(&e.action),
                esc(&e.sheet),
                format!("<code>{}</code>", esc(e.digest.get(..12).unwrap_or(""))),
                if e.rows > 0 {
                    count(e.rows)
                } else {
                    String::new()
                },
                money(&e.payout),
                money(&e.received),
                e.exit.map(|x| x.to_string()).unwrap_or_default(),
                esc(&e.detail),
            ]
        })
        .collect();
    out.push_str(&table(
        "Events, newest first",
        &[
            "When",
            "Who",
            "What",
            "Sheet",
            "Digest",
            "Rows",
            "Σ payout",
            "Σ received",
            "Exit",
            "Detail",
        ],
        &rows,
        "audit",
    ));
    out
}

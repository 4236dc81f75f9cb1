//! A finished job's close report, on one page: rows by status, Σ applied by disposition and by
//! offer, who prepared, approved and applied, when, against which CAKE instance — printable
//! (`/job/NAME/close`) and as a workbook (`?format=xlsx`), amounts as numbers.

use super::html::{esc, table};
use super::pages::{Shared, blocking, html, problem};
use super::rows::{RowIndex, Source, Sums};
use super::state::App;
use crate::report::money::{count, grouped};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The report as label/value lines and tables, the one content both forms show.
struct Close {
    facts: Vec<(String, String)>,
    statuses: Vec<(String, u64)>,
    by_disposition: Vec<(String, Sums)>,
    by_offer: Vec<(String, Sums)>,
    applied: Sums,
}

fn build(app: &App, stem: &str) -> Option<Close> {
    let files = app.jobs.files(stem);
    let rec = app.jobs.record(stem)?;
    let t: Arc<RowIndex> = app
        .tables
        .get(app.jobs.root(), Source::of_run(files.results.clone()))
        .ok()?;
    let first = rec
        .runs
        .first()
        .map(|r| r.started.clone())
        .unwrap_or_default();
    let last = rec.runs.last();
    let ended = last
        .and_then(|r| r.ended.clone())
        .unwrap_or_else(|| "(going on)".into());
    let exit = last.and_then(|r| r.exit).map_or_else(
        || "—".into(),
        |c| super::jobs::outcome(Some(c)).1.to_string(),
    );
    let facts = vec![
        ("Sheet".into(), rec.sheet.clone()),
        ("Sheet digest (SHA-256)".into(), rec.digest.clone()),
        ("CAKE instance".into(), app.label.clone()),
        ("Prepared by".into(), rec.prepared_by.clone()),
        (
            "Approved by".into(),
            rec.approved_by.as_ref().map_or_else(
                || "(no approval needed)".into(),
                |(by, at)| format!("{by}, {at}"),
            ),
        ),
        ("Applied by".into(), rec.applied_by.clone()),
        ("Started".into(), first),
        ("Ended".into(), ended),
        ("Runs".into(), rec.runs.len().to_string()),
        ("Outcome".into(), exit),
        ("The Apply button stated".into(), rec.stated.clone()),
    ];
    Some(Close {
        facts,
        statuses: t
            .statuses
            .iter()
            .map(|(s, x)| (s.clone(), x.rows))
            .collect(),
        by_disposition: t.by_disposition.clone(),
        by_offer: t.by_offer.clone(),
        applied: t.sums(Some("updated")),
    })
}

const GROUP_HEAD: [&str; 5] = ["", "Rows", "Σ payout set", "Σ payout added", "Σ received"];

fn group_rows(g: &[(String, Sums)]) -> Vec<Vec<String>> {
    g.iter()
        .map(|(k, s)| {
            vec![
                esc(k),
                count(s.rows),
                grouped(s.payout_set),
                grouped(s.payout_added),
                grouped(s.received_set.saturating_add(s.received_added)),
            ]
        })
        .collect()
}

fn to_html(stem: &str, c: &Close) -> String {
    let enc = super::pages::urlencode(stem);
    let mut out = format!(
        "<p class=\"crumbs\"><a href=\"/\">Home</a> › <a href=\"/job/{}\">{}</a> › Close \
         report</p><h1 id=\"close-h\">Close report</h1><p><a href=\"/job/{}/close?format=xlsx\" \
         download id=\"dl-close-xlsx\">Download as Excel</a> · print this page for the file</p>",
        esc(&enc),
        esc(stem),
        esc(&enc)
    );
    let facts: Vec<Vec<String>> = c.facts.iter().map(|(k, v)| vec![esc(k), esc(v)]).collect();
    out.push_str(&table("The job", &["", ""], &facts, "totals close-facts"));
    let st: Vec<Vec<String>> = c
        .statuses
        .iter()
        .map(|(s, n)| vec![esc(&super::rows_page::status_label(s)), count(*n)])
        .collect();
    out.push_str(&table(
        "Rows by status",
        &["Status", "Rows"],
        &st,
        "close-statuses",
    ));
    let _ = write!(
        out,
        "<p id=\"close-applied\">Applied to CAKE: {} rows, Σ payout set <strong>{}</strong>, Σ \
         payout added <strong>{}</strong>, Σ received <strong>{}</strong></p>",
        count(c.applied.rows),
        grouped(c.applied.payout_set),
        grouped(c.applied.payout_added),
        grouped(
            c.applied
                .received_set
                .saturating_add(c.applied.received_added)
        )
    );
    out.push_str(&table(
        "Σ applied by disposition",
        &GROUP_HEAD,
        &group_rows(&c.by_disposition),
        "close-disposition",
    ));
    out.push_str(&table(
        "Σ applied by offer",
        &GROUP_HEAD,
        &group_rows(&c.by_offer),
        "close-offer",
    ));
    out
}

fn to_xlsx(c: &Close) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use crate::report::xlsx::{Cell, write};
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Close report")?;
    let mut r: u32 = 0;
    for (k, v) in &c.facts {
        write(sheet, r, 0, Cell::Text, k)?;
        write(sheet, r, 1, Cell::Text, v)?;
        r += 1;
    }
    r += 1;
    write(sheet, r, 0, Cell::Text, "Status")?;
    write(sheet, r, 1, Cell::Text, "Rows")?;
    r += 1;
    for (s, n) in &c.statuses {
        write(sheet, r, 0, Cell::Text, s)?;
        write(sheet, r, 1, Cell::Count, &n.to_string())?;
        r += 1;
    }
    for (title, g) in [
        ("Σ applied by disposition", &c.by_disposition),
        ("Σ applied by offer", &c.by_offer),
    ] {
        r += 1;
        write(sheet, r, 0, Cell::Text, title)?;
        for (i, h) in GROUP_HEAD.iter().enumerate().skip(1) {
            write(sheet, r, u16::try_from(i).unwrap_or(0), Cell::Text, h)?;
        }
        r += 1;
        for (k, s) in g {
            write(sheet, r, 0, Cell::Text, k)?;
            write(sheet, r, 1, Cell::Count, &s.rows.to_string())?;
            write(sheet, r, 2, Cell::Amount, &s.payout_set.to_string())?;
            write(sheet, r, 3, Cell::Amount, &s.payout_added.to_string())?;
            let received = s.received_set.saturating_add(s.received_added);
            write(sheet, r, 4, Cell::Amount, &received.to_string())?;
            r += 1;
        }
    }
    sheet.set_column_width(0, 30)?;
    sheet.set_column_width(1, 60)?;
    book.save_to_buffer()
}

pub(super) async fn close_page(
    State(app): Shared,
    Path(stem): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !super::jobs::valid_stem(&stem) {
        return problem(
            &app,
            StatusCode::NOT_FOUND,
            "No such run",
            "There is no such run here.",
        );
    }
    let (a, st) = (Arc::clone(&app), stem.clone());
    let Some(Some(c)) = blocking(move || build(&a, &st)).await else {
        return problem(
            &app,
            StatusCode::NOT_FOUND,
            "No close report",
            "This job has no results yet (or was not applied from this screen): open it once \
             its run has ended.",
        );
    };
    if q.get("format").map(String::as_str) == Some("xlsx") {
        return match to_xlsx(&c) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            .to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{stem}.close.xlsx\""),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => problem(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not made",
                &e.to_string(),
            ),
        };
    }
    html(&app, StatusCode::OK, "Close report", &to_html(&stem, &c))
}

//! A sheet's page: how it is read (the mapping, with a dropdown per column), what it would do
//! (totals, invalid rows), how it stands against CAKE (`check`), and the Apply button that
//! states the money.

use super::approval::{self, Plan};
use super::html::{esc, form_open, notice, table};
use super::pages::{Shared, Upload, blocking, html, problem, urlencode};
use super::people::Person;
use super::rows_page::{TableQuery, rows_section, totals_section};
use super::sheet_apply::apply_section;
use super::sheet_check::check_section;
use super::sheet_form::mappable;
use super::signin::Who;
use super::staged::{Choices, DELIMITERS, ENCODINGS, Staged, is_workbook};
use super::state::App;
use crate::app::{AmountsAs, DryRun, HiddenRows, IGNORE, ROWS_LISTED, Reading};
use crate::report::money::{count, grouped};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

pub(super) async fn sheet(
    State(app): Shared,
    Upload(staged): Upload,
    Who(who): Who,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let page_app = Arc::clone(&app);
    let asked = TableQuery::from_query(&query);
    let rendered = blocking(move || {
        let choices = staged.choices();
        let files = page_app.jobs.files(&staged.stem());
        let previewed = page_app
            .previews
            .get(&staged, &choices, &page_app.target, &files.checkpoint);
        match &previewed.model {
            Ok(m) => {
                let rows = match (previewed.rows(), &m.read) {
                    (Some(results), Ok(r)) => {
                        let source = super::sheet_check::table_source(
                            &page_app,
                            &staged,
                            &choices,
                            results,
                            r.duplicate_rows.clone(),
                        );
                        match page_app.tables.get(page_app.jobs.root(), source) {
                            Ok(t) => {
                                let path = format!("/sheet/{}", staged.id);
                                totals_section(&t, "the rows that would be sent")
                                    + &rows_section(&t, &asked, &path, "Every row")
                            }
                            Err(e) => format!(
                                "<p class=\"hint\">The rows cannot be listed ({}): reload the page.</p>",
                                esc(&e.to_string())
                            ),
                        }
                    }
                    _ => String::new(),
                };
                render_sheet(&page_app, &staged, &choices, m, (&rows, &who))
            }
            Err(why) => unreadable(&staged, why),
        }
    })
    .await;
    match rendered {
        Some(body) => html(&app, StatusCode::OK, "Preview", &body),
        None => problem(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Preview failed",
            "Reading the sheet failed unexpectedly; upload it again.",
        ),
    }
}

/// The page of an upload no preview could be made of (too large, malformed): why, and what
/// to do. The server goes on; the child that tried to read it is gone.
fn unreadable(staged: &Staged, why: &str) -> String {
    format!(
        "<p class=\"crumbs\"><a href=\"/\">Home</a> › {name}</p><h1>{name}</h1>{}\
         <p><a href=\"/\">Upload another file</a></p>",
        notice(
            "error",
            &format!(
                "<strong id=\"unreadable\">This sheet cannot be previewed.</strong> {}",
                esc(&super::words::page_words(why))
            )
        ),
        name = esc(&staged.name),
    )
}

/// A column's sample values and what was read into it.
fn samples(column: &crate::app::ColumnRead) -> String {
    let mut out = column
        .samples
        .iter()
        .map(|v| esc(&v.replace(['\r', '\n'], " ")))
        .collect::<Vec<_>>()
        .join(" · ");
    if let Some(v) = &column.values_said {
        let _ = write!(out, "<br><span class=\"hint\">values: {}</span>", esc(v));
    }
    if column.conversion_date {
        out.push_str(
            "<br><span class=\"hint\">the conversion date: not sent, it gives the window CAKE \
             is read in</span>",
        );
    }
    out
}

fn mapping_form(app: &App, staged: &Staged, c: &Choices, p: &DryRun) -> String {
    let mut out = form_open(&format!("/sheet/{}/choices", staged.id), &app.csrf, "");
    let read = p.read.is_ok();
    let rows: Vec<Vec<String>> = p
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let h = &column.header;
            let chosen = c
                .maps
                .iter()
                .find(|(hh, _)| hh == h)
                .map(|(_, f)| f.as_str());
            let detected = read.then(|| column.field.as_deref().unwrap_or("ignored"));
            let auto_label = match (chosen, detected) {
                (None, Some(d)) => format!("as detected: {d}"),
                _ => "as detected".to_string(),
            };
            let mut sel = format!(
                "<select name=\"map{i}\" id=\"map{i}\" aria-label=\"What column {} sends\">\
                 <option value=\"\">{}</option>",
                esc(h),
                esc(&auto_label)
            );
            for f in std::iter::once(IGNORE).chain(mappable()) {
                let selected = if chosen == Some(f) { " selected" } else { "" };
                let label = if f == IGNORE { "ignore this column" } else { f };
                let _ = write!(sel, "<option value=\"{f}\"{selected}>{label}</option>");
            }
            sel.push_str("</select>");
            // An ignored column named like a field (while no column gives that field).
            let hint = column
                .looks_like
                .as_deref()
                .filter(|_| chosen.is_none())
                .map(|f| {
                    format!(
                        "<br><span class=\"hint\">ignored, but looks like {}: choose it to send \
                         it</span>",
                        esc(f)
                    )
                })
                .unwrap_or_default();
            vec![
                format!(
                    "<label for=\"map{i}\">{}</label><input type=\"hidden\" name=\"col{i}\" \
                     value=\"{}\">",
                    esc(h),
                    esc(h)
                ),
                samples(column) + &hint,
                sel,
            ]
        })
        .collect();
    out.push_str(&table(
        "Which column sends which CAKE field (change a column's field to fix the mapping)",
        &["Column", "Sample values", "Sends"],
        &rows,
        "mapping",
    ));
    let reading = p.read.as_ref().ok();
    out.push_str(&super::sheet_form::value_map_fieldset(
        c,
        reading.and_then(|r| r.decision.as_ref()),
    ));
    let unseen = reading.map(|r| &r.unseen);
    out.push_str(&super::sheet_form::format_choices(
        c,
        is_workbook(&staged.name),
        unseen,
    ));
    out
}

fn totals_html(p: &Reading) -> String {
    let t = &p.totals;
    let list = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {}", count(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = vec![
        vec![
            "Rows to send".into(),
            format!(
                "<strong id=\"total-rows\">{}</strong> ({} set values, {} add to the payout)",
                count(t.rows),
                count(t.idempotent),
                count(t.additive)
            ),
        ],
        vec!["By disposition".into(), esc(&list(&t.by_disposition))],
        vec![
            "By received option".into(),
            esc(&list(&t.by_received_option)),
        ],
        vec![
            "Σ payout set".into(),
            format!("<span id=\"payout-set\">{}</span>", grouped(t.payout_set)),
        ],
        vec![
            "Σ payout added".into(),
            format!(
                "<span id=\"payout-added\">{}</span>",
                grouped(t.payout_added)
            ),
        ],
        vec![
            "Σ received".into(),
            format!("<span id=\"received\">{}</span>", grouped(t.received)),
        ],
        vec![
            "Invalid rows (not sent)".into(),
            format!("<span id=\"invalid-rows\">{}</span>", count(p.invalid)),
        ],
    ];
    table("What the sheet would do", &["", ""], &rows, "totals")
}

/// Splits `row 7, column "Payout", value "1e3": problem` into its parts (best effort).
fn split_problem(row: u64, message: &str) -> Vec<Vec<String>> {
    message
        .split("; row ")
        .map(|part| {
            let part = part.strip_prefix("row ").unwrap_or(part);
            let rest = part.split_once(", ").map_or(part, |(_, r)| r);
            let (column, rest) = rest
                .strip_prefix("column \"")
                .and_then(|r| r.split_once('"'))
                .map_or(("", rest), |(c, r)| (c, r.trim_start_matches(", ")));
            let (value, what) = rest
                .strip_prefix("value \"")
                .and_then(|r| r.rsplit_once("\": "))
                .map_or(("", rest.trim_start_matches(": ")), |(v, w)| (v, w));
            vec![
                row.to_string(),
                esc(column),
                if value.is_empty() {
                    String::new()
                } else {
                    format!("<code>{}</code>", esc(value))
                },
                esc(&super::words::page_words(what)),
            ]
        })
        .collect()
}

fn render_sheet(
    app: &App,
    staged: &Staged,
    c: &Choices,
    p: &DryRun,
    (rows, who): (&str, &Person),
) -> String {
    let stem = staged.stem();
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">Home</a> › {}</p><h1>{}</h1>",
        esc(&staged.name),
        esc(&staged.name)
    );
    let running = app.jobs.running(&stem);
    if running {
        body.push_str(&notice(
            "warn",
            &format!(
                "A run of <strong>{}</strong> is going on: <a href=\"/job/{}\">watch it</a>. \
                 Apply is off until it ends (one run per sheet).",
                esc(&stem),
                esc(&urlencode(&stem))
            ),
        ));
    }
    let standing = p.read.as_ref().ok().and_then(|r| r.standing);
    if let Some(crate::app::Standing { kept, changed, new }) = standing {
        body.push_str(&notice(
            "warn",
            &format!(
                "A sheet named <strong>{}</strong> was applied in this folder before. Against that \
                 run: {} rows keep their outcome (never sent twice), {} changed and {} new rows \
                 would be sent. If this is a new month's sheet, rename the file before uploading.",
                esc(&stem),
                count(kept),
                count(changed),
                count(new)
            ),
        ));
    }
    if let Some(said) = super::remember::said(c) {
        body.push_str(&notice("ok", &said));
    }
    body.push_str(&read_section(app, staged, c, p));
    let Ok(r) = &p.read else {
        return body;
    };
    body.push_str("<section aria-labelledby=\"do-h\"><h2 id=\"do-h\">What it would do</h2>");
    body.push_str(&totals_html(r));
    if !r.invalid_rows.is_empty() {
        let rows: Vec<Vec<String>> = r
            .invalid_rows
            .iter()
            .flat_map(|(row, m)| split_problem(*row, m))
            .collect();
        body.push_str(&table(
            &format!(
                "Invalid rows ({}{}): not sent; fix them in the sheet and upload it again",
                count(r.invalid_rows.len() as u64),
                if r.invalid_rows.len() == ROWS_LISTED {
                    ", the first"
                } else {
                    ""
                }
            ),
            &["Row", "Column", "Value", "What to do"],
            &rows,
            "invalid",
        ));
    }
    if !r.duplicates.is_empty() {
        let rows: Vec<Vec<String>> = r
            .duplicates
            .iter()
            .flat_map(|(row, m)| split_problem(*row, m))
            .collect();
        body.push_str(&table(
            &format!(
                "Duplicates ({} rows): rows that target the same conversion are not sent; keep one \
                 row per conversion",
                count(r.duplicates.len() as u64)
            ),
            &["Row", "Column", "Value", "What to do"],
            &rows,
            "duplicates",
        ));
    }
    body.push_str(rows);
    body.push_str("</section>");
    body.push_str(&check_section(app, staged, c));
    // Sign-off in pairs: Apply waits for the approval the plan needs.
    let mut waits = false;
    if app.people.users.is_some() {
        let plan = Plan::of(app, staged, c, r);
        waits = matches!(
            approval::standing(app, staged, &plan, r),
            approval::Standing::Wanted { .. } | approval::Standing::Void { .. }
        );
        body.push_str(&approval::section(app, staged, &plan, r, who));
    }
    body.push_str(&apply_section(
        app,
        staged,
        c,
        r,
        (running || waits, standing.is_some()),
    ));
    body
}

/// "How the sheet is read": what was detected, the mapping form, the defaults CAKE gets.
fn read_section(app: &App, staged: &Staged, c: &Choices, p: &DryRun) -> String {
    let mut body = String::new();
    body.push_str(
        "<section aria-labelledby=\"read-h\"><h2 id=\"read-h\">How the sheet is read</h2>",
    );
    match &p.read {
        Ok(r) => {
            body.push_str("<dl class=\"detected\">");
            for (k, v) in &r.detected {
                let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
            }
            let _ = write!(
                body,
                "<dt>CAKE API</dt><dd>{}</dd>",
                esc(&crate::report::preview::api_version_said(r.api_version))
            );
            let _ = write!(
                body,
                "<dt>Rows</dt><dd>{} below the header: {} to send, {} invalid, {} set aside (totals, notes, rows left \
                 out)</dd></dl>",
                count(r.rows),
                count(r.valid),
                count(r.invalid),
                count(r.skipped)
            );
        }
        Err(e) => body.push_str(&notice(
            "error",
            &format!(
                "<strong>The sheet cannot be read this way:</strong> {}<br>Fix the mapping \
                 below (or the sheet) and update the preview.",
                esc(&super::words::page_words(e))
            ),
        )),
    }
    body.push_str(&mapping_form(app, staged, c, p));
    if let Ok(r) = &p.read {
        let rows: Vec<Vec<String>> = r
            .defaults
            .iter()
            .map(|(f, d)| vec![esc(f), esc(d)])
            .collect();
        let _ = write!(
            body,
            "<details><summary>Fields the sheet does not give ({}): what CAKE gets</summary>{}</details>",
            rows.len(),
            table(
                "Defaults applied (no column, nothing set for every row)",
                &["Field", "Sent as"],
                &rows,
                "defaults"
            )
        );
    }
    body.push_str("</section>");
    body
}

pub(super) async fn choices(
    State(app): Shared,
    Upload(staged): Upload,
    Who(who): Who,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Whoever changes the choices prepares the sheet (and may not approve it).
    approval::prepared(&app, &staged, &who);
    let mut c = staged.choices();
    c.sets = (0..=c.sets.len() + 1)
        .filter_map(|i| {
            let f = form.get(&format!("setf{i}"))?.trim().to_string();
            let v = form.get(&format!("setv{i}"))?.trim().to_string();
            (mappable().any(|m| m == f) && !v.is_empty()).then_some((f, v))
        })
        .collect();
    let pick = |k: &str, allowed: &[&str]| {
        form.get(k)
            .filter(|v| allowed.contains(&v.as_str()))
            .cloned()
    };
    c.date_order = pick("date_order", &["mdy", "dmy"]);
    c.decimal = pick("decimal", &["point", "comma"]);
    c.encoding = pick("encoding", ENCODINGS);
    c.delimiter = pick("delimiter", DELIMITERS);
    c.sheet = form
        .get("sheet_name")
        .map(|s| s.trim().chars().take(100).collect::<String>())
        .filter(|s| !s.is_empty());
    c.hidden_rows = pick(
        "hidden_rows",
        &[HiddenRows::Send.as_str(), HiddenRows::Skip.as_str()],
    );
    c.amounts = pick(
        "amounts",
        &[AmountsAs::AsShown.as_str(), AmountsAs::AsStored.as_str()],
    );
    c.values = form
        .get("vcol")
        .map(|col| {
            let pairs: Vec<(String, String)> = (0..64)
                .filter_map(|i| {
                    let cell = form.get(&format!("vcell{i}"))?.trim().to_string();
                    let value = form.get(&format!("vval{i}"))?.trim().to_string();
                    let known = crate::update::DispositionType::ALL
                        .iter()
                        .any(|d| d.as_str() == value);
                    (known && !cell.is_empty() && !cell.contains([',', ':', '=']))
                        .then_some((cell, value))
                })
                .collect();
            (col.clone(), pairs)
        })
        .filter(|(_, pairs)| !pairs.is_empty())
        .into_iter()
        .collect();
    c.header_row = form
        .get("header_row")
        .and_then(|h| h.trim().parse::<u64>().ok())
        .filter(|h| *h >= 1);
    // Each dropdown names its column as the page showed it (`colN`). When this same form changed
    // how the sheet is read (delimiter, encoding, sheet, header row), the columns may be others
    // now: a choice is kept only for a column the sheet, read the new way, still has.
    let posted: Vec<(String, String)> = (0..form.len())
        .filter_map(|i| {
            let h = form.get(&format!("col{i}"))?;
            let f = form.get(&format!("map{i}"))?.trim();
            (!f.is_empty() && (f == IGNORE || mappable().any(|m| m == f)))
                .then(|| (h.clone(), f.to_string()))
        })
        .collect();
    let header = {
        let (staged, c, a) = (staged.clone(), c.clone(), Arc::clone(&app));
        blocking(move || a.previews.columns(&staged, &c, &a.target))
            .await
            .unwrap_or_default()
    };
    c.maps = posted
        .into_iter()
        .filter(|(h, _)| header.contains(h))
        .collect();
    c.values.retain(|(col, _)| header.contains(col));
    if let Err(e) = staged.save_choices(&c) {
        return problem(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not saved",
            &e.to_string(),
        );
    }
    // Next month's sheet with these columns opens read this way.
    if let Err(e) = super::remember::keep(&app, &staged, &c) {
        tracing::warn!(error = %e, "a sheet's choices were not remembered");
    }
    Redirect::to(&format!("/sheet/{}", staged.id)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_problems_split_into_row_column_value_and_what_to_do() {
        let rows = split_problem(
            7,
            "row 7, column \"Payout\", value \"1e3\": is in exponent form; give the amount",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "Payout");
        assert_eq!(rows[0][2], "<code>1e3</code>");
        assert!(rows[0][3].starts_with("is in exponent form"));
        let rows = split_problem(
            3,
            "row 3, column \"conversion_id\": the same conversion is targeted by row 9",
        );
        assert_eq!(rows[0][1], "conversion_id");
        assert_eq!(rows[0][2], "");
    }
}

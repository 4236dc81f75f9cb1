//! A job's page: live progress while its run goes on (read from the checkpoint), the stop and
//! resume buttons, then the results — the rows that need attention first — and the downloads.

use super::html::{esc, form_open, notice, table};
use super::jobs::{outcome, valid_stem};
use super::pages::{Problem, Shared, blocking, html, not_found, problem, start_run, urlencode};
use super::results::to_xlsx;
use super::rows::Source;
use super::rows_page::{TableQuery, rows_section, totals_section};
use super::signin::Who;
use super::state::App;
use crate::report::money::{count, grouped};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

fn job_stem(app: &App, stem: &str) -> Result<String, Problem> {
    if valid_stem(stem) {
        Ok(stem.to_string())
    } else {
        Err(Problem::new(
            app,
            StatusCode::NOT_FOUND,
            "No such run",
            "There is no such run here.",
        ))
    }
}

/// Seconds left at `rate` rows a second (whole seconds, rounded up).
fn eta(remaining: u64, rate: f64) -> u64 {
    let secs = std::time::Duration::from_secs_f64(
        (f64::from(u32::try_from(remaining).unwrap_or(u32::MAX)) / rate).min(1e9),
    );
    secs.as_secs() + u64::from(secs.subsec_nanos() > 0)
}

/// The progress of a job, as the page's script reads it.
#[derive(serde::Serialize)]
pub(super) struct Progress {
    running: bool,
    done: u64,
    valid: u64,
    remaining: u64,
    by_status: BTreeMap<String, u64>,
    rate: Option<f64>,
    eta_seconds: Option<u64>,
    outcome: String,
}

fn progress_of(app: &App, stem: &str) -> Progress {
    // A run this server watches: its polls may share a recent reading. Any other (ended, or
    // started before a restart): one reading, which also says whether it holds the lock.
    let live = app.jobs.is_live(stem);
    let st = if live {
        app.jobs.status_for_progress(stem)
    } else {
        app.jobs.status(stem).map(std::sync::Arc::new)
    };
    let running = live || st.as_ref().is_some_and(|s| s.running.is_some());
    let (done, valid, remaining, by_status) = st.map_or((0, 0, 0, BTreeMap::new()), |s| {
        (
            s.rows.values().sum(),
            s.valid_rows,
            s.remaining,
            s.rows.clone(),
        )
    });
    let rate = running.then(|| app.jobs.rate(stem, done)).flatten();
    let record = app.jobs.record(stem);
    let last = record.as_ref().and_then(|r| r.runs.last().cloned());
    // Before the run has written its checkpoint, the rows the Apply button stated.
    let valid = if valid == 0 {
        record.map_or(0, |r| r.rows)
    } else {
        valid
    };
    Progress {
        running,
        done,
        valid,
        remaining,
        by_status,
        rate,
        eta_seconds: rate.filter(|r| *r > 0.0).map(|r| eta(remaining, r)),
        outcome: if running {
            "running".into()
        } else {
            outcome(last.and_then(|l| l.exit)).1.to_string()
        },
    }
}

pub(super) async fn progress(State(app): Shared, Path(stem): Path<String>) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let a = Arc::clone(&app);
    let p = blocking(move || progress_of(&a, &stem)).await;
    match p {
        Some(p) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&p).unwrap_or_default(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(super) async fn stop(State(app): Shared, Path(stem): Path<String>, Who(who): Who) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let (a, st) = (Arc::clone(&app), stem.clone());
    let stopped = blocking(move || a.jobs.stop(&st))
        .await
        .unwrap_or_else(|| Err("the server could not stop it".into()));
    match stopped {
        Ok(()) => {
            let facts = app
                .jobs
                .record(&stem)
                .map(|r| super::audit_log::SheetFacts::of_job(&r));
            super::audit_log::record(
                &app,
                &who.name,
                super::audit_log::Action::Stop,
                facts.as_ref(),
                String::new(),
            );
            Redirect::to(&format!("/job/{}", urlencode(&stem))).into_response()
        }
        Err(msg) => problem(&app, StatusCode::CONFLICT, "Not stopped", &msg),
    }
}

pub(super) async fn resume(
    State(app): Shared,
    Path(stem): Path<String>,
    Who(who): Who,
) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let Some(record) = app.jobs.record(&stem) else {
        return problem(
            &app,
            StatusCode::NOT_FOUND,
            "Nothing to resume",
            "This run was not started from this screen: resume it with the same command line.",
        );
    };
    start_run(
        &app,
        stem,
        record,
        "Not resumed",
        (&who, super::audit_log::Action::Resume),
    )
    .await
}

pub(super) async fn job(
    State(app): Shared,
    Path(stem): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let a = Arc::clone(&app);
    let q = TableQuery::from_query(&q);
    let body = blocking(move || render_job(&a, &stem, &q)).await;
    match body {
        Some(Some(b)) => html(&app, StatusCode::OK, "Run", &b),
        _ => not_found(State(app)).await,
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the run page: progress while it runs, results after, in reading order"
)]
fn render_job(app: &App, stem: &str, q: &TableQuery) -> Option<String> {
    let files = app.jobs.files(stem);
    let rec = app.jobs.record(stem);
    if rec.is_none() && !files.checkpoint.exists() {
        return None;
    }
    let p = progress_of(app, stem);
    let name = rec.as_ref().map_or(stem, |r| r.sheet.as_str());
    let enc = urlencode(stem);
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">Home</a> › {}</p>",
        esc(name)
    );
    if p.running {
        let _ = write!(
            body,
            "<h1>Applying {name}</h1><div id=\"progress\" data-url=\"/job/{enc}/progress\">\
             <progress id=\"bar\" max=\"{valid}\" value=\"{done}\" aria-label=\"Rows done\"></progress>\
             <p class=\"big\" aria-live=\"polite\"><span id=\"done\">{done_g}</span> of \
             <span id=\"valid\">{valid_g}</span> rows done · <span id=\"rate\">…</span> · \
             <span id=\"eta\"></span></p><p id=\"statuses\">{statuses}</p></div>",
            name = esc(name),
            valid = p.valid,
            done = p.done,
            done_g = count(p.done),
            valid_g = count(p.valid),
            statuses = esc(&status_line(&p.by_status)),
        );
        if rec.as_ref().is_some_and(|r| r.reads_back) {
            body.push_str(
                "<p class=\"hint\">CAKE is read before anything is sent (a month can take a \
                 minute) and again after: rows appear here once sending starts.</p>",
            );
        }
        body.push_str(&form_open(&format!("/job/{enc}/stop"), &app.csrf, ""));
        let _ = write!(
            body,
            "<button type=\"submit\" class=\"danger\" id=\"stop\">Stop the run</button> \
             <span class=\"hint\">Stops sending, waits for the requests already out (at most {} \
             seconds, then the run is ended: a row whose request was out is then in doubt, never \
             sent again blind) and records them; Resume finishes later without sending any \
             applied row twice.</span></form>\
             <p class=\"hint\"><a href=\"\">Refresh</a> (the page updates itself when scripts \
             run)</p>",
            app.jobs.stop_grace().as_secs()
        );
        return Some(body);
    }
    let last = rec.as_ref().and_then(|r| r.runs.last());
    let (kind, text) = match last {
        Some(r) => outcome(r.exit),
        None => ("warn", "this run was started from the command line"),
    };
    let _ = write!(
        body,
        "<h1>Results of {}</h1>{}",
        esc(name),
        notice(
            kind,
            &format!(
                "<span id=\"outcome\">{}</span>{}",
                esc(text),
                app.jobs
                    .last_outcome(stem)
                    .filter(|o| last.is_some_and(|r| r.exit == Some(i32::from(o.exit))))
                    .and_then(|o| o.error)
                    .map(|e| {
                        format!(
                            "<br><span id=\"why\">{}</span>",
                            esc(&super::words::page_words(&e))
                        )
                    })
                    .unwrap_or_default()
            )
        )
    );
    // Every row of the sheet, by status, as the results file has them (invalid rows and total
    // lines too); the checkpoint's count until the results exist.
    let index = files
        .results
        .is_file()
        .then(|| {
            app.tables
                .get(app.jobs.root(), Source::of_run(files.results.clone()))
        })
        .and_then(Result::ok);
    let counts: Option<BTreeMap<String, u64>> = index.as_ref().map(|t| {
        t.statuses
            .iter()
            .map(|(s, sums)| (s.clone(), sums.rows))
            .collect()
    });
    let _ = write!(
        body,
        "<p id=\"statuses\">{} · {} of {} valid rows have no outcome yet</p>",
        esc(&status_line(counts.as_ref().unwrap_or(&p.by_status))),
        count(p.remaining),
        count(p.valid)
    );
    if let Some(t) = &index {
        let applied = t.sums(Some("updated"));
        let _ = write!(
            body,
            "<p id=\"applied\">Applied to CAKE (updated rows): Σ payout set <strong>{}</strong>, \
             Σ payout added <strong>{}</strong>, Σ received <strong>{}</strong>{}</p>",
            grouped(applied.payout_set),
            grouped(applied.payout_added),
            grouped(applied.received_set.saturating_add(applied.received_added)),
            rec.as_ref()
                .map(|r| format!(" — the Apply button stated {}", esc(&r.stated)))
                .unwrap_or_default()
        );
    }
    // Nothing was sent (exit 2): the same arguments would be refused again; a fix is an upload.
    let refused = last.is_some_and(|r| r.exit.is_some_and(|c| crate::exit::Exit::of(c).refused()));
    if refused {
        body.push_str(
            "<p><a href=\"/\">Upload the fixed sheet</a> (a new month's sheet under a new name; \
             the same sheet, edited, with \"This is the same sheet, edited\" ticked).</p>",
        );
    } else if rec.is_some()
        && (p.remaining > 0 || last.is_some_and(|r| !matches!(r.exit, Some(0 | 1))))
    {
        body.push_str(&form_open(&format!("/job/{enc}/resume"), &app.csrf, ""));
        body.push_str(
            "<button type=\"submit\" class=\"primary\" id=\"resume\">Resume</button> \
             <span class=\"hint\">Sends only rows without an outcome; applied rows are never sent \
             again.</span></form>",
        );
    }
    if let Some(t) = &index {
        body.push_str(&rows_section(
            t,
            q,
            &format!("/job/{enc}"),
            "Every row (what was not updated first)",
        ));
        body.push_str(&totals_section(t, "applied: the rows CAKE took"));
    }
    body.push_str("<h2>Downloads</h2><ul class=\"downloads\">");
    let links = [
        ("results.csv", "Results (CSV)", files.results.exists()),
        ("results.xlsx", "Results (Excel)", files.results.exists()),
        (
            "undo.csv",
            "Undo sheet (puts CAKE back as it was)",
            files.undo.exists(),
        ),
        (
            "check.csv",
            "Check file (comparison with CAKE)",
            files.check.exists(),
        ),
        ("log.txt", "Run log", files.log.exists()),
    ];
    for (kind, label, present) in links {
        if present {
            let _ = write!(
                body,
                "<li><a href=\"/job/{enc}/file/{kind}\" download id=\"dl-{}\">{}</a></li>",
                kind.replace('.', "-"),
                esc(label)
            );
        }
    }
    if rec.is_some() && files.results.exists() {
        let _ = write!(
            body,
            "<li><a href=\"/job/{enc}/close\" id=\"close-report\">Close report (printable, or \
             Excel)</a></li>"
        );
    }
    body.push_str("</ul>");
    if let Ok(log) = super::jail::read_to_string(app.jobs.root(), &files.log) {
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let _ = write!(
            body,
            "<details><summary>Run log (last lines)</summary><pre class=\"log\">{}</pre></details>",
            esc(&super::words::page_words(&tail.join("\n")))
        );
    }
    if let Some(r) = &rec {
        let runs: Vec<Vec<String>> = r
            .runs
            .iter()
            .rev()
            .map(|x| {
                vec![
                    esc(&x.started),
                    esc(x.ended.as_deref().unwrap_or("—")),
                    esc(if x.ended.is_none() && p.running {
                        "running"
                    } else {
                        outcome(x.exit).1
                    }),
                ]
            })
            .collect();
        body.push_str(&table(
            "Runs of this sheet",
            &["Started", "Ended", "Outcome"],
            &runs,
            "runs",
        ));
    }
    Some(body)
}

fn status_line(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "no row finished yet".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {}", count(*v)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub(super) async fn download(
    State(app): Shared,
    Path((stem, kind)): Path<(String, String)>,
) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let files = app.jobs.files(&stem);
    let (path, mime, name) = match kind.as_str() {
        "results.csv" => (
            files.results,
            "text/csv; charset=utf-8",
            format!("{stem}.results.csv"),
        ),
        "results.xlsx" => (
            files.results,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{stem}.results.xlsx"),
        ),
        "undo.csv" => (
            files.undo,
            "text/csv; charset=utf-8",
            format!("{stem}.undo.csv"),
        ),
        "check.csv" => (
            files.check,
            "text/csv; charset=utf-8",
            format!("{stem}.check.csv"),
        ),
        "log.txt" => (
            files.log,
            "text/plain; charset=utf-8",
            format!("{stem}.log.txt"),
        ),
        _ => return not_found(State(app)).await,
    };
    let xlsx = kind == "results.xlsx";
    let root = app.jobs.root().to_path_buf();
    let bytes = blocking(move || {
        if xlsx {
            to_xlsx(&root, &path)
        } else {
            super::jail::read(&root, &path).map_err(|e| e.to_string())
        }
    })
    .await;
    match bytes {
        Some(Ok(b)) => (
            [
                (header::CONTENT_TYPE, mime.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", name.replace('"', "_")),
                ),
            ],
            Body::from(b),
        )
            .into_response(),
        _ => problem(
            &app,
            StatusCode::NOT_FOUND,
            "No such file",
            "This file is not there (yet): it is written when the run or check writes it.",
        ),
    }
}

//! The pages and what their forms do: home (upload, history), a sheet's preview (how it is
//! read, what it would do, how it stands against CAKE, Apply), a job (progress, then results).

use super::html::{esc, form_open, notice, page, table};
use super::jobs::{JobRecord, outcome, valid_stem};
use super::preview::{
    Preview, check_args, detected, field_of, mappable, preview, run_args,
};
use super::server::App;
use super::staged::{Choices, Staged, safe_name};
use crate::report::money::{count, grouped};
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

type Shared = State<Arc<App>>;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

pub(super) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

pub(super) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

fn html(app: &App, status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(page(title, &app.label, body))).into_response()
}

fn problem(app: &App, status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>{}<p><a href=\"/\">Back to the start</a></p>",
        esc(title),
        notice("error", &esc(text))
    );
    html(app, status, title, &body)
}

pub(super) async fn not_found(State(app): Shared) -> Response {
    problem(
        &app,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here. Start again from the home page.",
    )
}

/// Runs blocking work (reading a sheet, a check) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

// ---------------------------------------------------------------------------------------------
// Home: upload and history.

pub(super) async fn home(State(app): Shared) -> Response {
    let mb = app.max_upload / (1024 * 1024);
    let mut body = String::from(
        "<h1>Apply an approval sheet</h1>\
         <p class=\"lead\">Upload the sheet: you will see how it is read and what it would change \
         before anything is sent to CAKE.</p>",
    );
    body.push_str(&form_open(
        "/upload",
        &app.csrf,
        " enctype=\"multipart/form-data\" id=\"upload-form\"",
    ));
    let _ = write!(
        body,
        "<div class=\"drop\" id=\"drop\"><label for=\"sheet\">Sheet (.csv, .xlsx, .xls or .ods, \
         up to {mb} MB)</label>\
         <input type=\"file\" id=\"sheet\" name=\"sheet\" required \
         accept=\".csv,.txt,.tsv,.xlsx,.xlsm,.xls,.ods\" data-max=\"{}\">\
         <p class=\"hint\">or drop the file here</p>\
         <p class=\"too-big\" id=\"too-big\" role=\"alert\" hidden></p></div>\
         <button type=\"submit\">Upload and preview</button></form>",
        app.max_upload
    );
    let jobs = blocking({
        let app = Arc::clone(&app);
        move || app.jobs.history()
    })
    .await
    .unwrap_or_default();
    body.push_str("<h2>Runs in this folder</h2>");
    if jobs.is_empty() {
        body.push_str("<p>No sheet has been applied here yet.</p>");
    } else {
        let rows: Vec<Vec<String>> = jobs
            .iter()
            .map(|(stem, rec, st)| {
                let last = rec.as_ref().and_then(|r| r.runs.last());
                let running = st.as_ref().is_some_and(|s| s.running.is_some());
                let outcome_text = if running {
                    "running now".to_string()
                } else {
                    match last {
                        Some(r) => outcome(r.exit).1.to_string(),
                        None => "run from the command line".to_string(),
                    }
                };
                let counts = st
                    .as_ref()
                    .map(|s| {
                        s.rows
                            .iter()
                            .map(|(k, n)| format!("{k} {}", count(*n)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                vec![
                    format!(
                        "<a href=\"/job/{}\">{}</a>",
                        esc(&urlencode(stem)),
                        esc(rec.as_ref().map_or(stem.as_str(), |r| r.sheet.as_str()))
                    ),
                    esc(&last.map_or_else(
                        || st.as_ref().map(|s| s.created_at.clone()).unwrap_or_default(),
                        |r| r.started.clone(),
                    )),
                    esc(&outcome_text),
                    esc(&counts),
                    esc(&rec.as_ref().map(|r| r.stated.clone()).unwrap_or_default()),
                ]
            })
            .collect();
        body.push_str(&table(
            "Every sheet applied in this folder, newest first",
            &["Sheet", "Last run", "Outcome", "Rows", "Stated at Apply"],
            &rows,
            "history",
        ));
    }
    html(&app, StatusCode::OK, "Apply an approval sheet", &body)
}

/// A job name in a URL path: everything but letters, digits, `-`, `_` and `.` escaped.
fn urlencode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

fn too_big(app: &App) -> Response {
    problem(
        app,
        StatusCode::PAYLOAD_TOO_LARGE,
        "The file is too large",
        &format!(
            "The file is larger than this server's limit of {} MB. Split the sheet in two, or \
             start cake-recon serve with a larger --max-upload-mb.",
            app.max_upload / (1024 * 1024)
        ),
    )
}

pub(super) async fn upload(
    State(app): Shared,
    headers: axum::http::HeaderMap,
    mut form: Multipart,
) -> Response {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_upload + (1 << 20)) {
        return too_big(&app);
    }
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_big(&app),
            Err(e) => {
                return problem(&app, StatusCode::BAD_REQUEST, "Upload failed", &e.body_text());
            }
        };
        if field.name() != Some("sheet") {
            continue;
        }
        let name = match safe_name(field.file_name().unwrap_or("")) {
            Ok(n) => n,
            Err(msg) => return problem(&app, StatusCode::BAD_REQUEST, "Not a sheet", &msg),
        };
        return match save_upload(&app, &name, field).await {
            Ok(staged) => Redirect::to(&format!("/sheet/{}", staged.id)).into_response(),
            Err(resp) => resp,
        };
    }
    problem(
        &app,
        StatusCode::BAD_REQUEST,
        "No file",
        "Choose a sheet (or drop it on the page) before pressing Upload.",
    )
}

async fn save_upload(
    app: &App,
    name: &str,
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<Staged, Response> {
    let fail = |e: &dyn std::fmt::Display| {
        problem(
            app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Upload failed",
            &format!("cannot save the upload: {e}; check the folder's free space and rights"),
        )
    };
    let staged = Staged::create(app.jobs.root(), name).map_err(|e| fail(&e))?;
    let mut file = std::fs::File::create(staged.path()).map_err(|e| fail(&e))?;
    let mut size: u64 = 0;
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                size += bytes.len() as u64;
                if size > app.max_upload {
                    drop(file);
                    staged.discard();
                    return Err(too_big(app));
                }
                file.write_all(&bytes).map_err(|e| fail(&e))?;
            }
            Ok(None) => break,
            Err(e) => {
                drop(file);
                staged.discard();
                return Err(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_big(app)
                } else {
                    problem(app, StatusCode::BAD_REQUEST, "Upload failed", &e.body_text())
                });
            }
        }
    }
    if size == 0 {
        drop(file);
        staged.discard();
        return Err(problem(
            app,
            StatusCode::BAD_REQUEST,
            "Empty file",
            "The file is empty: export the sheet again and upload it.",
        ));
    }
    file.sync_all().map_err(|e| fail(&e))?;
    Ok(staged)
}

// ---------------------------------------------------------------------------------------------
// A sheet: preview, choices, check, apply.

fn find(app: &App, id: &str) -> Result<Staged, Response> {
    Staged::find(app.jobs.root(), id).ok_or_else(|| {
        problem(
            app,
            StatusCode::NOT_FOUND,
            "No such upload",
            "This upload is not here (the link is old, or the folder was cleaned). Upload the \
             sheet again.",
        )
    })
}

pub(super) async fn sheet(State(app): Shared, Path(id): Path<String>) -> Response {
    let staged = match find(&app, &id) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let page_app = Arc::clone(&app);
    let rendered = blocking(move || {
        let choices = staged.choices();
        let files = page_app.jobs.files(&staged.stem());
        let p = preview(&staged, &choices, &files.checkpoint);
        render_sheet(&page_app, &staged, &choices, &p)
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

fn samples(p: &Preview, i: usize) -> String {
    p.read
        .as_ref()
        .ok()
        .and_then(|r| r.pre.samples.get(i))
        .map(|s| {
            s.iter()
                .map(|v| esc(&v.replace(['\r', '\n'], " ")))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default()
}

fn mapping_form(app: &App, staged: &Staged, c: &Choices, p: &Preview) -> String {
    let mut out = form_open(&format!("/sheet/{}/choices", staged.id), &app.csrf, "");
    let rows: Vec<Vec<String>> = p
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let chosen = c
                .maps
                .iter()
                .find(|(hh, _)| hh == h)
                .map(|(_, f)| f.as_str());
            let detected = p
                .read
                .as_ref()
                .ok()
                .map(|r| field_of(&r.pre, i).map_or("ignored", |f| f.name()));
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
            for f in std::iter::once("ignore").chain(mappable()) {
                let selected = if chosen == Some(f) { " selected" } else { "" };
                let label = if f == "ignore" { "ignore this column" } else { f };
                let _ = write!(sel, "<option value=\"{f}\"{selected}>{label}</option>");
            }
            sel.push_str("</select>");
            vec![
                format!("<label for=\"map{i}\">{}</label>", esc(h)),
                samples(p, i),
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
    let select = |name: &str, label: &str, current: Option<&str>, opts: &[(&str, &str)]| {
        let mut s = format!("<p><label for=\"{name}\">{label}</label> <select name=\"{name}\" id=\"{name}\">");
        for (v, l) in opts {
            let sel = if current.unwrap_or("") == *v { " selected" } else { "" };
            let _ = write!(s, "<option value=\"{v}\"{sel}>{l}</option>");
        }
        s.push_str("</select></p>");
        s
    };
    out.push_str("<div class=\"row\">");
    out.push_str(&select(
        "date_order",
        "Dates",
        c.date_order.as_deref(),
        &[("", "as detected"), ("mdy", "month first (09/30/2026)"), ("dmy", "day first (30/09/2026)")],
    ));
    out.push_str(&select(
        "decimal",
        "Amounts",
        c.decimal.as_deref(),
        &[("", "as detected"), ("point", "decimal point (1,234.56)"), ("comma", "decimal comma (1.234,56)")],
    ));
    out.push_str("</div><fieldset><legend>Set for every row</legend>");
    for (i, (f, v)) in c.sets.iter().chain(std::iter::once(&(String::new(), String::new()))).enumerate() {
        let _ = write!(
            out,
            "<p class=\"row\"><label for=\"setf{i}\">Field</label><select name=\"setf{i}\" id=\"setf{i}\">\
             <option value=\"\">—</option>"
        );
        for name in mappable() {
            let sel = if f == name { " selected" } else { "" };
            let _ = write!(out, "<option value=\"{name}\"{sel}>{name}</option>");
        }
        let _ = write!(
            out,
            "</select><label for=\"setv{i}\">Value</label><input id=\"setv{i}\" name=\"setv{i}\" \
             value=\"{}\" placeholder=\"e.g. approved\"></p>",
            esc(v)
        );
    }
    out.push_str(
        "</fieldset><button type=\"submit\" class=\"secondary\">Update the preview</button></form>",
    );
    out
}

fn totals_html(p: &super::preview::Read) -> String {
    let t = &p.totals;
    let list = |m: &BTreeMap<&str, u64>| {
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
        vec!["By received option".into(), esc(&list(&t.by_received_option))],
        vec![
            "Σ payout set".into(),
            format!("<span id=\"payout-set\">{}</span>", grouped(t.payout_set)),
        ],
        vec![
            "Σ payout added".into(),
            format!("<span id=\"payout-added\">{}</span>", grouped(t.payout_added)),
        ],
        vec![
            "Σ received".into(),
            format!("<span id=\"received\">{}</span>", grouped(t.received)),
        ],
        vec![
            "Invalid rows (not sent)".into(),
            format!("<span id=\"invalid-rows\">{}</span>", count(p.pre.invalid)),
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
                format!("<code>{}</code>", esc(value)),
                esc(what),
            ]
        })
        .collect()
}

#[expect(
    clippy::too_many_lines,
    reason = "the preview page top to bottom, in the order a reader sees it"
)]
fn render_sheet(app: &App, staged: &Staged, c: &Choices, p: &Preview) -> String {
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
    if let Some((kept, changed, new)) = p.standing {
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
    body.push_str("<section aria-labelledby=\"read-h\"><h2 id=\"read-h\">How the sheet is read</h2>");
    match &p.read {
        Ok(r) => {
            body.push_str("<dl class=\"detected\">");
            for (k, v) in detected(&r.pre) {
                let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
            }
            let _ = write!(
                body,
                "<dt>Rows</dt><dd>{} data rows</dd></dl>",
                count(r.pre.rows)
            );
        }
        Err(e) => body.push_str(&notice(
            "error",
            &format!(
                "<strong>The sheet cannot be read this way:</strong> {}<br>Fix the mapping \
                 below (or the sheet) and update the preview.",
                esc(e)
            ),
        )),
    }
    body.push_str(&mapping_form(app, staged, c, p));
    body.push_str("</section>");
    let Ok(r) = &p.read else {
        return body;
    };
    body.push_str("<section aria-labelledby=\"do-h\"><h2 id=\"do-h\">What it would do</h2>");
    body.push_str(&totals_html(r));
    if !r.invalid.is_empty() {
        let rows: Vec<Vec<String>> = r
            .invalid
            .iter()
            .flat_map(|(row, m)| split_problem(*row, m))
            .collect();
        body.push_str(&table(
            &format!(
                "Invalid rows ({}): not sent; fix them in the sheet and upload it again",
                count(r.pre.invalid)
            ),
            &["Row", "Column", "Value", "What to do"],
            &rows,
            "invalid",
        ));
    }
    body.push_str("</section>");
    body.push_str(&check_section(app, staged, c));
    body.push_str(&apply_section(app, staged, c, r, running));
    body
}

fn check_section(app: &App, staged: &Staged, c: &Choices) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"check-h\"><h2 id=\"check-h\">Compare with CAKE</h2>\
         <p>Reads the conversions CAKE holds over a window of days (CAKE's time zone) and says, \
         row by row, which are already correct, which differ and how. Sends no update.</p>",
    );
    out.push_str(&form_open(&format!("/sheet/{}/check", staged.id), &app.csrf, ""));
    let (since, until) = c.window.clone().unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"row\"><p><label for=\"since\">From</label> <input type=\"date\" id=\"since\" \
         name=\"since\" value=\"{}\" required></p><p><label for=\"until\">To</label> <input \
         type=\"date\" id=\"until\" name=\"until\" value=\"{}\" required></p>\
         <p><button type=\"submit\" class=\"secondary\">Compare with CAKE</button></p></div></form>",
        esc(&since),
        esc(&until)
    );
    let files = app.jobs.files(&staged.stem());
    let report = staged_check_report(staged);
    if let Some(text) = report {
        let _ = write!(out, "<pre class=\"log\">{}</pre>", esc(text.trim()));
        if files.check.exists() {
            let rows = read_csv_rows(&files.check, "status", |s| s != "already_correct", 200);
            if let Some((head, rows, _counts)) = rows {
                out.push_str(&table(
                    "Rows that are not already correct in CAKE",
                    &head.iter().map(String::as_str).collect::<Vec<_>>(),
                    &rows,
                    "check",
                ));
            }
            let _ = write!(
                out,
                "<p><a href=\"/job/{}/file/check.csv\" download>Download the check file (CSV)</a></p>",
                esc(&urlencode(&staged.stem()))
            );
        }
    }
    out.push_str("</section>");
    out
}

fn staged_check_report(staged: &Staged) -> Option<String> {
    std::fs::read_to_string(staged.path().with_file_name(".check.txt")).ok()
}

fn apply_section(
    app: &App,
    staged: &Staged,
    c: &Choices,
    r: &super::preview::Read,
    running: bool,
) -> String {
    let t = &r.totals;
    let mut out = String::from("<section aria-labelledby=\"apply-h\"><h2 id=\"apply-h\">Apply</h2>");
    if t.rows == 0 {
        out.push_str(&notice("warn", "No valid row to send: fix the sheet and upload it again."));
        out.push_str("</section>");
        return out;
    }
    let money = format!(
        "Σ payout set {}, Σ payout added {}, Σ received {}",
        grouped(t.payout_set),
        grouped(t.payout_added),
        grouped(t.received)
    );
    let _ = write!(
        out,
        "<p>Sends <strong>{}</strong> rows to <strong>{}</strong> at up to {} requests a second: \
         {}.{}</p>",
        count(t.rows),
        esc(&app.label),
        app.target.rate,
        esc(&money),
        if c.window.is_some() {
            " CAKE is read first (rows already right are not sent), an undo sheet is written, \
             and every update is verified afterwards."
        } else {
            ""
        }
    );
    out.push_str(&form_open(&format!("/sheet/{}/apply", staged.id), &app.csrf, ""));
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"rows\" value=\"{}\">",
        t.rows
    );
    if r.pre.invalid > 0 {
        let _ = write!(
            out,
            "<p><input type=\"checkbox\" id=\"skip_invalid\" name=\"skip_invalid\" value=\"1\" \
             required> <label for=\"skip_invalid\">Leave the {} invalid rows out (they are listed \
             as invalid in the results)</label></p>",
            count(r.pre.invalid)
        );
    }
    let disabled = if running { " disabled" } else { "" };
    let _ = write!(
        out,
        "<button type=\"submit\" id=\"apply\" class=\"primary\"{disabled}>Apply {} rows — Σ payout \
         {} · received {}</button></form></section>",
        count(t.rows),
        grouped(t.payout()),
        grouped(t.received)
    );
    out
}

pub(super) async fn choices(
    State(app): Shared,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staged = match find(&app, &id) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut c = staged.choices();
    let p = {
        let staged = staged.clone();
        let c0 = c.clone();
        let ckpt = app.jobs.files(&staged.stem()).checkpoint;
        blocking(move || preview(&staged, &c0, &ckpt).header).await.unwrap_or_default()
    };
    c.maps = p
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let f = form.get(&format!("map{i}"))?.trim();
            (!f.is_empty() && (f == "ignore" || mappable().any(|m| m == f)))
                .then(|| (h.clone(), f.to_string()))
        })
        .collect();
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
    if let Err(e) = staged.save_choices(&c) {
        return problem(&app, StatusCode::INTERNAL_SERVER_ERROR, "Not saved", &e.to_string());
    }
    Redirect::to(&format!("/sheet/{id}")).into_response()
}

fn valid_day(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

pub(super) async fn check(
    State(app): Shared,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staged = match find(&app, &id) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let since = form.get("since").cloned().unwrap_or_default();
    let until = form.get("until").cloned().unwrap_or_default();
    if !valid_day(&since) || !valid_day(&until) || since > until {
        return problem(
            &app,
            StatusCode::BAD_REQUEST,
            "Which days?",
            "Give the first and the last day of the conversions (the first not after the last).",
        );
    }
    let mut c = staged.choices();
    c.window = Some((since, until));
    if let Err(e) = staged.save_choices(&c) {
        return problem(&app, StatusCode::INTERNAL_SERVER_ERROR, "Not saved", &e.to_string());
    }
    let work = Arc::clone(&app);
    let s2 = staged.clone();
    let _ = blocking(move || {
        let files = work.jobs.files(&s2.stem());
        let window = c.window.clone().unwrap_or_default();
        let args = check_args(&s2, &c, &work.target, &files.check, &window);
        let (code, text) = work.jobs.check(&args, Duration::from_secs(600));
        let head = match code {
            Some(0) => "Every valid row already holds its values in CAKE.".to_string(),
            Some(1) => "Some rows differ from what CAKE holds (listed below).".to_string(),
            Some(n) => format!("The comparison did not finish (exit {n})."),
            None => "The comparison did not finish.".to_string(),
        };
        let _ = std::fs::write(
            s2.path().with_file_name(".check.txt"),
            format!("{head}\n{text}"),
        );
    })
    .await;
    Redirect::to(&format!("/sheet/{id}#check-h")).into_response()
}

pub(super) async fn apply(
    State(app): Shared,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staged = match find(&app, &id) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let stem = staged.stem();
    let c = staged.choices();
    let files = app.jobs.files(&stem);
    let (s2, c2, ckpt) = (staged.clone(), c.clone(), files.checkpoint.clone());
    let Some(p) = blocking(move || preview(&s2, &c2, &ckpt)).await else {
        return problem(&app, StatusCode::INTERNAL_SERVER_ERROR, "Not applied", "reading failed");
    };
    let Ok(r) = &p.read else {
        return problem(
            &app,
            StatusCode::BAD_REQUEST,
            "Not applied",
            "The sheet cannot be read as it is set up: go back and fix the mapping.",
        );
    };
    // The button said how many rows: a sheet or choices changed since means another look.
    if form.get("rows").and_then(|v| v.parse::<u64>().ok()) != Some(r.totals.rows) {
        return problem(
            &app,
            StatusCode::CONFLICT,
            "The preview changed",
            "What the sheet would do changed since the page was shown: go back, look again, and \
             press Apply on the new preview.",
        );
    }
    let mut args = run_args(&staged, &c, &app.target, &files);
    if r.pre.invalid > 0 {
        if form.get("skip_invalid").map(String::as_str) != Some("1") {
            return problem(
                &app,
                StatusCode::BAD_REQUEST,
                "Invalid rows",
                "The sheet has invalid rows: tick \"Leave the invalid rows out\", or fix them and \
                 upload the sheet again.",
            );
        }
        args.push("--skip-invalid".into());
    }
    let record = JobRecord {
        sheet: staged.name.clone(),
        upload: staged.id.clone(),
        args,
        stated: format!(
            "{} rows; Σ payout {}; Σ received {}",
            count(r.totals.rows),
            grouped(r.totals.payout()),
            grouped(r.totals.received)
        ),
        runs: app.jobs.record(&stem).map(|r| r.runs).unwrap_or_default(),
    };
    match app.jobs.start(&stem, record) {
        Ok(()) => Redirect::to(&format!("/job/{}", urlencode(&stem))).into_response(),
        Err(msg) => problem(&app, StatusCode::CONFLICT, "Not started", &msg),
    }
}

// ---------------------------------------------------------------------------------------------
// A job: progress, stop, resume, results, downloads.

fn job_stem(app: &App, stem: &str) -> Result<String, Response> {
    if valid_stem(stem) {
        Ok(stem.to_string())
    } else {
        Err(problem(app, StatusCode::NOT_FOUND, "No such run", "There is no such run here."))
    }
}

/// The progress of a job, as the page's script reads it.
#[derive(serde::Serialize)]
struct Progress {
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
    let st = app.jobs.status(stem);
    let running = app.jobs.running(stem);
    let (done, valid, remaining, by_status) = st.map_or((0, 0, 0, BTreeMap::new()), |s| {
        (s.rows.values().sum(), s.valid_rows, s.remaining, s.rows)
    });
    let rate = running.then(|| app.jobs.rate(stem, done)).flatten();
    let last = app.jobs.record(stem).and_then(|r| r.runs.last().cloned());
    Progress {
        running,
        done,
        valid,
        remaining,
        by_status,
        rate,
        eta_seconds: rate
            .filter(|r| *r > 0.0)
            .map(|r| (remaining as f64 / r).ceil() as u64),
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
        Err(r) => return r,
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

pub(super) async fn stop(State(app): Shared, Path(stem): Path<String>) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match app.jobs.stop(&stem) {
        Ok(()) => Redirect::to(&format!("/job/{}", urlencode(&stem))).into_response(),
        Err(msg) => problem(&app, StatusCode::CONFLICT, "Not stopped", &msg),
    }
}

pub(super) async fn resume(State(app): Shared, Path(stem): Path<String>) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(record) = app.jobs.record(&stem) else {
        return problem(
            &app,
            StatusCode::NOT_FOUND,
            "Nothing to resume",
            "This run was not started from this screen: resume it with the same command line.",
        );
    };
    match app.jobs.start(&stem, record) {
        Ok(()) => Redirect::to(&format!("/job/{}", urlencode(&stem))).into_response(),
        Err(msg) => problem(&app, StatusCode::CONFLICT, "Not resumed", &msg),
    }
}

/// Reads a CSV file cake-recon wrote (its delimiter, its BOM): the header, the rows whose
/// `key` column passes `keep` (escaped, the first `limit`), and the count of each `key` value.
type Rows = (Vec<String>, Vec<Vec<String>>, BTreeMap<String, u64>);

fn read_csv_rows(path: &std::path::Path, key: &str, keep: impl Fn(&str) -> bool, limit: usize) -> Option<Rows> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let delimiter = text
        .strip_prefix("row")
        .and_then(|r| r.bytes().next())
        .filter(|b| matches!(b, b',' | b';' | b'\t' | b'|'))
        .unwrap_or(b',');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let head: Vec<String> = rdr.headers().ok()?.iter().map(str::to_string).collect();
    let k = head.iter().position(|h| h == key)?;
    let shown: Vec<usize> = ["row", "status", "message", "differences", "conversion_id", "request_session_id", "transaction_id"]
        .iter()
        .filter_map(|c| head.iter().position(|h| h == c))
        .collect();
    let mut rows = Vec::new();
    let mut counts = BTreeMap::new();
    for rec in rdr.records().flatten() {
        let v = rec.get(k).unwrap_or("");
        *counts.entry(v.to_string()).or_insert(0) += 1;
        if keep(v) && rows.len() < limit {
            rows.push(shown.iter().map(|i| esc(rec.get(*i).unwrap_or(""))).collect());
        }
    }
    let head = shown.iter().filter_map(|i| head.get(*i).cloned()).collect();
    Some((head, rows, counts))
}

pub(super) async fn job(State(app): Shared, Path(stem): Path<String>) -> Response {
    let stem = match job_stem(&app, &stem) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = Arc::clone(&app);
    let body = blocking(move || render_job(&a, &stem)).await;
    match body {
        Some(Some(b)) => html(&app, StatusCode::OK, "Run", &b),
        _ => not_found(State(app)).await,
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the run page: progress while it runs, results after, in reading order"
)]
fn render_job(app: &App, stem: &str) -> Option<String> {
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
        body.push_str(&form_open(&format!("/job/{enc}/stop"), &app.csrf, ""));
        body.push_str(
            "<button type=\"submit\" class=\"danger\" id=\"stop\">Stop the run</button> \
             <span class=\"hint\">Stops sending, waits for the requests already out and records \
             them; Resume finishes later without sending any applied row twice.</span></form>\
             <p class=\"hint\"><a href=\"\">Refresh</a> (the page updates itself when scripts \
             run)</p>",
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
        notice(kind, &format!("<span id=\"outcome\">{}</span>", esc(text)))
    );
    let _ = write!(
        body,
        "<p id=\"statuses\">{} · {} of {} valid rows have no outcome yet</p>",
        esc(&status_line(&p.by_status)),
        count(p.remaining),
        count(p.valid)
    );
    if rec.is_some() && (p.remaining > 0 || last.is_some_and(|r| !matches!(r.exit, Some(0 | 1)))) {
        body.push_str(&form_open(&format!("/job/{enc}/resume"), &app.csrf, ""));
        body.push_str(
            "<button type=\"submit\" class=\"primary\" id=\"resume\">Resume</button> \
             <span class=\"hint\">Sends only rows without an outcome; applied rows are never sent \
             again.</span></form>",
        );
    }
    if let Some((head, rows, _)) = read_csv_rows(
        &files.results,
        "status",
        |s| !matches!(s, "updated" | "unchanged" | "would_update"),
        200,
    ) && !rows.is_empty()
    {
        body.push_str(&table(
            "Rows that were not updated (rejected, failed, in doubt, invalid, held back) — first",
            &head.iter().map(String::as_str).collect::<Vec<_>>(),
            &rows,
            "attention",
        ));
    }
    body.push_str("<h2>Downloads</h2><ul class=\"downloads\">");
    let links = [
        ("results.csv", "Results (CSV)", files.results.exists()),
        ("results.xlsx", "Results (Excel)", files.results.exists()),
        ("undo.csv", "Undo sheet (puts CAKE back as it was)", files.undo.exists()),
        ("check.csv", "Check file (comparison with CAKE)", files.check.exists()),
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
    body.push_str("</ul>");
    if let Ok(log) = std::fs::read_to_string(&files.log) {
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        let _ = write!(
            body,
            "<details><summary>Run log (last lines)</summary><pre class=\"log\">{}</pre></details>",
            esc(&tail.join("\n"))
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
                    esc(outcome(x.exit).1),
                ]
            })
            .collect();
        body.push_str(&table("Runs of this sheet", &["Started", "Ended", "Outcome"], &runs, "runs"));
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
        Err(r) => return r,
    };
    let files = app.jobs.files(&stem);
    let (path, mime, name) = match kind.as_str() {
        "results.csv" => (files.results, "text/csv; charset=utf-8", format!("{stem}.results.csv")),
        "results.xlsx" => (
            files.results,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{stem}.results.xlsx"),
        ),
        "undo.csv" => (files.undo, "text/csv; charset=utf-8", format!("{stem}.undo.csv")),
        "check.csv" => (files.check, "text/csv; charset=utf-8", format!("{stem}.check.csv")),
        "log.txt" => (files.log, "text/plain; charset=utf-8", format!("{stem}.log.txt")),
        _ => return not_found(State(app)).await,
    };
    let xlsx = kind == "results.xlsx";
    let bytes = blocking(move || {
        if xlsx {
            to_xlsx(&path)
        } else {
            std::fs::read(&path).map_err(|e| e.to_string())
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

/// The results CSV as an `.xlsx`: every cell written as text, so nothing in it is ever a formula.
fn to_xlsx(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let delimiter = text
        .strip_prefix("row")
        .and_then(|r| r.bytes().next())
        .filter(|b| matches!(b, b',' | b';' | b'\t' | b'|'))
        .unwrap_or(b',');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Results").map_err(|e| e.to_string())?;
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| e.to_string())?;
        let r = u32::try_from(r).map_err(|e| e.to_string())?;
        for (c, cell) in rec.iter().enumerate() {
            let c = u16::try_from(c).map_err(|e| e.to_string())?;
            sheet.write_string(r, c, cell).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
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
        let rows = split_problem(3, "row 3, column \"conversion_id\": the same conversion is targeted by row 9");
        assert_eq!(rows[0][1], "conversion_id");
        assert_eq!(rows[0][2], "<code></code>");
    }
}

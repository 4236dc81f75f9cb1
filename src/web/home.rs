//! The home page: the upload (size-limited, never served back) and the folder's history.

use super::guard::{CsrfInBody, same};
use super::html::CSRF_FIELD;
use super::html::{esc, form_open, table};
use super::jobs::JobRecord;
use super::jobs::outcome;
use super::pages::{Shared, blocking, html, problem, urlencode};
use super::staged::{Staged, safe_name};
use super::state::App;
use crate::checkpoint::status::Report;
use crate::report::money::count;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

pub(super) async fn home(
    State(app): Shared,
    super::signin::Who(who): super::signin::Who,
) -> Response {
    let mb = app.max_upload / (1024 * 1024);
    let mut body = String::new();
    if let Some(role) = who.role {
        body.push_str(&form_open("/signout", &app.csrf, " class=\"whoami\""));
        let _ = write!(
            body,
            "<p>Signed in as <strong id=\"whoami\">{}</strong> ({}) · <a href=\"/audit\">Audit \
             log</a> <button type=\"submit\" class=\"secondary\" id=\"signout\">Sign \
             out</button></p></form>",
            esc(&who.name),
            role.as_str()
        );
    } else {
        body.push_str("<p class=\"whoami\"><a href=\"/audit\">Audit log</a></p>");
    }
    body.push_str(
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
    let applied: std::collections::HashSet<String> = jobs
        .iter()
        .filter_map(|(_, rec, _)| rec.as_ref().map(|r| r.upload.clone()))
        .collect();
    let waiting: Vec<Vec<String>> = Staged::recent(app.jobs.root(), 10)
        .into_iter()
        .filter(|(s, _)| !applied.contains(&s.id))
        .map(|(s, t)| {
            vec![
                format!("<a href=\"/sheet/{}\">{}</a>", esc(&s.id), esc(&s.name)),
                esc(&chrono::DateTime::<chrono::Local>::from(t)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()),
            ]
        })
        .collect();
    if !waiting.is_empty() {
        body.push_str("<h2>Uploaded, not applied yet</h2>");
        body.push_str(&table(
            "The newest uploads no run has used: open one to go on with it",
            &["Sheet", "Uploaded"],
            &waiting,
            "waiting",
        ));
    }
    body.push_str(&history(&jobs));
    html(&app, StatusCode::OK, "Apply an approval sheet", &body)
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
    pending: Option<axum::Extension<CsrfInBody>>,
    super::signin::Who(who): super::signin::Who,
    mut form: Multipart,
) -> Response {
    // The guard checked the token in the URL or a header, or left it to the body's first field.
    let mut csrf_ok = pending.is_none();
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
                return problem(
                    &app,
                    StatusCode::BAD_REQUEST,
                    "Upload failed",
                    &e.body_text(),
                );
            }
        };
        if field.name() == Some(CSRF_FIELD) {
            let given = field.text().await.unwrap_or_default();
            csrf_ok = csrf_ok || same(&given, &app.csrf);
            continue;
        }
        // The file: whatever the field's name, the one part that has a file name.
        if field.file_name().is_none() {
            continue;
        }
        if !csrf_ok {
            return problem(
                &app,
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This form did not come from this server's own page (its CSRF token is missing \
                 or wrong). Reload the page and try again.",
            );
        }
        let name = match safe_name(field.file_name().unwrap_or("")) {
            Ok(n) => n,
            Err(msg) => return problem(&app, StatusCode::BAD_REQUEST, "Not a sheet", &msg),
        };
        return match save_upload(&app, &name, field).await {
            Ok(staged) => {
                // The mapping of an earlier sheet with these columns, or the page's suggestions.
                let (a, s2, w) = (Arc::clone(&app), staged.clone(), who.clone());
                let first = blocking(move || {
                    super::approval::prepared(&a, &s2, &w);
                    let facts = super::audit_log::SheetFacts::of_staged(&a, &s2);
                    super::audit_log::record(
                        &a,
                        &w.name,
                        super::audit_log::Action::Upload,
                        Some(&facts),
                        String::new(),
                    );
                    super::remember::first_choices(&a, &s2)
                })
                .await;
                if let Some(Err(e)) = first {
                    tracing::warn!(error = %e, "an upload's first choices were not saved");
                }
                Redirect::to(&format!("/sheet/{}", staged.id)).into_response()
            }
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
    let mut file =
        super::jail::create_new(app.jobs.root(), &staged.path()).map_err(|e| fail(&e))?;
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
                    problem(
                        app,
                        StatusCode::BAD_REQUEST,
                        "Upload failed",
                        &e.body_text(),
                    )
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

/// Every run in the folder, newest first: the sheet, when, how it ended, its rows.
fn history(jobs: &[(String, Option<JobRecord>, Option<Report>)]) -> String {
    let mut body = String::new();
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
                        esc(rec.as_ref().map_or(stem, |r| r.sheet.as_str()))
                    ),
                    esc(&last.map_or_else(
                        || {
                            st.as_ref()
                                .map(|s| s.created_at.clone())
                                .unwrap_or_default()
                        },
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
    body
}

//! What every page shares: the frame, the problem page, the assets, blocking work, starting a
//! run.

use super::html::{esc, notice, page};
use super::jobs::JobRecord;
use super::staged::Staged;
use super::state::App;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::sync::Arc;

pub(super) type Shared = State<Arc<App>>;

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

pub(super) fn html(app: &App, status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(page(title, &app.label, body))).into_response()
}

/// Why a request was not done, as a page: what a handler returns through `?`, rendered only
/// when it reaches axum.
pub(super) struct Problem {
    label: String,
    status: StatusCode,
    title: String,
    text: String,
}

impl Problem {
    pub(super) fn new(app: &App, status: StatusCode, title: &str, text: &str) -> Self {
        Self {
            label: app.label.clone(),
            status,
            title: title.into(),
            text: text.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = format!(
            "<h1>{}</h1>{}<p><a href=\"/\">Back to the start</a></p>",
            esc(&self.title),
            notice("error", &esc(&self.text))
        );
        (self.status, Html(page(&self.title, &self.label, &body))).into_response()
    }
}

/// A [`Problem`] page at once, for handlers that answer with a `Response`.
pub(super) fn problem(app: &App, status: StatusCode, title: &str, text: &str) -> Response {
    Problem::new(app, status, title, text).into_response()
}

pub(super) async fn not_found(State(app): Shared) -> Response {
    problem(
        &app,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here. Start again from the home page.",
    )
}

/// Starts the job's run (off the async threads) and sends the browser to its page; `refused`
/// titles the page that says why it did not start.
pub(super) async fn start_run(
    app: &Arc<App>,
    stem: String,
    record: JobRecord,
    refused: &str,
    (who, action): (&super::people::Person, super::audit_log::Action),
) -> Response {
    use super::audit_log::{Action, SheetFacts, record as audit};
    let facts = SheetFacts::of_job(&record);
    let (a, st) = (Arc::clone(app), stem.clone());
    let (end_app, end_who, end_facts) = (Arc::clone(app), who.clone(), facts.clone());
    let ended: Box<dyn FnOnce(Option<i32>) + Send> = Box::new(move |exit| {
        let facts = SheetFacts { exit, ..end_facts };
        audit(
            &end_app,
            &end_who.name,
            Action::Finish,
            Some(&facts),
            String::new(),
        );
    });
    let started = blocking(move || a.jobs.start(&st, record, ended))
        .await
        .unwrap_or_else(|| Err("the server could not start it".into()));
    match started {
        Ok(()) => {
            audit(
                app,
                &who.name,
                action,
                Some(&facts),
                format!("to {}", app.label),
            );
            Redirect::to(&format!("/job/{}", urlencode(&stem))).into_response()
        }
        Err(msg) => problem(app, StatusCode::CONFLICT, refused, &msg),
    }
}

/// Runs blocking work (reading a sheet, a check) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// A job name in a URL path: everything but letters, digits, `-`, `_` and `.` escaped.
pub(super) fn urlencode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The upload a `/sheet/{id}/…` URL names, as a handler's argument: a request naming no upload
/// here is answered with the page that says so, before the handler runs.
pub(super) struct Upload(pub Staged);

impl axum::extract::FromRequestParts<Arc<App>> for Upload {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Self, Response> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        Staged::find(app.jobs.root(), &id)
            .map(Upload)
            .ok_or_else(|| {
                Problem::new(
                    app,
                    StatusCode::NOT_FOUND,
                    "No such upload",
                    "This upload is not here (the link is old, or the folder was cleaned). Upload \
                 the sheet again.",
                )
                .into_response()
            })
    }
}

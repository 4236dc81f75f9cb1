//! A sheet page's "Compare with CAKE": the form, the check it starts (`cake-recon check` as a
//! child process), and its report.

use super::html::{esc, form_open, notice};
use super::job_spec::{Job, JobSpec};
use super::pages::{Shared, Upload, problem, urlencode};
use super::rows::{Counted, Source};
use super::staged::{Choices, Staged};
use super::state::App;
use crate::config::parse_day;
use crate::exit::Exit;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn check_section(app: &App, staged: &Staged, c: &Choices) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"check-h\"><h2 id=\"check-h\">Compare with CAKE</h2>\
         <p>Reads the conversions CAKE holds over a window of days (CAKE's time zone) and says, \
         row by row, which are already correct, which differ and how. Sends no update. Leave both \
         days empty when the sheet has a <code>conversion_date</code> column: its days are read, \
         a day either side.</p>",
    );
    out.push_str(&form_open(
        &format!("/sheet/{}/check", staged.id),
        &app.csrf,
        "",
    ));
    let (since, until) = c.window.clone().unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"row\"><p><label for=\"since\">From</label> <input type=\"date\" id=\"since\" \
         name=\"since\" value=\"{}\"></p><p><label for=\"until\">To</label> <input \
         type=\"date\" id=\"until\" name=\"until\" value=\"{}\"></p>\
         <p><button type=\"submit\" class=\"secondary\">Compare with CAKE</button> <span \
         class=\"hint\">reading a month can take a minute</span></p></div></form>",
        esc(&since),
        esc(&until)
    );
    let files = app.jobs.files(&staged.stem());
    if checking(staged) {
        out.push_str(&notice(
            "warn",
            "<span id=\"checking\" data-reload=\"2\">Comparing with CAKE… this page refreshes \
             itself until the comparison is done.</span>",
        ));
        out.push_str("</section>");
        return out;
    }
    if let Some(text) = staged_check_report(app, staged) {
        let (head, said) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let stale = !check_is_current(app, staged, c);
        let _ = write!(
            out,
            "<p id=\"check-outcome\"><strong>{}</strong>{}</p>",
            esc(head.trim()),
            if stale {
                " The comparison was made with other choices than the page's now: compare \
                 again to see CAKE's values in the rows below."
            } else if files.check.exists() {
                " CAKE's values are in the rows below (now, new, Δ); differences are marked."
            } else {
                ""
            }
        );
        let _ = write!(
            out,
            "<details><summary>What the comparison said</summary><pre class=\"log\">{}</pre></details>",
            esc(&super::words::page_words(said.trim()))
        );
        if files.check.exists() {
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

/// The choices a comparison was made with, beside the upload: its rows are joined to the
/// preview's only while the page's choices are still those.
const CHECK_CHOICES: &str = ".check.choices.json";

fn check_is_current(app: &App, staged: &Staged, c: &Choices) -> bool {
    super::jail::read(
        app.jobs.root(),
        &staged.path().with_file_name(CHECK_CHOICES),
    )
    .ok()
    .and_then(|b| serde_json::from_slice::<Choices>(&b).ok())
    .is_some_and(|was| was == *c)
}

/// Where the preview's row table is read from: the preview's results, joined with the
/// comparison's check file while that was made with the page's choices.
pub(super) fn table_source(
    app: &App,
    staged: &Staged,
    c: &Choices,
    results: std::path::PathBuf,
    duplicates: Vec<u64>,
) -> Source {
    let check = app.jobs.files(&staged.stem()).check;
    Source {
        results,
        check: (check.is_file() && !checking(staged) && check_is_current(app, staged, c))
            .then_some(check),
        duplicates: Arc::new(duplicates),
        counted: Counted::ToSend,
        attention_first: false,
    }
}

/// Marks an upload whose comparison with CAKE is going on.
const CHECK_RUNNING: &str = ".check.running";
/// How long a comparison may take before it is stopped.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// True while the upload's comparison goes on (a marker older than the timeout is one a
/// stopped server left behind).
fn checking(staged: &Staged) -> bool {
    std::fs::metadata(staged.path().with_file_name(CHECK_RUNNING))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < CHECK_TIMEOUT + Duration::from_secs(60))
}

fn staged_check_report(app: &App, staged: &Staged) -> Option<String> {
    super::jail::read_to_string(app.jobs.root(), &staged.path().with_file_name(".check.txt")).ok()
}

pub(super) async fn check(
    State(app): Shared,
    Upload(staged): Upload,
    super::signin::Who(who): super::signin::Who,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let since = form.get("since").cloned().unwrap_or_default();
    let until = form.get("until").cloned().unwrap_or_default();
    let from_sheet = since.is_empty() && until.is_empty();
    let days = parse_day(&since).and_then(|a| parse_day(&until).map(|b| (a, b)));
    if !from_sheet && !days.is_ok_and(|(a, b)| a <= b) {
        return problem(
            &app,
            StatusCode::BAD_REQUEST,
            "Which days?",
            "Give the first and the last day of the conversions (the first not after the last), \
             or leave both empty when the sheet has a conversion_date column.",
        );
    }
    let mut c = staged.choices();
    c.window = Some((since, until));
    if let Err(e) = staged.save_choices(&c) {
        return problem(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not saved",
            &e.to_string(),
        );
    }
    let marker = staged.path().with_file_name(CHECK_RUNNING);
    if checking(&staged) {
        return Redirect::to(&format!("/sheet/{}#check-h", staged.id)).into_response();
    }
    super::audit_log::record(
        &app,
        &who.name,
        super::audit_log::Action::Compare,
        Some(&super::audit_log::SheetFacts::of_staged(&app, &staged)),
        format!(
            "days {} to {}",
            c.window.as_ref().map_or("", |w| w.0.as_str()),
            c.window.as_ref().map_or("", |w| w.1.as_str())
        ),
    );
    // Until this comparison ends well, no check file is joined to the rows.
    let _ = super::jail::remove(
        app.jobs.root(),
        &staged.path().with_file_name(CHECK_CHOICES),
    );
    if let Err(e) = super::jail::write(app.jobs.root(), &marker, b"") {
        return problem(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not started",
            &e.to_string(),
        );
    }
    // Reading a month can take minutes: the check runs on a thread of its own and the page
    // shows it going on (and reloads itself) until its report is written.
    let work = Arc::clone(&app);
    let s2 = staged.clone();
    std::thread::spawn(move || {
        let files = work.jobs.files(&s2.stem());
        let spec = JobSpec {
            sheet: &s2.path(),
            choices: &c,
            target: &work.target,
            job: Job::Check { out: &files.check },
        };
        let (code, text) = work.jobs.check(&spec.args(), CHECK_TIMEOUT);
        if matches!(
            code.map(Exit::of),
            Some(Exit::Ok | Exit::SomeRowsNotUpdated)
        ) {
            // The check file is this comparison's: its rows may be joined while the page's
            // choices stay these.
            let _ = super::jail::write(
                work.jobs.root(),
                &s2.path().with_file_name(CHECK_CHOICES),
                &serde_json::to_vec(&c).unwrap_or_default(),
            );
        }
        let head = match code.map(Exit::of) {
            Some(Exit::Ok) => "Every valid row already holds its values in CAKE.".to_string(),
            Some(Exit::SomeRowsNotUpdated) => {
                "Some rows differ from what CAKE holds (listed below).".to_string()
            }
            Some(e) => format!("The comparison did not finish (exit {}).", e.code()),
            None => "The comparison did not finish.".to_string(),
        };
        let root = work.jobs.root();
        let _ = super::jail::write(
            root,
            &s2.path().with_file_name(".check.txt"),
            format!("{head}\n{text}").as_bytes(),
        );
        let _ = super::jail::remove(root, &s2.path().with_file_name(CHECK_RUNNING));
    });
    Redirect::to(&format!("/sheet/{}#check-h", staged.id)).into_response()
}

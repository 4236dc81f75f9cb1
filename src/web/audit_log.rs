//! The screen's audit log: every upload, comparison, approval, apply, stop, resume and run
//! end, with who, when, which sheet (name and SHA-256 of its bytes), rows and money, appended
//! to `.cake-recon/audit.jsonl` (0600, never through a link) and chained line to line
//! (`report::audit`). The Audit page lists it, filtered by sheet and person.

use super::html::{esc, table};
use super::pages::{Shared, blocking, html};
use super::people::Person;
use super::state::App;
use crate::report::audit::{Event, last_hash, next_line, verify};
use crate::report::money::{count, grouped};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    SignIn,
    Upload,
    Compare,
    Approve,
    Apply,
    Finish,
    Stop,
    Resume,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::Upload => "upload",
            Self::Compare => "compare",
            Self::Approve => "approve",
            Self::Apply => "apply",
            Self::Finish => "finish",
            Self::Stop => "stop",
            Self::Resume => "resume",
        }
    }
}

/// The sheet an event is about, and its money as the page stated it.
#[derive(Debug, Clone, Default)]
pub(super) struct SheetFacts {
    pub name: String,
    pub digest: String,
    pub rows: u64,
    pub payout: rust_decimal::Decimal,
    pub received: rust_decimal::Decimal,
    pub exit: Option<i32>,
}

/// SHA-256 of a file's bytes, in hex (empty when it cannot be read).
pub(super) fn file_digest(root: &Path, path: &Path) -> String {
    let Ok(mut f) = super::jail::open(root, path) else {
        return String::new();
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(buf.get(..n).unwrap_or_default()),
            Err(_) => return String::new(),
        }
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn log_path(root: &Path) -> PathBuf {
    super::staged::state_dir(root).join("audit.jsonl")
}

/// Appends one event. A log that cannot be written is said in the server's log; the action
/// itself has happened and is not undone.
pub(super) fn record(
    app: &App,
    who: &Person,
    action: Action,
    sheet: Option<&SheetFacts>,
    detail: String,
) {
    let root = app.jobs.root();
    let s = sheet.cloned().unwrap_or_default();
    let event = Event {
        at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        who: who.name.clone(),
        action: action.as_str().into(),
        sheet: s.name,
        digest: s.digest,
        rows: s.rows,
        payout: if sheet.is_some() {
            s.payout.to_string()
        } else {
            String::new()
        },
        received: if sheet.is_some() {
            s.received.to_string()
        } else {
            String::new()
        },
        exit: s.exit,
        detail,
    };
    let _one = app.audit.lock();
    let path = log_path(root);
    let written = (|| -> std::io::Result<()> {
        let before = match super::jail::read_to_string(root, &path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let (line, _) = next_line(&last_hash(&before), &event);
        let mut f = super::jail::append(root, &path)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        tracing::error!(error = %e, action = action.as_str(), "the audit log could not be written");
    }
}

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

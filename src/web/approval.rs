//! Sign-off in pairs (`serve --users`): a sheet whose money is above `--approval-over` is
//! applied only after an approver other than its preparer approved exactly this plan — the
//! sheet's bytes, the page's choices, the rows and the money, one digest ([`Plan`]). Any change
//! to one of them voids the approval, and the page says which.

use super::html::{esc, form_open, notice};
use super::pages::{Problem, Shared, Upload, blocking};
use super::people::Person;
use super::signin::Who;
use super::staged::{Choices, Staged};
use super::state::App;
use crate::app::Reading;
use crate::config::Role;
use crate::report::money::grouped;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// What an approval binds to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Plan {
    /// SHA-256 of the sheet's bytes.
    pub sheet: String,
    /// SHA-256 of the page's choices (mapping, values, format, days).
    pub choices: String,
    pub rows: u64,
    /// `Σ payout set|Σ payout added|Σ received`.
    pub money: String,
}

fn hex(d: &[u8]) -> String {
    d.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Plan {
    pub(super) fn of(app: &App, staged: &Staged, c: &Choices, r: &Reading) -> Self {
        let chosen = c.as_chosen();
        let t = &r.totals;
        Self {
            sheet: super::audit_log::file_digest(app.jobs.root(), &staged.path()),
            choices: hex(&Sha256::digest(
                serde_json::to_vec(&chosen).unwrap_or_default(),
            )),
            rows: t.rows,
            money: format!("{}|{}|{}", t.payout_set, t.payout_added, t.received),
        }
    }

    /// The one digest the approve button carries.
    pub(super) fn digest(&self) -> String {
        hex(&Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}",
                self.sheet, self.choices, self.rows, self.money
            )
            .as_bytes(),
        ))
    }

    /// What changed since `was` was approved, in the page's words.
    fn changes_since(&self, was: &Plan) -> Vec<&'static str> {
        let mut why = Vec::new();
        if self.sheet != was.sheet {
            why.push("the sheet's file is another (its bytes changed)");
        }
        if self.choices != was.choices {
            why.push("the choices on this page changed");
        }
        if self.rows != was.rows || self.money != was.money {
            why.push("the rows or the money changed");
        }
        why
    }
}

/// The money a sheet moves, for the bar: each sum counted as its size.
pub(super) fn money_of(r: &Reading) -> Decimal {
    let t = &r.totals;
    t.payout_set
        .abs()
        .saturating_add(t.payout_added.abs())
        .saturating_add(t.received.abs())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Approval {
    plan: Plan,
    by: String,
    at: String,
}

/// Where an upload stands with its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Standing {
    /// No `--users`, or the money is not above the bar.
    NotNeeded,
    Approved {
        by: String,
        at: String,
    },
    /// Waits for an approver who is not `preparer`.
    Wanted {
        preparer: String,
    },
    /// Approved once, but the plan changed since.
    Void {
        by: String,
        why: Vec<&'static str>,
    },
}

fn approval_path(staged: &Staged) -> std::path::PathBuf {
    staged.path().with_file_name(".approval.json")
}

fn preparer_path(staged: &Staged) -> std::path::PathBuf {
    staged.path().with_file_name(".prepared-by")
}

/// Who prepared an upload: who uploaded it or last changed its choices.
pub(super) fn preparer(app: &App, staged: &Staged) -> String {
    super::jail::read_to_string(app.jobs.root(), &preparer_path(staged)).unwrap_or_default()
}

/// Records `who` as the upload's preparer (an upload, a change of choices).
pub(super) fn prepared(app: &App, staged: &Staged, who: &Person) {
    let _ = super::jail::write(app.jobs.root(), &preparer_path(staged), who.name.as_bytes());
}

/// Where `staged` stands, for `plan` (the page's preview now).
pub(super) fn standing(app: &App, staged: &Staged, plan: &Plan, r: &Reading) -> Standing {
    if app.people.users.is_none() || money_of(r) <= app.people.approval_over {
        return Standing::NotNeeded;
    }
    let approval = super::jail::read(app.jobs.root(), &approval_path(staged))
        .ok()
        .and_then(|b| serde_json::from_slice::<Approval>(&b).ok());
    match approval {
        Some(a) if a.plan == *plan => Standing::Approved { by: a.by, at: a.at },
        Some(a) => Standing::Void {
            by: a.by,
            why: plan.changes_since(&a.plan),
        },
        None => Standing::Wanted {
            preparer: preparer(app, staged),
        },
    }
}

/// The page's part: where the approval stands, and the approve button for an approver who did
/// not prepare the sheet.
pub(super) fn section(
    app: &App,
    staged: &Staged,
    plan: &Plan,
    r: &Reading,
    who: &Person,
) -> String {
    let st = standing(app, staged, plan, r);
    let bar = grouped(app.people.approval_over);
    let said = match &st {
        Standing::NotNeeded => return String::new(),
        Standing::Approved { by, at } => notice(
            "ok",
            &format!(
                "<span id=\"approval\">Approved by <strong>{}</strong> on {}: this sheet, with \
                 these choices, may be applied.</span>",
                esc(by),
                esc(at)
            ),
        ),
        Standing::Wanted { preparer } => notice(
            "warn",
            &format!(
                "<span id=\"approval\">Its money is above {bar}: it needs an approval by an \
                 approver other than its preparer ({}) before it can be applied.</span>",
                esc(if preparer.is_empty() {
                    "unknown"
                } else {
                    preparer
                })
            ),
        ),
        Standing::Void { by, why } => notice(
            "warn",
            &format!(
                "<span id=\"approval\">The approval by {} is void: {} since. It needs a new \
                 approval.</span>",
                esc(by),
                esc(&why.join("; "))
            ),
        ),
    };
    let mut out =
        format!("<section aria-labelledby=\"approve-h\"><h2 id=\"approve-h\">Approval</h2>{said}");
    let can = who.role == Some(Role::Approver) && preparer(app, staged) != who.name;
    if !matches!(st, Standing::Approved { .. }) {
        if can {
            out.push_str(&form_open(
                &format!("/sheet/{}/approve", staged.id),
                &app.csrf,
                "",
            ));
            let _ = write!(
                out,
                "<input type=\"hidden\" name=\"plan\" value=\"{}\"><button type=\"submit\" \
                 class=\"primary\" id=\"approve\">Approve {} rows — Σ payout {} · received \
                 {}</button></form>",
                esc(&plan.digest()),
                r.totals.rows,
                grouped(r.totals.payout()),
                grouped(r.totals.received)
            );
        } else if who.role == Some(Role::Approver) {
            out.push_str(
                "<p class=\"hint\">You prepared this sheet: another approver approves it.</p>",
            );
        } else {
            out.push_str("<p class=\"hint\">Ask an approver to open this page and approve it.</p>");
        }
    }
    out.push_str("</section>");
    out
}

pub(super) async fn approve(
    State(app): Shared,
    Upload(staged): Upload,
    Who(who): Who,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let refuse = |status, text: &str| Problem::new(&app, status, "Not approved", text);
    if app.people.users.is_none() || who.role != Some(Role::Approver) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "Only an approver may approve a sheet: sign in as one.",
        ));
    }
    if preparer(&app, &staged) == who.name {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "You prepared this sheet (uploaded it or changed its choices): another approver \
             approves it.",
        ));
    }
    let (a, s2) = (Arc::clone(&app), staged.clone());
    let found = blocking(move || {
        let c = s2.choices();
        let files = a.jobs.files(&s2.stem());
        let p = a.previews.get(&s2, &c, &a.target, &files.checkpoint);
        p.model
            .as_ref()
            .ok()
            .and_then(|m| m.read.as_ref().ok())
            .map(|r| (Plan::of(&a, &s2, &c, r), r.clone()))
    })
    .await
    .flatten();
    let Some((plan, r)) = found else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "The sheet cannot be read as it is set up: it cannot be approved.",
        ));
    };
    if form.get("plan").map(String::as_str) != Some(plan.digest().as_str()) {
        return Err(refuse(
            StatusCode::CONFLICT,
            "The sheet or its choices changed since this page was shown: reload it, look at \
             the preview again, and approve what it shows.",
        ));
    }
    let approval = Approval {
        plan: plan.clone(),
        by: who.name.clone(),
        at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
    };
    let bytes = serde_json::to_vec(&approval)
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    super::jail::write(app.jobs.root(), &approval_path(&staged), &bytes)
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    super::audit_log::record(
        &app,
        &who.name,
        super::audit_log::Action::Approve,
        Some(&super::audit_log::SheetFacts {
            name: staged.name.clone(),
            digest: plan.sheet.clone(),
            rows: r.totals.rows,
            payout: r.totals.payout(),
            received: r.totals.received,
            exit: None,
        }),
        format!("plan {}", plan.digest()),
    );
    Ok(Redirect::to(&format!("/sheet/{}#approve-h", staged.id)).into_response())
}

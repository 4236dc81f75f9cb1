//! A sheet page's Apply: the section that states the money, and the handler that starts
//! `cake-recon run` with the page's choices.

use super::approval::{self, Plan};
use super::html::{esc, form_open, notice};
use super::job_spec::{Job, JobSpec};
use super::jobs::JobRecord;
use super::pages::{Problem, Shared, Upload, blocking, start_run};
use super::signin::Who;
use super::staged::{Choices, Staged};
use super::state::App;
use crate::report::money::{count, grouped};
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The Apply form; `(running, beside)`: a run of the sheet is going on, a run of its name was
/// recorded before.
pub(super) fn apply_section(
    app: &App,
    staged: &Staged,
    c: &Choices,
    r: &crate::app::Reading,
    (running, beside): (bool, bool),
) -> String {
    let t = &r.totals;
    let mut out =
        String::from("<section aria-labelledby=\"apply-h\"><h2 id=\"apply-h\">Apply</h2>");
    if t.rows == 0 {
        out.push_str(&notice(
            "warn",
            "No valid row to send: fix the sheet and upload it again.",
        ));
        out.push_str("</section>");
        return out;
    }
    // What `run` would stop for is asked here first: the button waits for the choice.
    if let Some(asked) = waits_for(r) {
        out.push_str(&asked);
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
    out.push_str(&form_open(
        &format!("/sheet/{}/apply", staged.id),
        &app.csrf,
        "",
    ));
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"rows\" value=\"{}\">\
         <input type=\"hidden\" name=\"totals\" value=\"{}\">",
        t.rows,
        esc(&stated_totals(r))
    );
    if r.invalid > 0 {
        let _ = write!(
            out,
            "<p><input type=\"checkbox\" id=\"skip_invalid\" name=\"skip_invalid\" value=\"1\" \
             required> <label for=\"skip_invalid\">Leave the {} invalid rows out (they are listed \
             as invalid in the results)</label></p>",
            count(r.invalid)
        );
    }
    if beside {
        out.push_str(
            "<p><input type=\"checkbox\" id=\"edited_sheet\" name=\"edited_sheet\" value=\"1\"> \
             <label for=\"edited_sheet\">This is the same sheet, edited (not a new month's sheet \
             under the same name): rows already applied keep their outcome even if most rows \
             changed</label></p>",
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

/// What `run` would stop for before sending, asked on the page in its own words (`None`:
/// nothing; Apply may be offered).
fn waits_for(r: &crate::app::Reading) -> Option<String> {
    if !r.total_mismatches.is_empty() {
        return Some(notice(
            "error",
            &format!(
                "The sheet's total does not match its rows ({}): a row is missing, extra or \
                 wrong. Correct the sheet (or its total) and upload it again.",
                esc(&super::words::page_words(&r.total_mismatches.join("; ")))
            ),
        ));
    }
    if !r.unseen.questions.is_empty() {
        return Some(notice(
            "warn",
            "The workbook hides rows, or shows amounts with fewer decimals than they hold: \
             choose above what to send (and update the preview) before applying.",
        ));
    }
    if r.offers_wanting {
        return Some(notice(
            "warn",
            &format!(
                "{} rows give no offer, and CAKE needs each conversion's own offer id. Compare \
                 with CAKE above, giving the days the conversions are in: each conversion's \
                 offer is then read from CAKE. Or choose offer_id for the sheet's offer column, \
                 or set offer_id for every row under “Set for every row”.",
                count(r.offerless)
            ),
        ));
    }
    None
}

/// The money the Apply button states, as the form carries it back.
fn stated_totals(r: &crate::app::Reading) -> String {
    let t = &r.totals;
    format!(
        "{}|{}|{}|{}",
        t.rows, t.payout_set, t.payout_added, t.received
    )
}

#[expect(
    clippy::too_many_lines,
    reason = "every check before a run starts, in order"
)]
pub(super) async fn apply(
    State(app): Shared,
    Upload(staged): Upload,
    Who(who): Who,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let stem = staged.stem();
    let c = staged.choices();
    let files = app.jobs.files(&stem);
    let (s2, c2, ckpt, a) = (
        staged.clone(),
        c.clone(),
        files.checkpoint.clone(),
        Arc::clone(&app),
    );
    let p = blocking(move || a.previews.get(&s2, &c2, &a.target, &ckpt))
        .await
        .ok_or_else(|| {
            Problem::new(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not applied",
                "The server could not read the sheet: try again.",
            )
        })?;
    let r = p
        .model
        .as_ref()
        .ok()
        .and_then(|m| m.read.as_ref().ok())
        .ok_or_else(|| {
            Problem::new(
                &app,
                StatusCode::BAD_REQUEST,
                "Not applied",
                "The sheet cannot be read as it is set up: go back and fix the mapping.",
            )
        })?;
    // The button said how many rows and how much money: a sheet or choices changed since means
    // another look.
    if form.get("rows").and_then(|v| v.parse::<u64>().ok()) != Some(r.totals.rows)
        || form.get("totals").is_some_and(|t| *t != stated_totals(r))
    {
        return Err(Problem::new(
            &app,
            StatusCode::CONFLICT,
            "The preview changed",
            "What the sheet would do changed since the page was shown: go back, look again, and \
             press Apply on the new preview.",
        ));
    }
    if r.invalid > 0 && form.get("skip_invalid").map(String::as_str) != Some("1") {
        return Err(Problem::new(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid rows",
            "The sheet has invalid rows: tick \"Leave the invalid rows out\", or fix them and \
             upload the sheet again.",
        ));
    }
    // Sign-off in pairs: above the bar, only the very plan an approver approved is applied.
    let (a, s2, c2, r2) = (Arc::clone(&app), staged.clone(), c.clone(), r.clone());
    let (plan, standing) = blocking(move || {
        let plan = Plan::of(&a, &s2, &c2, &r2);
        let st = approval::standing(&a, &s2, &plan, &r2);
        (plan, st)
    })
    .await
    .ok_or_else(|| {
        Problem::new(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not applied",
            "The server could not read the sheet: try again.",
        )
    })?;
    let approved_by = match standing {
        approval::Standing::NotNeeded => None,
        approval::Standing::Approved { by, at } => Some((by, at)),
        approval::Standing::Wanted { .. } => {
            return Err(Problem::new(
                &app,
                StatusCode::CONFLICT,
                "Needs an approval",
                "This sheet's money is above the approval bar: an approver other than its                  preparer approves it first (the Approval part of its page).",
            ));
        }
        approval::Standing::Void { by, why } => {
            return Err(Problem::new(
                &app,
                StatusCode::CONFLICT,
                "The approval is void",
                &format!(
                    "The approval by {by} no longer holds: {} since it was given. Ask for a new                      approval.",
                    why.join("; ")
                ),
            ));
        }
    };
    let spec = JobSpec {
        sheet: &staged.path(),
        choices: &c,
        target: &app.target,
        job: Job::Run {
            files: &files,
            skip_invalid: r.invalid > 0,
            edited_sheet: form.get("edited_sheet").map(String::as_str) == Some("1"),
        },
    };
    let record = JobRecord {
        rows: r.totals.rows,
        sheet: staged.name.clone(),
        upload: staged.id.clone(),
        args: spec.args(),
        reads_back: spec.reads_back(),
        stated: format!(
            "{} rows; Σ payout {}; Σ received {}",
            count(r.totals.rows),
            grouped(r.totals.payout()),
            grouped(r.totals.received)
        ),
        prepared_by: approval::preparer(&app, &staged),
        approved_by,
        applied_by: who.name.clone(),
        digest: plan.sheet.clone(),
        money: (r.totals.payout(), r.totals.received),
        runs: app.jobs.record(&stem).map(|r| r.runs).unwrap_or_default(),
    };
    // The choices a sheet was applied with are how the next sheet with its columns opens.
    if let Err(e) = super::remember::keep(&app, &staged, &c) {
        tracing::warn!(error = %e, "a sheet's choices were not remembered");
    }
    Ok(start_run(
        &app,
        stem,
        record,
        "Not started",
        (&who, super::audit_log::Action::Apply),
    )
    .await)
}

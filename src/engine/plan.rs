//! What to do with each row before it is sent: the decisions of reading back, the journal's
//! skips, and what earlier runs recorded (the checkpoint's priors), in one function.

use super::read_back::Decision;
use crate::checkpoint::Prior;
use crate::report::output::{ResultLine, update_cells};
use crate::update::Status;
use crate::update::{ConversionUpdate, Idempotency};
use std::collections::HashMap;

/// What decides a row's plan besides its own record, given once per pass.
pub(super) struct Rules {
    /// `--resend-in-doubt`: which in-doubt rows to send again.
    pub resend_in_doubt: super::ResendInDoubt,
    /// The sheet changed since the checkpoint was written: compare each row with its record.
    /// (Unchanged, the two agree by construction and the digest is not computed.)
    pub compare_content: bool,
    /// `--read-back`: what reading CAKE before sending decided, by sheet row.
    pub decisions: HashMap<u64, Decision>,
    /// The reading was only to settle before `--resend-in-doubt` (no `--read-back`): a row it
    /// did not select keeps its doubt unless the reading shows it applied.
    pub settled_for_selected_only: bool,
    /// Rows the journal holds back (another job applied the same addition): their messages.
    pub journal_skips: HashMap<u64, String>,
    /// Now minus `--settle-after` (the checkpoint's time format): a request that left later may
    /// still land, so `--resend-in-doubt` does not send its row again yet.
    pub landed_by: String,
    /// The offers of rows that give none, as CAKE's reports show them.
    pub offers: super::offers::Offers,
}

/// `--resend-in-doubt` selected a row whose last request may still land (it left less than
/// `--settle-after` ago, or a run stopped with it in flight): its line, when so.
fn too_soon_to_resend(u: &ConversionUpdate, p: &Prior, d: &Rules) -> Option<Plan> {
    let left_at = p.left_at.as_deref().filter(|_| p.status.is_some());
    if left_at.is_some_and(|at| at <= d.landed_by.as_str()) {
        return None;
    }
    let message = match left_at {
        Some(at) => format!(
            "in doubt, not re-sent although --resend-in-doubt selected it: its last request left \
             at {at}, less than --settle-after ago, and CAKE may still be working on it (sending \
             it now could add it twice); run the same command again once that time has passed"
        ),
        None => "in doubt, not re-sent although --resend-in-doubt selected it: a run stopped with \
                 its request in flight, and CAKE may still be working on it; run the same \
                 command again once --settle-after has passed"
            .to_string(),
    };
    Some(Plan::Done {
        line: Box::new(line(u, Status::InDoubt, p.attempts, p.http_status, message)),
        record: true,
        // Found after a stop: its requests left before now.
        moves_intent: p.status.is_none(),
    })
}

/// The message of an additive row found with an intent and no outcome.
pub(super) const CRASH_IN_DOUBT: &str = "an earlier run stopped after this row's request may have been \
     sent — check it in CAKE; not re-sent (use --resend-in-doubt to send it again)";

pub(super) fn line(
    u: &ConversionUpdate,
    status: Status,
    attempts: u32,
    http_status: Option<u16>,
    message: String,
) -> ResultLine {
    ResultLine {
        row: u.row,
        cells: update_cells(u),
        status,
        attempts,
        http_status,
        message,
    }
}

/// What to do with a valid row, given what earlier runs recorded.
pub(super) enum Plan {
    Send,
    /// In doubt, and selected by `--resend-in-doubt`: send it again.
    ResendInDoubt,
    /// It failed in an earlier run without being applied: send it again.
    Resend,
    /// The sheet changed this row since an earlier run recorded it, and that version cannot
    /// have been applied (or the row now sets absolute values): send the new one.
    SendChanged,
    /// Finished by an earlier run (or found in doubt now): its line, and whether the checkpoint
    /// must record the in-doubt outcome.
    Done {
        line: Box<ResultLine>,
        record: bool,
        /// The row's requests all left before now (see [`OutcomeRecord::left_by_now`]).
        moves_intent: bool,
    },
    /// Changed since an earlier version of it was (or may have been) added to CAKE, and still
    /// adds: not sent, since it would add on top. Its line says what to do.
    HeldBack(Box<ResultLine>),
    /// Another job applied (or may have applied) the same addition, the journal says: not
    /// sent. Its line names that job.
    JournalSkip(Box<ResultLine>),
    /// It gives no offer and CAKE's reports gave none (`--skip-invalid`): not sent, `invalid`.
    NoOffer(Box<ResultLine>),
}

/// What to do with a row: [`plan`], once the row has its conversion's offer when it gives
/// none. A row that would be sent without one is not sent.
pub(super) fn plan_row(u: &mut ConversionUpdate, prior: Option<Prior>, d: &Rules) -> Plan {
    let no_offer = d.offers.give(u).err();
    match (plan(u, prior, d), no_offer) {
        (Plan::Send | Plan::ResendInDoubt | Plan::Resend | Plan::SendChanged, Some(message)) => {
            Plan::NoOffer(Box::new(line(u, Status::Invalid, 0, None, message)))
        }
        (planned, _) => planned,
    }
}

/// What to do with a row, given what earlier runs recorded of it.
///
/// `failed` is not final across runs: a row ends `failed` only when nothing it sent can have
/// applied (an additive row that may have applied ends `in_doubt` instead, see
/// [`super::retry::decide`]) or when it is idempotent, so the same command sends it again once
/// the cause (a server down, throttling, a binding error) is gone.
fn plan(u: &ConversionUpdate, prior: Option<Prior>, d: &Rules) -> Plan {
    let (resend_in_doubt, compare) = (d.resend_in_doubt.selects(u), d.compare_content);
    let decision = d.decisions.get(&u.row).filter(|decision| {
        !d.settled_for_selected_only || resend_in_doubt || matches!(decision, Decision::Applied(_))
    });
    if let Some(decision) = decision {
        let (attempts, http_status) = prior
            .as_ref()
            .map_or((0, None), |p| (p.attempts, p.http_status));
        // A row found in doubt after a stop (an intent, no outcome yet): its requests left
        // before now, and the settling bound counts from now.
        let stopped_in_flight = prior.as_ref().is_some_and(|p| p.status.is_none());
        let done = |status: Status, message: String| Plan::Done {
            line: Box::new(line(u, status, attempts, http_status, message)),
            record: true,
            moves_intent: status == Status::InDoubt && stopped_in_flight,
        };
        match decision {
            Decision::Unchanged => {
                return done(
                    Status::Unchanged,
                    "CAKE already holds every value this row sets (read back); not sent".into(),
                );
            }
            Decision::Applied(m) => return done(Status::Updated, m.clone()),
            Decision::NotApplied => return Plan::Resend,
            Decision::StillInDoubt(_) if resend_in_doubt => return Plan::ResendInDoubt,
            // `NotYet` even when selected: a resend before the bound may race CAKE's own late
            // landing.
            Decision::StillInDoubt(m) | Decision::NotYet(m) => {
                return done(Status::InDoubt, m.clone());
            }
        }
    }
    // The journal's answer counts only where this job's own records say nothing was applied:
    // no record, or a failure that proves it.
    let journal_skip = |p: &Option<Prior>| {
        let unapplied = p
            .as_ref()
            .is_none_or(|p| p.status == Some(Status::Failed) || (p.status.is_none() && !p.intent));
        d.journal_skips
            .get(&u.row)
            .filter(|_| unapplied)
            .map(|m| Plan::JournalSkip(Box::new(line(u, Status::Skipped, 0, None, m.clone()))))
    };
    if let Some(skip) = journal_skip(&prior) {
        return skip;
    }
    let Some(p) = prior else { return Plan::Send };
    let may_have_applied = matches!(p.status, Some(Status::Updated | Status::InDoubt))
        || (p.status.is_none() && p.intent);
    if compare && p.content != u.ident().content {
        // Adding the new amount on top of an old one that may be in CAKE could count it twice;
        // an absolute row (or an old version that provably did not apply) is safe to send.
        return if p.additive && may_have_applied && u.idempotency() == Idempotency::Additive {
            Plan::HeldBack(Box::new(line(
                u,
                Status::Skipped,
                0,
                None,
                format!(
                    "not sent: this row was changed after an earlier version of it was {} \
                     (row {}: {}); sending it would add on top of that. Check the conversion in \
                     CAKE, then give the row the absolute value (add_to_existing_payout=false \
                     with the full payout) or move the extra amount to a sheet of its own",
                    if p.status == Some(Status::Updated) {
                        "applied"
                    } else {
                        "possibly applied"
                    },
                    p.row,
                    if p.message.is_empty() {
                        p.status.map_or("sent", Status::as_str)
                    } else {
                        &p.message
                    }
                ),
            )))
        } else {
            Plan::SendChanged
        };
    }
    match p.status {
        Some(Status::Failed) => Plan::Resend,
        Some(Status::InDoubt) if resend_in_doubt => {
            too_soon_to_resend(u, &p, d).unwrap_or(Plan::ResendInDoubt)
        }
        Some(status) => Plan::Done {
            line: Box::new(line(u, status, p.attempts, p.http_status, p.message)),
            record: false,
            moves_intent: false,
        },
        None if p.intent && !resend_in_doubt => Plan::Done {
            line: Box::new(line(
                u,
                Status::InDoubt,
                p.attempts,
                p.http_status,
                CRASH_IN_DOUBT.into(),
            )),
            record: true,
            moves_intent: true,
        },
        None if p.intent => too_soon_to_resend(u, &p, d).unwrap_or(Plan::ResendInDoubt),
        None => Plan::Send,
    }
}

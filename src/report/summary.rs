//! How a run ended: the counts the dispatcher kept, the summary a person reads, the exit code.

use super::money::grouped;
use crate::exit;
use crate::sheet::Totals;
use crate::update::Status;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT/SIGTERM.
    Interrupted,
    /// A run-wide failure: the reason.
    Aborted(String),
}

/// How an earlier run's outcomes met an edited sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CarriedOver {
    /// What changed: the sheet's bytes, `--map`, …
    pub what: Vec<String>,
    /// Outcomes whose row is still there with the same values.
    pub same: u64,
    /// Outcomes whose conversion is still there with other values.
    pub changed: u64,
    /// Outcomes whose conversion left the sheet.
    pub gone: u64,
}

/// What `--read-back` found, as the summary shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReadBackSummary {
    pub window: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    pub rows_read: u64,
    pub undo: Option<PathBuf>,
    pub undo_lines: u64,
    pub notes_only: u64,
    pub verified: u64,
    pub mismatches: Vec<String>,
    /// Additive rows sent without a reading from before this job wrote (a run without
    /// `--read-back` sent them): CAKE's values cannot prove what they added. Never counted
    /// as "not as sent".
    pub not_verifiable: Vec<u64>,
}

/// Rows of the job an earlier run applied, as the checkpoint records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Earlier {
    pub rows: u64,
    /// The first and the last time one of them was recorded (the checkpoint's UTC times).
    pub first_at: Option<String>,
    pub last_at: Option<String>,
}

impl Earlier {
    /// Counts in one row an earlier run applied, recorded at `at`.
    pub(crate) fn add(&mut self, at: Option<&str>) {
        self.rows += 1;
        if let Some(at) = at {
            if self.first_at.as_deref().is_none_or(|f| at < f) {
                self.first_at = Some(at.to_string());
            }
            if self.last_at.as_deref().is_none_or(|l| at > l) {
                self.last_at = Some(at.to_string());
            }
        }
    }

    /// When, for a person: `2026-07-01 02:10 UTC`, or `2026-06-30 21:55 UTC to 2026-07-01
    /// 02:10 UTC` across days; `date unknown` when the checkpoint has no time.
    #[must_use]
    pub(crate) fn when(&self) -> String {
        match (&self.first_at, &self.last_at) {
            (Some(first), Some(last)) if first.get(..10) != last.get(..10) => {
                format!("{} to {}", minute(first), minute(last))
            }
            (_, Some(last)) => minute(last),
            _ => "date unknown".into(),
        }
    }
}

/// A checkpoint time (`2026-07-01T02:10:33.123Z`) to the minute, as a person reads it.
fn minute(at: &str) -> String {
    match (at.get(..10), at.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => at.to_string(),
    }
}

/// What the dispatcher reports at the end.
#[derive(Debug)]
pub(crate) struct Report {
    pub counts: HashMap<Status, u64>,
    /// Rows not finished (a later run sends them).
    pub unfinished: u64,
    /// Rows whose outcome came from an earlier run.
    pub resumed: u64,
    /// Rows that had failed in an earlier run (nothing applied) and were sent again.
    pub resent_failed: u64,
    /// In-doubt rows `--resend-in-doubt` selected and sent again.
    pub resent_in_doubt: u64,
    /// What `--resend-in-doubt ROWS|@FILE` named that no in-doubt row answered (not sent).
    pub resend_unmatched: Vec<String>,
    /// Rows the sheet changed since an earlier run recorded them, sent in their new version.
    pub changed: u64,
    /// Changed additive rows whose earlier version was (or may have been) applied: not sent.
    pub held_back: u64,
    /// Additive rows the journal shows another job applied (or may have applied): not sent.
    pub journal_skipped: u64,
    /// What those rows would have added, in words (`Σ payout … and Σ received …`).
    pub journal_skipped_money: Option<String>,
    /// The sheet (or how it reads) changed since the checkpoint was written: how its records
    /// met the sheet, and what changed.
    pub carried_over: Option<CarriedOver>,
    /// `--read-back`: the reading, the undo sheet and the verification.
    pub read_back: Option<ReadBackSummary>,
    /// Sums over the rows this run's requests applied (CAKE confirmed them): what "applied"
    /// means in every summary.
    pub applied: Totals,
    /// Sums over every row of the job CAKE confirmed (this run and earlier ones).
    pub job: Totals,
    /// The rows an earlier run applied (from the checkpoint), and when.
    pub earlier: Earlier,
    /// Requests sent by this run (all attempts).
    pub attempts: u64,
    /// Requests per second between the first and the last request of this run.
    pub achieved_rate: Option<f64>,
    pub elapsed: Duration,
    pub stop: Option<Stop>,
    pub output: PathBuf,
}

/// The contract's exit code for a finished (or stopped) run.
#[must_use]
pub(crate) fn exit_code(r: &Report) -> u8 {
    match &r.stop {
        Some(Stop::Interrupted) => exit::INTERRUPTED,
        Some(Stop::Aborted(_)) => exit::ABORTED,
        None => {
            let not_updated = [
                Status::Rejected,
                Status::Failed,
                Status::Invalid,
                Status::InDoubt,
            ]
            .iter()
            .any(|s| r.counts.get(s).copied().unwrap_or(0) > 0);
            let mismatched = r
                .read_back
                .as_ref()
                .is_some_and(|rb| !rb.mismatches.is_empty());
            if not_updated
                || r.unfinished > 0
                || r.held_back > 0
                || r.journal_skipped > 0
                || mismatched
            {
                exit::SOME_ROWS_NOT_UPDATED
            } else {
                exit::OK
            }
        }
    }
}

/// The end-of-run summary.
#[must_use]
pub(crate) fn summary(r: &Report, configured_rate: f64, checkpoint: &Path) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let headline = match &r.stop {
        None => "Run finished.".to_string(),
        Some(Stop::Interrupted) => {
            "Run interrupted: run the same command again to continue.".to_string()
        }
        Some(Stop::Aborted(reason)) => format!(
            "Run stopped: {reason}. Fix the cause, then run the same command again to continue."
        ),
    };
    let _ = writeln!(s, "{headline}");
    let count = |st: Status| r.counts.get(&st).copied().unwrap_or(0);
    // With rows finished by earlier runs, the counts are the job's, not this run's.
    let _ = writeln!(
        s,
        "  {}updated {}, rejected {}, failed {}, in_doubt {}, invalid {}, not sent {}",
        if r.resumed > 0 {
            "the job's rows: "
        } else {
            ""
        },
        count(Status::Updated),
        count(Status::Rejected),
        count(Status::Failed),
        count(Status::InDoubt),
        count(Status::Invalid),
        r.unfinished
    );
    let total_lines = count(Status::Skipped)
        .saturating_sub(r.held_back)
        .saturating_sub(r.journal_skipped);
    if total_lines > 0 {
        let _ = writeln!(
            s,
            "  skipped {total_lines} line(s): totals, notes or rows left out, never sent (listed in the results)"
        );
    }
    applied_lines(&mut s, r);
    let secs = r.elapsed.as_secs_f64();
    let rate = r.achieved_rate.unwrap_or(0.0);
    let configured = if configured_rate > 0.0 {
        format!("{configured_rate}/s")
    } else {
        "unlimited".into()
    };
    let _ = writeln!(
        s,
        "  {} requests in {secs:.1} s ({rate:.1}/s; configured {configured})",
        r.attempts
    );
    if r.resent_failed > 0 {
        let _ = writeln!(
            s,
            "  {} rows that failed in an earlier run without being applied were sent again",
            r.resent_failed
        );
    }
    resend_lines(&mut s, r);
    job_lines(&mut s, r);
    if r.resumed > 0 {
        let _ = writeln!(
            s,
            "  {} rows were finished by an earlier run (from the checkpoint)",
            r.resumed
        );
    }
    if let Some(rb) = &r.read_back {
        read_back_lines(&mut s, rb, count(Status::Unchanged));
    }
    let _ = writeln!(s, "  results: {}", r.output.display());
    let _ = writeln!(s, "  checkpoint: {}", checkpoint.display());
    if count(Status::InDoubt) > 0 {
        let _ = writeln!(
            s,
            "  in_doubt rows may or may not have been applied: `cake-recon status {}` lists each \
             one's conversion, what it adds and when it was sent. The same command with \
             --read-back (and --since/--until, or the sheet's conversion_date column) settles \
             them from CAKE's values, once each one's settling time (--settle-after) has \
             passed: applied ones are not sent again. Or check them in CAKE yourself, then \
             --resend-in-doubt ROWS sends again the ones that were not applied",
            checkpoint.display()
        );
    }
    s
}

/// What this run applied (only its own requests), or that it sent nothing; then the job's
/// totals, labelled as the job's, when earlier runs applied rows of it.
fn applied_lines(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let sums = |t: &Totals| {
        format!(
            "Σ payout {} (set {}, added {}), Σ received {}",
            grouped(t.payout()),
            grouped(t.payout_set),
            grouped(t.payout_added),
            grouped(t.received)
        )
    };
    if r.attempts == 0 {
        if r.earlier.rows > 0 {
            let _ = writeln!(
                s,
                "  nothing was sent; the job's {} rows were applied earlier ({})",
                r.earlier.rows,
                r.earlier.when()
            );
        } else {
            let _ = writeln!(s, "  nothing was sent");
        }
    } else {
        let _ = writeln!(
            s,
            "  applied by this run: {} rows, {}",
            r.applied.rows,
            sums(&r.applied)
        );
    }
    if r.earlier.rows > 0 {
        let _ = writeln!(
            s,
            "  the job's totals (this run and earlier runs): {} rows updated, {}",
            r.job.rows,
            sums(&r.job)
        );
    }
}

/// What `--resend-in-doubt` sent again, and what it selected that no in-doubt row answered.
fn resend_lines(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    if r.resent_in_doubt > 0 {
        let _ = writeln!(
            s,
            "  {} in-doubt rows were sent again (--resend-in-doubt)",
            r.resent_in_doubt
        );
    }
    if !r.resend_unmatched.is_empty() {
        let shown: Vec<&str> = r
            .resend_unmatched
            .iter()
            .take(10)
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            s,
            "  --resend-in-doubt selected {} that no in-doubt row answers, so nothing was sent \
             for it (not in doubt, or not in the sheet): {}{}",
            r.resend_unmatched.len(),
            shown.join(", "),
            if r.resend_unmatched.len() > 10 {
                ", …"
            } else {
                ""
            }
        );
    }
}

/// How the job continued across an edited sheet.
fn job_lines(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    if let Some(moved) = &r.carried_over {
        let _ = writeln!(
            s,
            "  the sheet changed since the last run ({}): {} earlier outcomes found their row, {} rows \
             were changed, {} earlier rows are no longer in the sheet (kept in the checkpoint)",
            moved.what.join("; "),
            moved.same,
            moved.changed,
            moved.gone
        );
    }
    if r.changed > 0 {
        let _ = writeln!(
            s,
            "  {} changed rows were sent in their new version",
            r.changed
        );
    }
    if r.held_back > 0 {
        let _ = writeln!(
            s,
            "  {} changed additive rows were NOT sent: an earlier version of each was added to \
             CAKE, and sending would add on top (status skipped; the results file says what to do)",
            r.held_back
        );
    }
    if r.journal_skipped > 0 {
        let _ = writeln!(
            s,
            "  {} additive rows were NOT sent: the journal shows another job applied (or may have \
             applied) the same addition to the same conversion ({}; status skipped, the results \
             file names the job; --same-additions-again sends them)",
            r.journal_skipped,
            r.journal_skipped_money.as_deref().unwrap_or("")
        );
    }
}

/// The `--read-back` part of the summary.
fn read_back_lines(s: &mut String, rb: &ReadBackSummary, unchanged: u64) {
    use std::fmt::Write as _;
    if let Some((since, until)) = rb.window {
        let _ = writeln!(
            s,
            "  read back: {} conversions ({since} to {until}, CAKE time); {unchanged} rows \
             already held their values and were not sent (unchanged)",
            rb.rows_read
        );
    }
    let _ = writeln!(
        s,
        "  verified after sending: {} rows, {} not as sent",
        rb.verified,
        rb.mismatches.len()
    );
    for m in rb.mismatches.iter().take(10) {
        let _ = writeln!(s, "    {m}");
    }
    if !rb.not_verifiable.is_empty() {
        let shown: Vec<String> = rb
            .not_verifiable
            .iter()
            .take(10)
            .map(u64::to_string)
            .collect();
        let _ = writeln!(
            s,
            "  not verifiable: {} additive rows (rows {}{}): no reading from before this job \
             wrote to them, so what they added cannot be told from what CAKE holds",
            rb.not_verifiable.len(),
            shown.join(", "),
            if rb.not_verifiable.len() > 10 {
                ", …"
            } else {
                ""
            }
        );
    }
    if let Some(undo) = &rb.undo {
        let _ = writeln!(
            s,
            "  undo sheet: {} ({} rows; `cake-recon run` it to put CAKE back as it was{})",
            undo.display(),
            rb.undo_lines,
            if rb.notes_only > 0 {
                format!(
                    "; {} rows only appended notes, which cannot be taken back",
                    rb.notes_only
                )
            } else {
                "; appended notes cannot be taken back".to_string()
            }
        );
    }
}

/// How the run ended, in a few words.
fn ending(r: &Report) -> String {
    match &r.stop {
        None => "finished".to_string(),
        Some(Stop::Interrupted) => "interrupted".to_string(),
        Some(Stop::Aborted(reason)) => format!("stopped: {reason}"),
    }
}

/// The one line `-q` still prints (to stderr), for cron mail and log scanners.
#[must_use]
pub(crate) fn one_line(r: &Report, code: u8) -> String {
    let count = |st: Status| r.counts.get(&st).copied().unwrap_or(0);
    format!(
        "cake-recon: {}; {}; updated {}{}, rejected {}, failed {}, in_doubt {}, invalid {}, \
         not sent {}; results {}; exit {code}",
        ending(r),
        match r.attempts {
            0 => "nothing sent".to_string(),
            n => format!("{n} requests sent"),
        },
        count(Status::Updated),
        [
            (Status::Unchanged, count(Status::Unchanged)),
            (Status::Skipped, count(Status::Skipped)),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .fold(String::new(), |mut s, (st, n)| {
            use std::fmt::Write as _;
            let _ = write!(s, ", {} {n}", st.as_str());
            s
        }),
        count(Status::Rejected),
        count(Status::Failed),
        count(Status::InDoubt),
        count(Status::Invalid),
        r.unfinished,
        r.output.display()
    )
}

/// The closing event's target: let through even by `-q`, so a JSON log always ends with it.
pub(crate) const SUMMARY_TARGET: &str = "cake_recon::summary";

/// The closing log event (one JSON object with `--log-format json`): counts by status, what
/// THIS run sent and applied (`requests`, `nothing_sent`, `applied_rows`, `payout_applied`,
/// `received_applied`), the job's totals apart (`job_*`), the rows earlier runs applied and
/// when (`earlier_*`), elapsed and the exit code. In text logs it is a debug line: the summary on stdout
/// already says it to a person.
pub(crate) fn log_summary(r: &Report, code: u8, json: bool) {
    let count = |st: Status| r.counts.get(&st).copied().unwrap_or(0);
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: SUMMARY_TARGET,
                $level,
                ended = %ending(r),
                updated = count(Status::Updated),
                rejected = count(Status::Rejected),
                failed = count(Status::Failed),
                in_doubt = count(Status::InDoubt),
                invalid = count(Status::Invalid),
                skipped = count(Status::Skipped),
                unchanged = count(Status::Unchanged),
                not_sent = r.unfinished,
                requests = r.attempts,
                nothing_sent = r.attempts == 0,
                applied_rows = r.applied.rows,
                payout_applied = %r.applied.payout(),
                payout_applied_set = %r.applied.payout_set,
                payout_applied_added = %r.applied.payout_added,
                received_applied = %r.applied.received,
                job_rows_updated = r.job.rows,
                job_payout = %r.job.payout(),
                job_received = %r.job.received,
                earlier_rows_applied = r.earlier.rows,
                earlier_applied_first_at = r.earlier.first_at.as_deref(),
                earlier_applied_last_at = r.earlier.last_at.as_deref(),
                elapsed_secs = r.elapsed.as_secs_f64(),
                exit_code = code,
                "summary"
            )
        };
    }
    if json {
        event!(tracing::Level::INFO);
    } else {
        event!(tracing::Level::DEBUG);
    }
}

//! One run, start to end: pre-pass, checkpoint, client, dispatch; the report of how it ended.

use super::dispatcher::{Dispatch, dispatch};
use super::journaling;
use super::limiter::RateGate;
use super::plan::Rules;
use super::read_back::{self, Reading};
use super::retry::Backoff;
use super::settings::{Destination, Settings};
use super::worker::Shared;
use crate::cake::client::Client;
use crate::cake::request::Endpoint;
use crate::checkpoint::journal::Journal;
use crate::checkpoint::{self, Fingerprint, Store};
use crate::error::Error;
use crate::report::money::grouped;
use crate::report::output::ResultsWriter;
use crate::report::preview::invalid_list;
use crate::report::summary::{CarriedOver, Report, Stop};
use crate::sheet::{Duplicates, PrePass, Sheet, SheetOptions, prepass};
use crate::update::{RowIdent, Status};
use rust_decimal::Decimal;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs the sheet against `dest`. Nothing is sent unless every row is valid (or
/// `skip_invalid`); an error after sending began is never a "nothing was sent" one.
pub(crate) fn run(s: &Settings, dest: &Destination) -> Result<Report, Error> {
    let pre = checked_prepass(s)?;
    // Every later reading of the sheet uses the formats the pre-pass decided.
    let sheet_opts = s.sheet.pinned(&pre.formats);
    if s.restart && !s.restart_resend_additive {
        refuse_double_apply(s, &sheet_opts)?;
    }
    // The journal's first question comes before the checkpoint is made: a refused copy leaves
    // nothing behind.
    let journal_ctx = journaling::context(s, dest, &pre);
    if let Some((ctx, _)) = &journal_ctx {
        journaling::refuse_copy(s, ctx)?;
    }
    let (opened, carried_over) = open_checkpoint(s, &sheet_opts, &pre, &dest.label)?;
    if opened.resumed {
        tracing::info!(checkpoint = %opened.path.display(), "resuming from the checkpoint");
    }
    let (journal, mut skips) = match journal_ctx {
        Some((ctx, kept)) => {
            let internal = |e: rusqlite::Error| Error::Internal(format!("the checkpoint: {e}"));
            let job = checkpoint::job::job_id(&opened.conn, kept).map_err(internal)?;
            let done = checkpoint::job::finished_rows(&opened.conn).map_err(internal)?;
            let (j, skips) = journaling::open(s, ctx, job, &sheet_opts, &pre, &done)?;
            (Some(j), skips)
        }
        None => (None, journaling::Skips::default()),
    };
    if !skips.rows.is_empty() {
        tracing::warn!(
            rows = skips.rows.len(),
            "the journal shows the same additions applied by another job: those rows are not sent"
        );
    }
    let _lock = opened.lock;
    let ctx = Pass {
        s,
        dest,
        pre: &pre,
        sheet_opts: &sheet_opts,
        path: &opened.path,
        compare_content: carried_over.is_some(),
    };
    // With --read-back, rows this pass leaves in doubt are read once more at once: those CAKE
    // shows applied (snapshot + what they add) are settled `updated`. None is read "not
    // applied" now: CAKE may still land a request long after this client gave up, so only a
    // run after the settling bound (`--settle-after`) may send one again.
    let second_journal = journal.as_ref().map(Journal::reopen).transpose()?;
    let keeper = journal.as_ref().map(Journal::reopen).transpose()?;
    let (mut report, mut read) =
        match ctx.run(opened.conn, opened.resumed, journal, &mut skips, false) {
            Ok(done) => done,
            Err(e) => {
                // Refused before sending (the reading found what a person must decide): the
                // journal forgets the job, as if it never began; otherwise the unsent plans go.
                if let Some(j) = &keeper {
                    if e.exit_code() == crate::exit::USAGE {
                        journaling::forget_unsent(j);
                    } else {
                        journaling::release(j);
                    }
                }
                return Err(e);
            }
        };
    let in_doubt = |r: &Report| r.counts.get(&Status::InDoubt).copied().unwrap_or(0);
    if s.read_back.is_some() && report.stop.is_none() && in_doubt(&report) > 0 {
        let (first_resumed, attempts) = (report.resumed, report.attempts);
        let (first_elapsed, first_rate) = (report.elapsed, report.achieved_rate);
        let conn = checkpoint::schema::open_checked(
            &opened.path,
            false,
            checkpoint::schema::Check::AlreadyChecked,
        )
        .map_err(|e| Error::after_sending(e.into()))?;
        (report, read) = ctx.run(conn, true, second_journal, &mut skips, true)?;
        // The run's time is both passes'; its pace, the pass that sent (the second sends only
        // when the first left rows it can settle as not applied).
        if report.attempts == 0 {
            report.achieved_rate = first_rate;
        }
        report.attempts += attempts;
        report.resumed = first_resumed;
        report.elapsed += first_elapsed;
    }
    // What was planned and not sent is withdrawn (another job may send it after all).
    if let Some(j) = &keeper {
        journaling::release(j);
    }
    report.journal_skipped = u64::try_from(skips.rows.len()).unwrap_or(u64::MAX);
    report.journal_skipped_money =
        (!skips.rows.is_empty()).then(|| journaling::skipped_money(&skips));
    report.carried_over = carried_over;
    if let (Some(rb), Some(read)) = (&s.read_back, &read) {
        report.read_back = Some(
            read_back::after(s, rb, &sheet_opts, &pre.duplicates, dest, read)
                .map_err(Error::after_sending)?,
        );
    }
    Ok(report)
}

/// What one pass over the sheet needs.
struct Pass<'a> {
    s: &'a Settings,
    dest: &'a Destination,
    pre: &'a PrePass,
    sheet_opts: &'a SheetOptions,
    path: &'a std::path::Path,
    compare_content: bool,
}

impl Pass<'_> {
    /// Before sending: `--read-back`'s reading, or the snapshot an additive sheet takes
    /// first (which also finds the offers of rows that give none); then the journal's second
    /// look, by the conversion ids the reading found; then each offerless row's offer.
    fn read_first(
        &self,
        conn: &mut rusqlite::Connection,
        journal: Option<&Journal>,
        skips: &mut journaling::Skips,
    ) -> Result<(Option<read_back::ReadBefore>, super::offers::Offers), Error> {
        let Pass {
            s,
            dest,
            pre,
            sheet_opts,
            ..
        } = *self;
        let order = pre.formats.date_order;
        // --read-back: what CAKE holds, before anything is sent (the lock is held).
        let read = if let Some(rb) = &s.read_back {
            read_back::before(
                s,
                rb,
                Reading::ReadBack,
                sheet_opts,
                order,
                &pre.duplicates,
                dest,
                conn,
            )?
        } else if s.resend_in_doubt != super::ResendInDoubt::None {
            // Never resend blind what a reading can settle.
            let rb = read_back::ReadBackSettings {
                version: s.reports.1,
                window: s.reports.0,
                undo: std::path::PathBuf::new(),
            };
            read_back::before(
                s,
                &rb,
                Reading::SettleFirst,
                sheet_opts,
                order,
                &pre.duplicates,
                dest,
                conn,
            )?
        } else {
            None
        };
        // A re-run of an unchanged sheet whose every row is finished sends nothing: its rows
        // need no offer, and CAKE is not read for them. (Should a row be sent after all, it
        // has none and is not sent: `plan::plan_row`.)
        // (`--read-back` reads every row's conversion anyway, and may settle an in-doubt row
        // as not applied, to be sent again.)
        let all_finished = || {
            !self.compare_content
                && s.read_back.is_none()
                && s.resend_in_doubt == super::ResendInDoubt::None
                && checkpoint::job::finished_rows(conn)
                    .is_ok_and(|done| done.len() as u64 >= pre.valid())
        };
        let offers_needed = pre.offerless > 0 && !all_finished();
        let found = if let Some(r) = &read {
            read_back::Found {
                of_row: r.conversion_of.clone(),
                window: r.window,
            }
        } else if pre.additive > 0 || offers_needed {
            read_back::snapshot_first(
                s,
                sheet_opts,
                order,
                &pre.duplicates,
                dest,
                conn,
                offers_needed,
            )?
        } else {
            read_back::Found::default()
        };
        // What the reading found: the journal's second look, by CAKE's conversion ids.
        if let Some(j) = journal
            && pre.additive > 0
            && !found.of_row.is_empty()
        {
            journaling::recheck(s, j, sheet_opts, pre, &found.of_row, skips)?;
        }
        let offers = if offers_needed {
            super::offers::of_rows(s, sheet_opts, &pre.duplicates, &found)?
        } else {
            super::offers::Offers::default()
        };
        Ok((read, offers))
    }

    /// One pass: read CAKE (`--read-back`), then send what is left, the checkpoint writer on
    /// `conn`; `resumed` when the checkpoint holds earlier outcomes; `settling` for the second
    /// pass of a `--read-back` run.
    fn run(
        &self,
        mut conn: rusqlite::Connection,
        resumed: bool,
        journal: Option<checkpoint::journal::Journal>,
        skips: &mut journaling::Skips,
        settling: bool,
    ) -> Result<(Report, Option<read_back::ReadBefore>), Error> {
        let Pass {
            s,
            dest,
            pre,
            sheet_opts,
            ..
        } = *self;
        let (read, offers) = self.read_first(&mut conn, journal.as_ref(), skips)?;
        let prior = resumed.then(|| self.path.to_path_buf());
        let journaled = journal.is_some();
        let (store, store_thread) = Store::start_journaled(conn, self.path.to_path_buf(), journal)?;
        // One thread: when the server shares the machine, a second runtime thread only fights
        // it for the other core (measured; see BENCHMARKS.md). The sheet reader and the
        // checkpoint writer have threads of their own.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
        let report = runtime.block_on(async {
            let endpoint = Endpoint::new(&dest.url, s.api_version, s.transport);
            let client = Client::new(endpoint, dest.key.clone(), s.timeout, s.concurrency)
                .map_err(Error::Internal)?;
            let shared = Arc::new(Shared {
                client,
                gate: RateGate::new(s.rate),
                backoff: Backoff {
                    base: s.retry_base,
                    cap: s.retry_cap,
                    max_attempts: s.max_attempts,
                },
                stopping: AtomicBool::new(false),
                hard_stop: CancellationToken::new(),
                abandoned: std::sync::OnceLock::new(),
                key_refused: AtomicBool::new(false),
                store: store.clone(),
                journaled,
            });
            let writer = ResultsWriter::create_with(
                &s.output,
                &pre.format,
                read.as_ref()
                    .filter(|_| s.read_back.is_some())
                    .map(read_back::ReadBefore::before_cells),
            )
            .map_err(|source| Error::Write {
                what: s.output.display().to_string(),
                source,
            })?;
            if settling {
                tracing::info!("second pass: the rows left in doubt, settled by that reading");
            } else {
                tracing::info!(
                    rows = pre.rows,
                    target = %dest.label,
                    rate = %s.rate,
                    concurrency = s.concurrency,
                    "starting"
                );
            }
            dispatch(
                Dispatch {
                    input: s.input.clone(),
                    sheet: sheet_opts.clone(),
                    duplicates: pre.duplicates.clone(),
                    concurrency: s.concurrency,
                    grace: s.timeout.min(Duration::from_secs(15)),
                    total_rows: pre.rows,
                    show_bar: s.show_progress && std::io::stderr().is_terminal(),
                    prior,
                    rules: Rules {
                        resend_in_doubt: s.resend_in_doubt.clone(),
                        compare_content: self.compare_content,
                        decisions: read
                            .as_ref()
                            .map(|r| r.decisions.clone())
                            .unwrap_or_default(),
                        settled_for_selected_only: s.read_back.is_none(),
                        journal_skips: skips.rows.clone(),
                        landed_by: super::settle::Bound::now(s.settle_after).landed_by,
                        offers,
                    },
                },
                shared,
                writer,
                s.output.clone(),
            )
            .await
        });
        store.finish(&ended(&report));
        let _ = store_thread.join();
        Ok((report.map_err(Error::after_sending)?, read))
    }
}

/// How the run ended, as the checkpoint's `runs` table records it.
fn ended(report: &Result<Report, Error>) -> String {
    match report {
        Ok(r) => match &r.stop {
            None => "finished".to_string(),
            Some(Stop::Interrupted) => "interrupted".to_string(),
            Some(Stop::Aborted(reason)) => format!("aborted: {reason}"),
        },
        Err(e) => format!("aborted: {e}"),
    }
}

/// Validates the whole sheet (and fingerprints it); invalid rows stop the run unless
/// `--skip-invalid`.
fn checked_prepass(s: &Settings) -> Result<PrePass, Error> {
    let mut fingerprinted = s.sheet.clone();
    fingerprinted.read.fingerprint = true;
    let pre = prepass(&s.input, &fingerprinted)?;
    if pre.invalid > 0 && !s.skip_invalid {
        return Err(Error::InvalidRows {
            invalid: pre.invalid,
            rows: pre.rows,
            details: invalid_list(&pre),
        });
    }
    if let Some(asked) = sheet_questions(s, &pre) {
        return Err(Error::Usage(format!("{asked}. Nothing was sent")));
    }
    if pre.invalid > 0 {
        tracing::warn!(
            invalid = pre.invalid,
            "--skip-invalid: invalid rows are not sent"
        );
    }
    Ok(pre)
}

/// What the sheet leaves for the person to decide before anything may be sent — a control
/// total that does not match, rows hidden in the workbook, amounts shown otherwise than stored,
/// rows without an offer and no days to read their conversions' in — as the refusal, for the run and the dry run alike (`None`: nothing is left to decide).
pub(crate) fn sheet_questions(s: &Settings, pre: &PrePass) -> Option<String> {
    let mut asked = Vec::new();
    if !pre.total_mismatches.is_empty() && !s.accept_total_mismatch {
        asked.push(format!(
            "the sheet's total does not match its rows: {}. A control total that differs means \
             a row is missing, extra or wrong: correct the sheet (or its total), or, if the rows \
             are right and the total is not, add --accept-total-mismatch",
            pre.total_mismatches.join("; ")
        ));
    }
    asked.extend(pre.unseen.questions());
    asked.extend(super::offers::question(s, pre));
    (!asked.is_empty()).then(|| asked.join(". Also, "))
}

/// Opens (or creates) the checkpoint; when the sheet changed since it was written, its
/// records follow their rows (and the run says so).
fn open_checkpoint(
    s: &Settings,
    sheet_opts: &SheetOptions,
    pre: &PrePass,
    target_label: &str,
) -> Result<(checkpoint::Opened, Option<CarriedOver>), Error> {
    let fingerprint = &Fingerprint {
        input_path: s.input.display().to_string(),
        input_size: pre.input_size,
        input_sha256: pre.input_sha256.clone(),
        settings: s.fingerprint(target_label),
        rows: pre.valid(),
    };
    let duplicates = &pre.duplicates;
    // Read only when the sheet changed since the checkpoint was written: its rows now.
    let mut sheet_rows = |sink: &mut dyn FnMut(u64, RowIdent)| -> Result<(), String> {
        let mut sheet = Sheet::open(&s.input, sheet_opts).map_err(|e| e.to_string())?;
        // Only the rows that may be sent (a duplicate is not).
        while let Some(row) = sheet.next_row(duplicates).map_err(|e| e.to_string())? {
            if let Ok(u) = row.result {
                sink(u.row, u.ident());
            }
        }
        Ok(())
    };
    let opened = checkpoint::open_for_run(
        &s.checkpoint,
        fingerprint,
        s.restart,
        s.edited_sheet,
        &mut sheet_rows,
    )?;
    let carried_over = opened.carried_over.clone().map(|(moved, what)| {
        tracing::info!(
            same = moved.same,
            changed = moved.changed,
            gone = moved.gone,
            "the sheet changed since the last run: earlier outcomes follow their rows"
        );
        CarriedOver {
            what,
            same: moved.same,
            changed: moved.changed,
            gone: moved.gone,
        }
    });
    Ok((opened, carried_over))
}

/// `--restart` would send again every row the old checkpoint recorded; for an additive row that
/// was applied (or may have been) that adds its money a second time. Refuse, with the count and
/// the money, unless `--restart-resend-additive` says so.
fn refuse_double_apply(s: &Settings, sheet_opts: &SheetOptions) -> Result<(), Error> {
    let rows = checkpoint::applied_additive_rows(&s.checkpoint)?;
    if rows.is_empty() {
        return Ok(());
    }
    // The amounts, as the sheet now has them on those rows.
    let wanted: std::collections::HashSet<u64> = rows.iter().copied().collect();
    let (mut payout, mut received) = (Decimal::ZERO, Decimal::ZERO);
    let mut sheet = Sheet::open(&s.input, sheet_opts)?;
    while let Some(row) = sheet.next_row(&Duplicates::new())? {
        if let Ok(u) = row.result
            && wanted.contains(&row.row)
        {
            let adds = u.additions();
            payout = payout.saturating_add(adds.payout.unwrap_or_default());
            received = received.saturating_add(adds.received.map_or(Decimal::ZERO, |(_, r)| r));
        }
    }
    let shown: Vec<String> = rows.iter().take(10).map(u64::to_string).collect();
    let more = if rows.len() > 10 {
        format!(" and {} more", rows.len() - 10)
    } else {
        String::new()
    };
    Err(Error::Usage(format!(
        "--restart would send again {} additive rows that an earlier run applied or may have \
         applied (rows {}{more}): Σ payout {} and Σ received {} would be added a \
         second time. Nothing was sent. To finish the job instead, run the same command without \
         --restart; if this is a new sheet (next month's), give it results of its own with \
         --output NEW.results.csv; if you really mean to add them again, add \
         --restart-resend-additive",
        rows.len(),
        shown.join(", "),
        grouped(payout),
        grouped(received)
    )))
}

//! The dispatcher: one task that owns all run state.
//!
//! Rows arrive from the sheet reader thread in batches, each with what earlier runs recorded
//! of it in the checkpoint. The dispatcher decides per row (done before, in doubt, or to send),
//! hands rows to at most `concurrency` worker tasks, records outcomes in the checkpoint, and
//! writes results in input order through the one writer. Dispatch may run ahead of the oldest
//! unwritten row by at most [`window_size`] rows, so memory stays flat however long the sheet.

use super::breaker::Breaker;
use super::plan::{Plan, Rules, line, plan_row};
use super::worker::{Abandon, Done, End, Shared, work};
use crate::checkpoint::{OutcomeRecord, Prior, PriorReader};
use crate::error::Error;
use crate::report::output::{ResultLine, ResultsWriter};
use crate::report::progress::Progress;
use crate::report::summary::{Report, Stop};
use crate::sheet::{Sheet, SheetOptions, SheetRow, Totals};
use crate::update::Status;
use crate::update::{ConversionUpdate, Idempotency};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Rows per batch from the reader thread.
const BATCH: usize = 256;

/// How far dispatch may run ahead of the oldest row not yet written.
#[must_use]
pub(super) fn window_size(concurrency: usize) -> usize {
    (concurrency * 64).max(1024)
}

/// Inputs of one dispatch.
pub(super) struct Dispatch {
    pub input: PathBuf,
    pub sheet: SheetOptions,
    pub duplicates: crate::sheet::Duplicates,
    pub concurrency: usize,
    pub grace: Duration,
    pub total_rows: u64,
    pub show_bar: bool,
    /// The checkpoint to read earlier outcomes from (when resuming).
    pub prior: Option<PathBuf>,
    /// What decides each row's plan besides its own record.
    pub rules: Rules,
}

/// A sheet row and what earlier runs recorded of it.
type Item = (SheetRow, Option<Prior>);

/// Streams the sheet (and the checkpoint beside it) on its own thread, in batches.
fn spawn_reader(d: &Dispatch) -> mpsc::Receiver<Result<Vec<Item>, String>> {
    let (tx, rx) = mpsc::channel(4);
    let (input, opts, duplicates, prior) = (
        d.input.clone(),
        d.sheet.clone(),
        d.duplicates.clone(),
        d.prior.clone(),
    );
    std::thread::spawn(move || {
        let send_err = |e: String| {
            let _ = tx.blocking_send(Err(e));
        };
        let mut sheet = match Sheet::open(&input, &opts) {
            Ok(s) => s,
            Err(e) => return send_err(e.to_string()),
        };
        let mut prior = match prior.map(|p| PriorReader::open(&p)).transpose() {
            Ok(p) => p,
            Err(e) => return send_err(e.to_string()),
        };
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match sheet.next_row(&duplicates) {
                Ok(Some(row)) => {
                    let p = match prior.as_mut().map(|p| p.get(row.row)).transpose() {
                        Ok(p) => p.flatten(),
                        Err(e) => return send_err(e),
                    };
                    batch.push((row, p));
                    if batch.len() == BATCH
                        && tx
                            .blocking_send(Ok(std::mem::replace(
                                &mut batch,
                                Vec::with_capacity(BATCH),
                            )))
                            .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    if !batch.is_empty() {
                        let _ = tx.blocking_send(Ok(batch));
                    }
                    return;
                }
                Err(e) => return send_err(e.to_string()),
            }
        }
    });
    rx
}

/// Results waiting for the rows before them, keyed by sequence number.
struct Ordered {
    base: u64,
    slots: VecDeque<Option<ResultLine>>,
}

impl Ordered {
    fn push_slot(&mut self) -> u64 {
        self.slots.push_back(None);
        self.base + self.slots.len() as u64 - 1
    }

    fn fill(&mut self, seq: u64, line: ResultLine) {
        if let Some(slot) = usize::try_from(seq - self.base)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
        {
            *slot = Some(line);
        }
    }

    fn flush(&mut self, writer: &mut ResultsWriter, output: &str) -> Result<(), Error> {
        while let Some(Some(_)) = self.slots.front() {
            if let Some(Some(line)) = self.slots.pop_front() {
                writer.write(&line).map_err(|source| Error::Write {
                    what: output.to_string(),
                    source,
                })?;
            }
            self.base += 1;
        }
        Ok(())
    }
}

/// The run's mutable state, owned by the dispatcher.
struct State {
    ordered: Ordered,
    ready: VecDeque<(u64, ConversionUpdate)>,
    progress: Progress,
    breaker: Breaker,
    report: Report,
    out_name: String,
    /// When this run began (the checkpoint's time format): outcomes recorded since are its own.
    run_started: &'static str,
    /// In-doubt rows `--resend-in-doubt` selected, sent again.
    resent: Vec<ConversionUpdate>,
}

/// When the first pass of this process's run began; a later pass (settling with
/// `--read-back`) finds the earlier passes' outcomes in the checkpoint, and they are still
/// this run's.
fn run_started() -> &'static str {
    static STARTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STARTED.get_or_init(crate::checkpoint::schema::now)
}

impl State {
    fn count(&mut self, status: Status, u: Option<&ConversionUpdate>) {
        *self.report.counts.entry(status).or_default() += 1;
        self.progress.record(status);
        if let (Status::Updated, Some(u)) = (status, u) {
            self.report.job.add(u);
        }
    }

    /// Counts in a row found `updated` without a request of this pass: applied by this run
    /// (an earlier pass) or by an earlier run, as the time of its record says.
    fn count_found_updated(&mut self, u: &ConversionUpdate, recorded_at: Option<&str>) {
        match recorded_at {
            Some(at) if at >= self.run_started => self.report.applied.add(u),
            _ => self.report.earlier.add(recorded_at),
        }
    }

    /// Takes in one batch from the reader: invalid rows and rows finished earlier get their
    /// lines at once, the rest queue for the workers.
    fn take_batch(&mut self, batch: Vec<Item>, shared: &Shared, d: &Dispatch) {
        for (row, prior) in batch {
            let seq = self.ordered.push_slot();
            let recorded_at = prior.as_ref().and_then(|p| p.recorded_at.clone());
            match row.result {
                Err(invalid) => {
                    let status = if invalid.skipped {
                        Status::Skipped
                    } else {
                        Status::Invalid
                    };
                    self.count(status, None);
                    self.ordered
                        .fill(seq, ResultLine::for_invalid(row.row, &invalid));
                }
                Ok(mut update) => match plan_row(&mut update, prior, &d.rules) {
                    Plan::Send => self.ready.push_back((seq, update)),
                    Plan::ResendInDoubt => {
                        self.report.resent_in_doubt += 1;
                        if !matches!(d.rules.resend_in_doubt, super::ResendInDoubt::All) {
                            self.resent.push(update.clone());
                        }
                        self.ready.push_back((seq, update));
                    }
                    Plan::Resend => {
                        self.report.resent_failed += 1;
                        self.ready.push_back((seq, update));
                    }
                    Plan::SendChanged => {
                        self.report.changed += 1;
                        self.ready.push_back((seq, update));
                    }
                    Plan::HeldBack(line) => {
                        self.report.held_back += 1;
                        self.count(line.status, None);
                        self.ordered.fill(seq, *line);
                    }
                    Plan::JournalSkip(line) | Plan::NoOffer(line) => {
                        self.count(line.status, None);
                        self.ordered.fill(seq, *line);
                    }
                    Plan::Done {
                        line,
                        record,
                        moves_intent,
                    } => {
                        if record {
                            shared.store.outcome(OutcomeRecord {
                                row: update.row,
                                ident: update.ident(),
                                kind: update.idempotency(),
                                status: line.status,
                                attempts: line.attempts,
                                http_status: line.http_status,
                                message: line.message.clone(),
                                journal: None,
                                left_by_now: moves_intent,
                            });
                        }
                        // An `unchanged` row was read back now, not finished earlier.
                        if line.status != Status::Unchanged {
                            self.report.resumed += 1;
                        }
                        self.count(line.status, Some(&update));
                        if line.status == Status::Updated {
                            self.count_found_updated(&update, recorded_at.as_deref());
                        }
                        self.ordered.fill(seq, *line);
                    }
                },
            }
        }
    }

    /// Records a worker's result; returns why the run must stop, if it must.
    fn take_done(&mut self, done: Done, shared: &Shared) -> Option<String> {
        self.report.attempts += u64::from(done.attempts);
        let kind = done.update.idempotency();
        let mut stop = None;
        let status = match done.end {
            End::Final(status) => {
                shared.store.outcome(OutcomeRecord {
                    row: done.update.row,
                    ident: done.update.ident(),
                    kind,
                    status,
                    attempts: done.attempts,
                    http_status: done.http_status,
                    message: done.message.clone(),
                    journal: shared
                        .journaled
                        .then(|| Box::new(super::journaling::entry_of(&done.update))),
                    // Every attempt of this row left before now: an unknown outcome's settling
                    // bound counts from here, not from the intent (a Retry-After pause or a
                    // retry may have sent it much later).
                    left_by_now: status == Status::InDoubt,
                });
                self.count(status, Some(&done.update));
                if status == Status::Updated {
                    self.report.applied.add(&done.update);
                }
                // A run-wide stop names its cause: the last row's own failure and where to.
                stop = self.breaker.record(status).map(|r| {
                    format!(
                        "error storm: {r}; the last: row {}: {} (CAKE at {})",
                        done.update.row,
                        done.message,
                        shared.client.base_url()
                    )
                });
                status
            }
            End::Unfinished => {
                // Not applied (an additive row that may have been is in doubt, never here).
                if kind == Idempotency::Additive {
                    shared.store.clear(done.update.row);
                }
                self.report.unfinished += 1;
                // Shown as failed ("not sent: …"); a later run sends it.
                Status::Failed
            }
        };
        tracing::debug!(
            row = done.update.row,
            status = status.as_str(),
            attempts = done.attempts,
            http_status = done.http_status,
            answer = %done.message,
            "row finished"
        );
        self.ordered.fill(
            done.seq,
            line(
                &done.update,
                status,
                done.attempts,
                done.http_status,
                done.message,
            ),
        );
        stop
    }

    fn flush(&mut self, writer: &mut ResultsWriter) -> Result<(), Error> {
        self.ordered.flush(writer, &self.out_name)
    }
}

/// Runs the whole sheet through the workers.
#[expect(
    clippy::too_many_lines,
    reason = "the event loop: one select over every event source keeps all state in one owner"
)]
pub(super) async fn dispatch(
    d: Dispatch,
    shared: Arc<Shared>,
    mut writer: ResultsWriter,
    output: PathBuf,
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut rows = spawn_reader(&d);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let window = window_size(d.concurrency);
    let mut st = State {
        ordered: Ordered {
            base: 0,
            slots: VecDeque::with_capacity(window),
        },
        ready: VecDeque::new(),
        progress: Progress::new(d.total_rows, d.show_bar),
        breaker: Breaker::default(),
        report: Report {
            counts: HashMap::new(),
            unfinished: 0,
            resumed: 0,
            resent_failed: 0,
            changed: 0,
            held_back: 0,
            journal_skipped: 0,
            journal_skipped_money: None,
            carried_over: None,
            read_back: None,
            resent_in_doubt: 0,
            resend_unmatched: Vec::new(),
            applied: Totals::default(),
            job: Totals::default(),
            earlier: crate::report::summary::Earlier::default(),
            attempts: 0,
            achieved_rate: None,
            elapsed: Duration::ZERO,
            stop: None,
            output: output.clone(),
        },
        out_name: output.display().to_string(),
        run_started: run_started(),
        resent: Vec::new(),
    };
    let mut in_flight = 0usize;
    let mut reader_done = false;
    let mut stop: Option<Stop> = None;
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    let mut signals = super::shutdown::Signals::watch().map_err(|e| Error::Usage(e.to_string()))?;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));

    loop {
        while stop.is_none() && in_flight < d.concurrency {
            let Some((seq, update)) = st.ready.pop_front() else {
                break;
            };
            in_flight += 1;
            let shared = Arc::clone(&shared);
            let tx = done_tx.clone();
            tokio::spawn(async move {
                let done = work(&shared, seq, update).await;
                let _ = tx.send(done);
            });
        }
        if in_flight == 0 && (stop.is_some() || (reader_done && st.ready.is_empty())) {
            break;
        }
        let can_read = stop.is_none()
            && !reader_done
            && st.ready.len() < d.concurrency
            && st.ordered.slots.len() < window;
        tokio::select! {
            Some(done) = done_rx.recv() => {
                in_flight -= 1;
                if let Some(reason) = st.take_done(done, &shared) {
                    stop.get_or_insert(Stop::Aborted(reason));
                }
                st.flush(&mut writer)?;
            }
            batch = rows.recv(), if can_read => match batch {
                Some(Ok(batch)) => {
                    st.take_batch(batch, &shared, &d);
                    st.flush(&mut writer)?;
                }
                Some(Err(e)) => {
                    reader_done = true;
                    stop.get_or_insert(Stop::Aborted(format!("reading the sheet or checkpoint failed ({e}); was a file changed during the run?")));
                }
                None => reader_done = true,
            },
            () = signals.recv(), if !shared.hard_stop.is_cancelled() => {
                if stop.is_none() {
                    tracing::warn!("interrupted: finishing requests in flight, then stopping (interrupt again to abandon them)");
                    stop = Some(Stop::Interrupted);
                } else {
                    tracing::warn!(in_flight, "interrupted again: abandoning requests in flight");
                    shared.abandon(Abandon::SecondInterrupt);
                    grace_deadline = None;
                }
            }
            () = async { if let Some(t) = grace_deadline { tokio::time::sleep_until(t).await } }, if grace_deadline.is_some() => {
                tracing::warn!(in_flight, "grace period over: abandoning requests in flight");
                shared.abandon(Abandon::GraceOver);
                grace_deadline = None;
            }
            _ = ticker.tick() => st.progress.maybe_log(),
        }
        if stop.is_none() {
            if shared.key_refused.load(Ordering::SeqCst) {
                stop = Some(Stop::Aborted(
                    "CAKE answered Invalid API Key (give this instance's admin API key in \
                     CAKE_API_KEY or --api-key-file; no row was applied with it)"
                        .into(),
                ));
            } else if let Some(failure) = shared.store.failure() {
                stop = Some(Stop::Aborted(failure));
            }
        }
        // Once stopping: no new attempts; in-flight ones get a grace period, then are abandoned.
        if stop.is_some() && grace_deadline.is_none() && !shared.hard_stop.is_cancelled() {
            shared.stopping.store(true, Ordering::SeqCst);
            grace_deadline = Some(tokio::time::Instant::now() + d.grace);
        }
    }

    // Whatever was not sent still gets its line: queued rows, then the rest of the sheet.
    if let Some(s) = &stop {
        let why = match s {
            Stop::Interrupted => {
                "not sent: the run was interrupted; run the same command again to send it"
                    .to_string()
            }
            Stop::Aborted(reason) => format!(
                "not sent: the run stopped ({reason}); run the same command again to send it"
            ),
        };
        let drain = |st: &mut State, seq: u64, u: &ConversionUpdate| {
            st.report.unfinished += 1;
            st.ordered
                .fill(seq, line(u, Status::Failed, 0, None, why.clone()));
        };
        while let Some((seq, update)) = st.ready.pop_front() {
            drain(&mut st, seq, &update);
        }
        st.flush(&mut writer)?;
        while !reader_done {
            match rows.recv().await {
                Some(Ok(batch)) => {
                    // Earlier runs' outcomes still count; unsent rows stay unsent.
                    st.take_batch(batch, &shared, &d);
                    while let Some((seq, update)) = st.ready.pop_front() {
                        drain(&mut st, seq, &update);
                    }
                    st.flush(&mut writer)?;
                }
                Some(Err(_)) | None => reader_done = true,
            }
        }
    }
    st.progress.finish();
    // Outcomes are durable before the results file claims them.
    if let Err(e) = shared.store.flush().await {
        stop.get_or_insert(Stop::Aborted(e));
    }
    let path = writer.finish().map_err(|source| Error::Write {
        what: st.out_name.clone(),
        source,
    })?;
    st.report.output = path;
    st.report.elapsed = started.elapsed();
    st.report.achieved_rate = shared.gate.achieved();
    if stop.is_none() {
        st.report.resend_unmatched = d.rules.resend_in_doubt.unmatched(&st.resent);
    }
    st.report.stop = stop;
    Ok(st.report)
}

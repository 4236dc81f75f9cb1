//! The dispatcher: one task that owns all run state.
//!
//! Rows arrive from the sheet reader thread in batches; the dispatcher hands valid rows to at
//! most `concurrency` worker tasks, collects what they report, and writes results in input
//! order through the one writer. Dispatch may run ahead of the oldest unfinished row by at most
//! [`window_size`] rows, so memory stays flat however long the sheet is.

use super::breaker::Breaker;
use super::worker::{Done, End, Shared, work};
use crate::error::Error;
use crate::report::output::{ResultLine, ResultsWriter, Status, update_cells};
use crate::report::progress::Progress;
use crate::sheet::{Sheet, SheetError, SheetOptions, SheetRow, Totals};
use crate::update::ConversionUpdate;
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
pub fn window_size(concurrency: usize) -> usize {
    (concurrency * 64).max(1024)
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT/SIGTERM.
    Interrupted,
    /// A run-wide failure: the reason.
    Aborted(String),
}

/// What the dispatcher reports at the end.
#[derive(Debug)]
pub struct Report {
    pub counts: HashMap<Status, u64>,
    /// Rows not finished by this run (a later run sends them).
    pub unfinished: u64,
    /// Sums over the rows CAKE confirmed.
    pub updated: Totals,
    /// Requests sent (all attempts).
    pub attempts: u64,
    pub elapsed: Duration,
    pub stop: Option<Stop>,
    pub output: PathBuf,
}

/// Inputs of one dispatch.
pub struct Dispatch {
    pub input: PathBuf,
    pub sheet: SheetOptions,
    pub duplicates: HashMap<u64, (String, Vec<u64>)>,
    pub concurrency: usize,
    pub grace: Duration,
    pub total_rows: u64,
    pub show_bar: bool,
}

/// Streams the sheet on its own thread, in batches.
fn spawn_reader(
    input: PathBuf,
    opts: SheetOptions,
    duplicates: HashMap<u64, (String, Vec<u64>)>,
) -> mpsc::Receiver<Result<Vec<SheetRow>, SheetError>> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut sheet = match Sheet::open(&input, &opts) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match sheet.next_row(&duplicates) {
                Ok(Some(row)) => {
                    batch.push(row);
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
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
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

fn unfinished_line(u: &ConversionUpdate, message: &str) -> ResultLine {
    ResultLine {
        row: u.row,
        cells: update_cells(u),
        status: Status::Failed,
        attempts: 0,
        http_status: None,
        message: message.to_string(),
    }
}

/// Runs the whole sheet through the workers.
pub async fn dispatch(
    d: Dispatch,
    shared: Arc<Shared>,
    mut writer: ResultsWriter,
    output: PathBuf,
) -> Result<Report, Error> {
    let started = Instant::now();
    let out_name = output.display().to_string();
    let mut rows = spawn_reader(d.input.clone(), d.sheet.clone(), d.duplicates.clone());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let window = window_size(d.concurrency);
    let mut ordered = Ordered {
        base: 0,
        slots: VecDeque::with_capacity(window),
    };
    let mut ready: VecDeque<(u64, ConversionUpdate)> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut reader_done = false;
    let mut stop: Option<Stop> = None;
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    let mut progress = Progress::new(d.total_rows, d.show_bar);
    let mut breaker = Breaker::default();
    let mut report = Report {
        counts: HashMap::new(),
        unfinished: 0,
        updated: Totals::default(),
        attempts: 0,
        elapsed: Duration::ZERO,
        stop: None,
        output: output.clone(),
    };
    let signal = crate::shutdown_signal();
    tokio::pin!(signal);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));

    loop {
        while stop.is_none() && in_flight < d.concurrency {
            let Some((seq, update)) = ready.pop_front() else {
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
        if in_flight == 0 && (stop.is_some() || (reader_done && ready.is_empty())) {
            break;
        }
        let can_read = stop.is_none()
            && !reader_done
            && ready.len() < d.concurrency
            && ordered.slots.len() < window;
        tokio::select! {
            Some(done) = done_rx.recv() => {
                in_flight -= 1;
                report.attempts += u64::from(done.attempts);
                let line = ResultLine {
                    row: done.update.row,
                    cells: update_cells(&done.update),
                    status: match done.end { End::Final(s) => s, End::Unfinished => Status::Failed },
                    attempts: done.attempts,
                    http_status: done.http_status,
                    message: done.message,
                };
                match done.end {
                    End::Final(status) => {
                        *report.counts.entry(status).or_default() += 1;
                        progress.record(status);
                        if status == Status::Updated {
                            report.updated.add(&done.update);
                        }
                        if stop.is_none() && let Some(reason) = breaker.record(status) {
                            stop = Some(Stop::Aborted(format!("error storm: {reason}")));
                        }
                    }
                    End::Unfinished => report.unfinished += 1,
                }
                ordered.fill(done.seq, line);
                ordered.flush(&mut writer, &out_name)?;
                if shared.key_refused.load(Ordering::SeqCst) && stop.is_none() {
                    stop = Some(Stop::Aborted("CAKE answered Invalid API Key".into()));
                }
            }
            batch = rows.recv(), if can_read => match batch {
                Some(Ok(batch)) => {
                    for row in batch {
                        let seq = ordered.push_slot();
                        match row.result {
                            Ok(update) => ready.push_back((seq, update)),
                            Err(invalid) => {
                                *report.counts.entry(Status::Invalid).or_default() += 1;
                                progress.record(Status::Invalid);
                                ordered.fill(seq, ResultLine::for_invalid(row.row, &invalid));
                            }
                        }
                    }
                    ordered.flush(&mut writer, &out_name)?;
                }
                Some(Err(e)) => {
                    reader_done = true;
                    stop = Some(Stop::Aborted(format!("the sheet could not be read a second time ({e}); was it changed during the run?")));
                }
                None => reader_done = true,
            },
            () = &mut signal, if stop.is_none() => {
                tracing::warn!("interrupted: finishing requests in flight, then stopping");
                stop = Some(Stop::Interrupted);
            }
            () = async { if let Some(t) = grace_deadline { tokio::time::sleep_until(t).await } }, if grace_deadline.is_some() => {
                tracing::warn!(in_flight, "grace period over: abandoning requests in flight");
                shared.hard_stop.cancel();
                grace_deadline = None;
            }
            _ = ticker.tick() => progress.maybe_log(),
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
        for (seq, update) in ready.drain(..) {
            report.unfinished += 1;
            ordered.fill(seq, unfinished_line(&update, &why));
        }
        ordered.flush(&mut writer, &out_name)?;
        while !reader_done {
            match rows.recv().await {
                Some(Ok(batch)) => {
                    for row in batch {
                        let seq = ordered.push_slot();
                        let line = match row.result {
                            Ok(update) => {
                                report.unfinished += 1;
                                unfinished_line(&update, &why)
                            }
                            Err(invalid) => {
                                *report.counts.entry(Status::Invalid).or_default() += 1;
                                ResultLine::for_invalid(row.row, &invalid)
                            }
                        };
                        ordered.fill(seq, line);
                    }
                    ordered.flush(&mut writer, &out_name)?;
                }
                Some(Err(_)) | None => reader_done = true,
            }
        }
    }
    progress.finish();
    let path = writer.finish().map_err(|source| Error::Write {
        what: out_name,
        source,
    })?;
    report.output = path;
    report.elapsed = started.elapsed();
    report.stop = stop;
    Ok(report)
}

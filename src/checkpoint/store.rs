//! The checkpoint writer: one thread owns the `SQLite` connection and commits in groups.
//!
//! Intents (an additive row is about to be sent) are committed durably before the request
//! leaves; every intent waiting at that moment shares one transaction (group commit), and any
//! outcomes waiting ride along. Outcomes alone are committed when [`OUTCOME_BATCH`] are waiting
//! or the oldest has waited [`OUTCOME_DELAY`] — never one transaction per row. A failed commit
//! (a full disk, an I/O error) is final: the run stops (exit 3) and is resumable; the commit is
//! never retried, since after a failed fsync the page cache can no longer be trusted.

use super::CheckpointError;
use super::journal::{Journal, JournalEntry};
use super::schema::now;
use crate::update::Status;
use crate::update::{Idempotency, RowIdent};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Outcomes waiting before a commit is forced.
pub(super) const OUTCOME_BATCH: usize = 512;
/// The longest an outcome waits for its commit.
pub(super) const OUTCOME_DELAY: Duration = Duration::from_millis(200);

/// A row's final outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub row: u64,
    /// What the row is, so a re-run of an edited sheet finds this record.
    pub ident: RowIdent,
    pub kind: Idempotency,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: String,
    /// The update as the journal keeps it, when this run sent the row (an idempotent row is
    /// journaled here; an additive one was journaled with its intent). `None`: an outcome
    /// decided without sending (settled by reading back, found in doubt): only an open
    /// journal entry of the row changes.
    pub journal: Option<Box<JournalEntry>>,
    /// Every request of this row left before this record (an in-doubt outcome of this run, or
    /// one found after a stop): its `intent_at` moves to the time of the record, so the
    /// settling bound (`--settle-after`) counts from the last moment a request can have left.
    pub left_by_now: bool,
}

enum Cmd {
    Intent {
        row: u64,
        ident: RowIdent,
        entry: Option<Box<JournalEntry>>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Outcome(OutcomeRecord),
    /// The row ended without being applied (never sent, or refused before any work): its
    /// intent no longer means "may have been sent".
    Clear(u64),
    Flush(oneshot::Sender<Result<(), String>>),
    /// The run is over: commit, note how it ended, stop the thread.
    End(String),
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
    failed: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Starts the writer thread on `conn`, recording a new run.
    pub fn start(
        conn: Connection,
        path: PathBuf,
    ) -> Result<(Self, std::thread::JoinHandle<()>), CheckpointError> {
        Self::start_journaled(conn, path, None)
    }

    /// [`Self::start`], every group also written to `journal` (first: an intent is in the
    /// journal before it is in the checkpoint, and both before the request leaves).
    pub(crate) fn start_journaled(
        conn: Connection,
        path: PathBuf,
        journal: Option<Journal>,
    ) -> Result<(Self, std::thread::JoinHandle<()>), CheckpointError> {
        conn.execute(
            "INSERT INTO runs(started_at, pid, host) VALUES (?1, ?2, ?3)",
            params![now(), std::process::id(), super::lock::hostname()],
        )
        .map_err(|e| CheckpointError::sql(&path, &e))?;
        let run_id = conn.last_insert_rowid();
        let (tx, rx) = mpsc::channel();
        let failed = Arc::new(Mutex::new(None));
        let thread_failed = Arc::clone(&failed);
        let handle = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || writer(conn, journal, &path, run_id, &rx, &thread_failed))
            .map_err(|e| CheckpointError::Io {
                path: PathBuf::from("checkpoint thread"),
                source: e,
            })?;
        Ok((Self { tx, failed }, handle))
    }

    /// Why the checkpoint stopped working, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records durably that `row` is about to be sent; returns once committed.
    pub async fn intent(&self, row: u64, ident: RowIdent) -> Result<(), String> {
        self.intent_journaled(row, ident, None).await
    }

    /// [`Self::intent`], with the update as the journal keeps it.
    pub(crate) async fn intent_journaled(
        &self,
        row: u64,
        ident: RowIdent,
        entry: Option<Box<JournalEntry>>,
    ) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Intent {
                row,
                ident,
                entry,
                reply,
            })
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Records an outcome (committed with the next batch).
    pub fn outcome(&self, rec: OutcomeRecord) {
        let _ = self.tx.send(Cmd::Outcome(rec));
    }

    /// Withdraws `row`'s intent: it was not applied.
    pub fn clear(&self, row: u64) {
        let _ = self.tx.send(Cmd::Clear(row));
    }

    /// Commits everything waiting; returns once durable.
    pub async fn flush(&self) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Flush(reply))
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Records how the run ended (best effort) and stops the writer thread.
    pub fn finish(self, ended: &str) {
        let _ = self.tx.send(Cmd::End(ended.to_string()));
    }

    fn stopped(&self) -> String {
        self.failure()
            .unwrap_or_else(|| "the checkpoint writer stopped".into())
    }
}

/// Where a durable commit is confirmed (or its failure told).
type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Pending {
    intents: Vec<(u64, RowIdent, Option<Box<JournalEntry>>, Reply)>,
    outcomes: Vec<OutcomeRecord>,
    clears: Vec<u64>,
    flushes: Vec<oneshot::Sender<Result<(), String>>>,
    oldest: Option<Instant>,
    ended: Option<String>,
}

impl Pending {
    fn take(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Intent {
                row,
                ident,
                entry,
                reply,
            } => self.intents.push((row, ident, entry, reply)),
            Cmd::Outcome(rec) => {
                self.oldest.get_or_insert_with(Instant::now);
                self.outcomes.push(rec);
            }
            Cmd::Clear(row) => self.clears.push(row),
            Cmd::Flush(reply) => self.flushes.push(reply),
            Cmd::End(how) => self.ended = Some(how),
        }
    }

    fn urgent(&self) -> bool {
        !self.intents.is_empty()
            || !self.flushes.is_empty()
            || self.ended.is_some()
            || self.outcomes.len() >= OUTCOME_BATCH
            || self.oldest.is_some_and(|t| t.elapsed() >= OUTCOME_DELAY)
    }

    fn is_empty(&self) -> bool {
        self.intents.is_empty()
            && self.outcomes.is_empty()
            && self.clears.is_empty()
            && self.flushes.is_empty()
            && self.ended.is_none()
    }
}

fn commit(conn: &mut Connection, p: &Pending, run_id: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let at = now();
    {
        let mut intent = tx.prepare_cached(
            "INSERT INTO rows(row, kind, intent_at, key, content) VALUES (?1, 'additive', ?2, ?3, ?4)
             ON CONFLICT(row) DO UPDATE SET kind = 'additive', intent_at = excluded.intent_at,
               status = NULL, key = excluded.key, content = excluded.content",
        )?;
        let sql_row = |r: u64| i64::try_from(r).unwrap_or(i64::MAX);
        for (row, ident, _, _) in &p.intents {
            intent.execute(params![sql_row(*row), at, ident.key, ident.content])?;
        }
        let mut clear = tx.prepare_cached("DELETE FROM rows WHERE row = ?1 AND status IS NULL")?;
        for row in &p.clears {
            clear.execute(params![sql_row(*row)])?;
        }
        let mut outcome = tx.prepare_cached(
            "INSERT INTO rows(row, kind, status, attempts, http_status, message, finished_at,
               key, content, intent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?10 THEN ?7 END)
             ON CONFLICT(row) DO UPDATE SET kind = excluded.kind, status = excluded.status,
               attempts = excluded.attempts, http_status = excluded.http_status,
               message = excluded.message, finished_at = excluded.finished_at,
               key = excluded.key, content = excluded.content,
               intent_at = CASE WHEN ?10 THEN ?7 ELSE rows.intent_at END",
        )?;
        for o in &p.outcomes {
            outcome.execute(params![
                sql_row(o.row),
                o.kind.as_str(),
                o.status.as_str(),
                o.attempts,
                o.http_status,
                o.message,
                at,
                o.ident.key,
                o.ident.content,
                o.left_by_now
            ])?;
        }
        if let Some(ended) = &p.ended {
            tx.execute(
                "UPDATE runs SET finished_at = ?1, ended = ?2 WHERE id = ?3",
                params![at, ended, run_id],
            )?;
        }
    }
    tx.commit()
}

/// Writes the group's journal lines (before the checkpoint's transaction).
fn journal_group(journal: &mut Journal, p: &Pending) -> rusqlite::Result<()> {
    let intents: Vec<&JournalEntry> = p.intents.iter().filter_map(|i| i.2.as_deref()).collect();
    let outcomes: Vec<(u64, &str, Option<&JournalEntry>)> = p
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.status,
                Status::Updated | Status::Rejected | Status::Failed | Status::InDoubt
            )
        })
        .map(|o| (o.row, o.status.as_str(), o.journal.as_deref()))
        .collect();
    journal.write_group(&intents, &outcomes, &p.clears)
}

fn writer(
    mut conn: Connection,
    mut journal: Option<Journal>,
    path: &Path,
    run_id: i64,
    rx: &mpsc::Receiver<Cmd>,
    failed: &Mutex<Option<String>>,
) {
    let mut pending = Pending::default();
    let mut open = true;
    while open {
        // Wait for work, then take everything already queued: that is the group.
        let wait = pending
            .oldest
            .map_or(OUTCOME_DELAY, |t| OUTCOME_DELAY.saturating_sub(t.elapsed()));
        match rx.recv_timeout(wait) {
            Ok(cmd) => pending.take(cmd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        while let Ok(cmd) = rx.try_recv() {
            pending.take(cmd);
        }
        if pending.is_empty() || (open && !pending.urgent()) {
            continue;
        }
        let done = std::mem::take(&mut pending);
        // Bind first: a guard in the match scrutinee would live through the arms (deadlock).
        let earlier = failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let result = match earlier {
            Some(earlier) => Err(earlier),
            None => journal
                .as_mut()
                .map_or(Ok(()), |j| {
                    journal_group(j, &done).map_err(|e| {
                        format!(
                            "the journal {} could not be written: {e}",
                            j.path().display()
                        )
                    })
                })
                .and_then(|()| {
                    commit(&mut conn, &done, run_id).map_err(|e| {
                        format!("checkpoint {} could not be written: {e}", path.display())
                    })
                })
                .inspect_err(|msg| {
                    *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(msg.clone());
                }),
        };
        for (_, _, _, reply) in done.intents {
            let _ = reply.send(result.clone());
        }
        for reply in done.flushes {
            let _ = reply.send(result.clone());
        }
        if done.ended.is_some() {
            return;
        }
    }
}

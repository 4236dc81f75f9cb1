//! The journal: every update cake-recon sent to a CAKE instance, across jobs.
//!
//! A job's checkpoint knows its own rows, but a sheet's identity is not its file name: people
//! copy, rename (`june (1).csv`), link and re-export sheets, and each copy would start a job
//! of its own with an empty checkpoint. The journal sits outside any one job (by default under
//! the user's data directory, shareable with `--journal PATH`) and records, keyed by the whole
//! base URL of the instance:
//!
//! - `sheets`: which sheet bytes (SHA-256) a job began sending, under which name and path;
//! - `sent`: every update a job sent — an additive row *before* its request leaves (in the
//!   same group commit as the checkpoint's intent, and before it), an idempotent row with its
//!   outcome (sending it twice changes nothing, so it never waits for a disk) — with what it
//!   sets and adds, and how it ended.
//!
//! Before sending, a run asks it two questions: were these bytes applied by another job (the
//! run is refused), and was the same addition to the same conversion applied, or may it have
//! been, by another job lately (those rows are `skipped`). It is `SQLite` like the
//! checkpoint, so `sqlite3 journal.sqlite` answers questions this tool does not.
//!
//! ```sql
//! -- What did cake-recon do to conversion 7?
//! SELECT sent_at, payout, received, disposition, outcome, sheet_name FROM sent
//!  WHERE key LIKE '%|7|%|%' ORDER BY id;
//! ```

use super::CheckpointError;
pub(crate) use super::journal_file::{default_path, instance_key, open_db};
use super::schema::now;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Which job is writing, and what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobContext {
    /// The whole base URL, scheme to path.
    pub instance: String,
    /// The job's id (kept in its checkpoint).
    pub job: String,
    pub checkpoint: String,
    pub sheet_sha256: String,
    pub sheet_name: String,
    pub sheet_path: String,
}

/// One update as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JournalEntry {
    pub row: u64,
    pub key: String,
    pub payout: String,
    pub received: String,
    pub received_option: String,
    pub disposition: String,
    pub note: String,
    /// CAKE's conversion id, when the row names it by that id (or a reading found it).
    pub conversion_id: Option<i32>,
    /// What the row adds, canonical (see `engine`); `None`: it only sets values.
    pub addition: Option<String>,
}

/// An earlier job that sent the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EarlierSheet {
    pub name: String,
    pub path: String,
    pub checkpoint: String,
    pub at: String,
}

/// An earlier job that applied (or may have applied) the same addition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EarlierAddition {
    pub sheet_name: String,
    pub checkpoint: String,
    pub sent_at: String,
    /// `updated`, `in_doubt`, or `None` (sent, no outcome recorded: a crash).
    pub outcome: Option<String>,
    /// `Some(row)`: it was this very job, from its sheet row `row` naming the conversion by
    /// another id (the sheet was re-keyed between runs, or two rows name one conversion).
    pub own_row: Option<u64>,
}

/// An open journal, for one job.
pub(crate) struct Journal {
    conn: Connection,
    path: PathBuf,
    ctx: JobContext,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens the journal at `path` for the job `ctx`.
    pub(crate) fn open(path: &Path, ctx: JobContext) -> Result<Self, CheckpointError> {
        let conn = open_db(path, true)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            ctx,
        })
    }

    /// Another connection to the same journal for the same job (a second pass of a run).
    pub(crate) fn reopen(&self) -> Result<Self, CheckpointError> {
        Self::open(&self.path, self.ctx.clone())
    }

    /// Opens an existing journal read only (a dry run asks, never records).
    pub(crate) fn open_read_only(path: &Path, ctx: JobContext) -> Result<Self, CheckpointError> {
        let conn = open_db(path, false)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            ctx,
        })
    }

    /// The instance this journal's job sends to.
    pub(crate) fn instance(&self) -> &str {
        &self.ctx.instance
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, e: &rusqlite::Error) -> CheckpointError {
        CheckpointError::journal(&self.path, e)
    }

    /// Another job that sent these very bytes to this instance (and sent something).
    pub(crate) fn sheet_sent_by_another_job(
        &self,
    ) -> Result<Option<EarlierSheet>, CheckpointError> {
        self.conn
            .query_row(
                "SELECT name, path, checkpoint, at FROM sheets s
                  WHERE instance = ?1 AND sha256 = ?2 AND job <> ?3
                    AND EXISTS (SELECT 1 FROM sent WHERE sent.job = s.job
                                  AND sent.sheet_sha256 = s.sha256
                                  AND (outcome IS NULL OR outcome <> 'not_sent'))
                  ORDER BY id LIMIT 1",
                params![self.ctx.instance, self.ctx.sheet_sha256, self.ctx.job],
                |r| {
                    Ok(EarlierSheet {
                        name: r.get(0)?,
                        path: r.get(1)?,
                        checkpoint: r.get(2)?,
                        at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(&e))
    }

    /// True when another job sent an addition to this instance within `days` (cheap: decides
    /// whether the sheet must be read for [`Self::earlier_addition`] at all).
    pub(crate) fn others_added_lately(&self, days: u32) -> Result<bool, CheckpointError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sent WHERE instance = ?1 AND job <> ?2
                   AND addition IS NOT NULL AND sent_at >= ?3)",
                params![self.ctx.instance, self.ctx.job, since(days)],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(&e))
    }

    /// The earliest other job that applied, or may have applied, `addition` to `key` within
    /// `days`.
    pub(crate) fn earlier_addition(
        &self,
        key: &str,
        conversion_id: Option<i32>,
        addition: &str,
        days: u32,
    ) -> Result<Option<EarlierAddition>, CheckpointError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sheet_name, checkpoint, sent_at, outcome FROM sent
                  WHERE instance = ?1 AND addition = ?3 AND job <> ?4
                    AND (key = ?2 OR (?6 IS NOT NULL AND conversion_id = ?6))
                    AND sent_at >= ?5
                    AND (outcome IS NULL OR outcome IN ('updated', 'in_doubt', 'planned'))
                  ORDER BY id LIMIT 1",
            )
            .map_err(|e| self.sql(&e))?;
        stmt.query_row(
            params![
                self.ctx.instance,
                key,
                addition,
                self.ctx.job,
                since(days),
                conversion_id
            ],
            |r| {
                Ok(EarlierAddition {
                    sheet_name: r.get(0)?,
                    checkpoint: r.get(1)?,
                    sent_at: r.get(2)?,
                    outcome: r.get(3)?,
                    own_row: None,
                })
            },
        )
        .optional()
        .map_err(|e| self.sql(&e))
    }

    /// After a reading found the conversion `conversion_id` for a row named `own_key`: the
    /// earliest line, of any job, that applied (or may have applied, or is about to apply)
    /// `addition` to that conversion under any of the keys it can be named by (`keys`, see
    /// `update::keys_naming`) or by its conversion id. This job's own lines count too, except
    /// those under `own_key` (the row itself: its checkpoint answers for it).
    pub(crate) fn earlier_addition_to(
        &self,
        own_key: &str,
        keys: &[String],
        conversion_id: i32,
        addition: &str,
        days: u32,
    ) -> Result<Option<EarlierAddition>, CheckpointError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sheet_name, checkpoint, sent_at, outcome, job = ?4, row FROM sent
                  WHERE instance = ?1 AND addition = ?3
                    AND (job <> ?4 OR key <> ?2)
                    AND (key IN (SELECT value FROM json_each(?7)) OR conversion_id = ?6)
                    AND sent_at >= ?5
                    AND (outcome IS NULL OR outcome IN ('updated', 'in_doubt', 'planned'))
                  ORDER BY id LIMIT 1",
            )
            .map_err(|e| self.sql(&e))?;
        // A list of strings always serialises.
        let keys = serde_json::to_string(keys).unwrap_or_default();
        stmt.query_row(
            params![
                self.ctx.instance,
                own_key,
                addition,
                self.ctx.job,
                since(days),
                conversion_id,
                keys
            ],
            |r| {
                let own: bool = r.get(4)?;
                let row: i64 = r.get(5)?;
                Ok(EarlierAddition {
                    sheet_name: r.get(0)?,
                    checkpoint: r.get(1)?,
                    sent_at: r.get(2)?,
                    outcome: r.get(3)?,
                    own_row: own.then(|| u64::try_from(row).unwrap_or(0)),
                })
            },
        )
        .optional()
        .map_err(|e| self.sql(&e))
    }

    /// Begins the claim: an exclusive write transaction, so another job's checks wait until
    /// this job's sheet and planned additions are recorded (two copies started at once cannot
    /// both pass the checks).
    pub(crate) fn begin_claim(&self) -> Result<(), CheckpointError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sql(&e))?;
        // Plans a stopped run of this job left behind are this job's own: made anew now.
        self.release_plans()
    }

    /// An exclusive write transaction that keeps this job's plans (a second look after
    /// reading CAKE).
    pub(crate) fn begin_claim_keeping_plans(&self) -> Result<(), CheckpointError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sql(&e))
    }

    /// Ends the claim: commits (`keep`) or rolls back.
    pub(crate) fn end_claim(&self, keep: bool) -> Result<(), CheckpointError> {
        self.conn
            .execute_batch(if keep { "COMMIT" } else { "ROLLBACK" })
            .map_err(|e| self.sql(&e))
    }

    /// Records that this job is about to send `e` (an additive row): another job's check sees
    /// it as "may have been applied" from now on, until it is sent (its intent takes this
    /// line over) or withdrawn ([`Self::release_plans`]).
    pub(crate) fn plan(&self, e: &JournalEntry) -> Result<(), CheckpointError> {
        insert_line(&self.conn, &self.ctx, e, &now(), Some("planned")).map_err(|e| self.sql(&e))
    }

    /// A reading found the conversion this job's planned `row` names by another id: kept, so
    /// another job that names it by its conversion id sees this addition. `true` when `row` is planned in this run (a row already done has no plan).
    pub(crate) fn resolve(&self, row: u64, conversion_id: i32) -> Result<bool, CheckpointError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE sent SET conversion_id = ?1 WHERE job = ?2 AND row = ?3
                   AND outcome = 'planned'",
            )
            .map_err(|e| self.sql(&e))?;
        stmt.execute(params![
            conversion_id,
            self.ctx.job,
            i64::try_from(row).unwrap_or(i64::MAX)
        ])
        .map(|n| n > 0)
        .map_err(|e| self.sql(&e))
    }

    /// Withdraws the plan of one row the journal holds back after all.
    pub(crate) fn withdraw(&self, row: u64) -> Result<(), CheckpointError> {
        self.conn
            .execute(
                "DELETE FROM sent WHERE job = ?1 AND row = ?2 AND outcome = 'planned'",
                params![self.ctx.job, i64::try_from(row).unwrap_or(i64::MAX)],
            )
            .map(|_| ())
            .map_err(|e| self.sql(&e))
    }

    /// Withdraws this job's plans that were never sent (the run is over).
    pub(crate) fn release_plans(&self) -> Result<(), CheckpointError> {
        self.conn
            .execute(
                "DELETE FROM sent WHERE job = ?1 AND outcome = 'planned'",
                [&self.ctx.job],
            )
            .map(|_| ())
            .map_err(|e| self.sql(&e))
    }

    /// Withdraws a job that was refused before it sent anything: its plans, and its record of
    /// the sheet when nothing of the job is left (a copy of the sheet is then not "already
    /// applied": it never was).
    pub(crate) fn forget_unsent_job(&self) -> Result<(), CheckpointError> {
        self.release_plans()?;
        self.conn
            .execute(
                "DELETE FROM sheets WHERE job = ?1
                 AND NOT EXISTS (SELECT 1 FROM sent WHERE sent.job = ?1)",
                [&self.ctx.job],
            )
            .map(|_| ())
            .map_err(|e| self.sql(&e))
    }

    /// Records that this job begins sending this sheet.
    pub(crate) fn record_sheet(&self) -> Result<(), CheckpointError> {
        let c = &self.ctx;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO sheets(instance, sha256, name, path, job, checkpoint, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.instance,
                    c.sheet_sha256,
                    c.sheet_name,
                    c.sheet_path,
                    c.job,
                    c.checkpoint,
                    now()
                ],
            )
            .map(|_| ())
            .map_err(|e| self.sql(&e))
    }

    /// Writes one group: intents (additive rows about to leave), outcomes of rows sent this
    /// run (`Some(entry)`: insert it when it had no intent), settled outcomes (`None`: only an
    /// open entry of the row changes), and withdrawn intents. One transaction.
    pub(crate) fn write_group(
        &mut self,
        intents: &[&JournalEntry],
        outcomes: &[(u64, &str, Option<&JournalEntry>)],
        cleared: &[u64],
    ) -> rusqlite::Result<()> {
        if intents.is_empty() && outcomes.is_empty() && cleared.is_empty() {
            return Ok(());
        }
        let at = now();
        let c = &self.ctx;
        // IMMEDIATE: the write lock is taken (waiting on busy_timeout) before anything is read,
        // so a commit of another job in between cannot fail this one (a deferred transaction
        // that read first would get SQLITE_BUSY at once, with no wait).
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut close = tx.prepare_cached(
                "UPDATE sent SET outcome = ?1, outcome_at = ?2
                  WHERE id = (SELECT max(id) FROM sent WHERE job = ?3 AND row = ?4
                               AND (outcome IS NULL OR outcome = 'in_doubt'))",
            )?;
            let sql_row = |r: u64| i64::try_from(r).unwrap_or(i64::MAX);
            let add =
                |e: &JournalEntry, outcome: Option<&str>| insert_line(&tx, c, e, &at, outcome);
            let mut sent_now = tx.prepare_cached(
                "UPDATE sent SET sent_at = ?1, outcome = NULL, outcome_at = NULL, payout = ?2,
                   received = ?3, received_option = ?4, disposition = ?5, note = ?6,
                   addition = ?7, key = ?8
                  WHERE id = (SELECT max(id) FROM sent WHERE job = ?9 AND row = ?10
                               AND outcome = 'planned')",
            )?;
            for e in intents {
                let claimed = sent_now.execute(params![
                    at,
                    e.payout,
                    e.received,
                    e.received_option,
                    e.disposition,
                    e.note,
                    e.addition,
                    e.key,
                    c.job,
                    sql_row(e.row)
                ])?;
                if claimed == 0 {
                    add(e, None)?;
                }
            }
            for (row, outcome, entry) in outcomes {
                // An idempotent row sent this run has no line yet (it is journaled with its
                // outcome, never with an intent): one insert, no lookup.
                if let Some(e) = entry.filter(|e| e.addition.is_none()) {
                    add(e, Some(outcome))?;
                    continue;
                }
                let changed = close.execute(params![outcome, at, c.job, sql_row(*row)])?;
                if changed == 0
                    && let Some(e) = entry
                {
                    add(e, Some(outcome))?;
                }
            }
            for row in cleared {
                close.execute(params!["not_sent", at, c.job, sql_row(*row)])?;
            }
        }
        tx.commit()
    }
}

/// Inserts one line for `e` sent (or planned: `outcome` `planned`) at `at`.
fn insert_line(
    conn: &Connection,
    c: &JobContext,
    e: &JournalEntry,
    at: &str,
    outcome: Option<&str>,
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO sent(instance, job, checkpoint, sheet_sha256, sheet_name, row, key,
           payout, received, received_option, disposition, note, addition, sent_at,
           outcome, outcome_at, conversion_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
           CASE WHEN ?15 IS NOT NULL AND ?15 <> 'planned' THEN ?14 END, ?16)",
    )?;
    insert.execute(params![
        c.instance,
        c.job,
        c.checkpoint,
        c.sheet_sha256,
        c.sheet_name,
        i64::try_from(e.row).unwrap_or(i64::MAX),
        e.key,
        e.payout,
        e.received,
        e.received_option,
        e.disposition,
        e.note,
        e.addition,
        at,
        outcome,
        e.conversion_id
    ])?;
    Ok(())
}

/// The earliest `sent_at` a lookback of `days` covers.
fn since(days: u32) -> String {
    (chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests;

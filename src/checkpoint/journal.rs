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
use super::schema::now;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sheets (
    id         INTEGER PRIMARY KEY,
    instance   TEXT NOT NULL,          -- the whole base URL
    sha256     TEXT NOT NULL,          -- the sheet's bytes
    name       TEXT NOT NULL,          -- its file name then
    path       TEXT NOT NULL,
    job        TEXT NOT NULL,          -- the job (checkpoint) that sent it
    checkpoint TEXT NOT NULL,
    at         TEXT NOT NULL,          -- UTC, when the job began sending it
    UNIQUE (instance, sha256, job)
);
CREATE TABLE IF NOT EXISTS sent (
    id              INTEGER PRIMARY KEY,
    instance        TEXT NOT NULL,
    job             TEXT NOT NULL,
    checkpoint      TEXT NOT NULL,
    sheet_sha256    TEXT NOT NULL,
    sheet_name      TEXT NOT NULL,
    row             INTEGER NOT NULL,
    key             TEXT NOT NULL,     -- offer|conversion_id|request_session_id|transaction_id
    payout          TEXT NOT NULL,     -- as the results file shows it: '' unchanged, +3.00 adds
    received        TEXT NOT NULL,
    received_option TEXT NOT NULL,
    disposition     TEXT NOT NULL,
    note            TEXT NOT NULL,     -- the note appended, '' none
    conversion_id   INTEGER,           -- CAKE's conversion id, when the row gives it or a reading found it
    addition        TEXT,              -- what the row adds, canonical; NULL: idempotent
    sent_at         TEXT NOT NULL,     -- UTC; for an additive row, before the request left
    outcome         TEXT,              -- updated | rejected | failed | in_doubt | not_sent | planned; NULL: unknown
    outcome_at      TEXT
);
CREATE INDEX IF NOT EXISTS sent_addition ON sent(key, addition) WHERE addition IS NOT NULL;
CREATE INDEX IF NOT EXISTS sent_conversion ON sent(conversion_id, addition)
    WHERE addition IS NOT NULL;
CREATE INDEX IF NOT EXISTS sent_job_row ON sent(job, row);
";

/// Where the journal lives when neither `--journal` nor `CAKE_RECON_JOURNAL` says:
/// `$XDG_DATA_HOME/cake-recon/journal.sqlite`, else `~/.local/share/cake-recon/…`.
#[must_use]
pub(crate) fn default_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(data.join("cake-recon").join("journal.sqlite"))
}

/// The instance a journal line belongs to: the base URL as the server reads it — scheme and
/// host lowercased, the default port dropped, `.` and `..` resolved, no trailing slash — so
/// `HTTPS://Admin.Example.com:443/` and `https://admin.example.com` are one instance. (Two names
/// of one server, e.g. a host and its IP address, are not recognised as one.)
#[must_use]
pub(crate) fn instance_key(url: &str) -> String {
    let url = url.trim();
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let mut key = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
            if let Some(port) = u.port() {
                key.push(':');
                key.push_str(&port.to_string());
            }
            key.push_str(u.path().trim_end_matches('/'));
            key
        }
        Err(_) => url.trim_end_matches('/').to_lowercase(),
    }
}

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

/// Opens (creating when missing) the journal database at `path`.
pub(crate) fn open_db(path: &Path, create: bool) -> Result<Connection, CheckpointError> {
    if create && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).map_err(|e| CheckpointError::io(dir, e))?;
    }
    if create && !path.exists() {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(path).map_err(|e| CheckpointError::io(path, e))?;
    }
    let flags = if create {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
    } | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| CheckpointError::journal(path, &e))?;
    refuse_foreign(&conn, path)?;
    let setup = |c: &Connection| -> rusqlite::Result<()> {
        // Other jobs and cron ticks share this file: wait for their short commits.
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        if create {
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "FULL")?;
            c.execute_batch(SCHEMA)?;
        }
        Ok(())
    };
    setup(&conn).map_err(|e| CheckpointError::journal(path, &e))?;
    Ok(conn)
}

/// Refuses a journal whose schema is not exactly ours (a trigger in a shared journal would run
/// inside every job that writes it), before any other statement; triggers and views are off
/// on this connection whatever the file holds. A new, empty file passes.
fn refuse_foreign(conn: &Connection, path: &Path) -> Result<(), CheckpointError> {
    let sql = |e: rusqlite::Error| CheckpointError::journal(path, &e);
    super::schema::defend(conn).map_err(sql)?;
    let empty: bool = conn
        .query_row("SELECT count(*) = 0 FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sql)?;
    if empty {
        return Ok(());
    }
    match super::schema::schema_difference(conn, &[SCHEMA], &[]).map_err(sql)? {
        None => Ok(()),
        Some(why) => Err(CheckpointError::NotAJournal {
            path: path.to_path_buf(),
            why,
        }),
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
        self.conn
            .execute(
                "DELETE FROM sent WHERE job = ?1 AND outcome = 'planned'",
                [&self.ctx.job],
            )
            .map(|_| ())
            .map_err(|e| self.sql(&e))
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
        let c = &self.ctx;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO sent(instance, job, checkpoint, sheet_sha256, sheet_name, row, key,
                   payout, received, received_option, disposition, note, addition, sent_at,
                   outcome, outcome_at, conversion_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'planned',
                   NULL, ?15)",
            )
            .map_err(|e| self.sql(&e))?;
        stmt.execute(params![
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
            now(),
            e.conversion_id
        ])
        .map(|_| ())
        .map_err(|e| self.sql(&e))
    }

    /// A reading found the conversion this job's planned `row` names by another id: kept, so
    /// another job that names it by its conversion id sees this addition.
    pub(crate) fn resolve(&self, row: u64, conversion_id: i32) -> Result<(), CheckpointError> {
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
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO sent(instance, job, checkpoint, sheet_sha256, sheet_name, row, key,
                   payout, received, received_option, disposition, note, addition, sent_at,
                   outcome, outcome_at, conversion_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                   ?17)",
            )?;
            let mut close = tx.prepare_cached(
                "UPDATE sent SET outcome = ?1, outcome_at = ?2
                  WHERE id = (SELECT max(id) FROM sent WHERE job = ?3 AND row = ?4
                               AND (outcome IS NULL OR outcome = 'in_doubt'))",
            )?;
            let sql_row = |r: u64| i64::try_from(r).unwrap_or(i64::MAX);
            let mut add = |e: &JournalEntry, outcome: Option<&str>| {
                insert.execute(params![
                    c.instance,
                    c.job,
                    c.checkpoint,
                    c.sheet_sha256,
                    c.sheet_name,
                    sql_row(e.row),
                    e.key,
                    e.payout,
                    e.received,
                    e.received_option,
                    e.disposition,
                    e.note,
                    e.addition,
                    at,
                    outcome,
                    outcome.map(|_| at.as_str()),
                    e.conversion_id
                ])
            };
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

/// The earliest `sent_at` a lookback of `days` covers.
fn since(days: u32) -> String {
    (chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A job's id, kept in its checkpoint's `meta`: made when first asked for (`keep` carries
/// one over a `--restart`, which is the same job started over).
pub(crate) fn job_id(conn: &Connection, keep: Option<String>) -> rusqlite::Result<String> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'job_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = stored {
        return Ok(id);
    }
    let id = keep.unwrap_or_else(|| {
        use rand::{Rng as _, SeedableRng as _};
        let n: u128 = rand::rngs::StdRng::from_os_rng().random();
        format!("{n:032x}")
    });
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('job_id', ?1)",
        [&id],
    )?;
    Ok(id)
}

/// The rows a job's checkpoint has finished and will not send again (every outcome but
/// `failed`, which the same command sends again): no plan is made for them.
pub(crate) fn finished_rows(conn: &Connection) -> rusqlite::Result<std::collections::HashSet<u64>> {
    let mut stmt =
        conn.prepare("SELECT row FROM rows WHERE status IS NOT NULL AND status <> 'failed'")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
        .collect()
}

/// Reads a job id from an existing checkpoint, if it has one (best effort: used only to carry
/// it over a `--restart`).
pub(crate) fn stored_job_id(conn: &Connection) -> Option<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'job_id'", [], |r| {
        r.get(0)
    })
    .optional()
    .ok()
    .flatten()
}

/// One line of `cake-recon history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct HistoryLine {
    pub sent_at: String,
    pub instance: String,
    pub key: String,
    pub payout: String,
    pub received: String,
    pub received_option: String,
    pub disposition: String,
    pub note: String,
    pub outcome: String,
    pub sheet_name: String,
    pub row: u64,
    pub checkpoint: String,
}

/// What `history` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    pub instance: Option<String>,
    /// A conversion id, request session id or transaction id, as a row names it.
    pub conversion: Option<String>,
    /// UTC days, both inclusive, of `sent_at`.
    pub since: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
}

/// Every journaled update matching `q`, oldest first.
pub(crate) fn history(path: &Path, q: &HistoryQuery) -> Result<Vec<HistoryLine>, CheckpointError> {
    let conn = open_db(path, false)?;
    let sql = |e: rusqlite::Error| CheckpointError::journal(path, &e);
    let mut stmt = conn
        .prepare(
            "SELECT sent_at, instance, key, payout, received, received_option, disposition,
                    note, coalesce(outcome, 'unknown (no answer recorded)'), sheet_name, row,
                    checkpoint
               FROM sent
              WHERE (outcome IS NULL OR outcome <> 'planned')
                AND (?1 IS NULL OR instance = ?1)
                AND (?2 IS NULL OR sent_at >= ?2)
                AND (?3 IS NULL OR sent_at < ?3)
              ORDER BY id",
        )
        .map_err(sql)?;
    let since = q.since.map(|d| format!("{d}T00:00:00"));
    let until = q
        .until
        .and_then(|d| d.succ_opt())
        .map(|d| format!("{d}T00:00:00"));
    let rows = stmt
        .query_map(params![q.instance, since, until], |r| {
            Ok(HistoryLine {
                sent_at: r.get(0)?,
                instance: r.get(1)?,
                key: r.get(2)?,
                payout: r.get(3)?,
                received: r.get(4)?,
                received_option: r.get(5)?,
                disposition: r.get(6)?,
                note: r.get(7)?,
                outcome: r.get(8)?,
                sheet_name: r.get(9)?,
                row: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
                checkpoint: r.get(11)?,
            })
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for line in rows {
        let line = line.map_err(sql)?;
        if q.conversion
            .as_deref()
            .is_none_or(|c| names_conversion(&line.key, c))
        {
            out.push(line);
        }
    }
    Ok(out)
}

/// True when the key `offer|conversion_id|request_session_id|transaction_id` names `id` by
/// any of its ids (the transaction id is everything after the third `|`).
fn names_conversion(key: &str, id: &str) -> bool {
    let mut parts = key.splitn(4, '|');
    let _offer = parts.next();
    parts.any(|p| !p.is_empty() && p != "0" && p == id)
}

/// The ids of a key, in words (`conversion 7`, `transaction T7`).
#[must_use]
pub(crate) fn key_in_words(key: &str) -> String {
    let mut parts = key.splitn(4, '|');
    let _offer = parts.next();
    let names = ["conversion", "request session", "transaction"];
    let words: Vec<String> = names
        .iter()
        .zip(parts)
        .filter(|(_, v)| !v.is_empty() && *v != "0")
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    if words.is_empty() {
        key.to_string()
    } else {
        words.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(job: &str, sha: &str) -> JobContext {
        JobContext {
            instance: "https://cake.example".into(),
            job: job.into(),
            checkpoint: format!("{job}.checkpoint"),
            sheet_sha256: sha.into(),
            sheet_name: "bonus.csv".into(),
            sheet_path: "/x/bonus.csv".into(),
        }
    }

    fn entry(row: u64, key: &str, addition: Option<&str>) -> JournalEntry {
        JournalEntry {
            row,
            key: key.into(),
            payout: "+2.00".into(),
            addition: addition.map(Into::into),
            ..JournalEntry::default()
        }
    }

    #[test]
    fn another_job_sees_the_sheet_and_the_additions_this_one_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j").join("journal.sqlite");
        let mut job_a = Journal::open(&path, ctx("a", "s1")).unwrap();
        job_a.record_sheet().unwrap();
        let first = entry(2, "0|7||", Some("payout+2"));
        job_a.write_group(&[&first], &[], &[]).unwrap();
        // Job a itself is not "another job".
        assert!(job_a.sheet_sent_by_another_job().unwrap().is_none());
        assert!(
            job_a
                .earlier_addition("0|7||", None, "payout+2", 90)
                .unwrap()
                .is_none()
        );
        let job_b = Journal::open(&path, ctx("b", "s1")).unwrap();
        let earlier = job_b.sheet_sent_by_another_job().unwrap().unwrap();
        assert_eq!(earlier.name, "bonus.csv");
        assert!(job_b.others_added_lately(90).unwrap());
        // Sent without an outcome yet (a crash): may have applied.
        let hit = job_b
            .earlier_addition("0|7||", None, "payout+2", 90)
            .unwrap()
            .unwrap();
        assert_eq!(hit.outcome, None);
        assert!(
            job_b
                .earlier_addition("0|7||", None, "payout+3", 90)
                .unwrap()
                .is_none()
        );
        assert!(
            job_b
                .earlier_addition("0|8||", None, "payout+2", 90)
                .unwrap()
                .is_none()
        );
        // Refused by CAKE: it did not apply, so it does not count.
        job_a
            .write_group(&[], &[(2, "rejected", None)], &[])
            .unwrap();
        assert!(
            job_b
                .earlier_addition("0|7||", None, "payout+2", 90)
                .unwrap()
                .is_none()
        );
        // Withdrawn intents (never sent) do not make the sheet "applied".
        let job_c = Journal::open(&path, ctx("c", "s2")).unwrap();
        job_c.record_sheet().unwrap();
        let mut job_c = job_c;
        let second = entry(3, "0|9||", Some("payout+2"));
        job_c.write_group(&[&second], &[], &[3]).unwrap();
        let job_d = Journal::open(&path, ctx("d", "s2")).unwrap();
        assert!(job_d.sheet_sent_by_another_job().unwrap().is_none());
    }

    #[test]
    fn one_instance_however_its_url_is_written() {
        let one = instance_key("https://admin.example.com");
        for other in [
            "HTTPS://Admin.Example.COM",
            "https://admin.example.com/",
            "https://admin.example.com:443",
            "https://admin.example.com/./",
            " https://admin.example.com ",
        ] {
            assert_eq!(instance_key(other), one, "{other}");
        }
        assert_ne!(instance_key("https://admin.example.com:8443"), one);
        assert_ne!(instance_key("http://admin.example.com"), one);
        assert_eq!(
            instance_key("http://127.0.0.1:8080/cake/"),
            "http://127.0.0.1:8080/cake"
        );
    }

    #[test]
    fn history_finds_a_conversion_by_any_of_its_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let mut a = Journal::open(&path, ctx("a", "s1")).unwrap();
        let e = entry(2, "0|7||T|7", Some("payout+2"));
        let idem = entry(3, "0|0||T7", None);
        a.write_group(
            &[&e],
            &[(2, "updated", None), (3, "updated", Some(&idem))],
            &[],
        )
        .unwrap();
        let all = history(&path, &HistoryQuery::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all.first().map(|l| l.outcome.as_str()), Some("updated"));
        let seven = HistoryQuery {
            conversion: Some("7".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(history(&path, &seven).unwrap().len(), 1);
        let t7 = HistoryQuery {
            conversion: Some("T7".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(history(&path, &t7).unwrap().len(), 1);
        assert_eq!(key_in_words("0|7|0|"), "conversion 7");
        assert_eq!(key_in_words("0|0|0|T|7"), "transaction T|7");
    }
}

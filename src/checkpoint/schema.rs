//! The checkpoint's `SQLite` schema: readable with any `SQLite` tool, versioned, integrity-checked.
//!
//! ```sql
//! -- Which rows are in doubt?
//! SELECT row, message FROM rows WHERE status = 'in_doubt'
//!    OR (status IS NULL AND intent_at IS NOT NULL);
//! ```

use super::CheckpointError;
use crate::update::Status;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::Path;

/// The on-disk format version; a checkpoint of another version is refused.
pub const FORMAT_VERSION: &str = "2";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One record per row that was ever about to be sent or finished.
CREATE TABLE IF NOT EXISTS rows (
    row         INTEGER PRIMARY KEY,   -- spreadsheet row number (header = 1)
    kind        TEXT NOT NULL,         -- idempotent | additive
    intent_at   TEXT,                  -- additive rows: committed before the request left
    status      TEXT,                  -- updated | rejected | failed | in_doubt; NULL = no outcome
    attempts    INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    message     TEXT,
    finished_at TEXT,
    key         TEXT NOT NULL,         -- the conversion: offer|conversion_id|request_session_id|transaction_id
    content     TEXT NOT NULL          -- digest of every value the row sends
);
CREATE INDEX IF NOT EXISTS rows_status ON rows(status);
-- Records of rows an edited sheet no longer holds: kept, so a row put back is recognised.
CREATE TABLE IF NOT EXISTS retired (
    id          INTEGER PRIMARY KEY,
    row         INTEGER NOT NULL,      -- where it stood in the sheet it was sent from
    kind        TEXT NOT NULL,
    intent_at   TEXT,
    status      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    message     TEXT,
    finished_at TEXT,
    key         TEXT NOT NULL,
    content     TEXT NOT NULL,
    retired_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    ended       TEXT                   -- finished | interrupted | aborted: REASON
);
";

/// The snapshot table (`--read-back`). Made on demand too: a checkpoint made before a run with
/// `--read-back` has none yet.
pub(crate) const SNAPSHOT_TABLE: &str = "
-- Read back before the first send (--read-back): what each conversion held then. Kept from
-- the first reading: later readings may already show this job's changes.
CREATE TABLE IF NOT EXISTS snapshot (
    conversion_id  INTEGER PRIMARY KEY,
    offer_id       INTEGER,
    paid           TEXT,
    received       TEXT,
    sale_amount    TEXT,
    disposition    TEXT,               -- pending | rejected | approved | returned; NULL = none
    disposition_id INTEGER,
    last_updated   TEXT,               -- CAKE-local
    read_at        TEXT NOT NULL       -- UTC, as the checkpoint writes times
);
";

/// Now, as the checkpoint writes times (UTC, ISO 8601).
#[must_use]
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The first status the checkpoint records that this version does not know, and on how many
/// rows. Walks the status index one distinct value at a time (a seek each), so a million-row
/// checkpoint costs a handful of lookups, not a scan.
pub(crate) fn unknown_status(conn: &Connection) -> rusqlite::Result<Option<(String, u64)>> {
    let mut next = conn.prepare(
        "SELECT status FROM rows WHERE status IS NOT NULL AND status > ?1 ORDER BY status LIMIT 1",
    )?;
    let mut after = String::new();
    while let Some(status) = next
        .query_row([&after], |r| r.get::<_, String>(0))
        .optional()?
    {
        if Status::from_str_opt(&status).is_none() {
            let rows: i64 = conn.query_row(
                "SELECT COUNT(*) FROM rows WHERE status = ?1",
                [&status],
                |r| r.get(0),
            )?;
            return Ok(Some((status, u64::try_from(rows).unwrap_or(0))));
        }
        after = status;
    }
    Ok(None)
}

/// Additive rows an earlier run applied or may have applied (`updated`, `in_doubt`, or an
/// intent without an outcome), in row order: what a restart would send a second time.
pub(crate) fn additive_maybe_applied(conn: &Connection) -> rusqlite::Result<Vec<u64>> {
    let mut stmt = conn.prepare(
        "SELECT row FROM rows WHERE kind = 'additive' AND (status IN ('updated', 'in_doubt') \
         OR (status IS NULL AND intent_at IS NOT NULL)) ORDER BY row",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
        .collect()
}

/// Checks the first bytes: an `SQLite` database, or not a checkpoint at all.
fn looks_like_sqlite(path: &Path) -> Result<bool, CheckpointError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).map_err(|e| CheckpointError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f
            .read(head.get_mut(n..).unwrap_or_default())
            .map_err(|e| CheckpointError::io(path, e))?
        {
            0 => break,
            k => n += k,
        }
    }
    Ok(n == 16 && &head == b"SQLite format 3\0")
}

/// Applies the connection settings every checkpoint connection uses.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed intent survives power loss, not just a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Creates a new checkpoint at `path` (mode 0600) with the given metadata.
pub fn create(path: &Path, meta: &[(String, String)]) -> Result<Connection, CheckpointError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path).map_err(|e| CheckpointError::io(path, e))?;
    let mut conn = Connection::open(path).map_err(|e| CheckpointError::sql(path, &e))?;
    configure(&conn).map_err(|e| CheckpointError::sql(path, &e))?;
    let tx = conn
        .transaction()
        .map_err(|e| CheckpointError::sql(path, &e))?;
    tx.execute_batch(SCHEMA)
        .map_err(|e| CheckpointError::sql(path, &e))?;
    tx.execute_batch(SNAPSHOT_TABLE)
        .map_err(|e| CheckpointError::sql(path, &e))?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('format_version', ?1)",
        params![FORMAT_VERSION],
    )
    .map_err(|e| CheckpointError::sql(path, &e))?;
    for (k, v) in meta {
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            params![k, v],
        )
        .map_err(|e| CheckpointError::sql(path, &e))?;
    }
    tx.commit().map_err(|e| CheckpointError::sql(path, &e))?;
    Ok(conn)
}

/// How much to check when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `SQLite`'s integrity check (a full scan) and our metadata.
    Full,
    /// Our metadata only: for a second connection to a file this process just checked.
    AlreadyChecked,
}

/// Opens an existing checkpoint, refusing anything that is not a sound checkpoint of ours.
pub fn open(path: &Path, read_only: bool) -> Result<Connection, CheckpointError> {
    open_checked(path, read_only, Check::Full)
}

/// [`open`], choosing whether to run the integrity check.
pub fn open_checked(
    path: &Path,
    read_only: bool,
    check: Check,
) -> Result<Connection, CheckpointError> {
    if !looks_like_sqlite(path)? {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            why: "it is not an SQLite database".into(),
        });
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| CheckpointError::sql(path, &e))?;
    if read_only {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| CheckpointError::sql(path, &e))?;
    } else {
        configure(&conn).map_err(|e| CheckpointError::corrupt(path, &e.to_string()))?;
    }
    if check == Check::Full {
        let result: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| CheckpointError::corrupt(path, &e.to_string()))?;
        if result != "ok" {
            return Err(CheckpointError::corrupt(path, &result));
        }
    }
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|_| CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            why: "it has no cake-recon metadata".into(),
        })?;
    match version.as_deref() {
        Some(FORMAT_VERSION) => Ok(conn),
        Some(v) => Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            why: format!(
                "it is format version {v}, this cake-recon reads version {FORMAT_VERSION}"
            ),
        }),
        None => Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            why: "it has no format version".into(),
        }),
    }
}

/// Every `meta` entry.
pub fn read_meta(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT key, value FROM meta ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

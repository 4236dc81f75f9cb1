//! The checkpoint's `SQLite` schema: readable with any `SQLite` tool, versioned, integrity-checked.
//!
//! ```sql
//! -- Which rows are in doubt?
//! SELECT row, message FROM rows WHERE status = 'in_doubt'
//!    OR (status IS NULL AND intent_at IS NOT NULL);
//! ```

use super::CheckpointError;
use super::shape::{Object, difference, shape};
use crate::update::Status;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use std::collections::BTreeMap;
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

/// Tables the code makes on an existing checkpoint when it first needs them
/// ([`super::snapshot::ensure`]): a checkpoint of this format may lack these (and their indexes),
/// nothing else. A migration that adds a table to [`FORMAT_VERSION`]'s shape names it here.
const LAZY_TABLES: &[&str] = &["snapshot"];

/// The shape a checkpoint of [`FORMAT_VERSION`] has: made the way [`create`] makes it.
fn our_shape() -> rusqlite::Result<BTreeMap<String, Object>> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(SNAPSHOT_TABLE)?;
    shape(&conn)
}

/// Refuses a database whose schema is not exactly a checkpoint's: the same tables with the same
/// columns, declared types, keys and defaults, the same indexes, and nothing else — no trigger
/// (it would run inside cake-recon on our writes), no view, no other table. Only the tables
/// cake-recon adds on demand ([`LAZY_TABLES`]) may be missing. Runs before any other statement
/// of ours touches the file.
fn check_shape(conn: &Connection, path: &Path) -> Result<(), CheckpointError> {
    let not_ours = |why: String| CheckpointError::NotACheckpoint {
        path: path.to_path_buf(),
        why,
    };
    let theirs = shape(conn).map_err(|e| match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) => CheckpointError::corrupt(path, &e.to_string()),
        Some(ErrorCode::NotADatabase) => not_ours("it is not an SQLite database".into()),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) | None => {
            CheckpointError::sql(path, &e)
        }
        Some(_) => not_ours(format!("its schema cannot be read: {e}")),
    })?;
    let ours = our_shape().map_err(|e| CheckpointError::sql(path, &e))?;
    if theirs != ours
        && theirs.get("meta") == ours.get("meta")
        && let Ok(v) = conn.query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        && v != FORMAT_VERSION
    {
        // Another version's checkpoint: say that rather than which table differs.
        return Err(not_ours(format!(
            "it is format version {v}, this cake-recon reads version {FORMAT_VERSION}"
        )));
    }
    difference(&theirs, &ours, LAZY_TABLES).map_or(Ok(()), |why| Err(not_ours(why)))
}

/// What no connection to a file of ours allows, whatever the file holds: triggers never fire, views
/// never run, functions in the schema are not trusted, and the file cannot be corrupted on
/// purpose through SQL (`SQLITE_DBCONFIG_DEFENSIVE`).
pub(crate) fn defend(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    Ok(())
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
    defend(&conn).map_err(|e| CheckpointError::sql(path, &e))?;
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

/// Refuses a file at `path` that is not a checkpoint of ours by its schema alone — cheap (no
/// integrity scan), read-only, nothing of it run: for configuration to ask before anything else
/// happens. A missing or empty file passes (it becomes a new checkpoint).
pub fn refuse_foreign(path: &Path) -> Result<(), CheckpointError> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(());
    }
    open_ours(path, true).map(drop)
}

/// Opens `path` with the defences on and checks that its schema is a checkpoint's, before any
/// other statement runs.
fn open_ours(path: &Path, read_only: bool) -> Result<Connection, CheckpointError> {
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
    defend(&conn).map_err(|e| CheckpointError::sql(path, &e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| CheckpointError::sql(path, &e))?;
    // Ours, exactly, before any statement of ours reads or writes it.
    check_shape(&conn, path)?;
    Ok(conn)
}

/// [`open`], choosing whether to run the integrity check.
pub fn open_checked(
    path: &Path,
    read_only: bool,
    check: Check,
) -> Result<Connection, CheckpointError> {
    let conn = open_ours(path, read_only)?;
    if !read_only {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::shape::normalized;

    /// A checkpoint made by [`create`], then changed by `sql` (run by a plain connection, as
    /// any `SQLite` tool would).
    fn made(dir: &Path, sql: &str) -> std::path::PathBuf {
        let h = sql
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let path = dir.join(format!("c{h:x}.ckpt"));
        drop(create(&path, &[]).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        path
    }

    fn why(path: &Path) -> String {
        match open(path, false) {
            Err(CheckpointError::NotACheckpoint { why, .. }) => why,
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    #[test]
    fn our_shapes_open_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        open(&made(dir.path(), ""), false).unwrap();
        // Made before --read-back existed: the snapshot table comes on demand.
        open(&made(dir.path(), "DROP TABLE snapshot;"), true).unwrap();
        for (sql, words) in [
            (
                "CREATE TRIGGER t BEFORE INSERT ON runs BEGIN DELETE FROM rows; END;",
                "trigger \"t\"",
            ),
            ("CREATE VIEW v AS SELECT 1;", "view \"v\""),
            ("CREATE TABLE x (a);", "table \"x\""),
            ("CREATE INDEX rows_key ON rows(key);", "index \"rows_key\""),
            ("DROP INDEX rows_status;", "no index \"rows_status\""),
            (
                "ALTER TABLE runs ADD COLUMN z INTEGER;",
                "extra column z INTEGER",
            ),
            (
                "DROP TABLE meta; CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
                "column value BLOB NOT NULL, where cake-recon has value TEXT NOT NULL",
            ),
            (
                "DROP TABLE runs; CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT \
                 NOT NULL, finished_at TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL COLLATE \
                 NOCASE, ended TEXT);",
                "table \"runs\" has another declaration",
            ),
            (
                "UPDATE meta SET value = '1' WHERE key = 'format_version'; DROP TABLE retired;",
                "format version 1",
            ),
        ] {
            let path = made(dir.path(), sql);
            let why = why(&path);
            assert!(why.contains(words), "{sql}: {why}");
        }
    }

    #[test]
    fn declarations_compare_without_comments_or_spacing() {
        assert_eq!(
            normalized("CREATE TABLE a (\n  x TEXT, -- note\n  y /* z */ INT\n)"),
            normalized("create table a(x text,y int)")
        );
        assert_ne!(
            normalized("CREATE TABLE a (x TEXT)"),
            normalized("CREATE TABLE a (x TEXT COLLATE NOCASE)")
        );
        assert_ne!(
            normalized("CREATE TABLE a (x TEXT DEFAULT 'a -- b')"),
            normalized("CREATE TABLE a (x TEXT DEFAULT 'a')")
        );
    }
}

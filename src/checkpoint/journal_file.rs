//! The journal's file: where it lives, its schema, and opening it (only a file whose schema is
//! exactly ours, see `journal.rs`).

use super::CheckpointError;
use rusqlite::Connection;
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
            c.pragma_update(None, "synchronous", "FULL")?;
            // In a write transaction, so two jobs that meet a new journal take turns (the
            // busy timeout applies; a bare CREATE racing another would fail at once).
            c.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))?;
            into_wal(c)?;
        }
        Ok(())
    };
    setup(&conn).map_err(|e| CheckpointError::journal(path, &e))?;
    Ok(conn)
}

/// Puts the journal in WAL mode (readers never wait for a writer) once, when it is new.
/// Changing the mode needs the file to itself, and `SQLite` answers "busy" at once rather than
/// waiting when another job has it open: so only a journal not yet in WAL mode is changed,
/// and a busy answer is tried again, a bounded number of times.
fn into_wal(c: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0u32;
    loop {
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match c.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if tries < 300
                    && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
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
    match super::shape::schema_difference(conn, &[SCHEMA], &[]).map_err(sql)? {
        None => Ok(()),
        Some(why) => Err(CheckpointError::NotAJournal {
            path: path.to_path_buf(),
            why,
        }),
    }
}

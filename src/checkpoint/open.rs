//! Opening the checkpoint for a run: lock first, then create it or check that it belongs to this
//! input and these settings.

use super::rekey::{Rekeyed, SheetRows, rekey};
use super::{CheckpointError, lock, schema};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// What identifies a run: the input file and every setting that changes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub input_path: String,
    pub input_size: u64,
    pub input_sha256: String,
    /// `(name, value)` pairs, e.g. `("method", "get")`.
    pub settings: Vec<(String, String)>,
    /// Valid rows in the sheet (for `status`).
    pub rows: u64,
}

impl Fingerprint {
    fn meta(&self) -> Vec<(String, String)> {
        let mut m = vec![
            ("input_path".to_string(), self.input_path.clone()),
            ("input_size".to_string(), self.input_size.to_string()),
            ("input_sha256".to_string(), self.input_sha256.clone()),
            ("rows".to_string(), self.rows.to_string()),
            ("created_at".to_string(), schema::now()),
            (
                "tool_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ];
        m.extend(
            self.settings
                .iter()
                .map(|(k, v)| (format!("setting.{k}"), v.clone())),
        );
        m
    }

    /// What differs between a stored fingerprint and this one, in words: first what makes it
    /// another job (another CAKE or API version), then what only changes how the sheet
    /// reads or travels (the sheet itself, `--map`, `--set`, formats, method), which rows'
    /// identities absorb.
    fn differences(&self, stored: &[(String, String)]) -> (Vec<String>, Vec<String>) {
        let get = |k: &str| {
            stored
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let (mut target, mut input) = (Vec::new(), Vec::new());
        if get("input_sha256") != Some(self.input_sha256.as_str()) {
            input.push(format!(
                "the input file differs: {} ({} bytes) then, {} ({} bytes) now",
                get("input_path").unwrap_or("?"),
                get("input_size").unwrap_or("?"),
                self.input_path,
                self.input_size
            ));
        }
        for (k, v) in &self.settings {
            let was = get(&format!("setting.{k}")).unwrap_or("(unset)");
            if was != v {
                let diff = format!("{k} was {was}, now {v}");
                if TARGET_SETTINGS.contains(&k.as_str()) {
                    target.push(diff);
                } else {
                    input.push(diff);
                }
            }
        }
        (target, input)
    }
}

/// Settings that make another job, not another reading of the same one (GET, POST and SOAP
/// carry the same call to the same instance).
const TARGET_SETTINGS: &[&str] = &["base_url", "api_version"];

/// Stores `fp` as the checkpoint's input and settings (after carrying it over).
fn update_meta(conn: &Connection, fp: &Fingerprint) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
    for (k, v) in fp.meta() {
        if k != "created_at" {
            stmt.execute([k, v])?;
        }
    }
    Ok(())
}

/// An opened checkpoint, locked for this run.
pub(crate) struct Opened {
    pub conn: Connection,
    pub lock: lock::Lock,
    pub path: PathBuf,
    /// True when the checkpoint existed (this run resumes).
    pub resumed: bool,
    /// The sheet or how it reads changed since the checkpoint was written: what the records
    /// found in it, and what changed.
    pub carried_over: Option<(Rekeyed, Vec<String>)>,
}

/// The additive rows an existing checkpoint says were applied or may have been (empty when
/// there is no checkpoint).
pub(crate) fn applied_additive_rows(path: &Path) -> Result<Vec<u64>, CheckpointError> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(Vec::new());
    }
    let conn = schema::open(path, true)?;
    schema::additive_maybe_applied(&conn).map_err(|e| CheckpointError::sql(path, &e))
}

/// Locks, then opens or creates the checkpoint at `path` for a run with `fp`. When the sheet
/// (or how it reads) changed, `sheet` feeds the rows it holds now and the records follow them.
pub(crate) fn open_for_run(
    path: &Path,
    fp: &Fingerprint,
    restart: bool,
    edited: bool,
    sheet: SheetRows<'_>,
) -> Result<Opened, CheckpointError> {
    let lock = lock::acquire(path)?;
    if restart && path.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::remove_file(PathBuf::from(&p)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CheckpointError::io(path, e)),
            }
        }
    }
    // A zero-length file is a checkpoint whose creation was cut short: nothing was sent yet.
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        std::fs::remove_file(path).map_err(|e| CheckpointError::io(path, e))?;
    }
    if path.exists() {
        let mut conn = schema::open(path, false)?;
        let stored = schema::read_meta(&conn).map_err(|e| CheckpointError::sql(path, &e))?;
        if let Some((status, rows)) =
            schema::unknown_status(&conn).map_err(|e| CheckpointError::sql(path, &e))?
        {
            return Err(CheckpointError::UnknownStatus {
                path: path.to_path_buf(),
                status,
                rows,
            });
        }
        let (target, input) = fp.differences(&stored);
        if !target.is_empty() {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                what: target.join("; "),
            });
        }
        let carried_over = if input.is_empty() {
            None
        } else {
            let moved = rekey(&mut conn, path, sheet, edited)?;
            update_meta(&conn, fp).map_err(|e| CheckpointError::sql(path, &e))?;
            Some((moved, input))
        };
        Ok(Opened {
            conn,
            lock,
            path: path.to_path_buf(),
            resumed: true,
            carried_over,
        })
    } else {
        let conn = schema::create(path, &fp.meta())?;
        Ok(Opened {
            conn,
            lock,
            path: path.to_path_buf(),
            resumed: false,
            carried_over: None,
        })
    }
}

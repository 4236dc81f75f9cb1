//! Opening the checkpoint for a run: lock first, then create it or check that it belongs to this
//! input and these settings.

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

    /// What differs between a stored fingerprint and this one, in words.
    fn differences(&self, stored: &[(String, String)]) -> Vec<String> {
        let get = |k: &str| {
            stored
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let mut diffs = Vec::new();
        if get("input_sha256") != Some(self.input_sha256.as_str()) {
            diffs.push(format!(
                "the input file differs (was {} bytes from {}, now {} bytes from {})",
                get("input_size").unwrap_or("?"),
                get("input_path").unwrap_or("?"),
                self.input_size,
                self.input_path
            ));
        }
        for (k, v) in &self.settings {
            let was = get(&format!("setting.{k}")).unwrap_or("(unset)");
            if was != v {
                diffs.push(format!("{k} was {was}, now {v}"));
            }
        }
        diffs
    }
}

/// An opened checkpoint, locked for this run.
pub(crate) struct Opened {
    pub conn: Connection,
    pub lock: lock::Lock,
    pub path: PathBuf,
    /// True when the checkpoint existed (this run resumes).
    pub resumed: bool,
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

/// Locks, then opens or creates the checkpoint at `path` for a run with `fp`.
pub(crate) fn open_for_run(
    path: &Path,
    fp: &Fingerprint,
    restart: bool,
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
        let conn = schema::open(path, false)?;
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
        let diffs = fp.differences(&stored);
        if !diffs.is_empty() {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                what: diffs.join("; "),
            });
        }
        Ok(Opened {
            conn,
            lock,
            path: path.to_path_buf(),
            resumed: true,
        })
    } else {
        let conn = schema::create(path, &fp.meta())?;
        Ok(Opened {
            conn,
            lock,
            path: path.to_path_buf(),
            resumed: false,
        })
    }
}

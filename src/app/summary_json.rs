//! `--summary-json PATH`: how a command ended, as a value a program reads — the screen, a
//! script, a cron wrapper — instead of the words it printed. A dry run writes its whole
//! [`DryRun`](super::dry_run_model::DryRun); a run writes a [`RunOutcome`].

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

/// How a run ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    /// The exit code (the contract's table: [`crate::exit::Exit`]).
    pub exit: u8,
    /// Why it stopped, when it stopped on an error (what `error:` said on stderr).
    pub error: Option<String>,
    /// Rows by result status (`updated`, `rejected`, …), this job's whole.
    pub rows: BTreeMap<String, u64>,
}

/// Writes `value` to `path` whole: through a temporary file beside it, fsynced, renamed over
/// it, 0600 — a reader never sees half of it.
pub(crate) fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::Write {
        what: path.display().to_string(),
        source: e,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // A temporary file is made 0600 already.
    let mut tmp = tempfile::Builder::new()
        .prefix(".summary.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    let bytes = serde_json::to_vec(value).map_err(|e| fail(std::io::Error::other(e)))?;
    tmp.write_all(&bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The summary of a command its settings refused before it started (best effort: the
/// refusal itself is what the command reports).
pub(crate) fn refused_summary(path: &Path, dry_run: bool, e: &Error) {
    let written = if dry_run {
        write(
            path,
            &super::dry_run_model::DryRun {
                columns: Vec::new(),
                read: Err(e.to_string()),
                exit: e.exit_code(),
            },
        )
    } else {
        write(
            path,
            &RunOutcome {
                exit: e.exit_code(),
                error: Some(e.to_string()),
                rows: BTreeMap::new(),
            },
        )
    };
    if let Err(w) = written {
        tracing::warn!(error = %w, "the summary was not written");
    }
}

//! Why a checkpoint cannot be used, and which of those are refusals (exit 2) rather than a
//! failing disk (exit 3).

use std::path::{Path, PathBuf};

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {}: {source}; free space or fix permissions, then run the same command again", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoint {}: {message}; free space or fix permissions, then run the same command again", path.display())]
    Sql { path: PathBuf, message: String },
    #[error(
        "checkpoint {} fails SQLite's integrity check ({detail}) and was not used. Move it aside \
         to inspect it; --restart starts over, but rows it recorded as applied would be sent \
         again (additive rows would be applied twice)", path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{} is not a cake-recon checkpoint ({why}); it was left untouched. Give another \
         --checkpoint path, or remove the file if it is yours", path.display()
    )]
    NotACheckpoint { path: PathBuf, why: String },
    #[error(
        "{} is not a cake-recon journal this version can use ({why}); it was left untouched and \
         nothing was sent. If another version of cake-recon wrote it, use that version; if it \
         is not a journal, give another --journal path (or CAKE_RECON_JOURNAL). Do not remove a \
         journal of yours: it is what keeps a copy of an applied sheet from paying again",
        path.display()
    )]
    NotAJournal { path: PathBuf, why: String },
    #[error(
        "{} is not a cake-recon checkpoint ({why}). `cake-recon status` reads the checkpoint a \
         run keeps beside its results, e.g. cake-recon status {}", path.display(), hint.display()
    )]
    StatusTarget {
        path: PathBuf,
        why: String,
        hint: PathBuf,
    },
    #[error(
        "checkpoint {} is in use by {holder}; nothing was sent. Wait for that run to finish (cake-recon status {} \
         shows its progress)", path.display(), path.display()
    )]
    Locked { path: PathBuf, holder: String },
    #[error(
        "the journal {} is busy: another cake-recon run (or a tool) has held it for more than \
         30 s; nothing was sent. Run the same command again in a moment (a cron job's next tick)",
        path.display()
    )]
    JournalBusy { path: PathBuf },
    #[error(
        "checkpoint {} records the status \"{status}\" for {rows} row(s), which this version of \
         cake-recon does not know (a newer version wrote it, or it was edited); it was not used, \
         so no row is sent on a guess. Run the cake-recon that wrote it, or correct those rows \
         with an SQLite tool", path.display()
    )]
    UnknownStatus {
        path: PathBuf,
        status: String,
        rows: u64,
    },
    #[error(
        "checkpoint {} was made for a run against another CAKE: {what}. Run with the same \
         target to continue that job; for a new job give this one results of its own with \
         --output NEW.results.csv (--restart starts this checkpoint over)", path.display()
    )]
    Mismatch { path: PathBuf, what: String },
    #[error(
        "checkpoint {}: the edited sheet could not be read to carry the checkpoint over ({why}); \
         the checkpoint was left as it was. Fix the sheet and run the same command again", path.display()
    )]
    Rekey { path: PathBuf, why: String },
    #[error(
        "the sheet looks like a new one: of the {recorded} rows checkpoint {} recorded, only \
         {found} are in it. Nothing was sent. If it is a new sheet (next month's), give it \
         results of its own with --output NEW.results.csv; if it is the same sheet edited, add \
         --edited-sheet", path.display()
    )]
    NewSheet {
        path: PathBuf,
        recorded: u64,
        found: u64,
    },
}

/// When a write failed and this process has a file-size limit (`ulimit -f`): the words that
/// say so, to follow the error (a file crossing the limit fails with `EFBIG`, which `SQLite`
/// reports as a disk I/O error). Empty without a limit.
#[must_use]
pub(crate) fn file_size_limit_hint() -> String {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit};
        if let Some(bytes) = getrlimit(Resource::Fsize).current {
            return format!(
                " (this process has a file-size limit of {bytes} bytes per file, `ulimit -f`: \
                 raise it if the file reached it)"
            );
        }
    }
    String::new()
}

/// Could a failed write have been stopped by a file-size limit? Any storage failure (not a
/// missing directory or a permission) while this process has one: the `EFBIG` itself is often
/// wrapped (a CSV writer's error, a temporary file's path) where its kind is lost.
#[must_use]
pub(crate) fn may_be_file_size_limit(e: &std::io::Error) -> bool {
    !matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    )
}

/// `e`, with the file-size limit named when there is one.
fn with_limit(e: std::io::Error) -> std::io::Error {
    let hint = if may_be_file_size_limit(&e) {
        file_size_limit_hint()
    } else {
        String::new()
    };
    if hint.is_empty() {
        e
    } else {
        std::io::Error::new(e.kind(), format!("{e}{hint}"))
    }
}

impl CheckpointError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source: with_limit(source),
        }
    }
    pub(crate) fn sql(path: &Path, e: &rusqlite::Error) -> Self {
        // SQLite says "database or disk is full", "disk I/O error", … — already readable. A
        // write past a file-size limit is one of those: say so when this process has one.
        let storage = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
        );
        let hint = if storage {
            file_size_limit_hint()
        } else {
            String::new()
        };
        Self::Sql {
            path: path.to_path_buf(),
            message: format!("{e}{hint}"),
        }
    }
    /// A journal's `SQLite` error: busy is a lock held by another process (try again), the rest
    /// as for the checkpoint.
    pub(crate) fn journal(path: &Path, e: &rusqlite::Error) -> Self {
        if matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        ) {
            return Self::JournalBusy {
                path: path.to_path_buf(),
            };
        }
        match Self::sql(path, e) {
            Self::Sql { message, .. } => Self::Sql {
                path: path.to_path_buf(),
                message: format!("(the journal) {message}"),
            },
            other => other,
        }
    }
    pub(crate) fn corrupt(path: &Path, detail: &str) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        }
    }

    /// Usage-type refusals (exit 2) versus storage failures (exit 3).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Corrupt { .. }
            | Self::NotACheckpoint { .. }
            | Self::NotAJournal { .. }
            | Self::StatusTarget { .. }
            | Self::Locked { .. }
            | Self::JournalBusy { .. }
            | Self::Mismatch { .. }
            | Self::Rekey { .. }
            | Self::NewSheet { .. }
            | Self::UnknownStatus { .. } => true,
            // A missing directory or no permission: a wrong --checkpoint, not a failing disk.
            Self::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            Self::Sql { .. } => false,
        }
    }
}

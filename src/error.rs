//! Errors that end a command, each mapped to one exit code.

use crate::checkpoint::CheckpointError;
use crate::exit;
use crate::sheet::SheetError;

/// Why a command stopped before finishing its job.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The sheet cannot be read or its header is wrong.
    #[error(transparent)]
    Sheet(#[from] SheetError),
    /// Rows failed validation and `--skip-invalid` was not given.
    #[error(
        "{invalid} of {rows} rows are invalid; nothing was sent.\n{details}\
         Fix the sheet and run again, preview with --dry-run, or add --skip-invalid to send \
         only the valid rows"
    )]
    InvalidRows {
        invalid: u64,
        rows: u64,
        details: String,
    },
    /// The checkpoint refused (mismatch, lock, corrupt) or could not be written.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// A flag or setting is wrong.
    #[error("{0}")]
    Usage(String),
    /// Writing results or the checkpoint failed (e.g. disk full).
    #[error(
        "cannot write {what}: {source}{hint}; free space or fix permissions, then run the same command again to resume",
        hint = if crate::checkpoint::may_be_file_size_limit(.source) {
            crate::checkpoint::file_size_limit_hint()
        } else {
            String::new()
        }
    )]
    Write {
        what: String,
        source: std::io::Error,
    },
    /// Something failed that is not the user's doing (a thread died, the runtime would not
    /// start) or that happened after sending began: never "usage error, nothing sent".
    #[error(
        "{0}. Rows already sent are recorded in the checkpoint: run the same command again to \
         resume; if this repeats, report it"
    )]
    Internal(String),
    /// Reading conversions back through the reports API failed (the message says why and what
    /// to do). Nothing was written by the read.
    #[error("{0}")]
    ReadBack(String),
    /// The screen's audit log does not hold together (`audit --verify`): where and why.
    #[error(
        "{0}; the log was edited after it was written: keep the file as evidence and restore it from a backup"
    )]
    AuditBroken(String),
}

impl Error {
    /// The same error, once requests may have been sent: nothing may then claim "nothing was
    /// sent" (exit 2), so a usage-type error becomes an internal one (exit 3, resumable).
    #[must_use]
    pub(crate) fn after_sending(self) -> Self {
        if self.exit_code() == exit::USAGE {
            Error::Internal(self.to_string())
        } else {
            self
        }
    }
}

/// An I/O error that means "wrong path or permissions" rather than "the disk failed".
fn is_setup_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    )
}

impl Error {
    /// The exit code the contract assigns to this error.
    #[must_use]
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Sheet(_) | Error::InvalidRows { .. } | Error::Usage(_) => exit::USAGE,
            Error::Checkpoint(
                CheckpointError::Locked { .. } | CheckpointError::JournalBusy { .. },
            ) => exit::LOCKED,
            Error::Checkpoint(e) if e.is_refusal() => exit::USAGE,
            // A missing directory or a read-only place is a configuration error, not a crash.
            Error::Write { source, .. } if is_setup_error(source) => exit::USAGE,
            Error::Write { .. }
            | Error::Checkpoint(_)
            | Error::Internal(_)
            | Error::ReadBack(_)
            | Error::AuditBroken(_) => exit::ABORTED,
        }
    }
}

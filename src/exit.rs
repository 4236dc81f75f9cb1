//! The contract's exit codes: one enum, read and written by the command line and the screen
//! alike (the screen learns how a run ended from this, never from its words).

/// How a command ended, as its exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Exit {
    /// Every row `updated` (or `would_update` in a dry run).
    Ok,
    /// The run finished but some rows are `rejected`, `failed`, `invalid` or `in_doubt`.
    SomeRowsNotUpdated,
    /// Usage, configuration or input error: nothing was sent.
    Usage,
    /// Aborted by a run-wide failure (bad key, error storm, disk full): resumable.
    Aborted,
    /// Another run holds the checkpoint: nothing was sent; try again later (cron: next tick).
    Locked,
    /// Interrupted by SIGINT (130) or ended by SIGTERM (143): resumable.
    Interrupted,
    /// Killed, crashed, or a code not in the contract: what the checkpoint holds stands.
    Abnormal(i32),
}

impl Exit {
    /// The code a process exits with.
    #[must_use]
    pub(crate) const fn code(self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::SomeRowsNotUpdated => 1,
            Self::Usage => 2,
            Self::Aborted => 3,
            Self::Locked => 4,
            Self::Interrupted => 130,
            Self::Abnormal(code) => code,
        }
    }

    /// What an exit code means.
    #[must_use]
    pub(crate) const fn of(code: i32) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::SomeRowsNotUpdated,
            2 => Self::Usage,
            3 => Self::Aborted,
            4 => Self::Locked,
            130 | 143 => Self::Interrupted,
            other => Self::Abnormal(other),
        }
    }

    /// Nothing was sent, and the same command would be refused again (a fix is needed).
    #[must_use]
    pub(crate) const fn refused(self) -> bool {
        matches!(self, Self::Usage)
    }
}

/// The contract's codes as a process returns them (`u8`), one per [`Exit`] variant.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the contract's codes are 0 to 130, written once in Exit::code"
)]
mod codes {
    use super::Exit;

    /// [`Exit::Ok`] as a process's code.
    pub(crate) const OK: u8 = Exit::Ok.code() as u8;
    /// [`Exit::SomeRowsNotUpdated`] as a process's code.
    pub(crate) const SOME_ROWS_NOT_UPDATED: u8 = Exit::SomeRowsNotUpdated.code() as u8;
    /// [`Exit::Usage`] as a process's code.
    pub(crate) const USAGE: u8 = Exit::Usage.code() as u8;
    /// [`Exit::Aborted`] as a process's code.
    pub(crate) const ABORTED: u8 = Exit::Aborted.code() as u8;
    /// [`Exit::Locked`] as a process's code.
    pub(crate) const LOCKED: u8 = Exit::Locked.code() as u8;
    /// [`Exit::Interrupted`] as a process's code (SIGINT's).
    pub(crate) const INTERRUPTED: u8 = Exit::Interrupted.code() as u8;
}
pub(crate) use codes::{ABORTED, INTERRUPTED, LOCKED, OK, SOME_ROWS_NOT_UPDATED, USAGE};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        for e in [
            Exit::Ok,
            Exit::SomeRowsNotUpdated,
            Exit::Usage,
            Exit::Aborted,
            Exit::Locked,
            Exit::Interrupted,
            Exit::Abnormal(137),
        ] {
            assert_eq!(Exit::of(e.code()), e);
        }
        assert_eq!(Exit::of(143), Exit::Interrupted);
    }
}

//! The contract's exit codes, named.

/// Every row `updated` (or `would_update` in a dry run).
pub(crate) const OK: u8 = 0;
/// The run finished but some rows are `rejected`, `failed`, `invalid` or `in_doubt`.
pub(crate) const SOME_ROWS_NOT_UPDATED: u8 = 1;
/// Usage, configuration or input error: nothing was sent.
pub(crate) const USAGE: u8 = 2;
/// Aborted by a run-wide failure (bad key, error storm, disk full): resumable.
pub(crate) const ABORTED: u8 = 3;
/// Another run holds the checkpoint: nothing was sent; try again later (cron: next tick).
pub(crate) const LOCKED: u8 = 4;
/// Interrupted by SIGINT/SIGTERM: resumable.
pub(crate) const INTERRUPTED: u8 = 130;

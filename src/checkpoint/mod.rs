//! The crash-safe checkpoint: which rows are done, which may have been sent, and for which
//! input and settings — in `SQLite` (WAL, `synchronous=FULL`), beside the results file.
//!
//! The promise: kill the process at any moment, run the same command again, and every row ends
//! with exactly one result; no additive row is sent twice unless `--resend-in-doubt`. The
//! engine's dispatcher owns the checkpoint during a run; its writer thread is the only writer.

mod error;
pub(crate) mod history;
pub(crate) mod job;
pub(crate) mod journal;
mod journal_file;
mod lock;
mod open;
mod prior;
mod rekey;
pub(crate) use lock::{is_running as process_is_running, process_start as lock_process_start};
pub(crate) use rekey::standing;
pub mod schema;
mod shape;
pub(crate) mod snapshot;
pub(crate) mod status;
mod store;

pub(crate) use error::{CheckpointError, file_size_limit_hint, may_be_file_size_limit};
pub(crate) use open::{Fingerprint, Opened, applied_additive_rows, open_for_run};
pub(crate) use prior::{Prior, PriorReader};
pub use store::{OutcomeRecord, Store};

//! What a person sees: the results CSV, the dry-run preview, progress and the summary.

mod atomic;
pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod files;
pub(crate) mod money;
pub(crate) mod output;
pub(crate) mod preview;
pub(crate) mod progress;
pub(crate) mod summary;
pub(crate) mod undo;
pub(crate) mod xlsx;

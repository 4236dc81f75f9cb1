//! What a person sees: the results CSV, the dry-run preview, progress and the summary.

pub mod output;
pub mod preview;
pub mod progress;
pub mod summary;

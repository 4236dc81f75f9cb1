//! Why a sheet cannot be read at all.

use std::path::PathBuf;

/// Why a sheet cannot be read at all (row problems are [`validate::FieldError`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read {}: {source}; check the path and that the file is readable", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} {problem}", path.display())]
    Format { path: PathBuf, problem: String },
    #[error("{} is empty: expected a header row (e.g. conversion_id,payout) and data rows", path.display())]
    Empty { path: PathBuf },
    #[error("{} has a header row but no data rows: nothing to do", path.display())]
    NoRows { path: PathBuf },
    #[error("{}: {problem}", path.display())]
    Evidence { path: PathBuf, problem: String },
    #[error("sheet header: {problem}")]
    Header { problem: String },
}

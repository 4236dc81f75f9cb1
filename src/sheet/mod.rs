//! Reading the approval sheet: encoding, delimiter, headers, typed rows and validation.
//!
//! Data flows one way: [`reader`] turns bytes into records, [`columns`] decides which column
//! feeds which CAKE parameter, [`validate`] turns a record into a
//! [`ConversionUpdate`](crate::update::ConversionUpdate), and [`prepass`] validates the whole
//! sheet before anything is sent.

pub mod cells;
pub mod columns;
pub mod duplicates;
pub mod parse;
pub mod prepass;
pub mod reader;
pub mod stream;
pub mod validate;

pub use duplicates::Duplicates;
pub use prepass::{PrePass, Totals, prepass, prepass_visit};
pub use stream::{Invalid, Sheet, SheetOptions, SheetRow};

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
    #[error("sheet header: {problem}")]
    Header { problem: String },
}

//! Reading the approval sheet: encoding, delimiter, headers, typed rows and validation.
//!
//! Data flows one way: [`reader`] turns bytes into records, [`columns`] decides which column
//! feeds which CAKE parameter, [`validate`] turns a record into a
//! [`ConversionUpdate`](crate::update::ConversionUpdate), and [`prepass`] validates the whole
//! sheet before anything is sent.

pub(crate) mod cells;
pub(crate) mod columns;
pub(crate) mod duplicates;
pub(crate) mod parse;
pub(crate) mod prepass;
pub(crate) mod reader;
pub(crate) mod stream;
pub(crate) mod validate;

pub(crate) use duplicates::Duplicates;
pub use prepass::prepass;
pub(crate) use prepass::{PrePass, Totals, prepass_visit};
pub(crate) use stream::{Invalid, SheetRow};
pub use stream::{Sheet, SheetOptions};

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

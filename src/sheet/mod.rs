//! Reading the approval sheet: encoding, delimiter, headers, typed rows and validation.
//!
//! Data flows one way: [`reader`] turns bytes into records, [`columns`] decides which column
//! feeds which CAKE parameter, [`validate`] turns a record into a
//! [`ConversionUpdate`](crate::update::ConversionUpdate), and [`prepass`] validates the whole
//! sheet before anything is sent.

pub(crate) mod cells;
pub(crate) mod columns;
mod decided;
pub(crate) mod distinct;
pub(crate) mod duplicates;
mod error;
pub(crate) mod evidence;
mod header_table;
mod hints;
mod layout;
pub(crate) mod limits;
pub(crate) mod opening;
pub(crate) mod options;
pub(crate) mod parse;
pub(crate) mod prepass;
mod profile;
pub(crate) mod reader;
pub(crate) mod shown;
pub(crate) mod stream;
pub(crate) mod validate;
mod values;
pub(crate) mod visibility;
mod workbook;
mod xml_attr;

pub(crate) use duplicates::Duplicates;
pub(crate) use error::SheetError;
pub use options::SheetOptions;
pub use prepass::prepass;
pub(crate) use prepass::{PrePass, Totals, prepass_visit};
pub(crate) use reader::{Format, format_of};
pub use stream::Sheet;
pub(crate) use stream::{Invalid, SheetRow};

//! cake-recon: apply a finance team's approval sheet to a CAKE instance through
//! `track.asmx/UpdateConversion`, safely.
//!
//! The rooms and their one-way arrows are in `ARCHITECTURE.md`:
//! `cli → web → config → app → engine → {cake, checkpoint, report} → sheet → update`, with the
//! emulator ([`mock`]) beside the product; `web` is the screen (`cake-recon serve`), a second
//! face beside the command line that starts the command line's own runs. Modules are private; what tests, benchmarks and fuzz
//! targets reach is re-exported below, on purpose.

mod app;
mod cake;
mod checkpoint;
mod cli;
mod config;
mod engine;
mod error;
mod exit;
mod logging;
pub mod mock;
mod report;
mod sheet;
pub mod update;
mod web;

/// The whole program: parse the command line, run the command, return its exit code.
#[must_use]
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cli::main())
}

/// What benchmarks, fuzz targets and integration tests reach into. Not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::cake::client::install_crypto;
    pub use crate::cake::reports::{Matcher, PageError, PageInfo, parse_page};
    pub use crate::cake::request::{Endpoint, Transport};
    pub use crate::cake::response::{Outcome, classify};
    pub use crate::checkpoint::journal::JournalEntry;
    pub use crate::checkpoint::{OutcomeRecord, Store, schema};
    pub use crate::engine::scan::Targets;
    pub use crate::sheet::columns::Source;
    pub use crate::sheet::parse::{DateOrder, DecimalStyle, parse_amount, parse_date, parse_id};
    pub use crate::sheet::{Sheet, SheetOptions, prepass};
}

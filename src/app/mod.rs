//! The commands, end to end: what the command line (and, later, the screen) calls. The app
//! decides *where* a run goes — it starts the embedded emulator for `--sandbox` — and hands the
//! engine a plain URL.

mod audit;
mod check;
mod dry_run;
mod dry_run_model;
mod history;
mod mock_server;
mod run;
mod run_config;
mod status;
mod stdout;
mod summary_json;

pub(crate) use audit::audit;
pub(crate) use check::check;
pub(crate) use dry_run_model::{ColumnRead, DryRun, ROWS_LISTED, Reading, Standing, UnseenCounts};
// The sheet's words that are part of a command's contract (what the screen's choices name).
pub(crate) use crate::sheet::columns::IGNORE;
pub(crate) use crate::sheet::shown::{AmountsAs, HiddenRows};
pub(crate) use history::{HistoryConfig, history};
pub(crate) use mock_server::mock_server;
pub(crate) use run::{run, start_sandbox};
pub(crate) use run_config::{ReadBack, RunConfig, Target};
pub(crate) use status::status;
pub(crate) use summary_json::{RunOutcome, refused_summary};

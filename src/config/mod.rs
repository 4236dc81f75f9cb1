//! Raw flags + config file + environment → one validated configuration, in one step: the only
//! place that knows about clap, TOML and environment variables.

mod args;
mod file;
mod resolve;

pub(crate) use args::{MockArgs, RunArgs};
pub(crate) use resolve::{check_config, mock_config, run_config};

//! Raw flags + config file + environment → one validated configuration, in one step: the only
//! place that knows about clap, TOML and environment variables.

mod args;
mod file;
mod resolve;

pub use args::{MockArgs, RunArgs};
pub use resolve::{mock_config, run_config};

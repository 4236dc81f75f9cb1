//! Raw flags + config file + environment → one validated configuration, in one step: the only
//! place that knows about clap, TOML and environment variables.

mod args;
mod fault_args;
mod file;
mod history;
mod paths;
mod resend;
mod resolve;
mod serve;
mod users;
mod values;

pub(crate) use args::{MockArgs, RunArgs, ServeArgs, parse_day, run_flag_takes_value};
pub(crate) use history::{HistoryArgs, history_config};
pub(crate) use resolve::{check_config, mock_config, run_config, sheet_files};
#[cfg(test)]
pub(crate) use serve::parse_run_args;
pub(crate) use serve::{ServeConfig, host_is_loopback, random_token, serve_config};
pub(crate) use users::{Role, User, hash_password, load_users};

//! The command line: clap's view of the subcommands, and the one place that turns a parsed
//! command into a call of [`crate::app`] and an exit code.

use crate::app;
use crate::config::{self, MockArgs, RunArgs};
use crate::logging::{self, LogFormat};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// Apply a finance team's approval sheet to a CAKE instance, one `UpdateConversion` per row,
/// safely: validated first, rate-limited, retried, resumable, never double-applied.
#[derive(Debug, Parser)]
#[command(name = "cake-recon", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply a sheet (or preview it with --dry-run).
    Run(Box<RunArgs>),
    /// Show what a checkpoint records: rows by status, in-doubt rows, remaining rows.
    Status {
        /// The checkpoint file (default name: RESULTS.csv.ckpt).
        checkpoint: PathBuf,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve the CAKE emulator (the same one --sandbox uses) for tests and trials.
    MockServer(MockArgs),
}

/// Parses the command line, runs the command, prints why it stopped if it failed.
pub(crate) fn main() -> u8 {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(args) => config::run_config(*args, matches.subcommand_matches("run"))
            .and_then(|cfg| {
                logging::init(cfg.log_format, cfg.quiet, cfg.verbose);
                app::run(&cfg)
            }),
        Command::Status { checkpoint, json } => app::status(&checkpoint, json),
        Command::MockServer(args) => {
            logging::init(LogFormat::Text, false, 0);
            config::mock_config(&args).and_then(|cfg| app::mock_server(&args.listen, cfg))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        e.exit_code()
    })
}

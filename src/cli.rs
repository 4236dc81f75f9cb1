//! The command line: clap's view of the subcommands, and the one place that turns a parsed
//! command into a call of [`crate::app`] and an exit code.

use crate::app;
use crate::config::{self, HistoryArgs, MockArgs, RunArgs, ServeArgs};
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
    #[command(after_long_help = RUN_AFTER_HELP)]
    Run(Box<RunArgs>),
    /// Compare a sheet with what CAKE holds, read through its reports API; sends no update.
    ///
    /// Writes `INPUT.check.csv`: for every row `already_correct`, `differs` (and how),
    /// `additive`, `not_found`, `ambiguous` or `invalid`. Exit 0 when every valid row is
    /// already correct.
    Check(Box<RunArgs>),
    /// Show what a checkpoint records: rows by status, remaining rows, and each in-doubt row
    /// with its conversion, what it adds (read from the sheet) and when its request left.
    Status {
        /// The checkpoint file (default name: RESULTS.csv.ckpt), or the sheet (its checkpoint
        /// is the one beside it).
        #[arg(value_name = "CHECKPOINT_OR_SHEET")]
        checkpoint: PathBuf,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every change cake-recon made, from the journal: to one conversion (--conversion ID) or
    /// over days (--since/--until), as text or CSV — the audit trail.
    History(HistoryArgs),
    /// A screen for the finance team: upload a sheet, see what it would do, apply it, watch it.
    ///
    /// Listens on loopback; open the link it prints (it carries the access token). Runs go to
    /// --base-url (key from `CAKE_API_KEY` or --api-key-file, kept on the server) or --sandbox.
    Serve(ServeArgs),
    /// Serve the CAKE emulator (the same one --sandbox uses) for tests and trials.
    MockServer(MockArgs),
    /// The screen's audit log of a served folder (who uploaded, compared, approved, applied):
    /// printed, its chain of hashes checked (--verify: only checked). Exit 3 when a line was
    /// edited, removed or moved.
    Audit {
        /// The folder `serve --dir` serves.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Only check the chain (print one line).
        #[arg(long)]
        verify: bool,
    },
    /// Print an Argon2id hash of the password read from standard input (one line), for a
    /// `serve --users` file's `password_hash`.
    HashPassword,
}

/// The month in a few lines, the exit codes and a cron line: what `run --help` ends with.
const RUN_AFTER_HELP: &str = "\
The monthly workflow:
  1. Trial:    cake-recon run june.xlsx --sandbox            (own checkpoint; nothing leaves)
  2. Preview:  cake-recon run june.xlsx --base-url URL --dry-run
  3. Run:      CAKE_API_KEY=... cake-recon run june.xlsx --base-url URL
  4. Fix the sheet (cells, rows, order, --map) and run the same command: applied rows keep their
     outcome, only changed and new rows are sent. After an outage, the same command finishes.
  5. Next month: a new sheet gets results of its own (--output july.results.csv).
  Reading CAKE back (reports API; window in CAKE-local days, or from a conversion_date column):
     cake-recon check june.xlsx --base-url URL --since 2026-06-01 --until 2026-06-30
     cake-recon run june.xlsx --base-url URL --read-back --since ... --until ...
       (already-right rows end `unchanged` unsent; in-doubt rows are settled; june.undo.csv
        puts CAKE back: cake-recon run june.undo.csv --base-url URL)
  cake-recon status june.results.csv.ckpt [--json] shows where a job stands, even while it runs.

Exit codes:
  0    every row updated (or would_update in a dry run)
  1    finished, but some rows are rejected, failed, invalid, in_doubt or held back
  2    usage, configuration or input error: nothing was sent
  3    stopped by a run-wide failure (invalid key, error storm, disk full): run again to resume
  4    another run holds the checkpoint: nothing was sent, try again later
  130  interrupted (SIGINT/SIGTERM): run again to resume

Cron (a second overlapping run exits 4 and sends nothing; -q still prints why a run stopped):
  10 2 * * * cd /srv/finance && cake-recon run approvals.csv --base-url URL \\
             --api-key-file /etc/cake/key -q --log-format json 2>> cake-recon.log";

/// Parses the command line, runs the command, prints why it stopped if it failed.
pub(crate) fn main() -> u8 {
    crate::engine::shutdown::catch_file_size_limit();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(args) => {
            // A command refused before it starts still writes how it ended, when asked to.
            let summary = args.summary_json.clone().map(|p| (p, args.dry_run));
            match config::run_config(*args, matches.subcommand_matches("run")) {
                Ok(cfg) => {
                    logging::init(cfg.log_format, cfg.quiet, cfg.verbose);
                    app::run(&cfg)
                }
                Err(e) => {
                    if let Some((path, dry_run)) = summary {
                        app::refused_summary(&path, dry_run, &e);
                    }
                    Err(e)
                }
            }
        }
        Command::Check(args) => config::check_config(*args, matches.subcommand_matches("check"))
            .and_then(|cfg| {
                logging::init(cfg.log_format, cfg.quiet, cfg.verbose);
                app::check(&cfg)
            }),
        Command::Status { checkpoint, json } => app::status(&checkpoint, json),
        Command::History(args) => config::history_config(args).and_then(|cfg| app::history(&cfg)),
        Command::Serve(args) => {
            logging::init(LogFormat::Text, false, 0);
            config::serve_config(args).and_then(crate::web::serve)
        }
        Command::Audit { dir, verify } => app::audit(&dir, verify, &mut std::io::stdout()),
        Command::HashPassword => {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(_) => config::hash_password(line.trim_end_matches(['\r', '\n'])).map(|h| {
                    println!("{h}");
                    crate::exit::OK
                }),
                Err(e) => Err(crate::error::Error::Usage(format!(
                    "cannot read the password from standard input: {e}"
                ))),
            }
        }
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

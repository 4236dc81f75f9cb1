//! Thin entry point: parse the command line, run, map the result to an exit code.

use cake_recon::cli::{Cli, Command};
use cake_recon::{app, config::RunConfig, engine, logging};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => {
            logging::init(args.log_format, args.quiet, args.verbose);
            RunConfig::from_args(&args).and_then(|cfg| {
                if cfg.dry_run {
                    app::dry_run(&cfg, &mut std::io::stdout().lock())
                } else {
                    engine::run(&cfg)
                }
            })
        }
        Command::Status { checkpoint } => cake_recon::checkpoint::status::report(&checkpoint)
            .map(|text| {
                print!("{text}");
                cake_recon::exit::OK
            })
            .map_err(Into::into),
        Command::MockServer(args) => {
            logging::init(cake_recon::cli::LogFormat::Text, false, 0);
            cake_recon::mock::serve_blocking(&args)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

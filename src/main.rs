//! Thin entry point: parse the command line, run, map the result to an exit code.

use cake_recon::cli::{Cli, Command};
use cake_recon::{app, config::RunConfig, config_file, engine, logging};
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(mut args) => {
            let run_matches = matches.subcommand_matches("run");
            let merged = run_matches.map_or(Ok(()), |m| config_file::merge(&mut args, m));
            logging::init(args.log_format, args.quiet, args.verbose);
            merged
                .and_then(|()| RunConfig::from_args(&args))
                .and_then(|cfg| {
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

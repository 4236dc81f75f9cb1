//! `--config FILE`: `run` options in a TOML file, read the way ripgrep reads its config: every
//! key becomes the flag of the same name, and the file's flags go through the command line's
//! own parser, before the command line's (which win). A flag is declared once, in
//! [`RunArgs`]; the file holds any of them, except the key and the decisions about one run.
//!
//! ```toml
//! base-url = "https://admin.example-network.com"
//! rate = 10
//! method = "post"
//! [set]
//! disposition_type = "approved"
//! [map]
//! "Approved Revenue" = "received"
//! [values]
//! "Approved?" = "Yes:approved,No:rejected"
//! ```

use super::args::RunArgs;
use crate::error::Error;
use clap::parser::ValueSource;
use clap::{ArgAction, Args as _, FromArgMatches as _};
use std::ffi::OsString;
use std::path::Path;

/// Flags that decide one run and are never kept in a file: a file that said them would say
/// them every month, to every run.
const ONE_RUN_ONLY: &[&str] = &[
    "same-sheet-again",
    "same-additions-again",
    "restart",
    "restart-resend-additive",
    "edited-sheet",
    "dry-run",
    "config",
    "summary-json",
    "columns-only",
];

/// The options that are tables in the file: each entry is one repeated flag.
const TABLES: &[&str] = &["set", "map", "values"];

fn read(path: &Path) -> Result<toml::Table, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read --config {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::Usage(format!("--config {}: not valid TOML: {e}", path.display())))?;
    if table.contains_key("api_key") || table.contains_key("api-key") {
        return Err(Error::Usage(format!(
            "--config {}: the API key does not go in the config file; use CAKE_API_KEY or \
             api-key-file = \"PATH\"",
            path.display()
        )));
    }
    Ok(table)
}

fn scalar_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => None,
    }
}

/// A value as the file wrote it, for a message.
fn shown(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        other => scalar_text(other).unwrap_or_else(|| "a list or table".into()),
    }
}

/// The file's flags: those that take one value (the command line's, given after them, win) and
/// those that add up (`--set`, `--map`, `--values`: given after the command line's own).
struct FileFlags {
    single: Vec<OsString>,
    added: Vec<OsString>,
}

/// Turns the file's keys into flags of `cmd`, leaving out what the command line (or the
/// environment) gave already (`given`).
fn flags_of(
    path: &Path,
    table: &toml::Table,
    cmd: &clap::Command,
    given: &dyn Fn(&str) -> bool,
) -> Result<FileFlags, Error> {
    let err = |m: String| Error::Usage(format!("--config {}: {m}", path.display()));
    let mut out = FileFlags {
        single: Vec::new(),
        added: Vec::new(),
    };
    // Where requests go is one choice: the file may make it only when the command line (or
    // CAKE_BASE_URL) did not, and may not make it twice.
    let has = |k: &str| table.contains_key(k) || table.contains_key(&k.replace('-', "_"));
    if has("sandbox")
        && table.get("sandbox").and_then(toml::Value::as_bool) != Some(false)
        && has("base-url")
    {
        return Err(err(
            "sandbox = true and base-url both say where requests go; keep one".into(),
        ));
    }
    let destination_given = given("base_url") || given("sandbox");
    for (key, value) in table {
        let flag = key.replace('_', "-");
        if ONE_RUN_ONLY.contains(&flag.as_str()) {
            return Err(err(format!(
                "{key}: a decision about one run, never kept in a file; give --{flag} on the \
                 command line of the run it is for"
            )));
        }
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(flag.as_str()))
        else {
            return Err(err(format!(
                "unknown field `{key}`: not an option of `cake-recon run` (its --help lists \
                 them, each as a key without the dashes)"
            )));
        };
        let id = arg.get_id().as_str();
        if TABLES.contains(&flag.as_str()) {
            let toml::Value::Table(entries) = value else {
                return Err(err(format!(
                    "{key} is a table: [{key}] with one line per entry"
                )));
            };
            for (k, v) in entries {
                let v = scalar_text(v).ok_or_else(|| err(format!("[{key}] {k}: not a value")))?;
                out.added.push(format!("--{flag}={k}={v}").into());
            }
            continue;
        }
        if given(id) || (destination_given && (id == "base_url" || id == "sandbox")) {
            continue;
        }
        match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(true)) => {
                out.single.push(format!("--{flag}").into());
            }
            (ArgAction::SetTrue, toml::Value::Boolean(false)) => {}
            (ArgAction::SetTrue, _) => {
                return Err(err(format!(
                    "{key} = {}: expected true or false",
                    shown(value)
                )));
            }
            (ArgAction::Count, toml::Value::Integer(n)) if (0..=3).contains(n) => {
                for _ in 0..*n {
                    out.single.push(format!("--{flag}").into());
                }
            }
            (ArgAction::Count, _) => {
                return Err(err(format!("{key} = {}: expected 0 to 3", shown(value))));
            }
            // A flag whose value may be left out (`resend-in-doubt = true`: every row; `false`:
            // none). Any other option given `true` or `false` is handed to its parser, which
            // refuses it.
            (ArgAction::Set, toml::Value::Boolean(b))
                if arg.get_num_args().is_some_and(|n| n.min_values() == 0) =>
            {
                if *b {
                    out.single.push(format!("--{flag}").into());
                }
            }
            (_, v) => {
                let v = scalar_text(v).ok_or_else(|| {
                    err(format!("{key}: expected one value, not a list or table"))
                })?;
                out.single.push(format!("--{flag}={v}").into());
            }
        }
    }
    Ok(out)
}

/// The command line with `args.config`'s flags: parsed again, through the same parser, as if
/// they had been typed before the command line's own (so the command line wins).
pub(super) fn merge(args: &mut RunArgs, matches: &clap::ArgMatches) -> Result<(), Error> {
    let Some(path) = args.config.clone() else {
        return Ok(());
    };
    let table = read(&path)?;
    let cmd = RunArgs::augment_args(clap::Command::new("run").no_binary_name(true))
        .args_override_self(true);
    let given = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let file = flags_of(&path, &table, &cmd, &given)?;
    // The command line as typed, after the program and its subcommand (`cake-recon` has no
    // options of its own, so the subcommand is always the first word).
    let typed: Vec<OsString> = std::env::args_os().skip(2).collect();
    let all = file.single.into_iter().chain(typed).chain(file.added);
    let m = cmd.try_get_matches_from(all).map_err(|e| {
        Error::Usage(format!(
            "--config {}: {}",
            path.display(),
            e.render().to_string().trim_start_matches("error: ")
        ))
    })?;
    *args = RunArgs::from_arg_matches(&m).map_err(|e| Error::Usage(e.render().to_string()))?;
    Ok(())
}

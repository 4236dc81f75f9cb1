//! `--config FILE`: every `run` option in a TOML file; the command line and the environment win.
//!
//! ```toml
//! base-url = "https://admin.example-network.com"
//! rate = 10
//! method = "post"
//! [set]
//! disposition_type = "approved"
//! [map]
//! "Approved Revenue" = "received"
//! ```

use super::args::{RunArgs, parse_delimiter};
use crate::cake::request::Transport;
use crate::error::Error;
use crate::logging::LogFormat;
use crate::sheet::parse::DateOrder;
use clap::parser::ValueSource;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file's keys (`base-url` and `base_url` both work).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    base_url: Option<String>,
    sandbox: Option<bool>,
    api_key_file: Option<PathBuf>,
    api_version: Option<u8>,
    method: Option<Transport>,
    output: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    rate: Option<f64>,
    concurrency: Option<usize>,
    max_attempts: Option<u32>,
    retry_base_ms: Option<u64>,
    retry_cap_ms: Option<u64>,
    timeout: Option<f64>,
    set: Option<BTreeMap<String, toml::Value>>,
    map: Option<BTreeMap<String, String>>,
    encoding: Option<String>,
    delimiter: Option<String>,
    decimal_comma: Option<bool>,
    decimal_point: Option<bool>,
    sheet: Option<String>,
    max_cells: Option<u64>,
    max_unpacked_mb: Option<u64>,
    date_order: Option<String>,
    skip_invalid: Option<bool>,
    resend_in_doubt: Option<ResendSetting>,
    resend_in_doubt_file: Option<PathBuf>,
    allow_insecure_http: Option<bool>,
    log_format: Option<String>,
    quiet: Option<bool>,
    verbose: Option<u8>,
    no_progress: Option<bool>,
    /// The journal shared by a network's people and cron jobs: a file is where it is named
    /// once. (`--same-sheet-again` and `--same-additions-again` are decisions about one run,
    /// never kept in a file.)
    journal: Option<PathBuf>,
    journal_days: Option<u32>,
    settle_after: Option<u64>,
}

/// `resend-in-doubt = true` (every in-doubt row), or a selection: `"4,7,10-12"`, `"@FILE"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ResendSetting {
    Flag(bool),
    Selection(String),
}

/// What the flag would say: `--resend-in-doubt` alone (`all`), with a selection, or absent.
impl From<ResendSetting> for Option<String> {
    fn from(v: ResendSetting) -> Self {
        match v {
            ResendSetting::Flag(true) => Some("all".into()),
            ResendSetting::Flag(false) => None,
            ResendSetting::Selection(rows) => Some(rows),
        }
    }
}

fn normalize_keys(v: toml::Value) -> toml::Value {
    match v {
        toml::Value::Table(t) => toml::Value::Table(
            t.into_iter()
                .map(|(k, v)| (k.replace('-', "_"), v))
                .collect(),
        ),
        other => other,
    }
}

fn read(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read --config {}: {e}", path.display())))?;
    let value: toml::Value = toml::from_str(&text)
        .map_err(|e| Error::Usage(format!("--config {}: not valid TOML: {e}", path.display())))?;
    if value
        .get("api_key")
        .or_else(|| value.get("api-key"))
        .is_some()
    {
        return Err(Error::Usage(format!(
            "--config {}: the API key does not go in the config file; use CAKE_API_KEY or \
             api-key-file = \"PATH\"",
            path.display()
        )));
    }
    FileConfig::deserialize(normalize_keys(value))
        .map_err(|e| Error::Usage(format!("--config {}: {e}", path.display())))
}

fn scalar_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        // Arrays and tables are not field values; the field's parser will say so.
        toml::Value::Array(_) | toml::Value::Table(_) => "(a list or table)".to_string(),
    }
}

/// Fills in from `args.config` every option the command line (or environment) did not give.
#[expect(clippy::too_many_lines, reason = "one line per key the file may hold")]
pub(super) fn merge(args: &mut RunArgs, matches: &clap::ArgMatches) -> Result<(), Error> {
    let Some(path) = args.config.clone() else {
        return Ok(());
    };
    let file = read(&path)?;
    let unset = |id: &str| {
        !matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let bad = |key: &str, v: &str, want: &str| {
        Error::Usage(format!(
            "--config {}: {key} = {v:?}: expected {want}",
            path.display()
        ))
    };
    macro_rules! take {
        ($field:ident) => {
            if let Some(v) = file.$field.clone()
                && unset(stringify!($field))
            {
                args.$field = v.into();
            }
        };
    }
    // Where requests go is one choice: the file may make it only when the command line (or
    // CAKE_BASE_URL) did not, and may not make it twice.
    if file.sandbox == Some(true) && file.base_url.is_some() {
        return Err(Error::Usage(format!(
            "--config {}: sandbox = true and base-url both say where requests go; keep one",
            path.display()
        )));
    }
    if unset("base_url") && unset("sandbox") {
        take!(base_url);
        take!(sandbox);
    }
    take!(api_key_file);
    take!(output);
    take!(checkpoint);
    take!(rate);
    take!(concurrency);
    take!(max_attempts);
    take!(retry_base_ms);
    take!(retry_cap_ms);
    take!(timeout);
    take!(method);
    take!(encoding);
    take!(decimal_comma);
    take!(decimal_point);
    take!(sheet);
    take!(max_cells);
    take!(max_unpacked_mb);
    take!(skip_invalid);
    take!(resend_in_doubt);
    take!(resend_in_doubt_file);
    take!(allow_insecure_http);
    take!(quiet);
    take!(verbose);
    take!(no_progress);
    take!(journal);
    take!(journal_days);
    take!(settle_after);
    if let Some(v) = file.api_version
        && unset("api_version")
    {
        if v != 2 && v != 4 {
            return Err(bad("api-version", &v.to_string(), "2 or 4"));
        }
        args.api_version = v;
    }
    if let Some(d) = &file.delimiter
        && unset("delimiter")
    {
        args.delimiter = Some(parse_delimiter(d).map_err(|e| bad("delimiter", d, &e))?);
    }
    if let Some(o) = &file.date_order
        && unset("date_order")
    {
        args.date_order = match o.as_str() {
            "mdy" => Some(DateOrder::Mdy),
            "dmy" => Some(DateOrder::Dmy),
            _ => return Err(bad("date-order", o, "mdy or dmy")),
        };
    }
    if let Some(f) = &file.log_format
        && unset("log_format")
    {
        args.log_format = match f.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(bad("log-format", f, "text or json")),
        };
    }
    // Tables add to what the command line gave; the command line's own entries come first.
    if let Some(set) = &file.set {
        args.sets
            .extend(set.iter().map(|(k, v)| (k.clone(), scalar_text(v))));
    }
    if let Some(map) = &file.map {
        args.maps
            .extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(())
}

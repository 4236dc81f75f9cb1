//! Raw flags + config file + environment → one validated [`RunConfig`], in one step.
//!
//! Everything a run could refuse for its settings is refused here, before the sheet is read:
//! ranges, paths that would overwrite each other, the URL's scheme, the key's presence.

use super::args::{MockArgs, RunArgs};
use super::file;
use super::paths::{journal, refuse_journal_overlap, refuse_unsafe_paths};
use crate::app::{ReadBack, RunConfig, Target};
use crate::engine::ReadBackSettings;
use crate::engine::Settings;
use crate::engine::limiter::Rate;
use crate::error::Error;
use crate::mock::{Ledger, MockConfig, SANDBOX_KEY};
use crate::sheet::SheetOptions;
use crate::sheet::reader::{ReadOptions, encoding_by_name};
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Upper bounds of the numeric flags of `run` and `check` (`--rate`'s are [`Rate`]'s). Every
/// number a user can give has one, so no typo makes a run wait for ever or spawn without end.
pub(crate) const MAX_CONCURRENCY: usize = 1024;
pub(crate) const MAX_ATTEMPTS: u32 = 100;
/// Retry waits: at most an hour.
pub(crate) const MAX_WAIT_MS: u64 = 3_600_000;
const WAIT_UNIT: &str = "milliseconds, at most an hour";
pub(crate) const MAX_TIMEOUT_SECS: f64 = 3600.0;
/// The journal's lookback: at most ten years.
pub(crate) const MAX_JOURNAL_DAYS: u32 = 3660;
/// The settling bound: at most a week.
pub(crate) const MAX_SETTLE_SECS: u64 = 7 * 24 * 3600;
/// The last row of an Excel worksheet.
pub(crate) const MAX_HEADER_ROW: u64 = 1_048_576;
/// Every cell of an Excel worksheet (1 048 576 rows × 16 384 columns).
pub(crate) const MAX_CELLS: u64 = MAX_HEADER_ROW * 16_384;
/// 64 GB unpacked: beyond any machine this runs on.
pub(crate) const MAX_UNPACKED_MB: u64 = 64 << 10;

/// `value` within `min..=max`, or a usage error naming the flag, the value and the range.
pub(crate) fn bounded<T: PartialOrd + Copy + std::fmt::Display>(
    flag: &str,
    value: T,
    min: T,
    max: T,
    what: &str,
) -> Result<(), Error> {
    if value < min || value > max {
        return Err(Error::Usage(format!(
            "{flag} {value} is out of range: give {min} to {max} ({what}); nothing was sent"
        )));
    }
    Ok(())
}

/// `cake-recon run`'s settings: the config file merged under the command line, then checked.
pub(crate) fn run_config(
    mut a: RunArgs,
    matches: Option<&clap::ArgMatches>,
) -> Result<RunConfig, Error> {
    if let Some(m) = matches {
        file::merge(&mut a, m)?;
    }
    let encoding = encoding(a.encoding.as_deref())?;
    let rate = numbers(&a)?;
    let key = load_api_key(a.api_key_file.as_deref())?;
    let target = target(&a, key.is_some())?;
    let (output, checkpoint) = files(&a);
    let decimal = a.decimal();
    let (read_back, read_back_run) = read_back(&a)?;
    let undo = read_back_run.as_ref().map(|rb| rb.undo.as_path());
    refuse_unsafe_paths(&a, &output, &checkpoint, undo)?;
    let journal = journal(&a)?;
    if let Some(j) = &journal {
        let ours = [
            ("the sheet", a.input.as_path()),
            ("--output", output.as_path()),
            ("--checkpoint", checkpoint.as_path()),
        ];
        refuse_journal_overlap(&j.path, ours.into_iter().chain(undo.map(|u| ("--undo", u))))?;
    }
    Ok(RunConfig {
        engine: Settings {
            // First: the fields after this one take `a` apart.
            resend_in_doubt: super::resend::of_args(&a)?,
            input: a.input,
            output,
            checkpoint,
            sheet: SheetOptions {
                read: ReadOptions {
                    encoding,
                    delimiter: a.delimiter,
                    fingerprint: false,
                    sheet: a.sheet,
                    limits: crate::sheet::limits::Limits {
                        cells: a.max_cells,
                        unpacked_bytes: a.max_unpacked_mb << 20,
                    },
                },
                decimal,
                date_order: a.date_order,
                maps: a.maps,
                sets: a.sets,
                values: a.values,
                allow_negative: a.allow_negative,
                hidden_rows: a.hidden_rows,
                amounts: a.amounts,
                profiled: None,
                api_version: a.api_version,
                header_row: a.header_row,
            },
            transport: a.method,
            api_version: a.api_version,
            rate,
            concurrency: a.concurrency,
            max_attempts: a.max_attempts,
            retry_base: Duration::from_millis(a.retry_base_ms),
            retry_cap: Duration::from_millis(a.retry_cap_ms.max(a.retry_base_ms)),
            timeout: Duration::from_secs_f64(a.timeout),
            skip_invalid: a.skip_invalid,
            accept_total_mismatch: a.accept_total_mismatch,
            restart: a.restart,
            restart_resend_additive: a.restart_resend_additive,
            read_back: read_back_run,
            edited_sheet: a.edited_sheet,
            show_progress: !a.quiet && !a.no_progress,
            journal,
            settle_after: Duration::from_secs(a.settle_after),
            reports: (read_back.window, read_back.version),
        },
        target,
        key,
        dry_run: a.dry_run,
        read_back,
        summary_json: a.summary_json,
        max_memory_mb: a.max_memory_mb,
        columns_only: a.columns_only,
        quiet: a.quiet,
        verbose: a.verbose,
        log_format: a.log_format,
    })
}

/// Every numeric flag of `run` and `check` within its bounds; the rate as a [`Rate`].
fn numbers(a: &RunArgs) -> Result<Rate, Error> {
    let rate = Rate::new("--rate", a.rate).map_err(Error::Usage)?;
    bounded(
        "--concurrency",
        a.concurrency,
        1,
        MAX_CONCURRENCY,
        "requests in flight",
    )?;
    bounded(
        "--max-attempts",
        a.max_attempts,
        1,
        MAX_ATTEMPTS,
        "attempts per row",
    )?;
    bounded(
        "--retry-base-ms",
        a.retry_base_ms,
        0,
        MAX_WAIT_MS,
        WAIT_UNIT,
    )?;
    bounded("--retry-cap-ms", a.retry_cap_ms, 0, MAX_WAIT_MS, WAIT_UNIT)?;
    if let Some(row) = a.header_row {
        bounded("--header-row", row, 1, MAX_HEADER_ROW, "a spreadsheet row")?;
    }
    bounded(
        "--max-cells",
        a.max_cells,
        1,
        MAX_CELLS,
        "cells of one sheet",
    )?;
    bounded(
        "--max-unpacked-mb",
        a.max_unpacked_mb,
        1,
        MAX_UNPACKED_MB,
        "megabytes",
    )?;
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= MAX_TIMEOUT_SECS) {
        return Err(Error::Usage(format!(
            "--timeout {} is out of range: give more than 0 and up to {MAX_TIMEOUT_SECS} seconds; \
             nothing was sent",
            a.timeout
        )));
    }
    bounded(
        "--journal-days",
        a.journal_days,
        1,
        MAX_JOURNAL_DAYS,
        "days",
    )?;
    bounded(
        "--settle-after",
        a.settle_after,
        1,
        MAX_SETTLE_SECS,
        "seconds, at most a week",
    )?;
    Ok(rate)
}

/// Where the run goes: `--sandbox-url`, `--sandbox`, `--base-url` (with a key unless a dry
/// run), or nowhere (a dry run only).
fn target(a: &RunArgs, has_key: bool) -> Result<Target, Error> {
    let usage = |m: String| Error::Usage(m);
    if let Some(url) = &a.sandbox_url {
        let url = url.trim().trim_end_matches('/').to_string();
        let host = check_base_url(&url, false)?;
        if !is_loopback(&host) {
            return Err(usage(format!(
                "--sandbox-url {url}: a sandbox runs on this machine; give its loopback URL, or \
                 --sandbox to start one"
            )));
        }
        Ok(Target::Sandbox(Some(url)))
    } else if a.sandbox {
        Ok(Target::Sandbox(None))
    } else if let Some(url) = a.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
        let url = url.trim().trim_end_matches('/').to_string();
        let host = check_base_url(&url, a.allow_insecure_http)?;
        if a.rate == 0.0 && !is_loopback(&host) && !a.dry_run {
            tracing::warn!(%host, "--rate 0 (unlimited) against a remote host: CAKE may throttle or block the key");
        }
        if !has_key && !a.dry_run {
            return Err(usage(
                "no API key: set CAKE_API_KEY or give --api-key-file PATH (never on the command \
                 line)"
                    .into(),
            ));
        }
        Ok(Target::Remote(url))
    } else if a.dry_run {
        Ok(Target::Unset)
    } else {
        Err(usage(
            "no CAKE instance: give --base-url URL (or CAKE_BASE_URL), --sandbox to try the \
             embedded emulator, or --dry-run to preview"
                .into(),
        ))
    }
}

/// `cake-recon mock-server`'s emulator settings.
pub(crate) fn mock_config(a: &MockArgs) -> Result<MockConfig, Error> {
    let faults = crate::mock::Faults::from(a.faults.clone());
    faults.validate().map_err(Error::Usage)?;
    let api_key = load_api_key(a.api_key_file.as_deref())?.map_or_else(
        || SANDBOX_KEY.to_string(),
        |k| k.expose_secret().to_string(),
    );
    let ledger = match &a.ledger {
        Some(path) => Ledger::load(path).map_err(|e| Error::Usage(format!("--ledger: {e}")))?,
        None => Ledger::generated(a.conversions),
    };
    Ok(MockConfig {
        api_key,
        ledger,
        faults,
        accept_offer_0: a.accept_offer_0,
    })
}

/// The results file and the checkpoint of this run.
///
/// Runs of different kinds never clobber each other's files: a dry run, when a real run's
/// checkpoint exists for the results, writes a preview beside them instead
/// (`INPUT.preview.csv`) and opens no checkpoint; a `--sandbox` trial keeps its own checkpoint
/// (`….sandbox.ckpt`, so the first real run is never refused because of a trial) and, when a real
/// run's results exist, its own results file (`INPUT.sandbox.results.csv`).
/// `--encoding NAME`, looked up.
fn encoding(name: Option<&str>) -> Result<Option<&'static encoding_rs::Encoding>, Error> {
    name.map(|name| {
        encoding_by_name(name).ok_or_else(|| {
            Error::Usage(format!(
                "--encoding {name}: unknown encoding; use utf-8, utf-16le, utf-16be or windows-1252"
            ))
        })
    })
    .transpose()
}

/// The read-back window (both days inclusive) and reports version; for `run --read-back`, the
/// engine's settings too.
fn read_back(a: &RunArgs) -> Result<(ReadBack, Option<ReadBackSettings>), Error> {
    if let (Some(since), Some(until)) = (a.since, a.until)
        && until < since
    {
        return Err(Error::Usage(format!(
            "--until {until} is before --since {since}: give the first day, then the last"
        )));
    }
    let run = a.read_back.then(|| ReadBackSettings {
        version: a.reports_version,
        window: a.since.zip(a.until),
        undo: a
            .undo
            .clone()
            .unwrap_or_else(|| sibling(&default_output(&a.input), "undo")),
    });
    Ok((
        ReadBack {
            window: a.since.zip(a.until),
            version: a.reports_version,
        },
        run,
    ))
}

/// `cake-recon check`: the run's settings, writing `INPUT.check.csv` (or `--output`).
pub(crate) fn check_config(
    mut a: RunArgs,
    matches: Option<&clap::ArgMatches>,
) -> Result<RunConfig, Error> {
    if a.dry_run {
        return Err(Error::Usage(
            "check only reads and sends nothing already: drop --dry-run".into(),
        ));
    }
    if a.output.is_none() {
        a.output = Some(sibling(&default_output(&a.input), "check"));
    }
    run_config(a, matches)
}

fn files(a: &RunArgs) -> (PathBuf, PathBuf) {
    let mut output = a.output.clone().unwrap_or_else(|| default_output(&a.input));
    let real_checkpoint = |output: &Path| with_suffix(output, ".ckpt");
    let real = a
        .checkpoint
        .clone()
        .unwrap_or_else(|| real_checkpoint(&output));
    if a.dry_run && real.exists() {
        // The preview gets a file of its own; the real run's checkpoint is only read, to say
        // what the next run would send.
        return (sibling(&output, "preview"), real);
    } else if a.sandbox && a.output.is_none() && real_checkpoint(&output).exists() {
        output = sibling(&output, "sandbox.results");
    }
    let checkpoint = a
        .checkpoint
        .clone()
        .unwrap_or_else(|| with_suffix(&output, if a.sandbox { ".sandbox.ckpt" } else { ".ckpt" }));
    (output, checkpoint)
}

/// The files the command line gives a sheet named `stem` in `dir` when no path is given: its
/// results, the checkpoint beside them, its undo sheet and its check file. The screen names
/// its jobs' files with this very rule, so a run started from the page and one typed at the
/// command line in the same folder find each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SheetFiles {
    pub results: PathBuf,
    pub checkpoint: PathBuf,
    pub undo: PathBuf,
    pub check: PathBuf,
}

/// [`SheetFiles`] of the sheet `dir/stem.csv` (any sheet extension names the same files).
pub(crate) fn sheet_files(dir: &Path, stem: &str) -> SheetFiles {
    let results = default_output(&dir.join(format!("{stem}.csv")));
    SheetFiles {
        checkpoint: with_suffix(&results, ".ckpt"),
        undo: sibling(&results, "undo"),
        check: sibling(&results, "check"),
        results,
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// `X.results.csv` → `X.KIND.csv`; `X.csv` → `X.KIND.csv`.
fn sibling(output: &Path, kind: &str) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = [".results.csv", ".csv"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name.as_str(), |ext| {
            name.get(..name.len() - ext.len()).unwrap_or(&name)
        });
    output.with_file_name(format!("{stem}.{kind}.csv"))
}

/// `INPUT.csv` (or `.xlsx`, `.xls`, `.xlsm`, `.ods`) → `INPUT.results.csv`; any other name
/// gets `.results.csv` appended.
fn default_output(input: &Path) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = [".csv", ".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name.as_str(), |ext| {
            name.get(..name.len() - ext.len()).unwrap_or(&name)
        });
    input.with_file_name(format!("{stem}.results.csv"))
}

/// Is `host` this machine (so plain http cannot leak the key onto a network)?
pub(super) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a base URL: a scheme and host, and no plain http off loopback unless allowed.
pub(super) fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<String, Error> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::Usage(format!(
            "--base-url {url}: not a URL ({e}); give e.g. https://admin.example-network.com"
        ))
    })?;
    let host = parsed.host_str().unwrap_or("").to_string();
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&host) || allow_insecure_http => {}
        "http" => {
            return Err(Error::Usage(format!(
                "--base-url {url}: plain http to {host} would send the API key unencrypted; use \
                 https, or add --allow-insecure-http if you really mean it"
            )));
        }
        other => {
            return Err(Error::Usage(format!(
                "--base-url {url}: scheme {other} is not http or https"
            )));
        }
    }
    if host.is_empty() {
        return Err(Error::Usage(format!("--base-url {url}: no host")));
    }
    Ok(host)
}

/// Reads the API key from `--api-key-file` or `CAKE_API_KEY` (never from the command line).
///
/// Returns `None` when neither is set. The key is held as a secret from here on.
pub(super) fn load_api_key(file: Option<&Path>) -> Result<Option<SecretString>, Error> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "cannot read --api-key-file {}: {e}",
                path.display()
            ))
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(Error::Usage(format!(
                "--api-key-file {} is empty",
                path.display()
            )));
        }
        return Ok(Some(SecretString::from(key.to_string())));
    }
    Ok(std::env::var("CAKE_API_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .map(SecretString::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names() {
        assert_eq!(
            default_output(Path::new("dir/june.csv")),
            PathBuf::from("dir/june.results.csv")
        );
        assert_eq!(
            default_output(Path::new("june.CSV")),
            PathBuf::from("june.results.csv")
        );
        assert_eq!(
            default_output(Path::new("june.txt")),
            PathBuf::from("june.txt.results.csv")
        );
        assert_eq!(
            default_output(Path::new("june.xlsx")),
            PathBuf::from("june.results.csv")
        );
    }

    #[test]
    fn sibling_names() {
        assert_eq!(
            sibling(Path::new("d/june.results.csv"), "preview"),
            PathBuf::from("d/june.preview.csv")
        );
        assert_eq!(
            sibling(Path::new("june.results.csv"), "sandbox.results"),
            PathBuf::from("june.sandbox.results.csv")
        );
        assert_eq!(
            sibling(Path::new("out.csv"), "preview"),
            PathBuf::from("out.preview.csv")
        );
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1", "192.168.1.1", "::2"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://admin.example.com", false).is_ok());
        assert!(check_base_url("http://127.0.0.1:8080", false).is_ok());
        assert!(check_base_url("http://[::1]:8080", false).is_ok());
        let e = check_base_url("http://admin.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--allow-insecure-http"), "{e}");
        assert!(check_base_url("http://admin.example.com", true).is_ok());
        assert!(check_base_url("ftp://x", true).is_err());
        assert!(check_base_url("not a url", true).is_err());
    }
}

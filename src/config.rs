//! Command-line arguments → a validated [`RunConfig`], in one place.

use crate::cake::request::{Endpoint, Transport};
use crate::cli::RunArgs;
use crate::engine::limiter::{MAX_RATE, MIN_RATE};
use crate::error::Error;
use crate::sheet::SheetOptions;
use crate::sheet::parse::DecimalStyle;
use crate::sheet::reader::{ReadOptions, encoding_by_name};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded emulator, in process.
    Sandbox,
    /// A real CAKE instance (or a mock-server) at this base URL.
    Remote(String),
    /// No URL given: fine for a dry run only.
    Unset,
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub input: PathBuf,
    pub output: PathBuf,
    pub checkpoint: PathBuf,
    pub sheet: SheetOptions,
    pub target: Target,
    pub transport: Transport,
    pub api_version: u8,
    pub rate: f64,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub timeout: Duration,
    pub dry_run: bool,
    pub skip_invalid: bool,
    pub resend_in_doubt: bool,
    pub restart: bool,
    pub allow_insecure_http: bool,
    pub api_key_file: Option<PathBuf>,
    pub quiet: bool,
    pub no_progress: bool,
}

/// `INPUT.csv` → `INPUT.results.csv`; any other name gets `.results.csv` appended.
#[must_use]
pub fn default_output(input: &Path) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if name.to_ascii_lowercase().ends_with(".csv") {
        name.get(..name.len() - 4).unwrap_or(&name).to_string()
    } else {
        name
    };
    input.with_file_name(format!("{stem}.results.csv"))
}

impl RunConfig {
    /// Validates the arguments.
    pub fn from_args(a: &RunArgs) -> Result<Self, Error> {
        let usage = |m: String| Error::Usage(m);
        let encoding = match &a.encoding {
            Some(name) => Some(encoding_by_name(name).ok_or_else(|| {
                usage(format!(
                    "--encoding {name}: unknown encoding; use utf-8, utf-16le, utf-16be or windows-1252"
                ))
            })?),
            None => None,
        };
        if !(a.rate == 0.0 || (MIN_RATE..=MAX_RATE).contains(&a.rate)) {
            return Err(usage(format!(
                "--rate {}: give 0 (unlimited, for local tests) or a number of requests per \
                 second between {MIN_RATE} and {MAX_RATE}",
                a.rate
            )));
        }
        if a.concurrency == 0 || a.concurrency > 1024 {
            return Err(usage("--concurrency must be between 1 and 1024".into()));
        }
        if a.max_attempts == 0 || a.max_attempts > 100 {
            return Err(usage("--max-attempts must be between 1 and 100".into()));
        }
        if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0) {
            return Err(usage("--timeout must be between 0 and 3600 seconds".into()));
        }
        let target = if a.sandbox {
            Target::Sandbox
        } else if let Some(url) = a.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Target::Remote(url.trim().trim_end_matches('/').to_string())
        } else {
            Target::Unset
        };
        let output = a.output.clone().unwrap_or_else(|| default_output(&a.input));
        let checkpoint = a.checkpoint.clone().unwrap_or_else(|| {
            let mut p = output.as_os_str().to_owned();
            p.push(".ckpt");
            PathBuf::from(p)
        });
        refuse_overlap(&a.input, &output, &checkpoint)?;
        Ok(Self {
            input: a.input.clone(),
            output,
            checkpoint,
            sheet: SheetOptions {
                read: ReadOptions {
                    encoding,
                    delimiter: a.delimiter,
                    fingerprint: false,
                },
                decimal: if a.decimal_comma {
                    DecimalStyle::Comma
                } else {
                    DecimalStyle::Point
                },
                date_order: a.date_order,
                maps: a.maps.clone(),
                sets: a.sets.clone(),
                api_version: a.api_version,
            },
            target,
            transport: a.method,
            api_version: a.api_version,
            rate: a.rate,
            concurrency: a.concurrency,
            max_attempts: a.max_attempts,
            retry_base: Duration::from_millis(a.retry_base_ms),
            retry_cap: Duration::from_millis(a.retry_cap_ms.max(a.retry_base_ms)),
            timeout: Duration::from_secs_f64(a.timeout),
            dry_run: a.dry_run,
            skip_invalid: a.skip_invalid,
            resend_in_doubt: a.resend_in_doubt,
            restart: a.restart,
            allow_insecure_http: a.allow_insecure_http,
            api_key_file: a.api_key_file.clone(),
            quiet: a.quiet,
            no_progress: a.no_progress,
        })
    }

    /// Every setting that changes a request or how the sheet is read, for the checkpoint's
    /// fingerprint (resuming with different settings would mix two different runs).
    #[must_use]
    pub fn fingerprint_settings(&self) -> Vec<(String, String)> {
        let target = match &self.target {
            Target::Remote(url) => url.clone(),
            Target::Sandbox => "sandbox".into(),
            Target::Unset => "none".into(),
        };
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(a, b)| format!("{a}={b}"))
                .collect::<Vec<_>>()
                .join("|")
        };
        let r = &self.sheet.read;
        vec![
            ("base_url".into(), target),
            ("api_version".into(), self.api_version.to_string()),
            ("method".into(), self.transport.as_str().into()),
            ("map".into(), pairs(&self.sheet.maps)),
            ("set".into(), pairs(&self.sheet.sets)),
            (
                "encoding".into(),
                r.encoding.map_or("auto", |e| e.name()).into(),
            ),
            (
                "delimiter".into(),
                r.delimiter
                    .map_or("auto".into(), |d| (d as char).escape_default().to_string()),
            ),
            (
                "decimal".into(),
                format!("{:?}", self.sheet.decimal).to_lowercase(),
            ),
            (
                "date_order".into(),
                format!("{:?}", self.sheet.date_order).to_lowercase(),
            ),
        ]
    }

    /// The endpoint requests are built for (a placeholder host in a dry run without a URL).
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        let base = match &self.target {
            Target::Remote(url) => url.as_str(),
            Target::Sandbox => "http://sandbox.invalid",
            Target::Unset => "https://YOUR-CAKE-INSTANCE",
        };
        Endpoint::new(base, self.api_version, self.transport)
    }
}

/// `path` made absolute with its directory's symlinks resolved, so that two spellings of one
/// file compare equal (the file itself need not exist yet).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// The sheet, the results and the checkpoint must be three different files: a results file
/// renamed over the sheet destroys it, a checkpoint over either corrupts both.
fn refuse_overlap(input: &Path, output: &Path, checkpoint: &Path) -> Result<(), Error> {
    let (i, o, c) = (resolved(input), resolved(output), resolved(checkpoint));
    let clash = if o == i {
        Some(("--output", output, "the sheet"))
    } else if c == i {
        Some(("--checkpoint", checkpoint, "the sheet"))
    } else if c == o {
        Some(("--checkpoint", checkpoint, "the results file"))
    } else {
        None
    };
    match clash {
        Some((flag, path, what)) => Err(Error::Usage(format!(
            "{flag} {} would overwrite {what}; give a different path",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// Reads the API key from `--api-key-file` or `CAKE_API_KEY` (never from the command line).
///
/// Returns `None` when neither is set. The key is held as a secret from here on.
pub fn load_api_key(file: Option<&Path>) -> Result<Option<secrecy::SecretString>, Error> {
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
        return Ok(Some(secrecy::SecretString::from(key.to_string())));
    }
    Ok(std::env::var("CAKE_API_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .map(secrecy::SecretString::from))
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
    }
}

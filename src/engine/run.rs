//! Setting a run up (key, endpoint, sandbox, client) and reporting how it ended.

use super::dispatcher::{Dispatch, Report, Stop, dispatch};
use super::limiter::RateGate;
use super::retry::Backoff;
use super::worker::Shared;
use crate::app::invalid_list;
use crate::cake::client::Client;
use crate::cake::request::Endpoint;
use crate::checkpoint::{self, Fingerprint, Store};
use crate::config::{RunConfig, Target, load_api_key};
use crate::error::Error;
use crate::exit;
use crate::mock::{Ledger, MockConfig, MockServer, SANDBOX_KEY};
use crate::report::output::ResultsWriter;
use crate::update::Status;
use crate::sheet::prepass;
use secrecy::{ExposeSecret, SecretString};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Is `host` this machine (so plain http cannot leak the key onto a network)?
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a base URL: a scheme and host, and no plain http off loopback unless allowed.
pub fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<String, Error> {
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

/// `cake-recon run` (not a dry run).
pub fn run(cfg: &RunConfig) -> Result<u8, Error> {
    let mut fingerprinted = cfg.sheet.clone();
    fingerprinted.read.fingerprint = true;
    let pre = prepass(&cfg.input, &fingerprinted)?;
    if pre.invalid > 0 && !cfg.skip_invalid {
        return Err(Error::InvalidRows {
            invalid: pre.invalid,
            rows: pre.rows,
            details: invalid_list(&pre),
        });
    }
    let key = load_api_key(cfg.api_key_file.as_deref())?;
    let (base_url, key) = match &cfg.target {
        Target::Sandbox => (None, key.unwrap_or_else(|| SecretString::from(SANDBOX_KEY))),
        Target::Remote(url) => {
            let host = check_base_url(url, cfg.allow_insecure_http)?;
            if cfg.rate == 0.0 && !is_loopback(&host) {
                tracing::warn!(%host, "--rate 0 (unlimited) against a remote host: CAKE may throttle or block the key");
            }
            let key = key.ok_or_else(|| {
                Error::Usage("no API key: set CAKE_API_KEY or give --api-key-file PATH (never on the command line)".into())
            })?;
            (Some(url.clone()), key)
        }
        Target::Unset => {
            return Err(Error::Usage(
                "no CAKE instance: give --base-url URL (or CAKE_BASE_URL), --sandbox to try the \
                 embedded emulator, or --dry-run to preview"
                    .into(),
            ));
        }
    };
    if pre.invalid > 0 {
        tracing::warn!(
            invalid = pre.invalid,
            "--skip-invalid: invalid rows are not sent"
        );
    }
    let fingerprint = Fingerprint {
        input_path: cfg.input.display().to_string(),
        input_size: pre.input_size,
        input_sha256: pre.input_sha256.clone(),
        settings: cfg.fingerprint_settings(),
        rows: pre.valid(),
    };
    let opened = checkpoint::open_for_run(&cfg.checkpoint, &fingerprint, cfg.restart)?;
    if opened.resumed {
        tracing::info!(checkpoint = %opened.path.display(), "resuming from the checkpoint");
    }
    let prior = opened.resumed.then(|| opened.path.clone());
    let _lock = opened.lock;
    let (store, store_thread) = Store::start(opened.conn, opened.path.clone())?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let report = runtime.block_on(async {
        // The sandbox is the real emulator on a loopback port of this process.
        let sandbox = match base_url {
            Some(_) => None,
            None => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| Error::Usage(format!("cannot start the sandbox: {e}")))?;
                let config = MockConfig {
                    api_key: key.expose_secret().to_string(),
                    ledger: Ledger::generated(crate::mock::ledger::MAX_GENERATED),
                    faults: crate::mock::Faults::default(),
                };
                Some(MockServer::start(listener, config).map_err(|e| Error::Usage(format!("cannot start the sandbox: {e}")))?)
            }
        };
        let base = base_url.clone().or_else(|| sandbox.as_ref().map(MockServer::url)).unwrap_or_default();
        let endpoint = Endpoint::new(&base, cfg.api_version, cfg.transport);
        let client = Client::new(endpoint, key, cfg.timeout, cfg.concurrency).map_err(Error::Usage)?;
        let shared = Arc::new(Shared {
            client,
            gate: RateGate::new(cfg.rate),
            backoff: Backoff { base: cfg.retry_base, cap: cfg.retry_cap, max_attempts: cfg.max_attempts },
            stopping: AtomicBool::new(false),
            hard_stop: CancellationToken::new(),
            abandoned: std::sync::OnceLock::new(),
            key_refused: AtomicBool::new(false),
            store: store.clone(),
        });
        let writer = ResultsWriter::create(&cfg.output)
            .map_err(|source| Error::Write { what: cfg.output.display().to_string(), source })?;
        let show_bar = !cfg.quiet && !cfg.no_progress && std::io::stderr().is_terminal();
        tracing::info!(rows = pre.rows, target = %if sandbox.is_some() { "sandbox".to_string() } else { base.clone() }, rate = cfg.rate, concurrency = cfg.concurrency, "starting");
        let report = dispatch(
            Dispatch {
                input: cfg.input.clone(),
                sheet: cfg.sheet.clone(),
                duplicates: pre.duplicates.clone(),
                concurrency: cfg.concurrency,
                grace: cfg.timeout.min(Duration::from_secs(15)),
                total_rows: pre.rows,
                show_bar,
                prior,
                resend_in_doubt: cfg.resend_in_doubt,
            },
            shared,
            writer,
            cfg.output.clone(),
        )
        .await;
        if let Some(s) = sandbox {
            s.stop().await;
        }
        report
    });
    let ended = match &report {
        Ok(r) => match &r.stop {
            None => "finished".to_string(),
            Some(Stop::Interrupted) => "interrupted".to_string(),
            Some(Stop::Aborted(reason)) => format!("aborted: {reason}"),
        },
        Err(e) => format!("aborted: {e}"),
    };
    store.finish(&ended);
    let _ = store_thread.join();
    let report = report.map_err(Error::after_sending)?;
    if !cfg.quiet {
        use std::io::Write as _;
        // A closed stdout (`| head`) must not turn a finished run into a crash.
        let _ = write!(std::io::stdout(), "{}", summary(&report, cfg));
    }
    Ok(exit_code(&report))
}

/// The contract's exit code for a finished (or stopped) run.
#[must_use]
pub fn exit_code(r: &Report) -> u8 {
    match &r.stop {
        Some(Stop::Interrupted) => exit::INTERRUPTED,
        Some(Stop::Aborted(_)) => exit::ABORTED,
        None => {
            let not_updated = [
                Status::Rejected,
                Status::Failed,
                Status::Invalid,
                Status::InDoubt,
            ]
            .iter()
            .any(|s| r.counts.get(s).copied().unwrap_or(0) > 0);
            if not_updated || r.unfinished > 0 {
                exit::SOME_ROWS_NOT_UPDATED
            } else {
                exit::OK
            }
        }
    }
}

/// The end-of-run summary.
#[must_use]
pub fn summary(r: &Report, cfg: &RunConfig) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let headline = match &r.stop {
        None => "Run finished.".to_string(),
        Some(Stop::Interrupted) => {
            "Run interrupted: run the same command again to continue.".to_string()
        }
        Some(Stop::Aborted(reason)) => format!(
            "Run stopped: {reason}. Fix the cause, then run the same command again to continue."
        ),
    };
    let _ = writeln!(s, "{headline}");
    let count = |st: Status| r.counts.get(&st).copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "  updated {}, rejected {}, failed {}, in_doubt {}, invalid {}, not sent {}",
        count(Status::Updated),
        count(Status::Rejected),
        count(Status::Failed),
        count(Status::InDoubt),
        count(Status::Invalid),
        r.unfinished
    );
    let _ = writeln!(
        s,
        "  applied: Σ payout {} (set {}, added {}), Σ received {}",
        r.updated.payout(),
        r.updated.payout_set,
        r.updated.payout_added,
        r.updated.received
    );
    let secs = r.elapsed.as_secs_f64();
    let rate = r.achieved_rate.unwrap_or(0.0);
    let configured = if cfg.rate > 0.0 {
        format!("{}/s", cfg.rate)
    } else {
        "unlimited".into()
    };
    let _ = writeln!(
        s,
        "  {} requests in {secs:.1} s ({rate:.1}/s; configured {configured})",
        r.attempts
    );
    if r.resumed > 0 {
        let _ = writeln!(
            s,
            "  {} rows were finished by an earlier run (from the checkpoint)",
            r.resumed
        );
    }
    let _ = writeln!(s, "  results: {}", r.output.display());
    let _ = writeln!(s, "  checkpoint: {}", cfg.checkpoint.display());
    if count(Status::InDoubt) > 0 {
        let _ = writeln!(
            s,
            "  in_doubt rows may or may not have been applied: check them in CAKE; --resend-in-doubt sends them again"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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

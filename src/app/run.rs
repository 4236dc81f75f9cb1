//! `cake-recon run`.

use super::dry_run::dry_run;
use super::run_config::{RunConfig, Target};
use super::summary_json::RunOutcome;
use crate::engine::{self, Destination};
use crate::error::Error;
use crate::mock::{Ledger, MAX_GENERATED, MockConfig, SANDBOX_KEY, Sandbox};
use crate::report::summary::{exit_code, log_summary, one_line, summary};
use secrecy::{ExposeSecret, SecretString};

/// Runs (or previews) the sheet and returns the exit code.
pub(crate) fn run(cfg: &RunConfig) -> Result<u8, Error> {
    if let Some(mb) = cfg.max_memory_mb {
        limit_memory(mb)?;
    }
    if cfg.dry_run {
        return dry_run(cfg, &mut std::io::stdout().lock());
    }
    let result = send(cfg);
    if let Some(path) = &cfg.summary_json {
        let outcome = match &result {
            Ok((code, report)) => RunOutcome {
                exit: *code,
                error: None,
                rows: report
                    .counts
                    .iter()
                    .map(|(status, n)| (status.as_str().to_string(), *n))
                    .collect(),
            },
            Err(e) => RunOutcome {
                exit: e.exit_code(),
                error: Some(e.to_string()),
                rows: std::collections::BTreeMap::new(),
            },
        };
        super::summary_json::write(path, &outcome)?;
    }
    result.map(|(code, _)| code)
}

/// The address-space limit `--max-memory-mb` sets on this very process, before anything is
/// read: an allocation beyond it fails (the command ends) instead of the machine's memory.
fn limit_memory(mb: u64) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let bytes = mb.saturating_mul(1 << 20);
        setrlimit(
            Resource::As,
            Rlimit {
                current: Some(bytes),
                maximum: Some(bytes),
            },
        )
        .map_err(|e| {
            Error::Usage(format!(
                "--max-memory-mb {mb}: the limit cannot be set ({e}); give a larger one, or \
                 leave it out"
            ))
        })?;
    }
    #[cfg(not(unix))]
    let _ = mb;
    Ok(())
}

/// The run itself: its exit code and report.
fn send(cfg: &RunConfig) -> Result<(u8, crate::report::summary::Report), Error> {
    let (sandbox, destination) = destination(cfg)?;
    let report = engine::run(&cfg.engine, &destination);
    drop(sandbox);
    let report = report?;
    let code = exit_code(&report);
    let json = cfg.log_format == crate::logging::LogFormat::Json;
    if cfg.quiet {
        // Quiet still says how the run ended: cron mails stderr (and a JSON log still ends
        // with its summary event, after this line).
        eprintln!("{}", one_line(&report, code));
        log_summary(&report, code, json);
    } else {
        log_summary(&report, code, json);
        let text = summary(
            &report,
            cfg.engine.rate.per_second().unwrap_or(0.0),
            &cfg.engine.checkpoint,
        );
        super::stdout::show(&mut std::io::stdout().lock(), &text)?;
    }
    Ok((code, report))
}

/// Where requests go: a real instance, or the sandbox emulator started here on a loopback port
/// (kept alive by the returned handle).
pub(super) fn destination(cfg: &RunConfig) -> Result<(Option<Sandbox>, Destination), Error> {
    match &cfg.target {
        Target::Sandbox(Some(url)) => Ok((
            None,
            Destination {
                url: url.clone(),
                label: "sandbox".into(),
                key: cfg
                    .key
                    .clone()
                    .unwrap_or_else(|| SecretString::from(SANDBOX_KEY)),
            },
        )),
        Target::Sandbox(None) => {
            let (sandbox, key) = start_sandbox(cfg.key.clone())?;
            let url = sandbox.url().to_string();
            Ok((
                Some(sandbox),
                Destination {
                    url,
                    label: "sandbox".into(),
                    key,
                },
            ))
        }
        Target::Remote(url) => Ok((
            None,
            Destination {
                url: url.clone(),
                label: url.clone(),
                // `config::run_config` refuses a remote run without a key (with the advice).
                key: cfg
                    .key
                    .clone()
                    .ok_or_else(|| Error::Internal("a remote run without a key".into()))?,
            },
        )),
        // `config::run_config` allows no target for a dry run only (with the advice).
        Target::Unset => Err(Error::Internal("a run without a target".into())),
    }
}

/// The embedded emulator on a loopback port (a generated month; the key given, or the sandbox's
/// own), and the key it accepts.
pub(crate) fn start_sandbox(key: Option<SecretString>) -> Result<(Sandbox, SecretString), Error> {
    let key = key.unwrap_or_else(|| SecretString::from(SANDBOX_KEY));
    let sandbox = Sandbox::start(MockConfig {
        api_key: key.expose_secret().to_string(),
        ledger: Ledger::generated(MAX_GENERATED),
        faults: crate::mock::Faults::default(),
        accept_offer_0: false,
    })
    .map_err(|e| Error::Internal(format!("cannot start the sandbox: {e}")))?;
    Ok((sandbox, key))
}

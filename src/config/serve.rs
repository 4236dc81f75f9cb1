//! `cake-recon serve`: its flags checked, and the one way the screen turns its choices into a
//! `run` (the same clap definition the command line uses).

use super::args::ServeArgs;
use super::resolve::{check_base_url, is_loopback, load_api_key};
use crate::app::Target;
use crate::engine::limiter::{MAX_RATE, MIN_RATE, Rate};
use crate::error::Error;
use rand::{RngCore, SeedableRng};
use secrecy::SecretString;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What `serve` runs with, validated.
#[derive(Debug)]
pub(crate) struct ServeConfig {
    pub listen: SocketAddr,
    /// `Sandbox` or `Remote(url)`; never `Unset`.
    pub target: Target,
    /// Present whenever the target is remote.
    pub key: Option<SecretString>,
    pub allow_insecure_http: bool,
    /// The access token: given (`--token`) or random.
    pub token: SecretString,
    /// True when the token was given rather than made here (it is then not printed).
    pub token_given: bool,
    pub dir: PathBuf,
    /// Bytes.
    pub max_upload: u64,
    pub rate: Rate,
    /// How long Stop waits before it kills a run (`--stop-grace-secs`).
    pub stop_grace: std::time::Duration,
    /// `--keep-uploads-days`.
    pub keep_uploads_days: u64,
    /// `--preview-memory-mb`, `--preview-timeout-secs`: the limits of an upload's preview.
    pub preview_memory_mb: u64,
    pub preview_timeout: std::time::Duration,
    /// `--users`: the people and their roles (`None`: one token, as before).
    pub users: Option<Vec<super::User>>,
    /// `--approval-over`.
    pub approval_over: rust_decimal::Decimal,
}

/// A random token of 32 bytes, as 64 hex digits.
#[must_use]
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks `serve`'s flags: loopback unless a token is given, a target, a key for a remote one.
pub(crate) fn serve_config(a: ServeArgs) -> Result<ServeConfig, Error> {
    bounds(&a)?;
    let usage = |m: String| Error::Usage(m);
    let listen: SocketAddr = a.listen.parse().map_err(|_| {
        usage(format!(
            "--listen {}: give an address and port such as 127.0.0.1:8080",
            a.listen
        ))
    })?;
    let given = a
        .token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &given
        && t.len() < 16
    {
        return Err(usage(
            "--token is too short to protect anything: give at least 16 random characters".into(),
        ));
    }
    if !listen.ip().is_loopback() && given.is_none() {
        return Err(usage(format!(
            "refusing to listen on {listen}, off loopback, without --token: anyone who reaches \
             it could apply a sheet. Give --token (a long random secret), and put a TLS proxy \
             in front: without TLS the token and the sheets cross the network in clear text"
        )));
    }
    let key = load_api_key(a.api_key_file.as_deref())?;
    let target = if a.sandbox {
        Target::Sandbox(None)
    } else if let Some(url) = a.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
        let url = url.trim().trim_end_matches('/').to_string();
        check_base_url(&url, a.allow_insecure_http)?;
        if key.is_none() {
            return Err(usage(
                "no API key: set CAKE_API_KEY or give --api-key-file PATH (never on the command \
                 line)"
                    .into(),
            ));
        }
        Target::Remote(url)
    } else {
        return Err(usage(
            "no CAKE instance: give --base-url URL (or CAKE_BASE_URL), or --sandbox to try the \
             screen against the embedded emulator"
                .into(),
        ));
    };
    // The runs' own rule (`run --rate`), checked here so a server never starts with a rate its
    // runs would refuse; unlimited is for local benchmarks, not for the page's runs.
    let rate = Rate::new("--rate", a.rate).map_err(Error::Usage)?;
    if rate.is_unlimited() {
        return Err(usage(format!(
            "--rate 0 (unlimited) is for local benchmarks of `cake-recon run`; the page's runs \
             go to CAKE: give requests per second between {MIN_RATE} and {MAX_RATE}"
        )));
    }
    // A folder made here is the owner's alone, as everything the screen makes in it.
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder.create(&a.dir).map_err(|e| {
        usage(format!(
            "--dir {}: cannot create it ({e}); give a folder you can write to",
            a.dir.display()
        ))
    })?;
    Ok(ServeConfig {
        listen,
        target,
        key,
        allow_insecure_http: a.allow_insecure_http,
        token_given: given.is_some(),
        token: SecretString::from(given.unwrap_or_else(random_token)),
        dir: a.dir,
        max_upload: a.max_upload_mb * 1024 * 1024,
        rate,
        stop_grace: std::time::Duration::from_secs(a.stop_grace_secs),
        keep_uploads_days: a.keep_uploads_days,
        preview_memory_mb: a.preview_memory_mb,
        preview_timeout: std::time::Duration::from_secs(a.preview_timeout_secs),
        users: a.users.as_deref().map(super::load_users).transpose()?,
        approval_over: if a.approval_over.is_sign_negative() {
            return Err(usage(format!(
                "--approval-over {}: give an amount of 0 or more",
                a.approval_over
            )));
        } else {
            a.approval_over
        },
    })
}

/// Every numeric flag of `serve` within its range.
fn bounds(a: &ServeArgs) -> Result<(), Error> {
    super::resolve::bounded(
        "--keep-uploads-days",
        a.keep_uploads_days,
        1,
        3660,
        "days an upload is kept",
    )?;
    super::resolve::bounded(
        "--stop-grace-secs",
        a.stop_grace_secs,
        1,
        600,
        "seconds a stopped run may take",
    )?;
    super::resolve::bounded(
        "--preview-memory-mb",
        a.preview_memory_mb,
        256,
        1_048_576,
        "megabytes a preview may use",
    )?;
    super::resolve::bounded(
        "--preview-timeout-secs",
        a.preview_timeout_secs,
        5,
        3600,
        "seconds a preview may take",
    )?;
    super::resolve::bounded(
        "--max-upload-mb",
        a.max_upload_mb,
        1,
        4096,
        "megabytes per sheet",
    )?;
    Ok(())
}

/// True when `host` (a URL's host) is this machine.
#[must_use]
pub(crate) fn host_is_loopback(host: &str) -> bool {
    is_loopback(host)
}

/// Parses the arguments of `cake-recon run` (without the program and command names) exactly as
/// the command line would, so the screen's choices go through the same definitions and checks.
#[cfg(test)]
pub(crate) fn parse_run_args<I, S>(args: I) -> Result<super::args::RunArgs, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    use super::args::RunArgs;
    use clap::{Args as _, FromArgMatches as _};
    let cmd = RunArgs::augment_args(clap::Command::new("run").no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| Error::Usage(e.render().to_string()))?;
    RunArgs::from_arg_matches(&matches).map_err(|e| Error::Usage(e.render().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(listen: &str, token: Option<&str>) -> ServeArgs {
        ServeArgs {
            listen: listen.into(),
            base_url: None,
            sandbox: true,
            api_key_file: None,
            allow_insecure_http: false,
            dir: std::env::temp_dir(),
            token: token.map(str::to_string),
            max_upload_mb: 1,
            rate: 5.0,
            stop_grace_secs: 30,
            keep_uploads_days: 30,
            preview_memory_mb: 4096,
            preview_timeout_secs: 300,
            users: None,
            approval_over: rust_decimal::Decimal::ZERO,
        }
    }

    #[test]
    fn off_loopback_needs_a_token_and_says_why() {
        let err = serve_config(args("0.0.0.0:8080", None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--token") && err.contains("TLS"), "{err}");
        let cfg = serve_config(args("0.0.0.0:8080", Some("0123456789abcdef0123"))).unwrap();
        assert!(cfg.token_given);
        let cfg = serve_config(args("127.0.0.1:0", None)).unwrap();
        assert!(!cfg.token_given);
        assert_eq!(secrecy::ExposeSecret::expose_secret(&cfg.token).len(), 64);
    }

    #[test]
    fn the_rate_is_the_runs_rate() {
        let with = |rate: f64| {
            serve_config(ServeArgs {
                rate,
                ..args("127.0.0.1:0", None)
            })
        };
        for bad in [0.005, 0.0, -1.0, 1e9, f64::NAN] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains("--rate"), "{bad}: {e}");
        }
        assert_eq!(with(0.01).unwrap().rate.to_string(), "0.01");
        assert_eq!(with(5000.0).unwrap().rate.to_string(), "5000");
    }

    #[test]
    fn run_arguments_parse_as_the_command_line_parses_them() {
        let a = parse_run_args(["june.csv", "--map", "Payout=ignore", "--rate", "2"]).unwrap();
        assert_eq!(a.maps, vec![("Payout".to_string(), "ignore".to_string())]);
        assert!(parse_run_args(["june.csv", "--no-such-flag"]).is_err());
    }
}

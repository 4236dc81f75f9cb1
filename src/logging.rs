//! `tracing` set-up: text or JSON to stderr, verbosity from -q/-v, never across the bar.
//!
//! The progress bar is a `tracing` span drawn by `tracing-indicatif` (only spans that ask for a
//! bar get one); log lines go through its writer, which lifts the bar while a line is written.

use tracing_indicatif::IndicatifLayer;
use tracing_indicatif::filter::IndicatifFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the level.
pub(crate) fn init(format: LogFormat, quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Our crate at the chosen level; dependencies stay at warn unless RUST_LOG says otherwise.
    // The closing summary event passes even -q: a JSON log always ends with it.
    let summary = if quiet { "info" } else { level };
    let default = format!("warn,cake_recon={level},cake_recon::summary={summary}");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let bars = IndicatifLayer::new();
    let writer = bars.get_stderr_writer();
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_target(false)
            .with_ansi(false)
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .with_target(false)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(bars.with_filter(IndicatifFilter::new(false)))
        .try_init();
}

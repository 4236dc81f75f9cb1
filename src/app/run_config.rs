//! A run's validated settings, as [`crate::config`] builds them.

use crate::engine::Settings;
use crate::logging::LogFormat;
use secrecy::SecretString;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The embedded emulator: started by this process on a loopback port (`None`), or one
    /// already running there (`serve --sandbox` hands its runs its own).
    Sandbox(Option<String>),
    /// A real CAKE instance (or a mock-server) at this base URL (checked, no trailing slash).
    Remote(String),
    /// No URL given: a dry run only.
    Unset,
}

/// Everything `cake-recon run` needs, validated.
#[derive(Debug)]
pub(crate) struct RunConfig {
    pub engine: Settings,
    pub target: Target,
    /// From `CAKE_API_KEY` or `--api-key-file`; present whenever the target is remote and this
    /// is not a dry run.
    pub key: Option<SecretString>,
    pub dry_run: bool,
    /// Reading back: the window (CAKE-local days, both inclusive) and the reports version.
    pub read_back: ReadBack,
    /// `--summary-json`: where how the command ended is written, as JSON.
    pub summary_json: Option<std::path::PathBuf>,
    /// `--max-memory-mb`: the address-space limit this process sets on itself first.
    pub max_memory_mb: Option<u64>,
    /// `--columns-only`: a dry run that reads only the sheet's columns.
    pub columns_only: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub log_format: LogFormat,
}

/// What reading conversions back needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadBack {
    /// `--since`/`--until`, both inclusive; `None`: derived from the sheet.
    pub window: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    pub version: u8,
}

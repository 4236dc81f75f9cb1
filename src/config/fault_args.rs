//! `mock-server`'s fault flags, turned into the emulator's [`Faults`].

use crate::mock::Faults;
use clap::Args;

/// `mock-server`'s fault flags (rates are shares of calls, 0 to 1): one per field of
/// [`Faults`], the emulator's own settings.
#[derive(Debug, Clone, Args)]
pub(crate) struct FaultArgs {
    /// Fixed latency before every answer, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub(crate) latency_ms: u64,
    /// Random extra latency of 0..=MS milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub(crate) jitter_ms: u64,
    /// Share of calls answered HTTP 500 without applying.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) error_rate: f64,
    /// Share of calls applied, then answered HTTP 500.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) error_after_apply_rate: f64,
    /// Share of calls answered HTTP 429 with Retry-After.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) throttle_rate: f64,
    /// Share of calls answered HTTP 503 with Retry-After.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) unavailable_rate: f64,
    /// Retry-After sent with 429/503 answers, in seconds.
    #[arg(long, default_value_t = 1, value_name = "SECS")]
    pub(crate) retry_after: u64,
    /// Share of calls answered success=false "Restricted".
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) restricted_rate: f64,
    /// Share of calls whose connection is dropped before applying.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) drop_before_rate: f64,
    /// Share of calls applied, then their connection dropped without an answer.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) drop_after_rate: f64,
    /// Share of calls applied, then answered only after --slow-ms.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) slow_after_rate: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub(crate) slow_ms: u64,
    /// Share of calls CAKE finishes late: held --land-late-ms, then applied whether or not the
    /// client is still there (IIS/ASP.NET keeps executing a request whose client gave up),
    /// then answered if anyone still listens.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) land_late_rate: f64,
    /// How long a late call is held before it applies, in milliseconds.
    #[arg(long, default_value_t = 6000, value_name = "MS")]
    pub(crate) land_late_ms: u64,
    /// Hard limit: calls beyond N in any one-second window are answered 429 (0 = none).
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    pub(crate) max_rps: f64,
    /// Reports: the most rows one page holds, whatever `row_limit` asks (CAKE caps pages
    /// silently). 0, the default: CAKE's 10,000.
    #[arg(long, default_value_t = 0, hide_default_value = true, value_name = "N")]
    pub(crate) report_page_cap: usize,
    /// Reports: rows past this position in a window are never returned, whatever
    /// `start_at_row` says. 0, the default: CAKE's 100,000, where it stops.
    #[arg(long, default_value_t = 0, hide_default_value = true, value_name = "N")]
    pub(crate) report_reach: usize,
    /// Seed of the fault dice, for reproducible runs.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
}

impl From<FaultArgs> for Faults {
    fn from(a: FaultArgs) -> Self {
        Self {
            latency_ms: a.latency_ms,
            jitter_ms: a.jitter_ms,
            error_rate: a.error_rate,
            error_after_apply_rate: a.error_after_apply_rate,
            throttle_rate: a.throttle_rate,
            unavailable_rate: a.unavailable_rate,
            retry_after: a.retry_after,
            restricted_rate: a.restricted_rate,
            drop_before_rate: a.drop_before_rate,
            drop_after_rate: a.drop_after_rate,
            slow_after_rate: a.slow_after_rate,
            slow_ms: a.slow_ms,
            land_late_rate: a.land_late_rate,
            land_late_ms: a.land_late_ms,
            max_rps: a.max_rps,
            report_page_cap: a.report_page_cap,
            report_reach: a.report_reach,
            seed: a.seed,
        }
    }
}

//! Fault injection: what can go wrong between a client and CAKE, on demand and reproducibly.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use std::time::Duration;

/// Fault settings (rates are shares of calls, 0 to 1). `mock-server`'s flags for them are
/// `config`'s `FaultArgs`, one per field.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Fixed latency before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Random extra latency of 0..=MS milliseconds.
    pub jitter_ms: u64,
    /// Share of calls answered HTTP 500 without applying.
    pub error_rate: f64,
    /// Share of calls applied, then answered HTTP 500.
    pub error_after_apply_rate: f64,
    /// Share of calls answered HTTP 429 with Retry-After.
    pub throttle_rate: f64,
    /// Share of calls answered HTTP 503 with Retry-After.
    pub unavailable_rate: f64,
    /// Retry-After sent with 429/503 answers, in seconds.
    pub retry_after: u64,
    /// Share of calls answered success=false "Restricted".
    pub restricted_rate: f64,
    /// Share of calls whose connection is dropped before applying.
    pub drop_before_rate: f64,
    /// Share of calls applied, then their connection dropped without an answer.
    pub drop_after_rate: f64,
    /// Share of calls applied, then answered only after --slow-ms.
    pub slow_after_rate: f64,
    /// Delay of a slow answer, in milliseconds.
    pub slow_ms: u64,
    /// Share of calls CAKE finishes late: held --land-late-ms, then applied whether or not the
    /// client is still there (IIS/ASP.NET keeps executing a request whose client gave up),
    /// then answered if anyone still listens.
    pub land_late_rate: f64,
    /// How long a late call is held before it applies, in milliseconds.
    pub land_late_ms: u64,
    /// Hard limit: calls beyond N in any one-second window are answered 429 (0 = none).
    pub max_rps: f64,
    /// Reports: the most rows one page holds, whatever `row_limit` asks (CAKE caps pages
    /// silently) [default: 10,000].
    pub report_page_cap: usize,
    /// Reports: rows past this position in a window are never returned, whatever
    /// `start_at_row` says (CAKE stops near 100,000) [default: 100,000].
    pub report_reach: usize,
    /// Seed of the fault dice, for reproducible runs.
    pub seed: u64,
}

/// What the dice decided for one call, in the order the server acts on them.
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per fault the dice can pick"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub delay: Duration,
    pub throttle: bool,
    pub unavailable: bool,
    pub restricted: bool,
    pub error: bool,
    pub drop_before: bool,
    pub error_after_apply: bool,
    pub drop_after: bool,
    pub slow_after: bool,
    pub land_late: bool,
}

/// Report page cap when none is set.
const DEFAULT_PAGE_CAP: usize = 10_000;
/// Report reach when none is set.
const DEFAULT_REACH: usize = 100_000;

impl Faults {
    /// The page cap in force.
    #[must_use]
    pub fn page_cap(&self) -> usize {
        if self.report_page_cap == 0 {
            DEFAULT_PAGE_CAP
        } else {
            self.report_page_cap
        }
    }

    /// The reach in force.
    #[must_use]
    pub fn reach(&self) -> usize {
        if self.report_reach == 0 {
            DEFAULT_REACH
        } else {
            self.report_reach
        }
    }

    /// Checks every rate is a share.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("--error-rate", self.error_rate),
            ("--error-after-apply-rate", self.error_after_apply_rate),
            ("--throttle-rate", self.throttle_rate),
            ("--unavailable-rate", self.unavailable_rate),
            ("--restricted-rate", self.restricted_rate),
            ("--drop-before-rate", self.drop_before_rate),
            ("--drop-after-rate", self.drop_after_rate),
            ("--slow-after-rate", self.slow_after_rate),
            ("--land-late-rate", self.land_late_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if !(self.max_rps.is_finite() && self.max_rps >= 0.0) {
            return Err("--max-rps must be 0 (none) or positive".into());
        }
        Ok(())
    }

    /// A seeded source of dice.
    #[must_use]
    pub fn dice(&self) -> SmallRng {
        SmallRng::seed_from_u64(self.seed)
    }

    /// Rolls the dice for one call.
    pub fn plan(&self, rng: &mut SmallRng) -> Plan {
        let mut roll = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
        let throttle = roll(self.throttle_rate);
        let unavailable = roll(self.unavailable_rate);
        let restricted = roll(self.restricted_rate);
        let error = roll(self.error_rate);
        let drop_before = roll(self.drop_before_rate);
        let error_after_apply = roll(self.error_after_apply_rate);
        let drop_after = roll(self.drop_after_rate);
        let slow_after = roll(self.slow_after_rate);
        let land_late = roll(self.land_late_rate);
        let jitter = if self.jitter_ms > 0 {
            rng.random_range(0..=self.jitter_ms)
        } else {
            0
        };
        Plan {
            delay: Duration::from_millis(self.latency_ms + jitter),
            throttle,
            unavailable,
            restricted,
            error,
            drop_before,
            error_after_apply,
            drop_after,
            slow_after,
            land_late,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_respected_roughly_and_reproducibly() {
        let f = Faults {
            error_rate: 0.25,
            jitter_ms: 10,
            seed: 7,
            ..Faults::default()
        };
        let mut a = f.dice();
        let plans: Vec<Plan> = (0..4000).map(|_| f.plan(&mut a)).collect();
        let errors = plans.iter().filter(|p| p.error).count();
        assert!((800..1200).contains(&errors), "{errors}");
        assert!(
            plans
                .iter()
                .all(|p| p.delay <= Duration::from_millis(10) && !p.throttle)
        );
        let mut b = f.dice();
        let again: Vec<Plan> = (0..4000).map(|_| f.plan(&mut b)).collect();
        assert_eq!(plans, again);
    }

    #[test]
    fn validation() {
        assert!(Faults::default().validate().is_ok());
        assert!(
            Faults {
                drop_after_rate: 1.5,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                max_rps: -1.0,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
    }
}

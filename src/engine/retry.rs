//! What to do after an attempt: the idempotency-aware retry policy, as a pure function.

use crate::cake::response::Outcome;
use crate::update::Idempotency;
use crate::update::Status;
use rand::Rng;
use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

impl Backoff {
    /// Full jitter: `uniform(0, min(cap, base · 2^(attempt-1)))`.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        ceiling.mul_f64(rng.random::<f64>())
    }
}

/// The decision after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// The row is finished with this status.
    Done(Status),
    /// Try again after at least this long (a server's Retry-After, if it gave one).
    Retry { at_least: Option<Duration> },
    /// The whole run must stop: the key was refused. The row was not applied.
    StopRun,
}

/// Decides what follows `outcome` on attempt number `attempt` (1-based).
///
/// An additive row is retried only when the outcome proves it was not applied; an outcome that
/// may have been applied ends it `in_doubt`. An idempotent row is simply retried.
#[must_use]
pub(super) fn decide(
    outcome: &Outcome,
    kind: Idempotency,
    attempt: u32,
    max_attempts: u32,
) -> Next {
    let retry = |at_least| {
        if attempt < max_attempts {
            Next::Retry { at_least }
        } else {
            Next::Done(Status::Failed)
        }
    };
    match outcome {
        Outcome::Updated { .. } => Next::Done(Status::Updated),
        Outcome::Rejected { .. } => Next::Done(Status::Rejected),
        Outcome::InvalidApiKey { .. } => Next::StopRun,
        Outcome::Permanent { .. } => Next::Done(Status::Failed),
        Outcome::Throttled { retry_after, .. } => retry(*retry_after),
        Outcome::Transient {
            may_have_applied: false,
            ..
        } => retry(None),
        Outcome::Transient {
            may_have_applied: true,
            ..
        } => match kind {
            Idempotency::Additive => Next::Done(Status::InDoubt),
            Idempotency::Idempotent => retry(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::SmallRng};

    fn transient(applied: bool) -> Outcome {
        Outcome::Transient {
            may_have_applied: applied,
            message: String::new(),
        }
    }

    #[test]
    fn additive_rows_are_never_retried_after_a_maybe() {
        assert_eq!(
            decide(&transient(true), Idempotency::Additive, 1, 5),
            Next::Done(Status::InDoubt)
        );
        assert_eq!(
            decide(&transient(true), Idempotency::Idempotent, 1, 5),
            Next::Retry { at_least: None }
        );
        assert_eq!(
            decide(&transient(true), Idempotency::Idempotent, 5, 5),
            Next::Done(Status::Failed)
        );
    }

    #[test]
    fn proven_not_applied_is_retried_for_both_kinds() {
        for kind in [Idempotency::Additive, Idempotency::Idempotent] {
            assert_eq!(
                decide(&transient(false), kind, 1, 5),
                Next::Retry { at_least: None }
            );
            let t = Outcome::Throttled {
                retry_after: Some(Duration::from_secs(2)),
                message: String::new(),
            };
            assert_eq!(
                decide(&t, kind, 4, 5),
                Next::Retry {
                    at_least: Some(Duration::from_secs(2))
                }
            );
            assert_eq!(decide(&t, kind, 5, 5), Next::Done(Status::Failed));
        }
    }

    #[test]
    fn final_outcomes() {
        let k = Idempotency::Additive;
        assert_eq!(
            decide(
                &Outcome::Updated {
                    message: String::new()
                },
                k,
                1,
                5
            ),
            Next::Done(Status::Updated)
        );
        assert_eq!(
            decide(
                &Outcome::Rejected {
                    message: String::new()
                },
                k,
                1,
                5
            ),
            Next::Done(Status::Rejected)
        );
        assert_eq!(
            decide(
                &Outcome::Permanent {
                    message: String::new()
                },
                k,
                1,
                5
            ),
            Next::Done(Status::Failed)
        );
        assert_eq!(
            decide(
                &Outcome::InvalidApiKey {
                    message: String::new()
                },
                k,
                1,
                5
            ),
            Next::StopRun
        );
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 5,
        };
        let mut rng = SmallRng::seed_from_u64(3);
        for attempt in 1..12 {
            let ceiling =
                (Duration::from_millis(100) * 2u32.pow(attempt - 1)).min(Duration::from_secs(1));
            let samples: Vec<Duration> = (0..200).map(|_| b.delay(attempt, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling));
            // Full jitter spreads over the whole range, not just its top.
            assert!(
                samples.iter().any(|d| *d < ceiling / 4),
                "attempt {attempt}"
            );
        }
    }
}

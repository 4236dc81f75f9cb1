//! The error-storm circuit breaker: stop a run that is only producing failures.
//!
//! Trips when 10 rows in a row end `failed`/`in_doubt`, or when at least half of the last 100
//! finished rows did (once 20 have finished). Rows still unsent stay resumable.

use crate::update::Status;
use std::collections::VecDeque;

/// Rows in a row that trip the breaker.
pub(super) const MAX_CONSECUTIVE: u32 = 10;
/// The sliding window of finished rows.
pub(super) const WINDOW: usize = 100;
/// Rows that must have finished before the share rule applies.
pub(super) const MIN_SAMPLES: usize = 20;

/// Counts recent row endings.
#[derive(Debug, Default)]
pub(super) struct Breaker {
    recent: VecDeque<bool>,
    bad_in_window: usize,
    consecutive_bad: u32,
}

impl Breaker {
    /// Records a finished row; returns why the run must stop, if it must.
    pub(super) fn record(&mut self, status: Status) -> Option<String> {
        let bad = matches!(status, Status::Failed | Status::InDoubt);
        self.recent.push_back(bad);
        self.bad_in_window += usize::from(bad);
        if self.recent.len() > WINDOW && self.recent.pop_front() == Some(true) {
            self.bad_in_window -= 1;
        }
        self.consecutive_bad = if bad { self.consecutive_bad + 1 } else { 0 };
        if self.consecutive_bad >= MAX_CONSECUTIVE {
            return Some(format!(
                "{MAX_CONSECUTIVE} rows in a row ended failed or in_doubt after retries"
            ));
        }
        if self.recent.len() >= MIN_SAMPLES && self.bad_in_window * 2 >= self.recent.len() {
            return Some(format!(
                "{} of the last {} rows ended failed or in_doubt after retries",
                self.bad_in_window,
                self.recent.len()
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_on_a_run_of_failures() {
        let mut b = Breaker::default();
        for _ in 0..9 {
            assert_eq!(b.record(Status::Failed), None);
        }
        assert!(b.record(Status::InDoubt).is_some());
    }

    #[test]
    fn trips_on_half_of_the_window() {
        let mut b = Breaker::default();
        let mut tripped = None;
        for i in 0..40 {
            let s = if i % 2 == 0 {
                Status::Failed
            } else {
                Status::Updated
            };
            if let Some(r) = b.record(s) {
                tripped = Some((i, r));
                break;
            }
        }
        let (i, reason) = tripped.expect("trips");
        assert_eq!(i, 19, "{reason}");
    }

    #[test]
    fn scattered_failures_and_rejections_do_not_trip() {
        let mut b = Breaker::default();
        for i in 0..1000 {
            let s = match i % 10 {
                0 => Status::Failed,
                1..=3 => Status::Rejected,
                _ => Status::Updated,
            };
            assert_eq!(b.record(s), None);
        }
    }
}

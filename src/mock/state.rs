//! What the emulator's tasks share: its settings, its ledger, its counters.

use super::faults::Faults;
use super::ledger::Ledger;
use rand::rngs::SmallRng;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counters for tests and benchmarks.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// `UpdateConversion` requests received (whatever happened to them).
    pub requests: u64,
    /// `reports.asmx` requests received.
    pub report_requests: u64,
    /// Calls the ledger applied.
    pub applied: u64,
    /// Late calls (`--land-late-rate`) held and not applied yet: a test waits for 0 before
    /// reading the ledger, so a landing still on its way is counted.
    pub landing: u64,
    /// Answers by kind (`updated`, `throttled`, `dropped_before`, …).
    pub answers: BTreeMap<&'static str, u64>,
    /// The most requests that arrived within any one second.
    pub max_in_any_second: u64,
    /// First and last arrival, in microseconds since the server started (achieved rate =
    /// (requests − 1) / (last − first)).
    pub first_arrival_us: u64,
    pub last_arrival_us: u64,
    /// Arrival times, in microseconds since the server started.
    #[serde(skip)]
    pub arrivals_us: Vec<u64>,
}

impl Stats {
    pub(super) fn count(&mut self, answer: &'static str) {
        *self.answers.entry(answer).or_default() += 1;
    }

    /// The most arrivals in any window of `window` (a sliding window over all arrivals).
    #[must_use]
    pub fn max_in_window(&self, window: Duration) -> u64 {
        let w = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        let (mut best, mut start) = (0usize, 0usize);
        for end in 0..self.arrivals_us.len() {
            while self.arrivals_us[end] - self.arrivals_us[start] >= w {
                start += 1;
            }
            best = best.max(end + 1 - start);
        }
        best as u64
    }
}

pub(super) struct State {
    pub(super) api_key: String,
    pub(super) faults: Faults,
    pub(super) accept_offer_0: bool,
    pub(super) ledger: Mutex<Ledger>,
    pub(super) dice: Mutex<SmallRng>,
    pub(super) stats: Mutex<Stats>,
    /// Signalled on every change of `stats`, so tests wait for an event instead of polling.
    pub(super) stats_changed: std::sync::Condvar,
    /// Arrivals accepted within the last second, for `--max-rps`.
    pub(super) window: Mutex<VecDeque<Instant>>,
    pub(super) started: Instant,
}

impl State {
    /// Changes the counters and wakes whoever waits on them.
    pub(super) fn tally(&self, change: impl FnOnce(&mut Stats)) {
        change(&mut lock(&self.stats));
        self.stats_changed.notify_all();
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

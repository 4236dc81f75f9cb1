//! The rate gate every request passes: GCRA pacing, a hard cap per sliding window, a pause that
//! a server's `Retry-After` sets for everyone, and AIMD when the server throttles.
//!
//! Written here rather than with `governor` because AIMD has to change the pace in place
//! (governor's quota is fixed: lowering only a side cap let throttled traffic leave in bursts)
//! and because tests must run on tokio's paused clock, which governor's waits do not follow.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The cap's window is a hair longer than its nominal length, so that scheduling jitter between
/// leaving this gate and reaching the server cannot put one request too many into a server's
/// second.
const WINDOW_SLACK: f64 = 1.008;

/// The least share of the configured rate AIMD goes down to.
const MIN_SHARE: f64 = 0.1;

/// The slowest and fastest pace a [`Rate`] may be: the one place `--rate` is bounded, for `run`,
/// `check` and `serve` alike.
pub(crate) const MIN_RATE: f64 = 0.01;
pub(crate) const MAX_RATE: f64 = 100_000.0;

/// Requests per second, validated: unlimited (written as `0`, for local tests and benchmarks) or
/// a pace within [`MIN_RATE`, `MAX_RATE`]. The only way to make a [`RateGate`], so no gate can be
/// built from a rate nobody checked (nothing out of range ever turns into "unlimited").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate(Option<f64>);

impl Rate {
    /// No pacing at all: only an explicit `--rate 0` means this.
    pub(crate) const UNLIMITED: Rate = Rate(None);

    /// `value` (what `flag` was given) as a rate, or what to give instead.
    pub(crate) fn new(flag: &str, value: f64) -> Result<Self, String> {
        if value == 0.0 {
            Ok(Self::UNLIMITED)
        } else if value.is_finite() && (MIN_RATE..=MAX_RATE).contains(&value) {
            Ok(Self(Some(value)))
        } else {
            Err(format!(
                "{flag} {value}: give 0 (unlimited, for local tests) or a number of requests per \
                 second between {MIN_RATE} and {MAX_RATE}"
            ))
        }
    }

    /// Requests per second, `None` when unlimited.
    #[must_use]
    pub(crate) fn per_second(self) -> Option<f64> {
        self.0
    }

    /// True for `--rate 0`.
    #[must_use]
    pub(crate) fn is_unlimited(self) -> bool {
        self.0.is_none()
    }
}

/// As `--rate` takes it: `0` for unlimited, else the number (so it passes through a command line
/// unchanged).
impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("0"),
            Some(r) => write!(f, "{r}"),
        }
    }
}

/// Shared by all workers.
pub(crate) struct RateGate {
    /// `None`: unlimited (`--rate 0`).
    rate: Option<f64>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// GCRA's theoretical arrival time of the next request.
    tat: Option<Instant>,
    /// Releases inside the current cap window, oldest first.
    sent: VecDeque<Instant>,
    /// No request leaves before this instant (set from Retry-After).
    paused_until: Option<Instant>,
    /// First and last release, and how many: the achieved rate.
    first: Option<Instant>,
    last: Option<Instant>,
    released: u64,
    /// AIMD: the share of the configured rate in use, and when it was last cut.
    share: f64,
    last_cut: Option<Instant>,
}

impl RateGate {
    /// A gate pacing at `rate` (a validated [`Rate`]: never an unchecked number).
    #[must_use]
    pub(crate) fn new(rate: Rate) -> Self {
        Self {
            rate: rate.per_second(),
            state: Mutex::new(State {
                share: 1.0,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The server throttled us: lower the pace by 10 % (once per second at most, so a burst of
    /// throttled answers to concurrent requests counts once).
    pub(crate) fn throttled(&self) {
        let mut s = self.state();
        let now = Instant::now();
        if s.last_cut
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            s.share = (s.share * 0.9).max(MIN_SHARE);
            s.last_cut = Some(now);
        }
    }

    /// A request went through: creep back towards the configured rate.
    pub(crate) fn succeeded(&self) {
        let mut s = self.state();
        s.share = (s.share + 0.01).min(1.0);
    }

    /// The pace in use now (configured rate × AIMD share), `None` when unlimited.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn current_rate(&self) -> Option<f64> {
        self.rate.map(|r| r * self.state().share)
    }

    /// Makes every request wait at least `d` from now (a server asked for it).
    pub(crate) fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut s = self.state();
        if s.paused_until.is_none_or(|old| old < until) {
            s.paused_until = Some(until);
        }
    }

    /// Requests per second between the first and the last release (`None` before two).
    #[must_use]
    pub(crate) fn achieved(&self) -> Option<f64> {
        let s = self.state();
        let secs = s.last?.duration_since(s.first?).as_secs_f64();
        #[expect(
            clippy::cast_precision_loss,
            reason = "request counts are far below 2^52"
        )]
        let rate = (s.released > 1 && secs > 0.0).then(|| (s.released - 1) as f64 / secs);
        rate
    }

    /// Waits until one more request may leave, and counts it as sent.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state();
                let now = Instant::now();
                let wait = match self.rate {
                    Some(rate) => s.admit(rate, now),
                    None => s.paused_until.filter(|u| *u > now).map(|u| u - now),
                };
                if wait.is_none() {
                    s.first.get_or_insert(now);
                    s.last = Some(now);
                    s.released += 1;
                }
                wait
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }
}

impl State {
    /// Admits one request at `now` (`None`) or says how long to wait before asking again.
    fn admit(&mut self, rate: f64, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        let pace = rate * self.share;
        let interval = Duration::from_secs_f64(1.0 / pace);
        // Burst ≈ pace/10: a burst of 1 undershoots at high rates (each late wake-up is lost),
        // a burst equal to the rate lets twice the rate through in the first second.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "pace is within [MIN_RATE, MAX_RATE]"
        )]
        let burst = ((pace / 10.0).floor() as u32).max(1);
        let tolerance = interval * (burst - 1);
        let tat = self.tat.map_or(now, |t| t.max(now));
        if let Some(early) = (tat.checked_sub(tolerance).unwrap_or(now)).checked_duration_since(now)
            && !early.is_zero()
        {
            return Some(early);
        }
        // The hard cap: at most `n` releases in any window of n/pace seconds (n = ⌈pace⌉, so a
        // whole-number rate means "never more than the rate in any second").
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "pace is within [MIN_RATE, MAX_RATE]"
        )]
        let n = (pace.ceil() as usize).max(1);
        #[expect(clippy::cast_precision_loss, reason = "n ≤ MAX_RATE")]
        let window = Duration::from_secs_f64(n as f64 / pace * WINDOW_SLACK);
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= n {
            return self.sent.front().map(|t| *t + window - now);
        }
        self.sent.push_back(now);
        self.tat = Some(tat + interval);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(r: f64) -> Rate {
        Rate::new("--rate", r).unwrap()
    }

    /// Release times of `n` acquisitions, on tokio's paused clock (exact, instant to run).
    async fn releases(gate: &RateGate, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            gate.acquire().await;
            times.push(start.elapsed());
        }
        times
    }

    fn most_in_any(times: &[Duration], window: Duration) -> usize {
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|u| (**u).checked_sub(times[i]).unwrap() < window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_holds_exactly_and_never_above_in_any_second() {
        let gate = RateGate::new(rate(50.0));
        let times = releases(&gate, 500).await;
        assert!(most_in_any(&times, Duration::from_secs(1)) <= 50);
        let achieved = gate.achieved().unwrap();
        assert!((49.0..=50.5).contains(&achieved), "{achieved}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fractional_rate_is_kept_not_floored() {
        let gate = RateGate::new(rate(2.5));
        let times = releases(&gate, 26).await;
        // 25 intervals of 0.4 s.
        let total = times.last().unwrap().as_secs_f64();
        assert!((9.9..=10.2).contains(&total), "{total}");
        assert!(most_in_any(&times, Duration::from_secs(1)) <= 3);
    }

    #[tokio::test(start_paused = true)]
    async fn extreme_rates_are_refused_and_the_slowest_holds() {
        // Out of range is refused, never turned into unlimited: a gate needs a valid Rate.
        for rate in [
            1e-20,
            0.005,
            -1.0,
            1e9,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let e = Rate::new("--rate", rate).unwrap_err();
            assert!(e.contains("--rate") && e.contains("0.01"), "{rate}: {e}");
        }
        assert_eq!(Rate::new("--rate", 0.0), Ok(Rate::UNLIMITED));
        assert_eq!(Rate::UNLIMITED.to_string(), "0");
        assert_eq!(rate(2.5).to_string(), "2.5");
        let slowest = RateGate::new(rate(MIN_RATE));
        let times = releases(&slowest, 2).await;
        // 100 s apart, plus the cap window's slack.
        assert!(
            (100.0..=100.9).contains(&times[1].as_secs_f64()),
            "{times:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_slows_the_pace_itself_not_only_a_cap() {
        let gate = RateGate::new(rate(100.0));
        releases(&gate, 200).await;
        gate.throttled();
        gate.throttled();
        assert_eq!(
            gate.current_rate(),
            Some(90.0),
            "a burst of throttles counts once"
        );
        // After the cut, releases are spread at 90/s: no 100-in-a-second bursts.
        let times = releases(&gate, 300).await;
        let after = &times[20..];
        let secs = after[after.len() - 1]
            .checked_sub(after[0])
            .unwrap()
            .as_secs_f64();
        #[expect(clippy::cast_precision_loss, reason = "small")]
        let pace = (after.len() - 1) as f64 / secs;
        assert!((88.0..=91.0).contains(&pace), "{pace}");
        assert!(most_in_any(after, Duration::from_millis(100)) <= 10);
        for _ in 0..200 {
            gate.succeeded();
        }
        assert_eq!(
            gate.current_rate(),
            Some(100.0),
            "never above the configured rate"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_everyone() {
        let gate = RateGate::new(Rate::UNLIMITED);
        gate.acquire().await;
        gate.pause_for(Duration::from_secs(7));
        let start = Instant::now();
        gate.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }
}

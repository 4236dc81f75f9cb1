//! The rate gate every request passes: GCRA pacing, a hard per-second cap, and a pause that a
//! server's `Retry-After` can set for everyone.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The cap's window is a hair longer than a second, so that scheduling jitter between leaving
/// this gate and reaching the server cannot put one request too many into a server's second.
const WINDOW: Duration = Duration::from_millis(1008);

/// Shared by all workers.
pub struct RateGate {
    /// Paces requests evenly (burst ≈ rate/10: governor's default burst lets 2× through at
    /// the start, a burst of 1 undershoots at high rates).
    pacer: Option<DefaultDirectRateLimiter>,
    /// At most `cap` requests in any [`WINDOW`].
    cap: usize,
    sent: Mutex<VecDeque<Instant>>,
    /// No request leaves before this instant (set from Retry-After).
    paused_until: Mutex<Option<Instant>>,
    /// First and last release, and how many: the achieved rate.
    released: Mutex<(Option<Instant>, Option<Instant>, u64)>,
    /// AIMD: the share of `cap` in use (throttling cuts it by 10 %, at most once a second;
    /// each success gives 1 % back).
    share: Mutex<(f64, Option<Instant>)>,
}

/// The least share of the configured rate AIMD goes down to.
const MIN_SHARE: f64 = 0.1;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RateGate {
    /// `rate` requests per second; 0 means unlimited.
    #[must_use]
    pub fn new(rate: f64) -> Self {
        if rate <= 0.0 || !rate.is_finite() {
            return Self {
                pacer: None,
                cap: 0,
                sent: Mutex::new(VecDeque::new()),
                paused_until: Mutex::new(None),
                released: Mutex::new((None, None, 0)),
                share: Mutex::new((1.0, None)),
            };
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "rate is positive and bounded below"
        )]
        let cap = (rate.floor() as usize).max(1);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "burst is small"
        )]
        let burst =
            NonZeroU32::new(((rate / 10.0).floor() as u32).max(1)).unwrap_or(NonZeroU32::MIN);
        let pacer = Quota::with_period(Duration::from_secs_f64(1.0 / rate))
            .map(|q| RateLimiter::direct(q.allow_burst(burst)));
        Self {
            pacer,
            cap,
            sent: Mutex::new(VecDeque::with_capacity(cap + 1)),
            paused_until: Mutex::new(None),
            released: Mutex::new((None, None, 0)),
            share: Mutex::new((1.0, None)),
        }
    }

    /// The server throttled us: lower the rate by 10 % (once per second at most, so a burst of
    /// throttled answers to concurrent requests counts once).
    pub fn throttled(&self) {
        let mut share = lock(&self.share);
        let now = Instant::now();
        if share
            .1
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            share.0 = (share.0 * 0.9).max(MIN_SHARE);
            share.1 = Some(now);
        }
    }

    /// A request went through: creep back towards the configured rate.
    pub fn succeeded(&self) {
        let mut share = lock(&self.share);
        share.0 = (share.0 + 0.01).min(1.0);
    }

    /// Requests allowed per window now.
    fn current_cap(&self) -> usize {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "cap is small and positive"
        )]
        let cap = ((self.cap as f64) * lock(&self.share).0).floor() as usize;
        cap.max(1)
    }

    /// Makes every request wait at least `d` from now (a server asked for it).
    pub fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = lock(&self.paused_until);
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }

    /// Requests per second between the first and the last release (`None` before two).
    #[must_use]
    pub fn achieved(&self) -> Option<f64> {
        let (first, last, n) = *lock(&self.released);
        let secs = last?.duration_since(first?).as_secs_f64();
        #[expect(
            clippy::cast_precision_loss,
            reason = "request counts are far below 2^52"
        )]
        let rate = (n > 1 && secs > 0.0).then(|| (n - 1) as f64 / secs);
        rate
    }

    /// Waits until one more request may leave, and counts it as sent.
    pub async fn acquire(&self) {
        self.wait().await;
        let now = Instant::now();
        let mut r = lock(&self.released);
        r.0.get_or_insert(now);
        r.1 = Some(now);
        r.2 += 1;
    }

    async fn wait(&self) {
        loop {
            let pause = *lock(&self.paused_until);
            if let Some(until) = pause.filter(|u| *u > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let Some(pacer) = &self.pacer else { return };
            pacer.until_ready().await;
            loop {
                let cap = self.current_cap();
                let wait = {
                    let mut sent = lock(&self.sent);
                    let now = Instant::now();
                    while sent
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                    {
                        sent.pop_front();
                    }
                    if sent.len() < cap {
                        sent.push_back(now);
                        None
                    } else {
                        sent.front().map(|t| *t + WINDOW - now)
                    }
                };
                match wait {
                    None => return,
                    Some(w) => tokio::time::sleep(w).await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aimd_lowers_on_throttling_once_a_second_and_recovers() {
        let gate = RateGate::new(100.0);
        assert_eq!(gate.current_cap(), 100);
        gate.throttled();
        gate.throttled();
        assert_eq!(gate.current_cap(), 90, "a burst of throttles counts once");
        for _ in 0..5 {
            gate.succeeded();
        }
        assert_eq!(gate.current_cap(), 95);
        for _ in 0..100 {
            gate.succeeded();
        }
        assert_eq!(gate.current_cap(), 100, "never above the configured rate");
    }

    #[tokio::test]
    async fn the_cap_holds_in_every_window() {
        let gate = RateGate::new(50.0);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..120 {
            gate.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 50,
                "{in_window} releases within a second from {t:?}"
            );
        }
        assert!(
            gate.achieved().is_some_and(|r| r > 45.0 && r <= 56.0),
            "{:?}",
            gate.achieved()
        );
    }
}

//! One row's life: wait for the rate gate, send, classify, retry or finish.
//!
//! Workers own nothing but their row: they report back over a channel and never touch files.

use super::limiter::RateGate;
use super::retry::{Backoff, Next, decide};
use crate::cake::client::Client;
use crate::cake::response::Outcome;
use crate::checkpoint::Store;
use crate::update::Status;
use crate::update::{ConversionUpdate, Idempotency};
use rand::{SeedableRng, rngs::SmallRng};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Shared by every worker of a run.
pub(super) struct Shared {
    pub client: Client,
    pub gate: RateGate,
    pub backoff: Backoff,
    /// Set when the run stops (signal, bad key, breaker): no new attempt begins.
    pub stopping: AtomicBool,
    /// Cancelled when the grace period ends (or on a second interrupt): in-flight attempts
    /// are abandoned.
    pub hard_stop: CancellationToken,
    /// Why `hard_stop` was cancelled (for the abandoned rows' messages).
    pub abandoned: std::sync::OnceLock<Abandon>,
    /// Set when CAKE refused the key.
    pub key_refused: AtomicBool,
    /// Where intents are committed before an additive row's request leaves.
    pub store: Store,
    /// Every sent row is also written to the journal shared by the instance's jobs.
    pub journaled: bool,
}

/// Why in-flight requests were abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Abandon {
    GraceOver,
    SecondInterrupt,
}

impl Shared {
    /// Abandons every request in flight, saying why.
    pub(super) fn abandon(&self, why: Abandon) {
        let _ = self.abandoned.set(why);
        self.hard_stop.cancel();
    }

    fn abandoned_why(&self) -> &'static str {
        match self.abandoned.get() {
            Some(Abandon::SecondInterrupt) => "abandoned on a second interrupt",
            Some(Abandon::GraceOver) | None => "abandoned when the grace period ended",
        }
    }
}

/// How a row ended for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// A final status.
    Final(Status),
    /// Not finished (never sent, or only attempts that did not apply and may be repeated):
    /// a later run sends it.
    Unfinished,
}

/// A finished job, handed back to the dispatcher.
#[derive(Debug)]
pub(super) struct Done {
    pub seq: u64,
    pub update: ConversionUpdate,
    pub end: End,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: String,
}

/// Runs one row to its end.
#[expect(
    clippy::too_many_lines,
    reason = "one row's life read top to bottom: wait, intent, send, classify, retry or end"
)]
pub(super) async fn work(shared: &Shared, seq: u64, update: ConversionUpdate) -> Done {
    let kind = update.idempotency();
    let mut rng = SmallRng::seed_from_u64(seq ^ 0x9E37_79B9_7F4A_7C15);
    let mut attempts = 0u32;
    let mut http_status = None;
    let mut message = String::new();
    let mut wait = None;
    let done = |end, attempts, http_status, message| Done {
        seq,
        update: update.clone(),
        end,
        attempts,
        http_status,
        message,
    };
    loop {
        if let Some(d) = wait.take() {
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = shared.hard_stop.cancelled() => {}
            }
        }
        // Stopping: no new attempt begins (checked again after the wait for the rate gate).
        let stopped = || shared.stopping.load(Ordering::SeqCst);
        let stop_here = |attempts, http_status, last: &str| {
            done(
                End::Unfinished,
                attempts,
                http_status,
                unfinished_message(shared, last),
            )
        };
        if stopped() {
            return stop_here(attempts, http_status, &message);
        }
        // The intent is durable before the request can leave. Once per row: it stands until
        // the row's outcome is recorded or withdrawn. Concurrent workers share one commit.
        if kind == Idempotency::Additive
            && attempts == 0
            && let Err(e) = shared
                .store
                .intent_journaled(
                    update.row,
                    update.ident(),
                    shared
                        .journaled
                        .then(|| Box::new(super::journaling::entry_of(&update))),
                )
                .await
        {
            shared.stopping.store(true, Ordering::SeqCst);
            return done(
                End::Unfinished,
                attempts,
                http_status,
                format!("not sent: {e}"),
            );
        }
        tokio::select! {
            () = shared.gate.acquire() => {}
            () = shared.hard_stop.cancelled() => {}
        }
        if stopped() {
            return stop_here(attempts, http_status, &message);
        }
        attempts += 1;
        let attempt = tokio::select! {
            a = shared.client.send(&update) => a,
            () = shared.hard_stop.cancelled() => {
                // The request may have reached CAKE: an additive row is now in doubt.
                let msg = format!("{} while the request was in flight", shared.abandoned_why());
                let end = match kind {
                    Idempotency::Additive => End::Final(Status::InDoubt),
                    Idempotency::Idempotent => End::Unfinished,
                };
                return done(end, attempts, http_status, msg);
            }
        };
        http_status = attempt.http_status;
        message = attempt.outcome.message().to_string();
        if matches!(
            attempt.outcome,
            Outcome::Updated { .. } | Outcome::Rejected { .. }
        ) {
            shared.gate.succeeded();
        }
        match decide(
            &attempt.outcome,
            kind,
            attempts,
            shared.backoff.max_attempts,
        ) {
            Next::Done(status) => {
                let message = match status {
                    Status::InDoubt => format!(
                        "{message} — may have been applied; not re-sent (check in CAKE, or use --resend-in-doubt)"
                    ),
                    Status::Failed if attempts > 1 => {
                        format!("{message} (gave up after {attempts} attempts)")
                    }
                    _ => message,
                };
                return done(End::Final(status), attempts, http_status, message);
            }
            Next::Retry { at_least } => {
                if let Outcome::Throttled { .. } = &attempt.outcome {
                    shared.gate.throttled();
                    if let Some(d) = at_least {
                        shared.gate.pause_for(d);
                    }
                }
                let backoff = shared.backoff.delay(attempts, &mut rng);
                wait = Some(at_least.map_or(backoff, |d| d.max(backoff)));
                tracing::debug!(row = update.row, attempts, error = %message, "retrying");
            }
            Next::StopRun => {
                shared.key_refused.store(true, Ordering::SeqCst);
                shared.stopping.store(true, Ordering::SeqCst);
                return done(
                    End::Unfinished,
                    attempts,
                    http_status,
                    format!("not applied: {message}"),
                );
            }
        }
    }
}

fn unfinished_message(shared: &Shared, last: &str) -> String {
    let why = if shared.key_refused.load(Ordering::SeqCst) {
        "the API key was refused"
    } else {
        "the run stopped"
    };
    if last.is_empty() {
        format!("not sent: {why}; run the same command again to send it")
    } else {
        format!("not finished ({last}): {why}; run the same command again to send it")
    }
}

//! What stands before the application: arrivals counted, the gateway's rate limit, and the
//! faults a plan injects before and after reading a call.

use super::answers::{Proto, answer, respond, with_retry_after};
use super::faults::Plan;
use super::state::{State, lock};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use std::time::{Duration, Instant};

/// Counts the request and notes when it arrived.
pub(super) fn record_arrival(state: &State) -> Instant {
    let arrived = Instant::now();
    {
        let mut tally = lock(&state.stats);
        state.stats_changed.notify_all();
        tally.requests += 1;
        let us =
            u64::try_from(arrived.duration_since(state.started).as_micros()).unwrap_or(u64::MAX);
        if tally.arrivals_us.is_empty() {
            tally.first_arrival_us = us;
        }
        tally.last_arrival_us = us;
        tally.arrivals_us.push(us);
    }
    arrived
}

/// The gateway's hard limit (`--max-rps`) comes before anything else.
pub(super) fn over_gateway_limit(state: &State, arrived: Instant) -> Option<Response<Full<Bytes>>> {
    let count = |answer: &'static str| state.tally(|t| t.count(answer));
    if state.faults.max_rps > 0.0 {
        let mut window = lock(&state.window);
        while window
            .front()
            .is_some_and(|t| arrived.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        #[expect(clippy::cast_precision_loss, reason = "window sizes are small")]
        let over = window.len() as f64 >= state.faults.max_rps;
        if over {
            drop(window);
            count("over_max_rps");
            return Some(with_retry_after(
                respond(
                    StatusCode::TOO_MANY_REQUESTS,
                    "text/plain",
                    "Too Many Requests".into(),
                ),
                1,
            ));
        }
        window.push_back(arrived);
    }

    None
}

/// Throttling and unavailability: answered before the body is read.
pub(super) fn early_fault(state: &State, plan: &Plan) -> Option<Response<Full<Bytes>>> {
    let count = |answer: &'static str| state.tally(|t| t.count(answer));
    let retry = state.faults.retry_after;
    if plan.throttle {
        count("throttled");
        return Some(with_retry_after(
            respond(
                StatusCode::TOO_MANY_REQUESTS,
                "text/plain",
                "Too Many Requests".into(),
            ),
            retry,
        ));
    }
    if plan.unavailable {
        count("unavailable");
        return Some(with_retry_after(
            respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html",
                "<html><body>Service Unavailable</body></html>".into(),
            ),
            retry,
        ));
    }

    None
}

/// `Restricted` and a plain 500: answered after reading, before any work.
pub(super) fn late_fault(
    state: &State,
    proto: Proto,
    version: u8,
    plan: &Plan,
) -> Option<Response<Full<Bytes>>> {
    let count = |answer: &'static str| state.tally(|t| t.count(answer));
    if plan.restricted {
        count("restricted");
        return Some(answer(proto, version, false, "Restricted"));
    }
    if plan.error {
        count("error");
        return Some(respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html",
            "<html><body><h1>Server Error in '/' Application.</h1></body></html>".into(),
        ));
    }
    None
}

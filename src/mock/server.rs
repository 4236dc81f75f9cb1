//! The emulator's HTTP server (hyper), serving `/api/2/` and `/api/4/` like a CAKE instance.
//!
//! Each connection is served by its own task, so a fault can drop *that* connection without an
//! answer — before or after the ledger applied the call — exactly what a client sees when a
//! load balancer resets or a server dies mid-request.

use super::answers::{json, not_found, respond};
use super::faults::Faults;
use super::gateway::{early_fault, late_fault, over_gateway_limit, record_arrival};
use super::ledger::{Conversion, Ledger};
use super::reports;
use super::state::{State, Stats, lock};
use super::update::{form_values, read_call, update};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the emulator is set up with.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The one API key accepted.
    pub api_key: String,
    pub ledger: Ledger,
    pub faults: Faults,
    /// Apply a version 4 call with `offer_id=0` (`--accept-offer-0`). Off by default: CAKE's
    /// v4 page says the offer "must be an existing offer ID", so the emulator answers such a
    /// call as an instance that checks the offer would, and a client that sends 0 is seen.
    pub accept_offer_0: bool,
}

/// A running emulator. Dropping it without [`MockServer::stop`] leaves it serving until the
/// runtime ends.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// A ledger and stats snapshot, as `/admin/ledger` serves it.
#[derive(Debug, Serialize)]
pub(super) struct Snapshot<'a> {
    pub conversions: Vec<&'a Conversion>,
    pub stats: &'a Stats,
}

impl MockServer {
    /// Starts serving on `listener` (bind port 0 in tests).
    pub fn start(listener: TcpListener, config: MockConfig) -> std::io::Result<Self> {
        config.faults.validate().map_err(std::io::Error::other)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            api_key: config.api_key,
            accept_offer_0: config.accept_offer_0,
            dice: Mutex::new(config.faults.dice()),
            faults: config.faults,
            ledger: Mutex::new(config.ledger),
            stats: Mutex::new(Stats::default()),
            stats_changed: std::sync::Condvar::new(),
            window: Mutex::new(VecDeque::new()),
            started: Instant::now(),
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), shutdown.clone()));
        Ok(Self {
            addr,
            state,
            shutdown,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address served.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of every conversion touched or loaded.
    #[must_use]
    pub fn conversions(&self) -> BTreeMap<i32, Conversion> {
        lock(&self.state.ledger).conversions().clone()
    }

    /// A copy of the counters, with the sliding-window maximum filled in.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut s = lock(&self.state.stats).clone();
        s.max_in_any_second = s.max_in_window(Duration::from_secs(1));
        s
    }

    /// Waits until the counters satisfy `done` (true) or `timeout` passes (false).
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Stats) -> bool) -> bool {
        let guard = lock(&self.state.stats);
        let (guard, _) = self
            .state
            .stats_changed
            .wait_timeout_while(guard, timeout, |s| !done(s))
            .unwrap_or_else(PoisonError::into_inner);
        done(&guard)
    }

    /// Stops accepting and closes every connection.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => if let Ok((stream, _)) = accepted { stream } else {
                // Out of file descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            },
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_handle = Arc::clone(&kill);
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                let kill = Arc::clone(&kill_handle);
                async move { Ok::<_, Infallible>(handle(&state, req, &kill).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future closes the socket: that is how faults "drop".
            tokio::select! {
                _ = conn => {}
                () = kill.notified() => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}

/// `/api/{2|4}/track.asmx[/UpdateConversion]` → (version, is the SOAP endpoint).
fn route(path: &str) -> Option<(u8, bool)> {
    let rest = path.strip_prefix("/api/")?;
    let (v, rest) = rest.split_once('/')?;
    let version = match v {
        "2" => 2,
        "4" => 4,
        _ => return None,
    };
    let rest = rest.trim_end_matches('/');
    if rest.eq_ignore_ascii_case("track.asmx/UpdateConversion") {
        Some((version, false))
    } else if rest.eq_ignore_ascii_case("track.asmx") {
        Some((version, true))
    } else {
        None
    }
}

/// `/api/{15..18}/reports.asmx/EventConversions` → the version.
fn report_route(path: &str) -> Option<u8> {
    let rest = path.strip_prefix("/api/")?;
    let (v, rest) = rest.split_once('/')?;
    let version: u8 = v.parse().ok()?;
    (crate::update::REPORT_VERSIONS.contains(&version)
        && rest
            .trim_end_matches('/')
            .eq_ignore_ascii_case("reports.asmx/EventConversions"))
    .then_some(version)
}

/// A report request: counted apart from writes; the same throttling, unavailability, latency,
/// `Restricted` and dropped connections as writes; then a page of the ledger.
async fn report(
    state: &State,
    req: Request<Incoming>,
    _version: u8,
    kill: &Notify,
) -> Response<Full<Bytes>> {
    state.tally(|t| t.report_requests += 1);
    let plan = state.faults.plan(&mut lock(&state.dice));
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(r) = early_fault(state, &plan) {
        return r;
    }
    if plan.drop_before || plan.drop_after {
        state.tally(|t| t.count("report_dropped"));
        kill.notify_one();
        return std::future::pending().await;
    }
    let values = form_values(req.uri().query().unwrap_or("").as_bytes());
    let call = match reports::bind(&values) {
        Ok(c) => c,
        Err(e) => {
            state.tally(|t| t.count("report_binding_error"));
            return respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e);
        }
    };
    let xml = if call.api_key != state.api_key {
        reports::refusal("Invalid API Key")
    } else if plan.restricted {
        state.tally(|t| t.count("report_restricted"));
        reports::refusal("Restricted")
    } else {
        let ledger = lock(&state.ledger);
        reports::page(
            &ledger,
            &call,
            state.faults.page_cap(),
            state.faults.reach(),
        )
    };
    respond(StatusCode::OK, "text/xml; charset=utf-8", xml)
}

/// One request, in the order CAKE's stack meets it: admin pages, routing, the gateway's
/// limit, the fault plan's early answers, reading the call, binding, the ledger, late faults.
async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    kill: &Notify,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if let Some(r) = admin(state, req.method(), &path) {
        return r;
    }
    if let Some(version) = report_route(&path) {
        return report(state, req, version, kill).await;
    }
    let Some((version, soap_endpoint)) = route(&path) else {
        return not_found();
    };
    let arrived = record_arrival(state);
    if let Some(r) = over_gateway_limit(state, arrived) {
        return r;
    }
    let plan = state.faults.plan(&mut lock(&state.dice));
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(r) = early_fault(state, &plan) {
        return r;
    }
    let (proto, values) = match read_call(state, req, version, soap_endpoint).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    if let Some(r) = late_fault(state, proto, version, &plan) {
        return r;
    }
    update(state, proto, version, &values, &plan, kill).await
}

/// `/admin/ledger` and `/admin/stats`.
fn admin(state: &State, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    match (method, path) {
        (&Method::GET, "/admin/ledger") => {
            let ledger = lock(&state.ledger);
            let mut tally = lock(&state.stats).clone();
            tally.max_in_any_second = tally.max_in_window(Duration::from_secs(1));
            Some(json(&Snapshot {
                conversions: ledger.conversions().values().collect(),
                stats: &tally,
            }))
        }
        (&Method::GET, "/admin/stats") => {
            let mut tally = lock(&state.stats).clone();
            tally.max_in_any_second = tally.max_in_window(Duration::from_secs(1));
            Some(json(&tally))
        }
        _ => None,
    }
}

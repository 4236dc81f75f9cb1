//! The emulator's HTTP server (hyper), serving `/api/2/` and `/api/4/` like a CAKE instance.
//!
//! Each connection is served by its own task, so a fault can drop *that* connection without an
//! answer — before or after the ledger applied the call — exactly what a client sees when a
//! load balancer resets or a server dies mid-request.

use super::binding::{BindError, Call, Strictness, bind};
use super::faults::{Faults, Plan};
use super::ledger::{Applied, Conversion, Ledger};
use super::reports;
use crate::update::xml_leaves;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::SmallRng;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The largest request body accepted.
const MAX_BODY: usize = 1 << 20;

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
    fn count(&mut self, answer: &'static str) {
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

struct State {
    api_key: String,
    faults: Faults,
    accept_offer_0: bool,
    ledger: Mutex<Ledger>,
    dice: Mutex<SmallRng>,
    stats: Mutex<Stats>,
    /// Signalled on every change of `stats`, so tests wait for an event instead of polling.
    stats_changed: std::sync::Condvar,
    /// Arrivals accepted within the last second, for `--max-rps`.
    window: Mutex<VecDeque<Instant>>,
    started: Instant,
}

impl State {
    /// Changes the counters and wakes whoever waits on them.
    fn tally(&self, change: impl FnOnce(&mut Stats)) {
        change(&mut lock(&self.stats));
        self.stats_changed.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert("x-aspnet-version", HeaderValue::from_static("4.0.30319"));
    r
}

fn with_retry_after(mut r: Response<Full<Bytes>>, secs: u64) -> Response<Full<Bytes>> {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(RETRY_AFTER, v);
    }
    r
}

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Form,
    Soap11,
    Soap12,
}

/// Builds the answer body for `success`/`message` in the request's protocol.
fn answer(proto: Proto, version: u8, success: bool, message: &str) -> Response<Full<Bytes>> {
    let ns = format!("http://cakemarketing.com/api/{version}/");
    let message = quick_xml::escape::escape(message);
    match proto {
        Proto::Form => respond(
            StatusCode::OK,
            "text/xml; charset=utf-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<update_conversion_response \
                 xmlns=\"{ns}\">\r\n  <success>{success}</success>\r\n  <message>{message}</message>\
                 \r\n</update_conversion_response>"
            ),
        ),
        Proto::Soap11 | Proto::Soap12 => {
            let (env, ct) = soap_envelope(proto);
            respond(
                StatusCode::OK,
                ct,
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{env}\" \
                     xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                     xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>\
                     <UpdateConversionResponse xmlns=\"{ns}\"><UpdateConversionResult>\
                     <success>{success}</success><message>{message}</message>\
                     </UpdateConversionResult></UpdateConversionResponse></soap:Body></soap:Envelope>"
                ),
            )
        }
    }
}

fn soap_envelope(proto: Proto) -> (&'static str, &'static str) {
    if proto == Proto::Soap12 {
        (
            "http://www.w3.org/2003/05/soap-envelope",
            "application/soap+xml; charset=utf-8",
        )
    } else {
        (
            "http://schemas.xmlsoap.org/soap/envelope/",
            "text/xml; charset=utf-8",
        )
    }
}

/// An HTTP 500 the way `.asmx` reports a request it could not read.
fn binding_error(proto: Proto, e: &BindError) -> Response<Full<Bytes>> {
    match proto {
        Proto::Form => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            e.0.clone(),
        ),
        Proto::Soap11 | Proto::Soap12 => soap_fault(
            proto,
            &format!("Server was unable to read request. ---> {}", e.0),
        ),
    }
}

/// A custom date SQL Server cannot store (an omitted SOAP element binds 0001-01-01): the
/// fault real CAKE answers, recorded (`soap12-fault-500-receiver-sqldatetime.xml`).
fn sql_refusal(proto: Proto, call: &Call) -> Option<Response<Full<Bytes>>> {
    if call.effective_date_option != "custom" || call.custom_date >= sql_datetime_min() {
        return None;
    }
    let why = "SqlDateTime overflow. Must be between 1/1/1753 12:00:00 AM and 12/31/9999 \
               11:59:59 PM.";
    Some(match proto {
        Proto::Form => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("System.Data.SqlTypes.SqlTypeException: {why}"),
        ),
        Proto::Soap11 | Proto::Soap12 => soap_fault_by(
            proto,
            false,
            &format!("Server was unable to process request. ---> {why}"),
        ),
    })
}

/// The earliest date SQL Server's `datetime` holds.
fn sql_datetime_min() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(1753, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
}

/// A fault the request caused (`soap:Sender`; SOAP 1.1 `soap:Client`).
fn soap_fault(proto: Proto, reason: &str) -> Response<Full<Bytes>> {
    soap_fault_by(proto, true, reason)
}

/// A SOAP fault: the request's (`sender`) or the server's (`soap:Receiver`, 1.1 `soap:Server`).
fn soap_fault_by(proto: Proto, sender: bool, reason: &str) -> Response<Full<Bytes>> {
    let (env, ct) = soap_envelope(proto);
    let reason = quick_xml::escape::escape(reason);
    let fault = if proto == Proto::Soap12 {
        let code = if sender {
            "soap:Sender"
        } else {
            "soap:Receiver"
        };
        format!(
            "<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>\
             <soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>"
        )
    } else {
        let code = if sender { "soap:Client" } else { "soap:Server" };
        format!(
            "<soap:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring><detail /></soap:Fault>"
        )
    };
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        ct,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{env}\"><soap:Body>{fault}</soap:Body></soap:Envelope>"
        ),
    )
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_string_pretty(value) {
        Ok(body) => respond(StatusCode::OK, "application/json", body),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            e.to_string(),
        ),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    respond(StatusCode::NOT_FOUND, "text/plain", "Not Found: this emulator serves /api/2/ and /api/4/ track.asmx/UpdateConversion, /api/15/ to /api/18/ reports.asmx/EventConversions, and /admin/ledger, /admin/stats".into())
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

/// Counts the request and notes when it arrived.
fn record_arrival(state: &State) -> Instant {
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
fn over_gateway_limit(state: &State, arrived: Instant) -> Option<Response<Full<Bytes>>> {
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
fn early_fault(state: &State, plan: &Plan) -> Option<Response<Full<Bytes>>> {
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

/// Reads the call's named values from a query, a form or a SOAP envelope.
async fn read_call(
    state: &State,
    req: Request<Incoming>,
    version: u8,
    soap_endpoint: bool,
) -> Result<(Proto, HashMap<String, String>), Response<Full<Bytes>>> {
    let count = |answer: &'static str| state.tally(|t| t.count(answer));
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = if let Ok(b) = Limited::new(body, MAX_BODY).collect().await {
        b.to_bytes()
    } else {
        count("bad_body");
        return Err(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "request body unreadable or larger than 1 MiB".into(),
        ));
    };
    let (proto, values) = if soap_endpoint {
        if parts.method != Method::POST {
            count("not_found");
            return Err(not_found());
        }
        let proto = if content_type.starts_with("application/soap+xml") {
            Proto::Soap12
        } else {
            Proto::Soap11
        };
        let action = format!("http://cakemarketing.com/api/{version}/UpdateConversion");
        let action_ok = match proto {
            Proto::Soap12 => {
                content_type.contains(&action.to_ascii_lowercase())
                    || !content_type.contains("action=")
            }
            _ => parts
                .headers
                .get("soapaction")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_matches('"') == action),
        };
        if !content_type.starts_with("text/xml") && proto == Proto::Soap11 {
            count("bad_request");
            return Err(respond(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "text/plain",
                "SOAP 1.1 needs Content-Type text/xml".into(),
            ));
        }
        if !action_ok {
            count("bad_request");
            return Err(soap_fault(
                proto,
                "System.Web.Services.Protocols.SoapException: Server did not recognize the value of HTTP Header SOAPAction.",
            ));
        }
        // XmlSerializer reads only the path's version: a body of another version's namespace
        // is not the method's (`<UpdateConversion xmlns='…/api/1/'> was not expected`).
        let wanted = format!("http://cakemarketing.com/api/{version}/");
        if let Some(ns) = body_namespace(&body)
            && ns != wanted
        {
            count("bad_request");
            return Err(soap_fault(
                proto,
                &format!(
                    "Server was unable to read request. ---> There is an error in XML document \
                     (1, 2). ---> <UpdateConversion xmlns='{ns}'> was not expected."
                ),
            ));
        }
        if let Some(v) = soap_values(&body) {
            (proto, v)
        } else {
            count("bad_request");
            return Err(soap_fault(
                proto,
                "Server was unable to read request. ---> There is an error in XML document.",
            ));
        }
    } else {
        let raw: &[u8] = match parts.method {
            Method::GET => parts.uri.query().unwrap_or("").as_bytes(),
            Method::POST if content_type.starts_with("application/x-www-form-urlencoded") => &body,
            Method::POST => {
                count("bad_request");
                return Err(respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "Request format is unrecognized for URL unexpectedly ending in '/UpdateConversion'.".into()));
            }
            _ => {
                count("not_found");
                return Err(respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain",
                    "Method Not Allowed".into(),
                ));
            }
        };
        (Proto::Form, form_values(raw))
    };
    Ok((proto, values))
}

/// `Restricted` and a plain 500: answered after reading, before any work.
fn late_fault(
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

/// What a version 4 call with `offer_id=0` is answered (unless `--accept-offer-0`).
pub const OFFER_0_REFUSED: &str = "Invalid Offer ID: offer 0 is not an existing offer";

/// Binds the call, applies it to the ledger, and answers (or fails) the way the plan says.
async fn update(
    state: &Arc<State>,
    proto: Proto,
    version: u8,
    values: &HashMap<String, String>,
    plan: &Plan,
    kill: &Notify,
) -> Response<Full<Bytes>> {
    let count = |answer: &'static str| state.tally(|t| t.count(answer));
    let strictness = if proto == Proto::Form {
        Strictness::Form
    } else {
        Strictness::Soap
    };
    let call: Call = match bind(values, version, strictness) {
        Ok(c) => c,
        Err(e) => {
            count("binding_error");
            return binding_error(proto, &e);
        }
    };
    if call.api_key != state.api_key {
        count("invalid_api_key");
        return answer(proto, version, false, "Invalid API Key");
    }
    if call.offer_id == 0 && version >= 4 && !state.accept_offer_0 {
        count("offer_0");
        return answer(proto, version, false, OFFER_0_REFUSED);
    }
    if let Some(refused) = sql_refusal(proto, &call) {
        count("sql_datetime_overflow");
        return refused;
    }
    if plan.drop_before {
        count("dropped_before");
        kill.notify_one();
        return std::future::pending().await;
    }
    let applied = if plan.land_late {
        // CAKE finishes the call on its own time: a task of its own applies it after the hold,
        // so it lands even when the client gave up and this connection is gone.
        count("landed_late");
        let late = Arc::clone(state);
        let hold = Duration::from_millis(state.faults.land_late_ms);
        state.tally(|t| t.landing += 1);
        let landing = tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            let applied = lock(&late.ledger).apply(&call);
            late.tally(|t| {
                t.landing = t.landing.saturating_sub(1);
                if applied == Applied::Updated {
                    t.applied += 1;
                }
            });
            applied
        });
        match landing.await {
            Ok(applied) => applied,
            Err(_) => return std::future::pending().await,
        }
    } else {
        let applied = lock(&state.ledger).apply(&call);
        if applied == Applied::Updated {
            state.tally(|t| t.applied += 1);
        }
        applied
    };
    let message = match applied {
        Applied::Updated => "Conversion Updated",
        Applied::Refused(m) => m,
        Applied::Overflow => {
            count("overflow");
            return respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "System.Data.SqlClient.SqlException: Arithmetic overflow error converting numeric \
                 to data type money."
                    .into(),
            );
        }
    };
    let success = applied == Applied::Updated;
    if plan.error_after_apply {
        count("error_after_apply");
        return respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html",
            "<html><body><h1>Server Error in '/' Application.</h1></body></html>".into(),
        );
    }
    if plan.drop_after {
        count("dropped_after");
        kill.notify_one();
        return std::future::pending().await;
    }
    if plan.slow_after {
        count("slow");
        tokio::time::sleep(Duration::from_millis(state.faults.slow_ms)).await;
    }
    count(if success { "updated" } else { "refused" });
    answer(proto, version, success, message)
}

/// `a=1&b=2` → map (the last of a repeated name wins, as ASP.NET's binder reads the first… we
/// keep the first, like ASP.NET).
/// A query string or form body as ASP.NET reads it: names in any case, and a name given twice
/// joined with a comma (`offer_id=77&offer_id=78` is `77,78`, which no number binds).
fn form_values(raw: &[u8]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw) {
        m.entry(k.to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    m
}

/// The namespace of a SOAP body's `UpdateConversion` element (`None`: none, or unreadable).
fn body_namespace(body: &[u8]) -> Option<String> {
    use quick_xml::name::ResolveResult;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = quick_xml::NsReader::from_str(std::str::from_utf8(body).ok()?);
    loop {
        match reader.read_resolved_event().ok()? {
            (ns, quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.local_name().as_ref() == "UpdateConversion" =>
            {
                return Some(match ns {
                    ResolveResult::Bound(n) => n.0.to_string(),
                    _ => String::new(),
                });
            }
            (_, quick_xml::events::Event::Eof) => return None,
            _ => {}
        }
    }
}

/// The children of the `UpdateConversion` element of a SOAP envelope.
fn soap_values(body: &[u8]) -> Option<HashMap<String, String>> {
    let leaves = xml_leaves(body)?;
    let mut m = HashMap::new();
    let mut seen = false;
    for leaf in leaves {
        if leaf.parent == "UpdateConversion" {
            seen = true;
            m.entry(leaf.name).or_insert(leaf.value);
        }
    }
    seen.then_some(m)
}

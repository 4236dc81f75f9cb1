//! Sending one request and turning whatever happens into an [`Outcome`].
//!
//! This is the only place the API key is exposed (`expose_secret`), and every error that leaves
//! it has had its URL stripped and the key redacted: `reqwest::Error`'s `Display` includes the
//! URL, and a GET URL contains the key.

use super::request::{Endpoint, Request};
use super::response::{Outcome, classify};
use crate::update::ConversionUpdate;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, SystemTime};

/// The largest answer body read; CAKE's answers are a few hundred bytes.
const MAX_ANSWER: usize = 256 * 1024;

/// The largest report page read (10,000 rows of about 1.5 KB).
const MAX_REPORT_PAGE: usize = 256 * 1024 * 1024;

/// Why a report page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// Worth another try (after at least `after`, when the server said).
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Will not get better by trying again.
    Fatal(String),
}

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub outcome: Outcome,
    /// The HTTP status, when an answer's head arrived.
    pub http_status: Option<u16>,
}

/// A keep-alive HTTP client bound to one endpoint and key.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    key: SecretString,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("key", &"***")
            .finish_non_exhaustive()
    }
}

/// Installs the ring crypto provider for rustls once per process (idempotent).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// Builds the client: HTTP/1.1 keep-alive pool, connect and total timeouts, rustls.
    pub(crate) fn new(
        endpoint: Endpoint,
        key: SecretString,
        timeout: Duration,
        pool: usize,
    ) -> Result<Self, String> {
        install_crypto();
        let http = reqwest::Client::builder()
            .http1_only()
            .tls_backend_rustls()
            .no_proxy()
            .tcp_nodelay(true)
            // A followed redirect re-sends a GET, key and all, to whatever host `Location`
            // names: never follow; a 3xx is reported with its target instead.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(pool)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("cake-recon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(Self {
            http,
            endpoint,
            key,
        })
    }

    /// The instance's base URL (never holds the key), for messages.
    pub(crate) fn base_url(&self) -> &str {
        &self.endpoint.base_url
    }

    /// Sends `update` once and classifies the result.
    pub(crate) async fn send(&self, update: &ConversionUpdate) -> Attempt {
        let request = self.endpoint.build(update, self.key.expose_secret());
        let result = self.execute(request).await;
        let mut attempt = match result {
            Ok((status, retry_after, body)) => Attempt {
                // Redacted before classifying: an excerpt cut through the key would hide it.
                outcome: classify(
                    status,
                    retry_after.as_deref(),
                    redact_key(&String::from_utf8_lossy(&body), self.key.expose_secret())
                        .as_bytes(),
                    SystemTime::now(),
                ),
                http_status: Some(status),
            },
            Err((outcome, status)) => Attempt {
                outcome,
                http_status: status,
            },
        };
        self.redact(&mut attempt.outcome);
        attempt
    }

    /// Reads one page of `reports.asmx/EventConversions` (see [`super::reports::page_url`]).
    /// Reads change nothing, so every failure but a refused key or a wrong address is worth
    /// another try.
    pub(crate) async fn read_report(
        &self,
        version: u8,
        start: chrono::NaiveDateTime,
        end: chrono::NaiveDateTime,
        start_at_row: u64,
        row_limit: u64,
    ) -> Result<Vec<u8>, ReadFailure> {
        let url = super::reports::page_url(
            &self.endpoint.base_url,
            version,
            self.key.expose_secret(),
            start,
            end,
            start_at_row,
            row_limit,
        );
        let request = Request {
            url,
            post: false,
            content_type: None,
            soap_action: None,
            body: None,
        };
        let redact = |m: String| redact_key(&m, self.key.expose_secret());
        match self.execute_limited(request, MAX_REPORT_PAGE).await {
            Ok((200, _, body)) => Ok(body),
            Ok((status @ (429 | 503), retry_after, _)) => Err(ReadFailure::Retry {
                message: format!("HTTP {status}: the server asks to slow down"),
                after: retry_after
                    .as_deref()
                    .and_then(|v| super::response::parse_retry_after(v, SystemTime::now())),
            }),
            Ok((status @ (401 | 403), _, _)) => Err(ReadFailure::Fatal(format!(
                "HTTP {status}: CAKE refused the API key for reports; check the key (it needs \
                 access to reports.asmx)"
            ))),
            Ok((status, _, body)) if status >= 500 => {
                // Redacted whole, then shortened: a cut through the key would hide it from
                // the redaction.
                let text = redact(String::from_utf8_lossy(&body).into_owned());
                let short: String = text.trim().chars().take(200).collect();
                Err(ReadFailure::Retry {
                    message: format!("HTTP {status}: {short}"),
                    after: None,
                })
            }
            Ok((status, _, _)) => Err(ReadFailure::Fatal(format!(
                "HTTP {status} from reports.asmx/EventConversions; check --base-url and \
                 --reports-version"
            ))),
            Err((outcome, _)) => {
                let mut outcome = outcome;
                self.redact(&mut outcome);
                match outcome {
                    Outcome::Permanent { message } => Err(ReadFailure::Fatal(message)),
                    other => Err(ReadFailure::Retry {
                        message: other.message().to_string(),
                        after: None,
                    }),
                }
            }
        }
    }

    async fn execute(
        &self,
        r: Request,
    ) -> Result<(u16, Option<String>, Vec<u8>), (Outcome, Option<u16>)> {
        self.execute_limited(r, MAX_ANSWER).await
    }

    async fn execute_limited(
        &self,
        r: Request,
        max_body: usize,
    ) -> Result<(u16, Option<String>, Vec<u8>), (Outcome, Option<u16>)> {
        let mut builder = if r.post {
            self.http.post(&r.url)
        } else {
            self.http.get(&r.url)
        };
        if let Some(ct) = &r.content_type {
            builder = builder.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(action) = &r.soap_action {
            builder = builder.header("SOAPAction", action);
        }
        if let Some(body) = r.body {
            builder = builder.body(body);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| (transport_outcome(&e, false), None))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err((redirect_outcome(status, response.headers()), Some(status)));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max_body {
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err((transport_outcome(&e, true), Some(status))),
            }
        }
        Ok((status, retry_after, body))
    }

    /// Last line of defence: the key never leaves in a message.
    fn redact(&self, outcome: &mut Outcome) {
        let message = outcome.message_mut();
        *message = redact_key(message, self.key.expose_secret());
    }
}

/// `text` without the key: as written, and as a URL or a form would carry it (an error page
/// that echoes the request shows the key percent-encoded, in either case, or mixed).
pub(crate) fn redact_key(text: &str, key: &str) -> String {
    let (text_b, key_b) = (text.as_bytes(), key.as_bytes());
    if key_b.is_empty() {
        return text.to_string();
    }
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    // The end of a match of the key at `start`, each key byte raw, `%XX` or (a space) `+`.
    let match_at = |start: usize| -> Option<usize> {
        let mut i = start;
        for &k in key_b {
            match text_b.get(i) {
                Some(&b) if b == k => i += 1,
                Some(b'+') if k == b' ' => i += 1,
                Some(b'%') => {
                    let v = hex(text_b.get(i + 1))? * 16 + hex(text_b.get(i + 2))?;
                    if v != u32::from(k) {
                        return None;
                    }
                    i += 3;
                }
                _ => return None,
            }
        }
        Some(i)
    };
    let mut out = Vec::with_capacity(text_b.len());
    let mut i = 0;
    while i < text_b.len() {
        if let Some(end) = match_at(i) {
            out.extend_from_slice(b"***");
            i = end;
        } else {
            out.push(text_b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| "(a message that held the API key)".into())
}

/// A 3xx: not followed (it would carry the key elsewhere); the message names the target
/// without its query string, which may hold the key.
fn redirect_outcome(status: u16, headers: &reqwest::header::HeaderMap) -> Outcome {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || "an address it did not give".to_string(),
            |l| l.split(['?', '#']).next().unwrap_or_default().to_string(),
        );
    Outcome::Permanent {
        message: format!(
            "HTTP {status}: the server redirects to {target}; redirects are not followed (they \
             would carry the API key to another address). If that address is right, give its \
             scheme and host as --base-url"
        ),
    }
}

/// Classifies a transport error: only a failure to connect proves nothing was sent.
fn transport_outcome(e: &reqwest::Error, answer_started: bool) -> Outcome {
    let message = error_chain(e);
    if e.is_connect() && !answer_started {
        return Outcome::Transient {
            may_have_applied: false,
            message: format!("could not connect: {message}"),
        };
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if answer_started {
        "answer cut off"
    } else {
        "connection failed"
    };
    Outcome::Transient {
        may_have_applied: true,
        message: format!("{what}: {message}"),
    }
}

/// The error and its sources on one line, without the URL.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    let head = {
        // `without_url` needs ownership; rebuild the kind's words instead of Display.
        if e.is_timeout() {
            "operation timed out"
        } else if e.is_connect() {
            "connection error"
        } else if e.is_body() || e.is_decode() {
            "error reading the answer"
        } else {
            "error sending request"
        }
    };
    if parts.is_empty() {
        head.to_string()
    } else {
        format!("{head}: {}", parts.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::redact_key;

    #[test]
    fn the_key_is_redacted_raw_and_url_encoded() {
        let key = "Secret-Key/9+";
        for shown in [
            "Secret-Key/9+",
            "Secret%2DKey%2F9%2B",
            "Secret%2dKey%2f9%2b",
            "Secret-Key%2F9%2B",
        ] {
            let text = format!("error at ?api_key={shown}&x=1");
            assert_eq!(
                redact_key(&text, key),
                "error at ?api_key=***&x=1",
                "{shown}"
            );
        }
    }
}

//! Reading CAKE's answers and classifying them into what the engine may do next.
//!
//! The classification is the heart of money safety: it says not only whether a call worked,
//! but whether a failed call *may have been applied* — which decides if an additive row may be
//! sent again.

use crate::update::xml_leaves;
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` we honour; longer values are clamped.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The fields found in an answer body, matched by local name whatever the namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub success: Option<bool>,
    pub message: Option<String>,
    /// A SOAP fault's reason (`faultstring` in 1.1, `Reason/Text` in 1.2).
    pub fault: Option<String>,
    /// A SOAP fault's code (`faultcode` in 1.1, `Code/Value` in 1.2), e.g. `soap:Sender`.
    pub fault_code: Option<String>,
}

/// Parses an answer body with a real XML parser. `None` when it is not XML that holds a
/// `success`, `message` or fault (HTML error pages, truncated bodies, plain text).
#[must_use]
pub(crate) fn parse_answer(body: &[u8]) -> Option<Answer> {
    let mut answer = Answer::default();
    let mut found = false;
    for leaf in xml_leaves(body)? {
        let value = leaf.value.trim().to_string();
        match (leaf.name.as_str(), leaf.parent.as_str()) {
            ("success", _) => {
                found = true;
                answer.success = match value.to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
            }
            ("message", _) => {
                found = true;
                answer.message = Some(value);
            }
            ("faultstring", _) | ("Text", "Reason") => {
                found = true;
                answer.fault = Some(value);
            }
            ("faultcode", _) | ("Value", "Code") => answer.fault_code = Some(value),
            _ => {}
        }
    }
    found.then_some(answer)
}

/// What one attempt came to, as far as the engine is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// CAKE said success.
    Updated { message: String },
    /// CAKE said success=false with a business reason (e.g. `Conversion Not Found`). Final.
    Rejected { message: String },
    /// The key was refused: stop the whole run.
    InvalidApiKey { message: String },
    /// The server refused before doing any work; try again later. Never applied.
    Throttled {
        retry_after: Option<Duration>,
        message: String,
    },
    /// A passing failure. `may_have_applied` is false only when the failure proves the update
    /// did not happen (nothing left the machine, or the server said so).
    Transient {
        may_have_applied: bool,
        message: String,
    },
    /// A failure that will not go away by retrying (bad parameter, 4xx). Never applied.
    Permanent { message: String },
}

impl Outcome {
    /// True when a retry of this outcome could double-apply an additive row.
    #[must_use]
    pub fn may_have_applied(&self) -> bool {
        matches!(
            self,
            Outcome::Transient {
                may_have_applied: true,
                ..
            }
        )
    }

    /// The message to show in the results file.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Outcome::Updated { message }
            | Outcome::Rejected { message }
            | Outcome::InvalidApiKey { message }
            | Outcome::Throttled { message, .. }
            | Outcome::Transient { message, .. }
            | Outcome::Permanent { message } => message,
        }
    }

    /// The message, to rewrite (the client redacts the key here).
    pub fn message_mut(&mut self) -> &mut String {
        match self {
            Outcome::Updated { message }
            | Outcome::Rejected { message }
            | Outcome::InvalidApiKey { message }
            | Outcome::Throttled { message, .. }
            | Outcome::Transient { message, .. }
            | Outcome::Permanent { message } => message,
        }
    }
}

/// `Retry-After` in seconds or HTTP-date form, clamped to [`MAX_RETRY_AFTER`].
#[must_use]
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// An `.asmx` binding error: the server refused the parameters before running any code.
///
/// Only the exact shapes ASP.NET produces count (the text *starts* with the exception, after an
/// optional `System.…Exception: ` prefix): a 500 page that merely mentions "cannot convert"
/// somewhere may come from code that already wrote something, so it proves nothing.
fn is_binding_error(text: &str) -> bool {
    const SHAPES: [&str; 5] = [
        "missing parameter: ",
        "cannot convert ",
        "input string was not in a correct format",
        "server was unable to read request",
        "string was not recognized as a valid ",
    ];
    let t = text.trim_start().to_ascii_lowercase();
    let t = match t.strip_prefix("system.") {
        Some(rest) => match rest.split_once("exception: ") {
            Some((name, rest)) if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') => {
                rest.to_string()
            }
            _ => return false,
        },
        None => t,
    };
    SHAPES.iter().any(|shape| t.starts_with(shape))
}

/// SQL Server's "deadlock victim … rerun the transaction": rolled back, so not applied.
fn is_deadlock(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("deadlock") && t.contains("rerun the transaction")
}

/// A short, single-line excerpt of a body for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        s.push('…');
    }
    s
}

/// Classifies one HTTP answer.
#[must_use]
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8], now: SystemTime) -> Outcome {
    let answer = parse_answer(body);
    let retry_after = retry_after.and_then(|v| parse_retry_after(v, now));
    let detail = answer
        .as_ref()
        .and_then(|a| a.fault.clone().or_else(|| a.message.clone()))
        .unwrap_or_else(|| excerpt(body));
    match status {
        200..=299 => match answer {
            Some(Answer {
                success: Some(true),
                message,
                ..
            }) => Outcome::Updated {
                message: message.unwrap_or_else(|| "Conversion Updated".into()),
            },
            Some(Answer {
                success: Some(false),
                message,
                ..
            }) => {
                let message = message.unwrap_or_default();
                let lower = message.to_ascii_lowercase();
                if lower.contains("invalid api key") {
                    Outcome::InvalidApiKey { message }
                } else if lower.trim() == "restricted" {
                    Outcome::Throttled {
                        retry_after,
                        message,
                    }
                } else if is_deadlock(&message) {
                    Outcome::Transient {
                        may_have_applied: false,
                        message,
                    }
                } else {
                    Outcome::Rejected { message }
                }
            }
            _ => Outcome::Transient {
                may_have_applied: true,
                message: format!(
                    "HTTP {status} with an answer that could not be read: {}",
                    excerpt(body)
                ),
            },
        },
        401 | 403 => Outcome::InvalidApiKey {
            message: format!("HTTP {status}: {detail}"),
        },
        429 | 503 => Outcome::Throttled {
            retry_after,
            message: format!("HTTP {status}: {detail}"),
        },
        500 if is_deadlock(&detail) => Outcome::Transient {
            may_have_applied: false,
            message: format!("HTTP 500: {detail}"),
        },
        // SQL Server refused a date it cannot store: the write failed, and the same request
        // fails the same way (recorded: `soap12-fault-500-receiver-sqldatetime.xml`).
        500 if detail.contains("SqlDateTime overflow") => Outcome::Permanent {
            message: format!("HTTP 500: {detail}"),
        },
        500 if is_binding_error(&detail)
            || answer
                .as_ref()
                .and_then(|a| a.fault_code.as_deref())
                .is_some_and(|c| {
                    let c = c.to_ascii_lowercase();
                    c.ends_with("sender") || c.ends_with("client")
                }) =>
        {
            Outcome::Permanent {
                message: format!("HTTP 500: {detail}"),
            }
        }
        500..=599 => Outcome::Transient {
            may_have_applied: true,
            message: format!("HTTP {status}: {detail}"),
        },
        _ => Outcome::Permanent {
            message: format!("HTTP {status}: {detail}"),
        },
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A body recorded from a real CAKE instance (`tests/fixtures/cake-recorded/`).
    pub(in crate::cake) fn recorded(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cake-recorded")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
    }

    #[test]
    fn recorded_success() {
        let body = recorded("soap12-update-conversion-events-v6-success.xml");
        assert_eq!(
            classify(200, None, &body, now()),
            Outcome::Updated {
                message: "Conversion Updated".into()
            }
        );
    }

    #[test]
    fn recorded_business_rejection() {
        let body = recorded("soap12-success-false-message.xml");
        assert_eq!(
            classify(200, None, &body, now()),
            Outcome::Rejected {
                message: "Invalid Campaign ID".into()
            }
        );
    }

    #[test]
    fn every_recorded_answer_is_classified_as_the_recording_shows() {
        let updated = recorded("soap12-update-conversion-v4-success.xml");
        assert!(
            matches!(
                classify(200, None, &updated, now()),
                Outcome::Updated { .. }
            ),
            "v4 UpdateConversion success"
        );
        let restricted = recorded("soap12-restricted.xml");
        assert!(matches!(
            classify(200, None, &restricted, now()),
            Outcome::Throttled { .. }
        ));
        let rejected = recorded("soap12-success-false-invalid-payout-type.xml");
        assert_eq!(
            classify(200, None, &rejected, now()),
            Outcome::Rejected {
                message: "Invalid Payout Modification Type".into()
            }
        );
        // The database refused the date: nothing was written, and sending again cannot help.
        let sql = recorded("soap12-fault-500-receiver-sqldatetime.xml");
        let o = classify(500, None, &sql, now());
        assert!(
            matches!(&o, Outcome::Permanent { message } if message.contains("SqlDateTime overflow")),
            "{o:?}"
        );
        assert!(!o.may_have_applied());
    }

    #[test]
    fn recorded_soap_fault_is_permanent_and_not_applied() {
        let body = recorded("soap12-fault-500-input-string.xml");
        let o = classify(500, None, &body, now());
        assert!(
            matches!(&o, Outcome::Permanent { message } if message.contains("Input string was not in a correct format")),
            "{o:?}"
        );
        assert!(!o.may_have_applied());
    }

    #[test]
    fn plain_get_answers() {
        let ok = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<update_conversion_response xmlns=\"http://cakemarketing.com/api/4/\">\r\n  <success>true</success>\r\n  <message>Conversion Updated</message>\r\n</update_conversion_response>";
        assert!(matches!(
            classify(200, None, ok, now()),
            Outcome::Updated { .. }
        ));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(ok);
        assert!(matches!(
            classify(200, None, &bom, now()),
            Outcome::Updated { .. }
        ));
        let nf = b"<update_conversion_response><success>false</success><message>Conversion Not Found</message></update_conversion_response>";
        assert_eq!(
            classify(200, None, nf, now()),
            Outcome::Rejected {
                message: "Conversion Not Found".into()
            }
        );
        let prefixed = b"<r:update_conversion_response xmlns:r=\"http://cakemarketing.com/api/2/\"><r:success>false</r:success><r:message>Invalid API Key</r:message></r:update_conversion_response>";
        assert!(matches!(
            classify(200, None, prefixed, now()),
            Outcome::InvalidApiKey { .. }
        ));
        let restricted = b"<update_conversion_response><success>false</success><message>Restricted</message></update_conversion_response>";
        assert!(
            matches!(classify(200, Some("2"), restricted, now()), Outcome::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(2))
        );
        let escaped = b"<update_conversion_response><success>false</success><message>Offer ID &amp; Conversion &#x49;D do not match</message></update_conversion_response>";
        assert_eq!(
            classify(200, None, escaped, now()),
            Outcome::Rejected {
                message: "Offer ID & Conversion ID do not match".into()
            }
        );
    }

    #[test]
    fn soap11_answer_and_fault() {
        let ok = b"<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><UpdateConversionResponse xmlns=\"http://cakemarketing.com/api/4/\"><UpdateConversionResult><success>true</success><message>Conversion Updated</message></UpdateConversionResult></UpdateConversionResponse></soap:Body></soap:Envelope>";
        assert!(matches!(
            classify(200, None, ok, now()),
            Outcome::Updated { .. }
        ));
        let fault = b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Server was unable to read request.</faultstring></soap:Fault></soap:Body></soap:Envelope>";
        assert!(matches!(
            classify(500, None, fault, now()),
            Outcome::Permanent { .. }
        ));
        let server_fault = b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Object reference not set</faultstring></soap:Fault></soap:Body></soap:Envelope>";
        assert!(classify(500, None, server_fault, now()).may_have_applied());
    }

    #[test]
    fn asmx_binding_errors_are_permanent() {
        let missing = b"Missing parameter: note_to_append.";
        assert!(matches!(
            classify(500, None, missing, now()),
            Outcome::Permanent { .. }
        ));
        let convert = b"System.InvalidOperationException: Cannot convert abc to System.Int32.\r\nParameter name: type";
        assert!(matches!(
            classify(500, None, convert, now()),
            Outcome::Permanent { .. }
        ));
    }

    #[test]
    fn a_500_that_only_mentions_a_binding_phrase_may_have_applied() {
        for body in [
            &b"<html><body>Error: cannot convert currency after updating payout</body></html>"[..],
            b"Payout updated; notification failed: Cannot convert null to System.Int32.",
            b"Unhandled: missing parameter: while posting ledger",
        ] {
            let o = classify(500, None, body, now());
            assert!(
                o.may_have_applied(),
                "{}: {o:?}",
                String::from_utf8_lossy(body)
            );
        }
        let format = b"System.FormatException: Input string was not in a correct format.";
        assert!(!classify(500, None, format, now()).may_have_applied());
    }

    #[test]
    fn server_errors_may_have_applied_except_deadlocks() {
        for status in [500, 502, 504, 599] {
            let o = classify(status, None, b"<html>oops</html>", now());
            assert!(o.may_have_applied(), "{status}: {o:?}");
        }
        let deadlock = b"Transaction (Process ID 61) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.";
        let o = classify(500, None, deadlock, now());
        assert!(
            matches!(
                o,
                Outcome::Transient {
                    may_have_applied: false,
                    ..
                }
            ),
            "{o:?}"
        );
    }

    #[test]
    fn throttling_and_retry_after() {
        assert!(
            matches!(classify(429, Some("7"), b"", now()), Outcome::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert!(matches!(
            classify(503, None, b"busy", now()),
            Outcome::Throttled {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            classify(429, Some("99999"), b"", now()),
            Outcome::Throttled {
                retry_after: Some(MAX_RETRY_AFTER),
                ..
            }
        ));
        let date = httpdate(now() + Duration::from_secs(30));
        assert!(
            matches!(classify(429, Some(&date), b"", now()), Outcome::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(30))
        );
        let past = httpdate(now() - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    fn httpdate(t: SystemTime) -> String {
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap(), 0)
            .unwrap()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    #[test]
    fn auth_and_client_errors() {
        assert!(matches!(
            classify(401, None, b"", now()),
            Outcome::InvalidApiKey { .. }
        ));
        assert!(matches!(
            classify(403, None, b"", now()),
            Outcome::InvalidApiKey { .. }
        ));
        for status in [400, 404, 405, 301] {
            let o = classify(status, None, b"nope", now());
            assert!(matches!(o, Outcome::Permanent { .. }), "{status}: {o:?}");
        }
    }

    #[test]
    fn unreadable_200_may_have_applied() {
        for body in [
            &b""[..],
            b"<update_conversion_response><success>tr",
            b"\xFF\xFE",
            b"OK",
        ] {
            let o = classify(200, None, body, now());
            assert!(o.may_have_applied(), "{body:?}: {o:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_survives_any_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = classify(200, Some("x"), &body, now());
            let _ = classify(500, None, &body, now());
        }
    }
}

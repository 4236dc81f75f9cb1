//! The emulator's answers as ASP.NET writes them: the XML result, SOAP 1.1/1.2 envelopes and
//! faults, binding errors, the recorded `SqlDateTime` fault, plain responses.

use super::binding::{BindError, Call};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub(super) fn respond(
    status: StatusCode,
    content_type: &str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert("x-aspnet-version", HeaderValue::from_static("4.0.30319"));
    r
}

pub(super) fn with_retry_after(mut r: Response<Full<Bytes>>, secs: u64) -> Response<Full<Bytes>> {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(RETRY_AFTER, v);
    }
    r
}

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    Form,
    Soap11,
    Soap12,
}

/// Builds the answer body for `success`/`message` in the request's protocol.
pub(super) fn answer(
    proto: Proto,
    version: u8,
    success: bool,
    message: &str,
) -> Response<Full<Bytes>> {
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

pub(super) fn soap_envelope(proto: Proto) -> (&'static str, &'static str) {
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
pub(super) fn binding_error(proto: Proto, e: &BindError) -> Response<Full<Bytes>> {
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
pub(super) fn sql_refusal(proto: Proto, call: &Call) -> Option<Response<Full<Bytes>>> {
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
pub(super) fn sql_datetime_min() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(1753, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
}

/// A fault the request caused (`soap:Sender`; SOAP 1.1 `soap:Client`).
pub(super) fn soap_fault(proto: Proto, reason: &str) -> Response<Full<Bytes>> {
    soap_fault_by(proto, true, reason)
}

/// A SOAP fault: the request's (`sender`) or the server's (`soap:Receiver`, 1.1 `soap:Server`).
pub(super) fn soap_fault_by(proto: Proto, sender: bool, reason: &str) -> Response<Full<Bytes>> {
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

pub(super) fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_string_pretty(value) {
        Ok(body) => respond(StatusCode::OK, "application/json", body),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            e.to_string(),
        ),
    }
}

pub(super) fn not_found() -> Response<Full<Bytes>> {
    respond(StatusCode::NOT_FOUND, "text/plain", "Not Found: this emulator serves /api/2/ and /api/4/ track.asmx/UpdateConversion, /api/15/ to /api/18/ reports.asmx/EventConversions, and /admin/ledger, /admin/stats".into())
}

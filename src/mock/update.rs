//! One `UpdateConversion` call: read from a query, a form or a SOAP envelope, bound as ASP.NET
//! binds it, applied to the ledger, answered.

use super::answers::{Proto, answer, binding_error, not_found, respond, soap_fault, sql_refusal};
use super::binding::{Call, Strictness, bind};
use super::faults::Plan;
use super::ledger::Applied;
use super::state::{State, lock};
use crate::update::xml_leaves;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The largest request body accepted.
pub(super) const MAX_BODY: usize = 1 << 20;

/// Reads the call's named values from a query, a form or a SOAP envelope.
pub(super) async fn read_call(
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

/// What a version 4 call with `offer_id=0` is answered (unless `--accept-offer-0`).
pub const OFFER_0_REFUSED: &str = "Invalid Offer ID: offer 0 is not an existing offer";

/// Binds the call, applies it to the ledger, and answers (or fails) the way the plan says.
pub(super) async fn update(
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
pub(super) fn form_values(raw: &[u8]) -> HashMap<String, String> {
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
pub(super) fn body_namespace(body: &[u8]) -> Option<String> {
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
pub(super) fn soap_values(body: &[u8]) -> Option<HashMap<String, String>> {
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

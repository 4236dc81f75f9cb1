//! Who may use the screen: the access token on every request, and a CSRF token on every POST.
//!
//! The token arrives once in the link printed at start (`/?token=…`); the answer moves it into
//! a cookie (`HttpOnly`, `SameSite=Strict`, named after the port) and redirects to the same page
//! without it, so it does not stay in the address bar or the history. Every later request
//! carries the cookie (or `Authorization: Bearer`). A POST must also carry the page's CSRF
//! token in its URL, and when the browser says where it comes from (`Origin`,
//! `Sec-Fetch-Site`), it must be this server. On loopback the `Host` must be loopback too, so a
//! rebound DNS name cannot reach the server through a browser.

use super::html::CSRF_FIELD;
pub(super) use super::people::same;
use super::state::App;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use std::sync::Arc;

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn refuse(status: StatusCode, text: &str) -> Response {
    let body = super::html::page(
        "Not allowed",
        "—",
        &super::html::notice("error", &super::html::esc(text)),
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// True when the `Host` header names this machine (or the server is not on loopback).
fn host_allowed(app: &App, headers: &HeaderMap) -> bool {
    if !app.listen.ip().is_loopback() {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    crate::config::host_is_loopback(name)
}

/// Set by [`guard`] on a multipart upload whose CSRF token is inside the body: the upload
/// handler takes no file before a valid `csrf_token` field.
#[derive(Clone, Copy)]
pub(super) struct CsrfInBody;

/// The largest form body the guard reads to find the CSRF field.
const FORM_LIMIT: usize = 256 * 1024;

/// The middleware every route passes through.
pub(super) async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !host_allowed(&app, headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This server answers only to its own address (127.0.0.1, localhost or ::1).",
        );
    }
    let (person, set_cookie) = match who(&app, &req) {
        Ok(found) => found,
        Err(resp) => return *resp,
    };
    let mut req = req;
    if let Some(p) = person {
        req.extensions_mut().insert(p);
    }
    let req = if req.method() == Method::GET || req.method() == Method::HEAD {
        req
    } else {
        match csrf_checked(&app, req).await {
            Ok(req) => req,
            Err(resp) => return *resp,
        }
    };
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// A state-changing request: from this server's own page (`Origin`, `Sec-Fetch-Site`) and
/// carrying the CSRF token — in the URL, a header, the form body, or (uploads) the first field
/// of the multipart body.
/// Who a request comes from: with `--users`, the person whose session the cookie names (the
/// sign-in page and the style sheet are open to all); else the token holder. `Err`: the
/// answer for a request nobody may make. The cookie to set, when the token came in the link.
fn who(
    app: &App,
    req: &Request,
) -> Result<(Option<super::people::Person>, Option<String>), Box<Response>> {
    let headers = req.headers();
    let path = req.uri().path();
    if app.people.users.is_some() {
        if path == "/signin" || path.starts_with("/static/") {
            return Ok((None, None));
        }
        let person = cookie(headers, &app.cookie_name).and_then(|c| app.people.session(c));
        return match person {
            Some(p) => Ok((Some(p), None)),
            None if req.method() == Method::GET => Err(Box::new(
                axum::response::Redirect::to("/signin").into_response(),
            )),
            None => Err(Box::new(refuse(
                StatusCode::UNAUTHORIZED,
                "Sign in first: open the home page of this server and sign in with your name and password.",
            ))),
        };
    }
    let token = app.token.expose_secret();
    let query = req.uri().query().unwrap_or("");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let from_link = query_param(query, "token");
    let presented = from_link
        .or_else(|| cookie(headers, &app.cookie_name))
        .or(bearer);
    if !presented.is_some_and(|p| same(p, token)) {
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "This page needs the access token. Open the link cake-recon printed when it started \
             (it ends in ?token=…); if the server was restarted, its new link.",
        )));
    }
    let set_cookie = from_link.is_some().then(|| {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict",
            app.cookie_name
        )
    });
    Ok((Some(super::people::Person::token_holder()), set_cookie))
}

async fn csrf_checked(app: &App, req: Request) -> Result<Request, Box<Response>> {
    let forbidden = || {
        Box::new(refuse(
            StatusCode::FORBIDDEN,
            "This form did not come from this server's own page (its CSRF token is missing or \
             wrong). Reload the page and try again.",
        ))
    };
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let cross = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site");
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|h| h == host)
        });
    if cross || !origin_ok {
        return Err(forbidden());
    }
    let good = |c: &str| same(c, &app.csrf);
    let in_url = query_param(req.uri().query().unwrap_or(""), "csrf").is_some_and(good);
    let in_header = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(good);
    if in_url || in_header {
        return Ok(req);
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Only the upload reads a multipart body (and checks the field itself): anywhere else a
    // multipart body carries no token the guard could see.
    if ctype.starts_with("multipart/form-data") && req.uri().path() == "/upload" {
        let mut req = req;
        req.extensions_mut().insert(CsrfInBody);
        return Ok(req);
    }
    if !ctype.starts_with("application/x-www-form-urlencoded") {
        return Err(forbidden());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| forbidden())?;
    let found = form_urlencoded::parse(&bytes).any(|(k, v)| k == CSRF_FIELD && good(&v));
    if !found {
        return Err(forbidden());
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_queries_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; cake_recon_8080=abc; x=y"),
        );
        assert_eq!(cookie(&h, "cake_recon_8080"), Some("abc"));
        assert_eq!(cookie(&h, "cake_recon_80"), None);
        assert_eq!(query_param("a=1&csrf=zz", "csrf"), Some("zz"));
        assert_eq!(query_param("xcsrf=zz", "csrf"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}

//! Signing in and out (`serve --users`): a person's own password, checked with Argon2, opens a
//! session of theirs (`people.rs`); the sign-in goes to the audit log.

use super::html::{esc, form_open};
use super::pages::{Shared, html};
use super::people::Person;
use super::state::App;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

fn signin_page(app: &App, problem: Option<&str>) -> String {
    let mut out = String::from("<h1>Sign in</h1>");
    if let Some(p) = problem {
        out.push_str(&super::html::notice("error", &esc(p)));
    }
    out.push_str(&form_open("/signin", &app.csrf, " id=\"signin-form\""));
    out.push_str(
        "<p><label for=\"name\">Name</label> <input id=\"name\" name=\"name\" required \
         autocomplete=\"username\"></p><p><label for=\"password\">Password</label> <input \
         id=\"password\" name=\"password\" type=\"password\" required \
         autocomplete=\"current-password\"></p><p><button type=\"submit\" class=\"primary\" \
         id=\"signin\">Sign in</button></p></form>",
    );
    out
}

pub(super) async fn signin_form(State(app): Shared) -> Response {
    html(&app, StatusCode::OK, "Sign in", &signin_page(&app, None))
}

pub(super) async fn signin(
    State(app): Shared,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let name = form.get("name").map_or("", |s| s.trim());
    let password = form.get("password").map_or("", String::as_str);
    let (a, n, pw) = (
        std::sync::Arc::clone(&app),
        name.to_string(),
        password.to_string(),
    );
    // Argon2 takes its time on purpose: off the async threads.
    let found = super::pages::blocking(move || {
        a.people.users.as_ref().and_then(|users| {
            users
                .iter()
                .find(|u| u.name.eq_ignore_ascii_case(&n))
                .filter(|u| u.signs_in_with(&pw))
                .map(|u| Person {
                    name: u.name.clone(),
                    role: Some(u.role),
                })
        })
    })
    .await
    .flatten();
    let Some(person) = found else {
        return html(
            &app,
            StatusCode::UNAUTHORIZED,
            "Sign in",
            &signin_page(
                &app,
                Some("That name and password do not match: try again."),
            ),
        );
    };
    super::audit_log::record(
        &app,
        &person.name,
        super::audit_log::Action::SignIn,
        None,
        String::new(),
    );
    let key = app.people.open(person);
    let mut resp = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}={key}; Path=/; HttpOnly; SameSite=Strict",
        app.cookie_name
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

pub(super) async fn signout(State(app): Shared, headers: axum::http::HeaderMap) -> Response {
    if let Some(c) = super::guard::cookie(&headers, &app.cookie_name) {
        app.people.close(c);
    }
    let mut resp = Redirect::to("/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        app.cookie_name
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The person a handler serves (the guard's extension; the token holder without one).
pub(super) struct Who(pub Person);

impl axum::extract::FromRequestParts<std::sync::Arc<App>> for Who {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &std::sync::Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Who(parts
            .extensions
            .get::<Person>()
            .cloned()
            .unwrap_or_else(Person::token_holder)))
    }
}

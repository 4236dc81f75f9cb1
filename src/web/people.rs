//! Who is at the screen. Without `--users`, whoever holds the printed link's token (one
//! person, as before). With `--users`, each person signs in with their own password
//! (`/signin`); the cookie then carries a session of theirs (random, `HttpOnly`,
//! `SameSite=Strict`, as the token's cookie), and every form still carries the CSRF token.

use crate::config::{Role, User};
use std::collections::HashMap;
use std::sync::Mutex;

/// The person a request comes from (an extension the guard puts on every request it lets in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Person {
    pub name: String,
    /// `None`: no `--users` (the token holder may do everything but approve).
    pub role: Option<Role>,
}

impl Person {
    /// The one who holds the printed link's token.
    pub(super) fn token_holder() -> Self {
        Self {
            name: "token holder".into(),
            role: None,
        }
    }
}

/// The people (`--users`), the approval bar and the open sessions.
pub(super) struct People {
    pub users: Option<Vec<User>>,
    pub approval_over: rust_decimal::Decimal,
    sessions: Mutex<HashMap<String, Person>>,
}

/// How many sessions are kept (the oldest go first).
const SESSIONS: usize = 256;

impl People {
    pub(super) fn new(users: Option<Vec<User>>, approval_over: rust_decimal::Decimal) -> Self {
        Self {
            users,
            approval_over,
            sessions: Mutex::default(),
        }
    }

    /// The session a cookie names, if it is open.
    pub(super) fn session(&self, cookie: &str) -> Option<Person> {
        let sessions = self.sessions.lock().ok()?;
        sessions
            .iter()
            .find(|(k, _)| same(k, cookie))
            .map(|(_, p)| p.clone())
    }

    pub(super) fn open(&self, p: Person) -> String {
        let key = crate::config::random_token();
        if let Ok(mut s) = self.sessions.lock() {
            if s.len() >= SESSIONS {
                s.clear();
            }
            s.insert(key.clone(), p);
        }
        key
    }

    pub(super) fn close(&self, cookie: &str) {
        if let Ok(mut s) = self.sessions.lock() {
            s.retain(|k, _| !same(k, cookie));
        }
    }
}

/// Compares two secrets in time that does not depend on where they differ.
#[must_use]
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

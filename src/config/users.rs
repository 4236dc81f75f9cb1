//! `serve --users users.toml`: the people who may use the screen, each with a role and a
//! password kept only as an Argon2id hash (`cake-recon hash-password` makes one). A preparer
//! uploads, maps, compares and applies; an approver may also approve another person's sheet.
//!
//! ```toml
//! [[user]]
//! name = "ana"
//! role = "preparer"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! ```

use crate::error::Error;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use serde::Deserialize;
use std::path::Path;

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    Preparer,
    Approver,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Preparer => "preparer",
            Self::Approver => "approver",
        }
    }
}

/// One person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct User {
    pub name: String,
    pub role: Role,
    password_hash: String,
}

impl User {
    /// True when `password` is this person's. Argon2's own comparison (constant time).
    #[must_use]
    pub(crate) fn signs_in_with(&self, password: &str) -> bool {
        PasswordHash::new(&self.password_hash).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<User>,
}

/// Reads and checks a users file: names unique and plain, roles known, hashes Argon2 PHC
/// strings, at least one approver (else no sheet above the bar could ever be applied).
pub(crate) fn load_users(path: &Path) -> Result<Vec<User>, Error> {
    let bad = |m: String| Error::Usage(format!("--users {}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let file: UsersFile = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for u in &file.user {
        let plain = !u.name.is_empty()
            && u.name.len() <= 64
            && u.name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '@'));
        if !plain {
            return Err(bad(format!(
                "the name {:?} is not a plain name (letters, digits, . - _ @ and spaces, at most 64)",
                u.name
            )));
        }
        if !seen.insert(u.name.to_lowercase()) {
            return Err(bad(format!("{:?} is named twice", u.name)));
        }
        if !PasswordHash::new(&u.password_hash)
            .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
        {
            return Err(bad(format!(
                "the password_hash of {:?} is not an Argon2 hash: make one with `cake-recon \
                 hash-password`",
                u.name
            )));
        }
    }
    if file.user.is_empty() {
        return Err(bad("it names nobody: add [[user]] entries".into()));
    }
    if !file.user.iter().any(|u| u.role == Role::Approver) {
        return Err(bad(
            "it names no approver: add one (role = \"approver\"), or no sheet above \
             --approval-over could be applied"
                .into(),
        ));
    }
    Ok(file.user)
}

/// An Argon2id hash of `password` (PHC string) with a fresh random salt.
pub(crate) fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < 8 {
        return Err(Error::Usage(
            "a password needs at least 8 characters: give a longer one".into(),
        ));
    }
    let seed = super::random_token();
    let salt = SaltString::encode_b64(seed.as_bytes().get(..16).unwrap_or_default())
        .map_err(|e| Error::Internal(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_file_signs_people_in_by_their_own_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let (a, b) = (
            hash_password("correct horse").unwrap(),
            hash_password("battery staple").unwrap(),
        );
        std::fs::write(
            &path,
            format!(
                "[[user]]\nname = \"ana\"\nrole = \"preparer\"\npassword_hash = \"{a}\"\n\
                 [[user]]\nname = \"ben\"\nrole = \"approver\"\npassword_hash = \"{b}\"\n"
            ),
        )
        .unwrap();
        let users = load_users(&path).unwrap();
        assert!(users[0].signs_in_with("correct horse"));
        assert!(!users[0].signs_in_with("battery staple"));
        assert!(users[1].signs_in_with("battery staple"));
        assert_eq!(users[1].role, Role::Approver);
        std::fs::write(
            &path,
            format!("[[user]]\nname = \"ana\"\nrole = \"preparer\"\npassword_hash = \"{a}\"\n"),
        )
        .unwrap();
        assert!(
            load_users(&path)
                .unwrap_err()
                .to_string()
                .contains("no approver")
        );
        std::fs::write(
            &path,
            "[[user]]\nname = \"ana\"\nrole = \"boss\"\npassword_hash = \"x\"\n",
        )
        .unwrap();
        assert!(load_users(&path).is_err());
        assert!(hash_password("short").is_err());
    }
}

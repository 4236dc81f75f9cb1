//! The screen's record of who did what (`.cake-recon/audit.jsonl`): one JSON line per event,
//! each carrying the hash of the line before it, so a line edited, removed or inserted later
//! breaks the chain at that line. `cake-recon audit --verify` and the Audit page read it with
//! the same rule ([`line_hash`]).
//!
//! The chain proves the file was not edited line by line; it cannot prove that the whole tail
//! was not cut off, nor stop someone who can write the file from rewriting every hash after
//! an edit — keep a copy of the last hash (the Audit page shows it) where that matters.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

/// The hash the first line is chained to.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event: who did what to which sheet, and the money of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Event {
    /// RFC 3339, local time with its offset.
    pub at: String,
    pub who: String,
    /// `upload`, `compare`, `approve`, `apply`, `finish`, `stop`, `resume`, `sign-in`.
    pub action: String,
    pub sheet: String,
    /// SHA-256 of the sheet's bytes.
    pub digest: String,
    pub rows: u64,
    /// Σ payout (set and added) and Σ received, as the page stated them.
    pub payout: String,
    pub received: String,
    /// The run's exit code (`finish`).
    pub exit: Option<i32>,
    /// Anything else worth keeping (the CAKE instance, the approval's digest).
    pub detail: String,
}

/// A line of the file: the event, the previous line's hash, its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    #[serde(flatten)]
    event: Event,
    prev: String,
    hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The hash of `event` chained to `prev`: SHA-256 over `prev` and the event's JSON (fields in
/// their declared order, as serde writes them).
fn line_hash(prev: &str, event: &Event) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(event).unwrap_or_default());
    hex(&h.finalize())
}

/// The line to append after a file whose last hash is `prev`, and its own hash.
#[must_use]
pub(crate) fn next_line(prev: &str, event: &Event) -> (String, String) {
    let hash = line_hash(prev, event);
    let line = Line {
        event: event.clone(),
        prev: prev.to_string(),
        hash: hash.clone(),
    };
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    (text, hash)
}

/// Why a chain does not hold: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the audit log {why}")]
pub(crate) struct Broken {
    pub line: usize,
    pub why: String,
}

/// Reads a whole log: its events, in order, and the last hash; or where the chain breaks.
pub(crate) fn verify(text: &str) -> Result<(Vec<Event>, String), Broken> {
    let mut prev = GENESIS.to_string();
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let broken = |why: &str| Broken {
            line: i + 1,
            why: why.to_string(),
        };
        let line: Line = serde_json::from_str(raw)
            .map_err(|_| broken("is not an audit line (edited, or cut off)"))?;
        if line.prev != prev {
            return Err(broken(
                "does not follow the line before it (a line was removed, inserted or reordered)",
            ));
        }
        if line_hash(&prev, &line.event) != line.hash {
            return Err(broken("was changed after it was written"));
        }
        prev = line.hash;
        events.push(line.event);
    }
    Ok((events, prev))
}

/// The hash a new line chains to: the last line's (the genesis for an empty log), read
/// without checking the chain (an append never repairs or hides a break).
#[must_use]
pub(crate) fn last_hash(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Line>(l).ok())
        .map_or_else(|| GENESIS.to_string(), |l| l.hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: usize) -> String {
        let mut text = String::new();
        for i in 0..n {
            let e = Event {
                at: format!("2026-12-04T10:0{i}:00+00:00"),
                who: "ana".into(),
                action: "apply".into(),
                sheet: "june.csv".into(),
                payout: format!("{i}.00"),
                ..Event::default()
            };
            let (line, _) = next_line(&last_hash(&text), &e);
            text.push_str(&line);
        }
        text
    }

    #[test]
    fn a_chain_holds_until_a_line_is_edited_removed_or_moved() {
        let text = log(4);
        let (events, last) = verify(&text).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(last, last_hash(&text));
        let edited = text.replacen("\"payout\":\"2.00\"", "\"payout\":\"200.00\"", 1);
        assert_eq!(verify(&edited).unwrap_err().line, 3);
        let lines: Vec<&str> = text.lines().collect();
        let removed = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        assert_eq!(verify(&removed).unwrap_err().line, 2);
        let swapped = format!("{}\n{}\n{}\n{}\n", lines[1], lines[0], lines[2], lines[3]);
        assert_eq!(verify(&swapped).unwrap_err().line, 1);
        assert_eq!(verify("junk\n").unwrap_err().line, 1);
        assert_eq!(verify("").unwrap().1, GENESIS);
    }
}

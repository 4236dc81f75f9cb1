//! The screen's audit log: every upload, comparison, approval, apply, stop, resume and run
//! end, with who, when, which sheet (name and SHA-256 of its bytes), rows and money, appended
//! to `.cake-recon/audit.jsonl` (0600, never through a link) and chained line to line
//! (`report::audit`). The Audit page lists it, filtered by sheet and person.

use super::state::App;
use crate::report::audit::{Event, last_hash, next_line};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    SignIn,
    Upload,
    Compare,
    Approve,
    Apply,
    Finish,
    Stop,
    Resume,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::Upload => "upload",
            Self::Compare => "compare",
            Self::Approve => "approve",
            Self::Apply => "apply",
            Self::Finish => "finish",
            Self::Stop => "stop",
            Self::Resume => "resume",
        }
    }
}

/// The sheet an event is about, and its money as the page stated it.
#[derive(Debug, Clone, Default)]
pub(super) struct SheetFacts {
    pub name: String,
    pub digest: String,
    pub rows: u64,
    pub payout: rust_decimal::Decimal,
    pub received: rust_decimal::Decimal,
    pub exit: Option<i32>,
}

impl SheetFacts {
    /// What a job's record says of the sheet its last Apply sent.
    pub(super) fn of_job(r: &super::jobs::JobRecord) -> Self {
        Self {
            name: r.sheet.clone(),
            digest: r.digest.clone(),
            rows: r.rows,
            payout: r.money.0,
            received: r.money.1,
            exit: None,
        }
    }

    /// An uploaded sheet by name and the digest of its bytes as they are now.
    pub(super) fn of_staged(app: &App, staged: &super::staged::Staged) -> Self {
        Self {
            name: staged.name.clone(),
            digest: file_digest(app.jobs.root(), &staged.path()),
            ..Default::default()
        }
    }
}

/// SHA-256 of a file's bytes, in hex (empty when it cannot be read).
pub(super) fn file_digest(root: &Path, path: &Path) -> String {
    let Ok(mut f) = super::jail::open(root, path) else {
        return String::new();
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(buf.get(..n).unwrap_or_default()),
            Err(_) => return String::new(),
        }
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(super) fn log_path(root: &Path) -> PathBuf {
    super::staged::state_dir(root).join("audit.jsonl")
}

/// Appends one event. A log that cannot be written is said in the server's log; the action
/// itself has happened and is not undone.
pub(super) fn record(
    app: &App,
    who: &str,
    action: Action,
    sheet: Option<&SheetFacts>,
    detail: String,
) {
    let root = app.jobs.root();
    let s = sheet.cloned().unwrap_or_default();
    let event = Event {
        at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        who: who.to_string(),
        action: action.as_str().into(),
        sheet: s.name,
        digest: s.digest,
        rows: s.rows,
        payout: if sheet.is_some() {
            s.payout.to_string()
        } else {
            String::new()
        },
        received: if sheet.is_some() {
            s.received.to_string()
        } else {
            String::new()
        },
        exit: s.exit,
        detail,
    };
    let _one = app.audit.lock();
    let path = log_path(root);
    let written = (|| -> std::io::Result<()> {
        let before = match super::jail::read_to_string(root, &path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let (line, _) = next_line(&last_hash(&before), &event);
        let mut f = super::jail::append(root, &path)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        tracing::error!(error = %e, action = action.as_str(), "the audit log could not be written");
    }
}

//! `cake-recon audit`: the screen's audit log of a served folder, read back, its chain checked
//! (`report::audit`: the rule the screen wrote it with).

use crate::error::Error;
use crate::report::audit::verify;
use std::io::Write;
use std::path::Path;

/// Where `serve --dir DIR` keeps its audit log.
#[must_use]
fn audit_path(dir: &Path) -> std::path::PathBuf {
    dir.join(".cake-recon").join("audit.jsonl")
}

/// Prints the log (or, with `check_only`, only whether it holds); a broken chain is an error
/// naming the line.
pub(crate) fn audit(dir: &Path, check_only: bool, out: &mut dyn Write) -> Result<u8, Error> {
    let path = audit_path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Usage(format!(
                "{} does not exist: give the folder `cake-recon serve --dir` serves (--dir DIR)",
                path.display()
            )));
        }
        Err(e) => {
            return Err(Error::Usage(format!("cannot read {}: {e}", path.display())));
        }
    };
    let (events, last) =
        verify(&text).map_err(|b| Error::AuditBroken(format!("{}: {b}", path.display())))?;
    let w = |out: &mut dyn Write, s: String| {
        writeln!(out, "{s}").map_err(|e| Error::Internal(format!("stdout: {e}")))
    };
    if !check_only {
        for e in &events {
            w(
                out,
                format!(
                    "{}  {:<8} {:<9} {}  rows {}  payout {}  received {}{}{}",
                    e.at,
                    e.who,
                    e.action,
                    e.sheet,
                    e.rows,
                    e.payout,
                    e.received,
                    e.exit.map(|x| format!("  exit {x}")).unwrap_or_default(),
                    if e.detail.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", e.detail)
                    }
                ),
            )?;
        }
    }
    w(
        out,
        format!(
            "The audit log holds: {} events, each chained to the one before; last hash {last}.",
            events.len()
        ),
    )?;
    Ok(crate::exit::OK)
}

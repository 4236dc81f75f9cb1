//! `cake-recon status CHECKPOINT`: what a checkpoint says, readable while a run is active.

use super::{CheckpointError, lock, schema};
use rusqlite::Connection;
use std::fmt::Write as _;
use std::path::Path;

/// How many in-doubt rows are listed by number.
const LISTED: usize = 50;

fn query(conn: &Connection, path: &Path) -> Result<String, rusqlite::Error> {
    let meta = schema::read_meta(conn)?;
    let get = |k: &str| {
        meta.iter()
            .find(|(key, _)| key == k)
            .map_or("?", |(_, v)| v.as_str())
    };
    let mut out = String::new();
    let _ = writeln!(out, "Checkpoint {}", path.display());
    let _ = writeln!(
        out,
        "  input:    {} ({} bytes, sha256 {})",
        get("input_path"),
        get("input_size"),
        get("input_sha256").get(..16).unwrap_or("?")
    );
    let settings: Vec<String> = meta
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("setting.").map(|k| format!("{k}={v}")))
        .collect();
    let _ = writeln!(out, "  settings: {}", settings.join(" "));
    let _ = writeln!(out, "  created:  {}", get("created_at"));
    match lock::holder(path) {
        Some(h) => {
            let _ = writeln!(out, "  running:  yes — {h}");
        }
        None => {
            let _ = writeln!(out, "  running:  no");
        }
    }
    let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM rows WHERE status IS NOT NULL GROUP BY status ORDER BY status")?;
    let counts: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let finished = u64::try_from(counts.iter().map(|(_, n)| n).sum::<i64>()).unwrap_or(0);
    let text: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(
        out,
        "  rows:     {}",
        if text.is_empty() {
            "none finished yet".into()
        } else {
            text.join(", ")
        }
    );
    let total: u64 = get("rows").parse().unwrap_or(0);
    let _ = writeln!(
        out,
        "  remaining: {} of {total} valid rows have no final outcome",
        total.saturating_sub(finished)
    );
    let mut stmt = conn.prepare(
        "SELECT row, COALESCE(message, 'request may have been sent when the run stopped') FROM rows
         WHERE status = 'in_doubt' OR (status IS NULL AND intent_at IS NOT NULL) ORDER BY row",
    )?;
    let doubts: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let _ = writeln!(out, "  in doubt: {}", doubts.len());
    for (row, msg) in doubts.iter().take(LISTED) {
        let _ = writeln!(out, "    row {row}: {msg}");
    }
    if doubts.len() > LISTED {
        let _ = writeln!(out, "    … and {} more", doubts.len() - LISTED);
    }
    let last: Option<String> = conn.query_row(
        "SELECT MAX(t) FROM (SELECT MAX(finished_at) AS t FROM rows UNION ALL SELECT MAX(intent_at) FROM rows
         UNION ALL SELECT MAX(started_at) FROM runs UNION ALL SELECT MAX(finished_at) FROM runs)",
        [],
        |r| r.get(0),
    )?;
    let _ = writeln!(
        out,
        "  last activity: {}",
        last.unwrap_or_else(|| "none".into())
    );
    let ended: Option<String> = conn
        .query_row("SELECT COALESCE(ended, 'running or stopped abruptly') FROM runs ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .ok();
    if let Some(e) = ended {
        let _ = writeln!(out, "  last run: {e}");
    }
    Ok(out)
}

/// Renders the status report of the checkpoint at `path`.
pub(crate) fn report(path: &Path) -> Result<String, CheckpointError> {
    if !path.exists() {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            why: "there is no such file".into(),
        });
    }
    let conn = schema::open(path, true)?;
    query(&conn, path).map_err(|e| CheckpointError::sql(path, &e))
}

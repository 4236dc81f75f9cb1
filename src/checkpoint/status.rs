//! `cake-recon status CHECKPOINT [--json]`: what a checkpoint says, readable while a run is
//! active. One model, rendered as text for a person or as JSON for a script.

use super::{CheckpointError, lock, schema};
use rusqlite::Connection;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How many in-doubt rows are listed by number.
const LISTED: usize = 50;

/// What a checkpoint records (also what the screen shows while a run goes on).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub checkpoint: String,
    pub input_path: String,
    pub input_size: String,
    pub input_sha256: String,
    pub settings: BTreeMap<String, String>,
    pub created_at: String,
    /// The run holding the checkpoint now (pid, host, start), if any.
    pub running: Option<String>,
    /// Rows by final status.
    pub rows: BTreeMap<String, u64>,
    pub valid_rows: u64,
    /// Valid rows without a final outcome yet.
    pub remaining: u64,
    /// Additive rows whose request is out right now (a live run): not in doubt, in flight.
    pub in_flight: u64,
    /// Rows that may or may not have been applied (listed up to 50).
    pub in_doubt: Vec<Doubt>,
    pub in_doubt_total: u64,
    pub last_activity: Option<String>,
    pub last_run: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Doubt {
    pub row: i64,
    pub message: String,
}

fn query(conn: &Connection, path: &Path) -> Result<Report, rusqlite::Error> {
    let meta = schema::read_meta(conn)?;
    let get = |k: &str| {
        meta.iter()
            .find(|(key, _)| key == k)
            .map_or_else(|| "?".to_string(), |(_, v)| v.clone())
    };
    let running = lock::holder(path);
    let mut stmt = conn.prepare(
        "SELECT status, COUNT(*) FROM rows WHERE status IS NOT NULL GROUP BY status ORDER BY status",
    )?;
    let rows: BTreeMap<String, u64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?)))?
        .map(|r| r.map(|(s, n)| (s, u64::try_from(n).unwrap_or(0))))
        .collect::<Result<_, _>>()?;
    let finished: u64 = rows.values().sum();
    let valid_rows: u64 = get("rows").parse().unwrap_or(0);
    // An intent without an outcome is a request out *now* while a run holds the lock, and a
    // request that may have been applied when no run does.
    let pending: Vec<Doubt> = conn
        .prepare(
            "SELECT row FROM rows WHERE status IS NULL AND intent_at IS NOT NULL ORDER BY row",
        )?
        .query_map([], |r| {
            Ok(Doubt {
                row: r.get(0)?,
                message: "the run stopped after this row's request may have been sent".into(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut in_doubt: Vec<Doubt> = conn
        .prepare(
            "SELECT row, COALESCE(message, '') FROM rows WHERE status = 'in_doubt' ORDER BY row",
        )?
        .query_map([], |r| {
            Ok(Doubt {
                row: r.get(0)?,
                message: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let in_flight = if running.is_some() {
        pending.len() as u64
    } else {
        in_doubt.extend(pending);
        in_doubt.sort_by_key(|d| d.row);
        0
    };
    let in_doubt_total = in_doubt.len() as u64;
    in_doubt.truncate(LISTED);
    let last_activity: Option<String> = conn.query_row(
        "SELECT MAX(t) FROM (SELECT MAX(finished_at) AS t FROM rows UNION ALL SELECT MAX(intent_at) FROM rows
         UNION ALL SELECT MAX(started_at) FROM runs UNION ALL SELECT MAX(finished_at) FROM runs)",
        [],
        |r| r.get(0),
    )?;
    let last_run: Option<String> = conn
        .query_row(
            "SELECT COALESCE(ended, 'running or stopped abruptly') FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .ok();
    Ok(Report {
        checkpoint: path.display().to_string(),
        input_path: get("input_path"),
        input_size: get("input_size"),
        input_sha256: get("input_sha256"),
        settings: meta
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("setting.")
                    .map(|k| (k.to_string(), v.clone()))
            })
            .collect(),
        created_at: get("created_at"),
        running: running.clone(),
        rows,
        valid_rows,
        remaining: valid_rows.saturating_sub(finished),
        in_flight,
        in_doubt,
        in_doubt_total,
        last_activity,
        last_run: last_run.map(|r| {
            if r == "running or stopped abruptly" && running.is_some() {
                "running now".into()
            } else {
                r
            }
        }),
    })
}

fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Checkpoint {}", r.checkpoint);
    let _ = writeln!(
        out,
        "  input:    {} ({} bytes, sha256 {})",
        r.input_path,
        r.input_size,
        r.input_sha256.get(..16).unwrap_or("?")
    );
    let settings: Vec<String> = r.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "  settings: {}", settings.join(" "));
    let _ = writeln!(out, "  created:  {}", r.created_at);
    match &r.running {
        Some(h) => {
            let _ = writeln!(out, "  running:  yes — {h}");
        }
        None => {
            let _ = writeln!(out, "  running:  no");
        }
    }
    let counts: Vec<String> = r.rows.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(
        out,
        "  rows:     {}",
        if counts.is_empty() {
            "none finished yet".into()
        } else {
            counts.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  remaining: {} of {} valid rows have no final outcome",
        r.remaining, r.valid_rows
    );
    if r.running.is_some() {
        let _ = writeln!(out, "  in flight: {} (requests out now)", r.in_flight);
    }
    let _ = writeln!(out, "  in doubt: {}", r.in_doubt_total);
    for d in &r.in_doubt {
        let _ = writeln!(out, "    row {}: {}", d.row, d.message);
    }
    if r.in_doubt_total > r.in_doubt.len() as u64 {
        let _ = writeln!(
            out,
            "    … and {} more",
            r.in_doubt_total - r.in_doubt.len() as u64
        );
    }
    let _ = writeln!(
        out,
        "  last activity: {}",
        r.last_activity.as_deref().unwrap_or("none")
    );
    if let Some(e) = &r.last_run {
        let _ = writeln!(out, "  last run: {e}");
    }
    out
}

/// Renders the status of the checkpoint at `path`, as text or JSON.
pub(crate) fn report(path: &Path, json: bool) -> Result<String, CheckpointError> {
    let r = read(path)?;
    if json {
        let mut s = serde_json::to_string_pretty(&r).unwrap_or_default();
        s.push('\n');
        Ok(s)
    } else {
        Ok(text(&r))
    }
}

/// Reads the status of the checkpoint at `path` (read only: harmless beside a live run).
pub(crate) fn read(path: &Path) -> Result<Report, CheckpointError> {
    let not_one = |why: String| CheckpointError::StatusTarget {
        path: path.to_path_buf(),
        why,
        hint: checkpoint_hint(path),
    };
    if !path.exists() {
        return Err(not_one("there is no such file".into()));
    }
    let conn = match schema::open(path, true) {
        Ok(c) => c,
        Err(CheckpointError::NotACheckpoint { why, .. }) => return Err(not_one(why)),
        Err(e) => return Err(e),
    };
    query(&conn, path).map_err(|e| CheckpointError::sql(path, &e))
}

/// The checkpoint a user probably meant: the one beside a sheet or results file.
fn checkpoint_hint(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let results = if lower.ends_with(".results.csv") {
        name
    } else if let Some(stem) = lower
        .strip_suffix(".csv")
        .and_then(|_| name.get(..name.len() - 4))
    {
        format!("{stem}.results.csv")
    } else {
        format!("{name}.results.csv")
    };
    path.with_file_name(format!("{results}.ckpt"))
}

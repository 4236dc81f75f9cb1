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
    /// The run holding the checkpoint now (pid, host, start), if any, in words.
    pub running: Option<String>,
    /// The same, as its lock file records it.
    pub holder: Option<super::lock::Holder>,
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

/// One row that may or may not have been applied.
#[derive(Debug, Serialize)]
pub(crate) struct Doubt {
    pub row: i64,
    pub message: String,
    /// The conversion, by the ids the row names it with.
    pub conversion: Conversion,
    /// When its (last) request left: the intent committed just before (UTC).
    pub sent_at: Option<String>,
    /// What it adds, from the sheet (filled in by `cake-recon status`, which reads the sheet).
    pub adds: Option<Adds>,
    /// Why `adds` is not known, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adds_unknown: Option<String>,
    /// The digest of what it sent, to find the same row in the sheet.
    #[serde(skip)]
    pub content: String,
}

/// A conversion as the checkpoint's key records it (`offer|conversion_id|request_session_id|
/// transaction_id`): only the ids the row gave.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[expect(clippy::struct_field_names, reason = "CAKE's own names for the ids")]
pub(crate) struct Conversion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_session_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<i32>,
}

impl Conversion {
    /// Reads a checkpoint key (the ids are digits, so the first three `|` split it).
    pub(crate) fn from_key(key: &str) -> Self {
        let mut parts = key.splitn(4, '|');
        let mut id = || {
            parts
                .next()
                .and_then(|v| v.parse::<i32>().ok())
                .filter(|v| *v != 0)
        };
        let (offer_id, conversion_id, request_session_id) = (id(), id(), id());
        let transaction_id = parts.next().filter(|t| !t.is_empty()).map(str::to_string);
        Self {
            conversion_id,
            request_session_id,
            transaction_id,
            offer_id,
        }
    }
}

/// `conversion_id 7, transaction_id "T7" (offer 55)`: what a `--resend-in-doubt` file takes.
impl std::fmt::Display for Conversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::update::Target;
        let targets: Vec<String> = self
            .conversion_id
            .map(Target::ConversionId)
            .into_iter()
            .chain(self.request_session_id.map(Target::RequestSessionId))
            .chain(self.transaction_id.as_deref().map(Target::TransactionId))
            .map(|t| t.to_string())
            .collect();
        f.write_str(&targets.join(", "))?;
        if let Some(offer) = self.offer_id {
            write!(f, " (offer {offer})")?;
        }
        Ok(())
    }
}

/// What an in-doubt row adds ([`crate::update::ConversionUpdate::additions`]).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Adds {
    pub payout: Option<rust_decimal::Decimal>,
    /// Added to `received` (the revenue) or `sale_amount`.
    pub received: Option<rust_decimal::Decimal>,
    pub received_field: Option<&'static str>,
    pub note: bool,
    /// The same in words: `+3.00 payout, +5.50 received, a note`.
    pub text: String,
}

impl Adds {
    pub(crate) fn of(a: &crate::update::Additions<'_>) -> Self {
        Self {
            payout: a.payout,
            received: a.received.map(|(_, d)| d),
            received_field: a.received.map(|(f, _)| f.as_str()),
            note: a.note.is_some(),
            text: a.to_string(),
        }
    }
}

/// Reads one in-doubt record: `row, message, key, content, intent_at`.
fn doubt(r: &rusqlite::Row<'_>) -> rusqlite::Result<Doubt> {
    Ok(Doubt {
        row: r.get(0)?,
        message: r.get(1)?,
        conversion: Conversion::from_key(&r.get::<_, String>(2)?),
        content: r.get(3)?,
        sent_at: r.get(4)?,
        adds: None,
        adds_unknown: None,
    })
}

fn query(conn: &Connection, path: &Path) -> Result<Report, rusqlite::Error> {
    let meta = schema::read_meta(conn)?;
    let get = |k: &str| {
        meta.iter()
            .find(|(key, _)| key == k)
            .map_or_else(|| "?".to_string(), |(_, v)| v.clone())
    };
    let (holder, running) = lock::holder(path).map_or((None, None), |(h, text)| (h, Some(text)));
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
            "SELECT row, 'the run stopped after this row''s request may have been sent', key, \
             content, intent_at FROM rows WHERE status IS NULL AND intent_at IS NOT NULL \
             ORDER BY row",
        )?
        .query_map([], doubt)?
        .collect::<Result<_, _>>()?;
    let mut in_doubt: Vec<Doubt> = conn
        .prepare(
            "SELECT row, COALESCE(message, ''), key, content, intent_at FROM rows \
             WHERE status = 'in_doubt' ORDER BY row",
        )?
        .query_map([], doubt)?
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
        holder,
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
        let adds = match (&d.adds, &d.adds_unknown) {
            (Some(a), _) => format!("adds {}", a.text),
            (None, Some(why)) => format!("adds ? ({why})"),
            (None, None) => "adds ?".into(),
        };
        let _ = writeln!(
            out,
            "    row {}: {}; {adds}; sent {}",
            d.row,
            d.conversion,
            d.sent_at.as_deref().unwrap_or("(time not recorded)")
        );
        let _ = writeln!(out, "      {}", d.message);
    }
    if r.in_doubt_total > 0 {
        let _ = writeln!(
            out,
            "    check them in CAKE; then send the ones not applied again with \
             `--resend-in-doubt ROWS` (e.g. {}) or `--resend-in-doubt-file FILE` (one \
             conversion per line, as listed above)",
            r.in_doubt
                .iter()
                .take(3)
                .map(|d| d.row.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
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

/// Renders a status read earlier (and perhaps completed from the sheet), as text or JSON.
pub(crate) fn render(r: &Report, json: bool) -> String {
    if json {
        let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
        s.push('\n');
        s
    } else {
        text(r)
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
pub(crate) fn checkpoint_hint(path: &Path) -> PathBuf {
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

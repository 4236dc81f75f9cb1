//! What `--read-back` keeps in the checkpoint: each conversion as it was before this job first
//! wrote to it, and the questions the read-back asks of earlier outcomes.

use super::schema::{SNAPSHOT_TABLE, now};
use crate::update::{DispositionType, Held};
use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;

/// A conversion as first read, and when (UTC, the checkpoint's time format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Before {
    pub held: Held,
    pub read_at: String,
}

/// Keeps the first reading of each conversion: a later one may already show this job's writes.
pub(crate) fn save<'a>(
    conn: &mut Connection,
    helds: impl Iterator<Item = &'a Held>,
) -> rusqlite::Result<()> {
    ensure(conn)?;
    let tx = conn.transaction()?;
    {
        let at = now();
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO snapshot(conversion_id, offer_id, paid, received, sale_amount,
               disposition, disposition_id, last_updated, read_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let text = |d: Option<Decimal>| d.map(|d| d.to_string());
        for h in helds {
            insert.execute(params![
                h.conversion_id,
                h.offer_id,
                text(h.paid),
                text(h.received),
                text(h.sale_amount),
                h.disposition.map(DispositionType::as_str),
                h.disposition_id,
                h.last_updated
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
                at
            ])?;
        }
    }
    tx.commit()
}

/// Makes the snapshot table if this checkpoint has none yet (one made before any run with
/// `--read-back`). Once per run, before [`load`].
pub(crate) fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SNAPSHOT_TABLE)
}

/// The first reading of `conversion_id`, if there was one.
pub(crate) fn load(conn: &Connection, conversion_id: i32) -> rusqlite::Result<Option<Before>> {
    conn.query_row(
        "SELECT offer_id, paid, received, sale_amount, disposition, disposition_id, last_updated,
           read_at FROM snapshot WHERE conversion_id = ?1",
        [conversion_id],
        |r| {
            let money = |s: Option<String>| s.and_then(|s| Decimal::from_str_exact(&s).ok());
            Ok(Before {
                held: Held {
                    conversion_id,
                    offer_id: r.get(0)?,
                    paid: money(r.get(1)?),
                    received: money(r.get(2)?),
                    sale_amount: money(r.get(3)?),
                    disposition: r
                        .get::<_, Option<String>>(4)?
                        .and_then(|d| DispositionType::from_wire(&d)),
                    disposition_id: r.get(5)?,
                    last_updated: r.get::<_, Option<String>>(6)?.and_then(|t| {
                        NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f").ok()
                    }),
                    ..Held::default()
                },
                read_at: r.get(7)?,
            })
        },
    )
    .optional()
}

/// An additive row whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unknown {
    /// When its intent was committed (before any request left); for an `in_doubt` row, moved
    /// to when that outcome was recorded (after every request left: see
    /// `OutcomeRecord::left_by_now`).
    pub intent_at: Option<String>,
    /// True once `in_doubt` is recorded; false for an intent without an outcome (a run
    /// stopped while it was in flight, just now or earlier): its requests may have left at
    /// any moment before now.
    pub recorded: bool,
}

/// Additive rows whose outcome is unknown (`in_doubt`, or an intent without an outcome).
pub(crate) fn in_doubt(conn: &Connection) -> rusqlite::Result<Vec<(u64, Unknown)>> {
    let mut stmt = conn.prepare(
        "SELECT row, intent_at, status IS NOT NULL FROM rows WHERE kind = 'additive'
           AND (status = 'in_doubt' OR (status IS NULL AND intent_at IS NOT NULL))",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Unknown {
                intent_at: r.get(1)?,
                recorded: r.get(2)?,
            },
        ))
    })?;
    rows.map(|r| r.map(|(row, u)| (u64::try_from(row).unwrap_or(0), u)))
        .collect()
}

/// The rows recorded `updated` (by this run or an earlier one), in row order.
pub(crate) fn updated(conn: &Connection) -> rusqlite::Result<Vec<u64>> {
    let mut stmt = conn.prepare("SELECT row FROM rows WHERE status = 'updated' ORDER BY row")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
        .collect()
}

/// Every row the checkpoint has a record of (sent, or about to be).
pub(crate) fn recorded(conn: &Connection) -> rusqlite::Result<Vec<u64>> {
    let mut stmt = conn.prepare("SELECT row FROM rows")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
        .collect()
}

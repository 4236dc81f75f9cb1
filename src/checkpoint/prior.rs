//! What earlier runs recorded, read alongside the sheet in row order.
//!
//! Read in chunks of short transactions: rows ahead of the sheet reader cannot have been
//! written by this run yet (the writer only records rows the reader already handed out), so
//! each chunk is consistent, and no long read transaction holds the WAL open.

use super::CheckpointError;
use super::schema;
use crate::update::Status;
use rusqlite::{Connection, params};
use std::collections::VecDeque;
use std::path::Path;

const CHUNK: i64 = 4096;

/// An earlier run's record of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prior {
    pub row: u64,
    /// The row was additive when recorded.
    pub additive: bool,
    /// An intent was committed (the request may have left).
    pub intent: bool,
    /// The final outcome, if one was recorded.
    pub status: Option<Status>,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: String,
    /// The digest of the values the row had then ([`crate::update::RowIdent::content`]).
    pub content: String,
    /// When its outcome (or, without one, its intent) was recorded (UTC, as the checkpoint
    /// writes times).
    pub recorded_at: Option<String>,
    /// The last moment a request of the row can have left, as far as the checkpoint knows: its
    /// intent time (moved to when an in-doubt outcome was recorded; see
    /// `OutcomeRecord::left_by_now`).
    pub left_at: Option<String>,
}

/// Streams prior records in row order.
pub(crate) struct PriorReader {
    conn: Connection,
    buf: VecDeque<Prior>,
    next_from: i64,
    exhausted: bool,
}

impl PriorReader {
    /// Opens `path` read-only. The run opened and integrity-checked it moments before (and
    /// holds its lock), so the full scan is not repeated.
    pub(crate) fn open(path: &Path) -> Result<Self, CheckpointError> {
        let conn = schema::open_checked(path, true, schema::Check::AlreadyChecked)?;
        Ok(Self {
            conn,
            buf: VecDeque::new(),
            next_from: 0,
            exhausted: false,
        })
    }

    fn fill(&mut self) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT row, intent_at IS NOT NULL, status, attempts, http_status, message, content,
                    kind = 'additive', COALESCE(finished_at, intent_at), intent_at
             FROM rows WHERE row >= ?1 ORDER BY row LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![self.next_from, CHUNK], |r| {
            let row: i64 = r.get(0)?;
            let status: Option<String> = r.get(2)?;
            Ok(Prior {
                row: u64::try_from(row).unwrap_or(0),
                intent: r.get(1)?,
                status: match status {
                    None => None,
                    // Never read as "no outcome" (that would send the row again).
                    Some(s) => Some(Status::from_str_opt(&s).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            format!("unknown status \"{s}\" for row {row}").into(),
                        )
                    })?),
                },
                attempts: r.get::<_, Option<u32>>(3)?.unwrap_or(0),
                http_status: r.get::<_, Option<u16>>(4)?,
                message: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                content: r.get(6)?,
                additive: r.get(7)?,
                recorded_at: r.get(8)?,
                left_at: r.get(9)?,
            })
        })?;
        let mut n = 0;
        for p in rows {
            let p = p?;
            self.next_from = i64::try_from(p.row).unwrap_or(i64::MAX).saturating_add(1);
            self.buf.push_back(p);
            n += 1;
        }
        if n < CHUNK {
            self.exhausted = true;
        }
        Ok(())
    }

    /// The record of `row`, if any. Call with increasing row numbers.
    pub(crate) fn get(&mut self, row: u64) -> Result<Option<Prior>, String> {
        loop {
            while self.buf.front().is_some_and(|p| p.row < row) {
                self.buf.pop_front();
            }
            match self.buf.front() {
                Some(p) if p.row == row => return Ok(self.buf.pop_front()),
                Some(_) => return Ok(None),
                None if self.exhausted => return Ok(None),
                None => self
                    .fill()
                    .map_err(|e| format!("reading the checkpoint: {e}"))?,
            }
        }
    }
}

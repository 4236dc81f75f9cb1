//! `--read-back` (and `check`): which conversions to read, what CAKE held before this job
//! wrote, what that settles (the rule: `settle.rs`), and what to undo.

use super::Settings;
use super::scan::Targets;
pub(crate) use super::settle::Decision;
use super::settle::{Bound, Sent, settle};
use crate::checkpoint::snapshot::{self, Before};
use crate::error::Error;
use crate::report::summary::ReadBackSummary;
use crate::sheet::parse::{DateOrder, parse_date};
use crate::sheet::{Duplicates, Sheet, SheetOptions};
use crate::update::{
    Comparison, ConversionUpdate, Held, Offer, compare, held_amount, shown_amount,
};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `--read-back` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadBackSettings {
    pub version: u8,
    /// `--since`/`--until` (CAKE-local days, both inclusive); `None`: from the sheet.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The undo sheet.
    pub undo: PathBuf,
}

/// Reads the sheet once: its targets, and the span of its conversion dates if it has a column
/// of them.
pub(crate) fn sheet_targets(
    input: &Path,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
) -> Result<(Targets, Option<(NaiveDate, NaiveDate)>), Error> {
    let mut sheet = Sheet::open(input, opts)?;
    let date_col = sheet.columns().conversion_date;
    let mut targets = Targets::default();
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    while let Some(row) = sheet.next_row(duplicates)? {
        if let Ok(u) = &row.result {
            targets.add(u);
            if let Some(d) = date_col
                .and_then(|c| sheet.record().get(c))
                .and_then(|c| parse_date(c.trim(), order).ok())
            {
                let d = d.date();
                span = Some(span.map_or((d, d), |(a, b)| (a.min(d), b.max(d))));
            }
        }
    }
    Ok((targets, span))
}

/// The window to read: as given, or the sheet's dates padded by a day; neither is a usage error.
pub(crate) fn window(
    given: Option<(NaiveDate, NaiveDate)>,
    span: Option<(NaiveDate, NaiveDate)>,
) -> Result<(NaiveDate, NaiveDate), Error> {
    match (given, span) {
        (Some(w), _) => Ok(w),
        (None, Some((first, last))) => Ok((first - Duration::days(1), last + Duration::days(1))),
        (None, None) => Err(Error::Usage(
            "which conversions to read? The sheet has no conversion_date column: give the \
             window in CAKE's time, e.g. --since 2026-09-01 --until 2026-09-30"
                .into(),
        )),
    }
}

/// The read before sending.
#[derive(Debug, Default)]
pub(crate) struct ReadBefore {
    pub decisions: HashMap<u64, Decision>,
    /// Sheet row → the one conversion found for it.
    pub conversion_of: HashMap<u64, Held>,
    /// Sheet row → what its conversion held before this job wrote (the snapshot), when known.
    pub before: HashMap<u64, Held>,
    pub window: Option<(NaiveDate, NaiveDate)>,
    pub rows_read: u64,
}

/// Why CAKE is read before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// `--read-back`: snapshot, `unchanged` rows, settling, then the undo sheet and verification.
    ReadBack,
    /// `--resend-in-doubt` without `--read-back`: only to settle the in-doubt rows before any is
    /// sent again, when a window is known and there are any (else `None`: resent as asked).
    /// Nothing else changes: no row is decided `unchanged`, no undo sheet.
    SettleFirst,
}

/// Reads the window before sending: snapshots what CAKE holds, decides `unchanged` rows and
/// settles unknown outcomes (see [`Reading`]).
#[expect(clippy::too_many_arguments, reason = "one reading, its inputs named")]
pub(crate) fn before(
    s: &Settings,
    rb: &ReadBackSettings,
    reading: Reading,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
    dest: &super::Destination,
    conn: &mut rusqlite::Connection,
) -> Result<Option<ReadBefore>, Error> {
    let sql = |e: rusqlite::Error| Error::Internal(format!("the checkpoint's snapshot: {e}"));
    snapshot::ensure(conn).map_err(sql)?;
    let unknown: HashMap<u64, snapshot::Unknown> =
        snapshot::in_doubt(conn).map_err(sql)?.into_iter().collect();
    if reading == Reading::SettleFirst && unknown.is_empty() {
        return Ok(None);
    }
    let (mut targets, span) = sheet_targets(&s.input, opts, order, duplicates)?;
    let Some((since, until)) = window_for(reading, rb.window, span)? else {
        return Ok(None);
    };
    // A request whose intent is older than this can no longer land. Taken before the reading
    // begins: every value read is read at least the bound after such a request left.
    let bound = Bound::now(s.settle_after);
    let stats = super::scan::read_window(s, dest, rb.version, (since, until), &mut targets)?;
    let mut out = ReadBefore {
        window: Some((since, until)),
        rows_read: stats.rows,
        ..ReadBefore::default()
    };
    // Only conversions this job has not written to yet are snapshotted: a reading taken after a
    // write (an earlier run without --read-back, an unknown outcome) is not "before".
    let recorded: std::collections::HashSet<u64> =
        snapshot::recorded(conn).map_err(sql)?.into_iter().collect();
    let mut first_reads = Vec::new();
    let mut one_row = OneRowPerConversion::default();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if let [held] = targets.found(u.row) {
            one_row.see(&u, held);
        } else {
            one_row.miss(&u);
        }
        let [held] = targets.found(u.row) else {
            if unknown.contains_key(&u.row) {
                let found = targets.found(u.row).len();
                out.decisions.insert(
                    u.row,
                    Decision::StillInDoubt(format!(
                        "in doubt: reading back found {found} conversions for this row's ids \
                         between {since} and {until}, so it cannot be settled; widen \
                         --since/--until or check it in CAKE"
                    )),
                );
            }
            continue;
        };
        out.conversion_of.insert(u.row, held.clone());
        match snapshot::load(conn, held.conversion_id).map_err(sql)? {
            Some(b) => {
                out.before.insert(u.row, b.held);
            }
            // Not written yet: this reading becomes the snapshot.
            None if !recorded.contains(&u.row) => {
                out.before.insert(u.row, held.clone());
            }
            None => {}
        }
        let decision = if let Some(unknown) = unknown.get(&u.row) {
            let before = snapshot::load(conn, held.conversion_id).map_err(sql)?;
            let left_by = unknown
                .recorded
                .then_some(unknown.intent_at.as_deref())
                .flatten();
            let sent = Sent {
                intent_at: unknown.intent_at.as_deref(),
                left_by,
            };
            settle(&u, held, before.as_ref(), &sent, &bound)
        } else if !recorded.contains(&u.row) && compare(&u, held) == Comparison::AlreadyCorrect {
            Decision::Unchanged
        } else {
            if !recorded.contains(&u.row) {
                first_reads.push(held.clone());
            }
            continue;
        };
        out.decisions.insert(u.row, decision);
    }
    if reading == Reading::ReadBack {
        one_row.enough_found(since, until)?;
    }
    one_row.verdict()?;
    snapshot::save(conn, first_reads.iter()).map_err(sql)?;
    if reading == Reading::SettleFirst {
        out.decisions.retain(|_, d| *d != Decision::Unchanged);
        out.before.clear();
        tracing::info!(
            rows = out.decisions.len(),
            since = %since,
            until = %until,
            "read CAKE before sending anything again: in-doubt rows it shows applied are settled, \
             and only those it shows not applied (or cannot tell) are sent again"
        );
    }
    Ok(Some(out))
}

/// The window a reading reads: `None` when a settling reading has none (the selected rows are
/// then sent as asked); a `--read-back` without one is refused.
fn window_for(
    reading: Reading,
    given: Option<(NaiveDate, NaiveDate)>,
    span: Option<(NaiveDate, NaiveDate)>,
) -> Result<Option<(NaiveDate, NaiveDate)>, Error> {
    match (window(given, span), reading) {
        (Ok(w), _) => Ok(Some(w)),
        (Err(_), Reading::SettleFirst) => {
            tracing::warn!(
                "the in-doubt rows cannot be settled by reading CAKE first (no window: give \
                 --since/--until, or a conversion_date column); those selected are sent again \
                 as asked"
            );
            Ok(None)
        }
        (Err(e), Reading::ReadBack) => Err(e),
    }
}

/// Two rows that name one conversion by different ids: found by the reading, refused before
/// anything is sent (both would be applied to it).
/// Also counts the rows the reading did not find: a window that misses most of the sheet
/// leaves nothing to compare, undo or verify by.
#[derive(Default)]
struct OneRowPerConversion {
    /// Conversion → the first row found for it, and how that row named it.
    named: HashMap<i32, (u64, String)>,
    twice: Vec<String>,
    found: u64,
    not_found: u64,
    /// The first rows not found, in words.
    missing: Vec<String>,
}

impl OneRowPerConversion {
    fn miss(&mut self, u: &ConversionUpdate) {
        self.not_found += 1;
        if self.missing.len() < 5 {
            self.missing
                .push(format!("row {} ({})", u.row, ids_in_words(u)));
        }
    }

    /// Refuses a `--read-back` whose window found fewer than half of the sheet's conversions.
    fn enough_found(&self, since: NaiveDate, until: NaiveDate) -> Result<(), Error> {
        if self.found >= self.not_found {
            return Ok(());
        }
        Err(Error::Usage(format!(
            "reading CAKE back between {since} and {until} found {} of the sheet's {} \
             conversions (not found: {}{}), so the comparison, the undo sheet and the \
             verification would be empty. Nothing was sent. Give the window the conversions \
             are in (--since/--until, in CAKE's time), or check the ids",
            self.found,
            self.found + self.not_found,
            self.missing.join(", "),
            if self.not_found > 5 { ", …" } else { "" }
        )))
    }

    fn see(&mut self, u: &ConversionUpdate, held: &Held) {
        self.found += 1;
        let ids = ids_in_words(u);
        match self.named.get(&held.conversion_id) {
            Some((first, first_ids)) if *first_ids != ids => self.twice.push(format!(
                "rows {first} ({first_ids}) and {} ({ids}) are both conversion {}",
                u.row, held.conversion_id
            )),
            Some(_) => {}
            None => {
                self.named.insert(held.conversion_id, (u.row, ids));
            }
        }
    }

    fn verdict(mut self) -> Result<(), Error> {
        if self.twice.is_empty() {
            return Ok(());
        }
        let more = self.twice.len().saturating_sub(5);
        self.twice.truncate(5);
        Err(Error::Usage(format!(
            "one conversion, two rows: reading CAKE back shows {}{}. Both would be sent to the \
             same conversion (two additions would both be added). Nothing was sent: keep one \
             row per conversion (merge the two, or remove one), then run again",
            self.twice.join("; "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        )))
    }
}

/// How a row names its conversion: `conversion_id 7`, `transaction_id T7`.
pub(super) fn ids_in_words(u: &ConversionUpdate) -> String {
    let mut ids = Vec::new();
    if u.conversion_id != 0 {
        ids.push(format!("conversion_id {}", u.conversion_id));
    }
    if u.request_session_id != 0 {
        ids.push(format!("request_session_id {}", u.request_session_id));
    }
    if !u.transaction_id.is_empty() {
        ids.push(format!("transaction_id {}", u.transaction_id));
    }
    ids.join(", ")
}

/// What a run of additive rows without a window says before sending (the dry run too).
pub(crate) const NO_WINDOW: &str = "additive rows without a window: an unknown outcome will \
     need your decision (give --since/--until, or a conversion_date column, to read CAKE before \
     sending)";

/// Whether the run knows which days to read: `--since/--until`, or a conversion date column.
pub(crate) fn window_known(s: &Settings, opts: &SheetOptions) -> Result<bool, Error> {
    if s.reports.0.is_some() {
        return Ok(true);
    }
    let sheet = Sheet::open(&s.input, opts)?;
    Ok(sheet.columns().conversion_date.is_some())
}

/// Without `--read-back`, a sheet with additive rows still takes the snapshot first whenever a
/// window is known (`--since/--until` or a `conversion_date` column): what each of its
/// conversions held before this job wrote, so an unknown outcome can be settled later (by a
/// run with `--read-back`) instead of needing a person's decision. Nothing else changes: no
/// row is decided `unchanged`, no undo sheet. A window that cannot be read is said, and the run
/// goes on as it would have without the reading.
///
/// `offers`: the sheet has rows that give no offer, and the same reading finds their
/// conversions (see `offers.rs`); a window that cannot be read is then the run's error, since
/// those rows cannot be sent without it.
///
/// Returns the conversion each row found resolves to (row → what CAKE holds), and the window
/// read.
pub(crate) fn snapshot_first(
    s: &Settings,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
    dest: &super::Destination,
    conn: &mut rusqlite::Connection,
    offers: bool,
) -> Result<Found, Error> {
    let sql = |e: rusqlite::Error| Error::Internal(format!("the checkpoint's snapshot: {e}"));
    snapshot::ensure(conn).map_err(sql)?;
    let recorded: std::collections::HashSet<u64> =
        snapshot::recorded(conn).map_err(sql)?.into_iter().collect();
    // Only additive rows this job has not written to yet need a reading from before; every row
    // without an offer needs its conversion's.
    let snapshotted =
        |u: &ConversionUpdate| u.additions().is_additive() && !recorded.contains(&u.row);
    let wanted = |u: &ConversionUpdate| snapshotted(u) || (offers && u.offer == Offer::Unknown);
    let mut targets = Targets::default();
    let mut count = 0u64;
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    {
        let mut sheet = Sheet::open(&s.input, opts)?;
        let date_col = sheet.columns().conversion_date;
        while let Some(row) = sheet.next_row(duplicates)? {
            let Ok(u) = &row.result else { continue };
            if !wanted(u) {
                continue;
            }
            targets.add(u);
            count += 1;
            if let Some(d) = date_col
                .and_then(|c| sheet.record().get(c))
                .and_then(|c| parse_date(c.trim(), order).ok())
            {
                let d = d.date();
                span = Some(span.map_or((d, d), |(a, b)| (a.min(d), b.max(d))));
            }
        }
    }
    if count == 0 {
        return Ok(Found::default());
    }
    let (since, until) = match window(s.reports.0, span) {
        Ok(w) => w,
        Err(e) if offers => return Err(e),
        Err(_) => {
            tracing::warn!("{NO_WINDOW}");
            return Ok(Found::default());
        }
    };
    if let Err(e) = super::scan::read_window(s, dest, s.reports.1, (since, until), &mut targets) {
        if offers {
            return Err(e);
        }
        tracing::warn!(
            error = %e,
            "CAKE could not be read before sending: an unknown outcome will need your decision"
        );
        return Ok(Found::default());
    }
    let mut first_reads = Vec::new();
    let mut found = Found {
        window: Some((since, until)),
        ..Found::default()
    };
    // Two rows this reading shows are one conversion would both be applied to it: refused,
    // as under --read-back.
    let mut one_row = OneRowPerConversion::default();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if !wanted(&u) {
            continue;
        }
        if let [held] = targets.found(u.row) {
            one_row.see(&u, held);
            found.of_row.insert(u.row, held.clone());
            if snapshotted(&u) {
                first_reads.push(held.clone());
            }
        }
    }
    one_row.verdict()?;
    tracing::info!(
        conversions = found.of_row.len(),
        kept_to_settle = first_reads.len(),
        since = %since,
        until = %until,
        "read CAKE before sending: what the additive rows' conversions hold is kept to settle \
         unknown outcomes; rows without an offer take their conversion's"
    );
    snapshot::save(conn, first_reads.iter()).map_err(sql)?;
    Ok(found)
}

/// What a reading before sending found: sheet row → the one conversion found for it, and the
/// window read (`None`: nothing was read).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub of_row: HashMap<u64, Held>,
    pub window: Option<(NaiveDate, NaiveDate)>,
}

/// After sending: writes the undo sheet and verifies every `updated` row by reading it back.
pub(crate) fn after(
    s: &Settings,
    rb: &ReadBackSettings,
    opts: &SheetOptions,
    duplicates: &Duplicates,
    dest: &super::Destination,
    read: &ReadBefore,
) -> Result<ReadBackSummary, Error> {
    let sql = |e: rusqlite::Error| Error::Internal(format!("the checkpoint's snapshot: {e}"));
    let conn = crate::checkpoint::schema::open_checked(
        &s.checkpoint,
        true,
        crate::checkpoint::schema::Check::AlreadyChecked,
    )?;
    let updated: std::collections::HashSet<u64> =
        snapshot::updated(&conn).map_err(sql)?.into_iter().collect();
    let write_err = |source| Error::Write {
        what: rb.undo.display().to_string(),
        source,
    };
    let mut undo = crate::report::undo::UndoWriter::create(&rb.undo).map_err(write_err)?;
    // The sheet's updated rows, with what was before, for the undo sheet and the verification.
    let mut sent: Vec<(ConversionUpdate, Option<Before>)> = Vec::new();
    let mut targets = Targets::default();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if !updated.contains(&u.row) {
            continue;
        }
        let before = match read.conversion_of.get(&u.row) {
            Some(h) => snapshot::load(&conn, h.conversion_id).map_err(sql)?,
            None => None,
        };
        if let Some(b) = &before {
            undo.add(&u, &b.held).map_err(write_err)?;
        }
        targets.add(&u);
        sent.push((u, before));
    }
    let (path, undo_lines, notes_only) = undo.finish().map_err(write_err)?;
    let mut report = ReadBackSummary {
        window: read.window,
        rows_read: read.rows_read,
        undo: Some(path),
        undo_lines,
        notes_only,
        ..ReadBackSummary::default()
    };
    if sent.is_empty() {
        return Ok(report);
    }
    let window = read.window.unwrap_or_default();
    super::scan::read_window(s, dest, rb.version, window, &mut targets)?;
    for (u, before) in &sent {
        // What an additive row added can be told only from a reading before this job wrote.
        if u.additions().is_additive() && before.is_none() {
            report.not_verifiable.push(u.row);
            continue;
        }
        report.verified += 1;
        let found = targets.found(u.row);
        let [now] = found else {
            report.mismatches.push(format!(
                "row {}: CAKE acknowledged it, but reading back finds {} conversions for its ids",
                u.row,
                found.len()
            ));
            continue;
        };
        let ok = match compare(u, now) {
            Comparison::AlreadyCorrect => true,
            Comparison::Differs(_) => false,
            // What was added: now = before + delta (a note alone cannot be read back).
            Comparison::Additive { differs, .. } => {
                differs.is_empty()
                    && match settle(
                        u,
                        now,
                        before.as_ref(),
                        &Sent::default(),
                        &Bound::now(s.settle_after),
                    ) {
                        Decision::Applied(_) => true,
                        Decision::StillInDoubt(m) => m.contains("only appends a note"),
                        _ => false,
                    }
            }
        };
        if !ok {
            let held = held_amount;
            report.mismatches.push(format!(
                "row {}: CAKE acknowledged it, but reading back shows payout {}, received {}, \
                 disposition {}",
                u.row,
                held(now.paid),
                held(now.received),
                now.disposition.map_or("(none)", |d| d.as_str())
            ));
        }
    }
    Ok(report)
}

impl ReadBefore {
    /// What each row's conversion held before, as the results file's extra cells.
    pub(crate) fn before_cells(&self) -> HashMap<u64, [String; 3]> {
        let money = |d: Option<Decimal>| d.map(shown_amount).unwrap_or_default();
        self.before
            .iter()
            .map(|(row, h)| {
                (
                    *row,
                    [
                        money(h.paid),
                        money(h.received),
                        h.disposition
                            .map_or(String::new(), |d| d.as_str().to_string()),
                    ],
                )
            })
            .collect()
    }
}

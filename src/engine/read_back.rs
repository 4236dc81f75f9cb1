//! `--read-back` (and `check`): which conversions to read, what CAKE held before this job
//! wrote, what that settles, and what to undo.
//!
//! The rule for settling a row whose outcome is unknown (an additive request that timed out,
//! was cut off, or was in flight at a `kill -9`): compare what CAKE holds now with what it held
//! before the job first wrote (the snapshot) plus what the row adds. Equal to snapshot + delta:
//! it was applied. Equal to the snapshot: it was not — but only once the request can no longer
//! land. CAKE (IIS/ASP.NET) keeps executing a request whose client gave up, up to its execution
//! timeout, plus SQL command timeouts and queueing: the client's own timeout proves nothing.
//! So "not applied" needs a reading taken at least the settling bound (`--settle-after`,
//! 10 minutes by default, longer than any of those) after the request left; until then the row
//! stays in doubt and says when it can be settled, and the same command after that time
//! settles it. Anything else (someone else changed it too) stays in doubt, with what was seen.

use super::Settings;
use super::scan::Targets;
use crate::checkpoint::snapshot::{self, Before};
use crate::error::Error;
use crate::report::summary::ReadBackSummary;
use crate::sheet::parse::{DateOrder, normalize_token, parse_date};
use crate::sheet::{Duplicates, Sheet, SheetOptions};
use crate::update::{
    Comparison, ConversionUpdate, Held, ReceivedField, compare, held_amount, shown_amount,
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

/// Headers that hold the conversion's date (not an `UpdateConversion` parameter: read only to
/// choose the window).
const DATE_HEADERS: [&str; 5] = [
    "conversion_date",
    "event_conversion_date",
    "conv_date",
    "conversion_date_time",
    "date_of_conversion",
];

/// Reads the sheet once: its targets, and the span of its conversion dates if it has a column
/// of them.
pub(crate) fn sheet_targets(
    input: &Path,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
) -> Result<(Targets, Option<(NaiveDate, NaiveDate)>), Error> {
    let mut sheet = Sheet::open(input, opts)?;
    let date_col = sheet
        .header()
        .iter()
        .position(|h| DATE_HEADERS.contains(&normalize_token(h).as_str()));
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

/// What the read-back decided for a row before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// CAKE already holds every value the row sets: not sent.
    Unchanged,
    /// An unknown outcome that CAKE's values show was applied.
    Applied(String),
    /// An unknown outcome that provably did not apply: send it.
    NotApplied,
    /// Still unknown, with what was seen.
    StillInDoubt(String),
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

/// When an unknown outcome may be settled "not applied": readings taken now, and requests
/// that left before `landed_by` can no longer land.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// Now minus the settling bound, as the checkpoint writes times.
    pub landed_by: String,
    pub settle_after: chrono::Duration,
}

impl Bound {
    /// The bound as of now.
    pub(crate) fn now(settle_after: std::time::Duration) -> Self {
        let settle_after =
            chrono::Duration::from_std(settle_after).unwrap_or(chrono::Duration::zero());
        Self {
            landed_by: (chrono::Utc::now() - settle_after)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            settle_after,
        }
    }

    /// When a request that left at `intent_at` can be settled, in words.
    fn settles_at(&self, intent_at: &str) -> String {
        chrono::DateTime::parse_from_rfc3339(intent_at).map_or_else(
            |_| format!("{} after its request left", humane(self.settle_after)),
            |at| {
                (at.with_timezone(&chrono::Utc) + self.settle_after)
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string()
            },
        )
    }
}

/// `10 minutes`, `45 s`.
fn humane(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs >= 120 && secs % 60 == 0 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// When an unknown outcome's requests left, as far as the checkpoint can tell.
#[derive(Debug, Clone, Copy, Default)]
struct Sent<'a> {
    /// Before the first request left: a snapshot read earlier is "before".
    intent_at: Option<&'a str>,
    /// After the last request left (`None`: not known — a run stopped with it in flight, so
    /// it may have left at any moment until now).
    left_by: Option<&'a str>,
}

/// Settles one unknown outcome (see the module's rule).
fn settle(
    u: &ConversionUpdate,
    now: &Held,
    before: Option<&Before>,
    sent: &Sent<'_>,
    bound: &Bound,
) -> Decision {
    let intent_at = sent.intent_at;
    let Some(before) = before.filter(|b| intent_at.is_none_or(|at| b.read_at.as_str() < at)) else {
        return Decision::StillInDoubt(
            "in doubt: CAKE was not read before this row's request left, so its values \
             cannot tell whether it applied; check it in CAKE"
                .into(),
        );
    };
    // (field, before, now, added): from the one rule of what a row adds.
    let adds = u.additions();
    let mut deltas: Vec<(&str, Option<Decimal>, Option<Decimal>, Decimal)> = Vec::new();
    if let Some(p) = adds.payout {
        deltas.push(("payout", before.held.paid, now.paid, p));
    }
    match adds.received {
        Some((ReceivedField::Revenue, d)) => {
            deltas.push(("received", before.held.received, now.received, d));
        }
        Some((ReceivedField::SaleAmount, d)) => {
            deltas.push(("sale_amount", before.held.sale_amount, now.sale_amount, d));
        }
        None => {}
    }
    if deltas.is_empty() {
        return Decision::StillInDoubt(
            "in doubt: the row only appends a note, which reading back cannot see reliably; \
             check it in CAKE"
                .into(),
        );
    }
    let applied = deltas
        .iter()
        .all(|(_, b, n, d)| b.zip(*n).is_some_and(|(b, n)| n == b + d));
    let untouched = deltas.iter().all(|(_, b, n, _)| b.is_some() && b == n);
    let seen = deltas
        .iter()
        .map(|(f, b, n, d)| {
            format!(
                "{f} was {} before, is {} now, the row adds {}",
                held_amount(*b),
                held_amount(*n),
                d.normalize()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    if applied {
        return Decision::Applied(format!("settled by reading back: applied ({seen})"));
    }
    if !untouched {
        return Decision::StillInDoubt(format!(
            "in doubt: CAKE's values match neither before nor after ({seen}); check it in CAKE"
        ));
    }
    match sent.left_by {
        Some(at) if at <= bound.landed_by.as_str() => Decision::NotApplied,
        Some(at) => Decision::StillInDoubt(format!(
            "in doubt: not applied yet, but CAKE may still be working on the request ({seen}); \
             settles after {}: run the same command again then",
            bound.settles_at(at)
        )),
        None => Decision::StillInDoubt(format!(
            "in doubt: not applied yet, but a run stopped with this request in flight and CAKE \
             may still be working on it ({seen}); settles after {}: run the same command again \
             then",
            bound.settles_at(&crate::checkpoint::schema::now())
        )),
    }
}

/// Reads the window before sending: snapshots what CAKE holds, decides `unchanged` rows and
/// settles unknown outcomes.
pub(crate) fn before(
    s: &Settings,
    rb: &ReadBackSettings,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
    dest: &super::Destination,
    conn: &mut rusqlite::Connection,
) -> Result<ReadBefore, Error> {
    let (mut targets, span) = sheet_targets(&s.input, opts, order, duplicates)?;
    let (since, until) = window(rb.window, span)?;
    let sql = |e: rusqlite::Error| Error::Internal(format!("the checkpoint's snapshot: {e}"));
    snapshot::ensure(conn).map_err(sql)?;
    let unknown: HashMap<u64, snapshot::Unknown> =
        snapshot::in_doubt(conn).map_err(sql)?.into_iter().collect();
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
    // Conversion → the first row found for it, and how that row named it.
    let mut named: HashMap<i32, (u64, String)> = HashMap::new();
    let mut twice: Vec<String> = Vec::new();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if let [held] = targets.found(u.row) {
            let ids = ids_in_words(&u);
            match named.get(&held.conversion_id) {
                Some((first, first_ids)) if *first_ids != ids => twice.push(format!(
                    "rows {first} ({first_ids}) and {} ({ids}) are both conversion {}",
                    u.row, held.conversion_id
                )),
                Some(_) => {}
                None => {
                    named.insert(held.conversion_id, (u.row, ids));
                }
            }
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
    if !twice.is_empty() {
        let more = twice.len().saturating_sub(5);
        twice.truncate(5);
        return Err(Error::Usage(format!(
            "one conversion, two rows: reading CAKE back shows {}{}. Both would be sent to the \
             same conversion (two additions would both be added). Nothing was sent: keep one \
             row per conversion (merge the two, or remove one), then run again",
            twice.join("; "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        )));
    }
    snapshot::save(conn, first_reads.iter()).map_err(sql)?;
    Ok(out)
}

/// How a row names its conversion: `conversion_id 7`, `transaction_id T7`.
fn ids_in_words(u: &ConversionUpdate) -> String {
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

/// Without `--read-back`, a sheet with additive rows still takes the snapshot first whenever a
/// window is known (`--since/--until` or a `conversion_date` column): what each of its
/// conversions held before this job wrote, so an unknown outcome can be settled later (by a
/// run with `--read-back`) instead of needing a person's decision. Nothing else changes: no
/// row is decided `unchanged`, no undo sheet. A window that cannot be read is said, and the run
/// goes on as it would have without the reading.
///
/// Returns the conversion each additive row found resolves to (row → conversion id).
pub(crate) fn snapshot_first(
    s: &Settings,
    opts: &SheetOptions,
    order: DateOrder,
    duplicates: &Duplicates,
    dest: &super::Destination,
    conn: &mut rusqlite::Connection,
) -> Result<HashMap<u64, i32>, Error> {
    const NO_WINDOW: &str = "additive rows without a window: an unknown outcome will need your \
         decision (give --since/--until, or a conversion_date column, to read CAKE before sending)";
    let sql = |e: rusqlite::Error| Error::Internal(format!("the checkpoint's snapshot: {e}"));
    snapshot::ensure(conn).map_err(sql)?;
    let recorded: std::collections::HashSet<u64> =
        snapshot::recorded(conn).map_err(sql)?.into_iter().collect();
    // Only additive rows this job has not written to yet need a reading from before.
    let mut targets = Targets::default();
    let mut wanted = 0u64;
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    {
        let mut sheet = Sheet::open(&s.input, opts)?;
        let date_col = sheet
            .header()
            .iter()
            .position(|h| DATE_HEADERS.contains(&normalize_token(h).as_str()));
        while let Some(row) = sheet.next_row(duplicates)? {
            let Ok(u) = &row.result else { continue };
            if !u.additions().is_additive() || recorded.contains(&u.row) {
                continue;
            }
            targets.add(u);
            wanted += 1;
            if let Some(d) = date_col
                .and_then(|c| sheet.record().get(c))
                .and_then(|c| parse_date(c.trim(), order).ok())
            {
                let d = d.date();
                span = Some(span.map_or((d, d), |(a, b)| (a.min(d), b.max(d))));
            }
        }
    }
    if wanted == 0 {
        return Ok(HashMap::new());
    }
    let Ok((since, until)) = window(s.reports.0, span) else {
        tracing::warn!("{NO_WINDOW}");
        return Ok(HashMap::new());
    };
    if let Err(e) = super::scan::read_window(s, dest, s.reports.1, (since, until), &mut targets) {
        tracing::warn!(
            error = %e,
            "CAKE could not be read before sending: an unknown outcome will need your decision"
        );
        return Ok(HashMap::new());
    }
    let mut first_reads = Vec::new();
    let mut resolved = HashMap::new();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if !u.additions().is_additive() || recorded.contains(&u.row) {
            continue;
        }
        if let [held] = targets.found(u.row) {
            resolved.insert(u.row, held.conversion_id);
            first_reads.push(held.clone());
        }
    }
    tracing::info!(
        conversions = first_reads.len(),
        since = %since,
        until = %until,
        "read CAKE before sending: the additive rows' values are kept to settle unknown outcomes"
    );
    snapshot::save(conn, first_reads.iter()).map_err(sql)?;
    Ok(resolved)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn before(paid: i64, read_at: &str) -> Before {
        Before {
            held: Held {
                conversion_id: 1,
                paid: Some(Decimal::new(paid, 2)),
                ..Held::default()
            },
            read_at: read_at.into(),
        }
    }

    fn now(paid: i64) -> Held {
        Held {
            conversion_id: 1,
            paid: Some(Decimal::new(paid, 2)),
            ..Held::default()
        }
    }

    fn bound(landed_by: &str) -> Bound {
        Bound {
            landed_by: landed_by.into(),
            settle_after: chrono::Duration::minutes(10),
        }
    }

    #[test]
    fn an_unknown_outcome_is_settled_only_by_what_proves_it() {
        let adds_3 = ConversionUpdate {
            payout: Decimal::new(300, 2),
            add_to_existing_payout: true,
            ..ConversionUpdate::test_default()
        };
        let b = before(1000, "2026-12-01T10:00:00.000Z");
        let intent = Some("2026-12-01T10:00:05.000Z");
        let sent = &Sent {
            intent_at: intent,
            left_by: intent,
        };
        let long_ago = &bound("2026-12-01T11:00:00.000Z");
        // Snapshot + delta: applied.
        assert!(matches!(
            settle(&adds_3, &now(1300), Some(&b), sent, long_ago),
            Decision::Applied(_)
        ));
        // Still the snapshot, and the request can no longer land: not applied.
        assert_eq!(
            settle(&adds_3, &now(1000), Some(&b), sent, long_ago),
            Decision::NotApplied
        );
        // Still the snapshot, but the request left less than the timeout ago: unknown.
        let just_now = &bound("2026-12-01T10:00:01.000Z");
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), sent, just_now),
            Decision::StillInDoubt(m) if m.contains("settles after 2026-12-01 10:10:05 UTC")
        ));
        // No time recorded for the request: it may still land.
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), &Sent { intent_at: intent, left_by: None }, long_ago),
            Decision::StillInDoubt(m) if m.contains("stopped with this request in flight")
        ));
        // Its intent is old, but a retry (after a Retry-After pause) left later: the bound
        // counts from the last moment a request can have left.
        let retried = &Sent {
            intent_at: intent,
            left_by: Some("2026-12-01T11:00:30.000Z"),
        };
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), retried, long_ago),
            Decision::StillInDoubt(m) if m.contains("settles after 2026-12-01 11:10:30 UTC")
        ));
        // Applied twice, or changed by someone else: neither, stays in doubt.
        assert!(matches!(
            settle(&adds_3, &now(1600), Some(&b), sent, long_ago),
            Decision::StillInDoubt(m) if m.contains("match neither")
        ));
        // A snapshot taken after the request left proves nothing.
        let late = before(1000, "2026-12-01T10:00:06.000Z");
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&late), sent, long_ago),
            Decision::StillInDoubt(m) if m.contains("not read before")
        ));
    }
}

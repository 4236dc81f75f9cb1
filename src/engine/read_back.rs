//! `--read-back` (and `check`): which conversions to read, what CAKE held before this job
//! wrote, what that settles, and what to undo.
//!
//! The rule for settling a row whose outcome is unknown (an additive request that timed out,
//! was cut off, or was in flight at a `kill -9`): compare what CAKE holds now with what it held
//! before the job first wrote (the snapshot) plus what the row adds. Equal to snapshot + delta:
//! it was applied. Equal to the snapshot: it was not — but only once the request can no longer
//! land: a request that left less than the request timeout ago may still be on its way, so such
//! a row stays in doubt. Anything else (someone else changed it too) stays in doubt, with what
//! was seen.

use super::Settings;
use super::scan::Targets;
use crate::checkpoint::snapshot::{self, Before};
use crate::error::Error;
use crate::report::summary::ReadBackSummary;
use crate::sheet::parse::{DateOrder, normalize_token, parse_date};
use crate::sheet::{Duplicates, Sheet, SheetOptions};
use crate::update::{
    Comparison, ConversionUpdate, Held, ReceivedOption, compare, held_amount, shown_amount,
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

/// Settles one unknown outcome (see the module's rule).
fn settle(
    u: &ConversionUpdate,
    now: &Held,
    before: Option<&Before>,
    intent_at: Option<&str>,
    landed_by: &str,
) -> Decision {
    let Some(before) = before.filter(|b| intent_at.is_none_or(|at| b.read_at.as_str() < at)) else {
        return Decision::StillInDoubt(
            "in doubt: CAKE was not read before this row's request left, so its values \
             cannot tell whether it applied; check it in CAKE"
                .into(),
        );
    };
    // (field, before, now, added)
    let mut deltas: Vec<(&str, Option<Decimal>, Option<Decimal>, Decimal)> = Vec::new();
    if u.add_to_existing_payout && !u.payout.is_zero() {
        deltas.push(("payout", before.held.paid, now.paid, u.payout));
    }
    match u.received_option {
        ReceivedOption::AdditionalRevenue if !u.received.is_zero() => {
            deltas.push(("received", before.held.received, now.received, u.received));
        }
        ReceivedOption::AdditionalSaleAmount if !u.received.is_zero() => {
            deltas.push((
                "sale_amount",
                before.held.sale_amount,
                now.sale_amount,
                u.received,
            ));
        }
        _ => {}
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
        Decision::Applied(format!("settled by reading back: applied ({seen})"))
    } else if untouched && intent_at.is_none_or(|at| at <= landed_by) {
        Decision::NotApplied
    } else if untouched {
        Decision::StillInDoubt(format!(
            "in doubt: not applied yet, but the request left less than the request timeout ago \
             and may still land ({seen}); run again later"
        ))
    } else {
        Decision::StillInDoubt(format!(
            "in doubt: CAKE's values match neither before nor after ({seen}); check it in CAKE"
        ))
    }
}

/// Waits until every unknown outcome's request can no longer land: its intent is older than the
/// request timeout (a request still on its way when CAKE is read would make "not applied" a
/// guess). At most one timeout, and only after a crash a moment ago.
fn wait_until_landed(unknown: &HashMap<u64, Option<String>>, timeout: std::time::Duration) {
    let youngest = unknown
        .values()
        .flatten()
        .filter_map(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .max();
    if let Some(at) = youngest {
        let age = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .to_std()
            .unwrap_or_default();
        if age < timeout {
            let wait = timeout.saturating_sub(age) + std::time::Duration::from_millis(50);
            tracing::info!(
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "waiting for requests of the stopped run that might still land"
            );
            std::thread::sleep(wait);
        }
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
    let unknown: HashMap<u64, Option<String>> =
        snapshot::in_doubt(conn).map_err(sql)?.into_iter().collect();
    wait_until_landed(&unknown, s.timeout);
    let stats = super::scan::read_window(s, dest, rb.version, (since, until), &mut targets)?;
    let mut out = ReadBefore {
        window: Some((since, until)),
        rows_read: stats.rows,
        ..ReadBefore::default()
    };
    // A request whose intent is older than this can no longer land.
    let landed_by = (chrono::Utc::now()
        - chrono::Duration::from_std(s.timeout).unwrap_or(chrono::Duration::zero()))
    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
    .to_string();
    // Only conversions this job has not written to yet are snapshotted: a reading taken after a
    // write (an earlier run without --read-back, an unknown outcome) is not "before".
    let recorded: std::collections::HashSet<u64> =
        snapshot::recorded(conn).map_err(sql)?.into_iter().collect();
    let mut first_reads = Vec::new();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
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
        let decision = if let Some(intent_at) = unknown.get(&u.row) {
            let before = snapshot::load(conn, held.conversion_id).map_err(sql)?;
            settle(&u, held, before.as_ref(), intent_at.as_deref(), &landed_by)
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
    snapshot::save(conn, first_reads.iter()).map_err(sql)?;
    Ok(out)
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
                    && match settle(u, now, before.as_ref(), None, "") {
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

    #[test]
    fn an_unknown_outcome_is_settled_only_by_what_proves_it() {
        let adds_3 = ConversionUpdate {
            payout: Decimal::new(300, 2),
            add_to_existing_payout: true,
            ..ConversionUpdate::test_default()
        };
        let b = before(1000, "2026-12-01T10:00:00.000Z");
        let intent = Some("2026-12-01T10:00:05.000Z");
        let long_ago = "2026-12-01T11:00:00.000Z";
        // Snapshot + delta: applied.
        assert!(matches!(
            settle(&adds_3, &now(1300), Some(&b), intent, long_ago),
            Decision::Applied(_)
        ));
        // Still the snapshot, and the request can no longer land: not applied.
        assert_eq!(
            settle(&adds_3, &now(1000), Some(&b), intent, long_ago),
            Decision::NotApplied
        );
        // Still the snapshot, but the request left less than the timeout ago: unknown.
        let just_now = "2026-12-01T10:00:01.000Z";
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), intent, just_now),
            Decision::StillInDoubt(m) if m.contains("may still land")
        ));
        // Applied twice, or changed by someone else: neither, stays in doubt.
        assert!(matches!(
            settle(&adds_3, &now(1600), Some(&b), intent, long_ago),
            Decision::StillInDoubt(m) if m.contains("match neither")
        ));
        // A snapshot taken after the request left proves nothing.
        let late = before(1000, "2026-12-01T10:00:06.000Z");
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&late), intent, long_ago),
            Decision::StillInDoubt(m) if m.contains("not read before")
        ));
    }
}

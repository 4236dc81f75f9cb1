//! Settling an unknown outcome by reading CAKE back.
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

use crate::checkpoint::snapshot::Before;
use crate::update::{ConversionUpdate, Held, ReceivedField, held_amount};
use rust_decimal::Decimal;

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
    /// Not applied so far, but CAKE may still be working on a request (the settling bound has
    /// not passed): not sent, not even with `--resend-in-doubt`; says when it settles.
    NotYet(String),
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
pub(super) struct Sent<'a> {
    /// Before the first request left: a snapshot read earlier is "before".
    pub intent_at: Option<&'a str>,
    /// After the last request left (`None`: not known — a run stopped with it in flight, so
    /// it may have left at any moment until now).
    pub left_by: Option<&'a str>,
}

/// Settles one unknown outcome (see the module's rule).
pub(super) fn settle(
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
        Some(at) => Decision::NotYet(format!(
            "in doubt: not applied yet, but CAKE may still be working on the request ({seen}); \
             settles after {}: run the same command again then",
            bound.settles_at(at)
        )),
        None => Decision::NotYet(format!(
            "in doubt: not applied yet, but a run stopped with this request in flight and CAKE \
             may still be working on it ({seen}); settles after {}: run the same command again \
             then",
            bound.settles_at(&crate::checkpoint::schema::now())
        )),
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
            Decision::NotYet(m) if m.contains("settles after 2026-12-01 10:10:05 UTC")
        ));
        // No time recorded for the request: it may still land.
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), &Sent { intent_at: intent, left_by: None }, long_ago),
            Decision::NotYet(m) if m.contains("stopped with this request in flight")
        ));
        // Its intent is old, but a retry (after a Retry-After pause) left later: the bound
        // counts from the last moment a request can have left.
        let retried = &Sent {
            intent_at: intent,
            left_by: Some("2026-12-01T11:00:30.000Z"),
        };
        assert!(matches!(
            settle(&adds_3, &now(1000), Some(&b), retried, long_ago),
            Decision::NotYet(m) if m.contains("settles after 2026-12-01 11:10:30 UTC")
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

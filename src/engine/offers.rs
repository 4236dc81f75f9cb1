//! The offer of each row that gives none, read from CAKE's reports before sending.
//!
//! CAKE's v4 page says `offer_id` "must be an existing offer ID", and every public client sends
//! the conversion's own. The usual advertiser sheet (ids, amounts, a decision) has no offer
//! column, so each of its rows is sent with the offer the reading before sending found for its
//! conversion (`site_offer_id`) — on the wire only: no offer is part of a row's identity (see
//! [`crate::update::Offer`]), so a re-run is the same rows whatever CAKE said last time.
//! Without a window to read, the run stops before sending and names the ways to give the offer.

use super::Settings;
use super::read_back::{Found, ids_in_words};
use crate::error::Error;
use crate::sheet::{Duplicates, PrePass, Sheet, SheetOptions};
use crate::update::{ConversionUpdate, Offer};
use std::collections::HashMap;

/// How a person gives the offers themselves, for every message that asks.
const GIVE_IT: &str = "give an offer column (or --set offer_id=N, one offer for every row), or \
     the days the conversions are in (--since YYYY-MM-DD --until YYYY-MM-DD, in CAKE's time, or a \
     conversion_date column) so each conversion's own offer is read from CAKE's reports. Only if \
     your CAKE accepts offer 0, --set offer_id=0 sends 0";

/// Whether a run must stop before sending for want of offers: rows that give no offer, and no
/// days to read their conversions' in (`window_given`: `--since/--until`, or the screen's days;
/// a `conversion_date` column gives them too). The one rule for the run, the dry run and the
/// screen.
pub(crate) fn wanting(pre: &PrePass, window_given: bool) -> bool {
    pre.offerless > 0 && !window_given && pre.columns.conversion_date.is_none()
}

/// The question a run without a window stops for (the dry run says it too; the screen asks it
/// in its own words).
pub(crate) fn question(s: &Settings, pre: &PrePass) -> Option<String> {
    wanting(pre, s.reports.0.is_some()).then(|| {
        format!(
            "{} of the sheet's rows give no offer, and CAKE needs each conversion's existing \
             offer id: {GIVE_IT}",
            pre.offerless
        )
    })
}

/// The offers the reading found, by sheet row; and, for the rows it found none for, why.
#[derive(Debug, Default, Clone)]
pub(crate) struct Offers {
    pub by_row: HashMap<u64, i32>,
    /// Rows (given `--skip-invalid`) whose offer could not be read: not sent, their messages.
    pub missing: HashMap<u64, String>,
}

impl Offers {
    /// Gives `u` its conversion's offer when the sheet gave none; `Err` with the row's message
    /// when none was read (such a row is never sent).
    pub(crate) fn give(&self, u: &mut ConversionUpdate) -> Result<(), String> {
        if u.offer != Offer::Unknown {
            return Ok(());
        }
        match self.by_row.get(&u.row) {
            Some(o) => {
                u.offer = Offer::FromCake(*o);
                Ok(())
            }
            None => Err(self.missing.get(&u.row).cloned().unwrap_or_else(|| {
                format!("not sent: this row gives no offer and none was read from CAKE; {GIVE_IT}")
            })),
        }
    }
}

/// Each offerless row's offer, from what the reading before sending `found`. Rows it found no
/// single conversion (or no offer) for stop the run before anything is sent, unless
/// `--skip-invalid`: then they are not sent, and say why.
pub(crate) fn of_rows(
    s: &Settings,
    opts: &SheetOptions,
    duplicates: &Duplicates,
    found: &Found,
) -> Result<Offers, Error> {
    let window = found.window.map_or_else(
        || "in the days read".to_string(),
        |(since, until)| format!("between {since} and {until}"),
    );
    let mut offers = Offers::default();
    let mut unread: Vec<String> = Vec::new();
    let mut sheet = Sheet::open(&s.input, opts)?;
    while let Some(row) = sheet.next_row(duplicates)? {
        let Ok(u) = row.result else { continue };
        if u.offer != Offer::Unknown {
            continue;
        }
        if let Some(o) = found
            .of_row
            .get(&u.row)
            .and_then(|h| h.offer_id)
            .filter(|o| *o > 0)
        {
            offers.by_row.insert(u.row, o);
            continue;
        }
        if unread.len() < 5 {
            unread.push(format!("row {} ({})", u.row, ids_in_words(&u)));
        }
        offers.missing.insert(
            u.row,
            format!(
                "not sent: CAKE's reports {window} show no single conversion (with an offer) \
                 for this row's ids, so its offer is unknown; widen --since/--until, correct \
                 the ids, or give the offer (an offer column or --set offer_id=N)"
            ),
        );
    }
    if offers.missing.is_empty() || s.skip_invalid {
        if !offers.by_row.is_empty() {
            tracing::info!(
                rows = offers.by_row.len(),
                "rows without an offer are sent with their conversion's, as CAKE's reports show it"
            );
        }
        return Ok(offers);
    }
    let more = offers.missing.len().saturating_sub(unread.len());
    Err(Error::Usage(format!(
        "{} rows give no offer, and CAKE's reports {window} show no single conversion (with an \
         offer) for them: {}{}. Nothing was sent. Widen --since/--until (CAKE's time), correct \
         the ids, or give the offers (an offer column, or --set offer_id=N); --skip-invalid \
         sends the other rows and reports these invalid",
        offers.missing.len(),
        unread.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cake::request::{Endpoint, Transport};

    #[test]
    fn an_offer_from_cake_is_sent_but_never_part_of_the_rows_identity() {
        let mut u = ConversionUpdate {
            offer: Offer::Unknown,
            ..ConversionUpdate::test_default()
        };
        let before = u.ident();
        let offers = Offers {
            by_row: HashMap::from([(u.row, 55)]),
            missing: HashMap::new(),
        };
        offers.give(&mut u).unwrap();
        assert_eq!((u.offer, u.sent_offer()), (Offer::FromCake(55), Some(55)));
        assert_eq!(
            u.ident(),
            before,
            "the checkpoint and the journal see the sheet's row"
        );
        let endpoint = Endpoint::new("http://127.0.0.1:1", 4, Transport::Get);
        assert!(endpoint.build(&u, "k").url.contains("&offer_id=55&"));
        // A row the reading found nothing for: never given one, and it could not bind.
        let mut other = ConversionUpdate {
            row: 3,
            offer: Offer::Unknown,
            ..ConversionUpdate::test_default()
        };
        assert!(offers.give(&mut other).unwrap_err().starts_with("not sent"));
        assert_eq!(other.sent_offer(), None);
        assert!(
            endpoint
                .build(&other, "k")
                .url
                .contains("&offer_id=FROM_CAKE&")
        );
        // A given offer (0 included, when asked for by name) is left as it is.
        let mut zero = ConversionUpdate::test_default();
        offers.give(&mut zero).unwrap();
        assert_eq!(zero.sent_offer(), Some(0));
    }
}

//! The emulator's conversions and what each applied call did to them.
//!
//! Tests assert on this ledger — exact final values and how many times each conversion was
//! applied — never on what the client believes happened.

use super::binding::Call;
use crate::update::MONEY_MAX;
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Generated conversion `i` has `request_session_id = RSID_BASE + i`.
pub(super) const RSID_BASE: i32 = 1_000_000_000;
/// The largest `--conversions` value (so generated request session ids fit an Int32).
pub const MAX_GENERATED: u32 = 1_000_000_000;
/// Disposition ids the emulator knows (CAKE: `track.asmx > ConversionDispositions`).
pub(super) const VALID_DISPOSITION_IDS: std::ops::RangeInclusive<i32> = 1..=20;

/// One conversion's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversion {
    pub conversion_id: i32,
    /// `None`: any `offer_id` matches (generated conversions).
    pub offer_id: Option<i32>,
    pub request_session_id: i32,
    pub transaction_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub payout: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub revenue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub sale_amount: Decimal,
    pub disposition_type: String,
    pub disposition_id: i32,
    pub update_revshare_payout: bool,
    /// `today`, `conversion_date`, or the custom date as `YYYY-MM-DD HH:MM:SS`.
    pub effective_date: String,
    pub notes: Vec<String>,
    /// How many calls were applied to it.
    pub applied: u32,
    /// When it converted, CAKE-local (`YYYY-MM-DDTHH:MM:SS`, no zone).
    pub conversion_date: String,
    /// When a call last changed it, CAKE-local (the conversion date until then).
    pub last_updated: String,
}

/// The first day of the month generated conversions are spread over.
const MONTH_START: (i32, u32, u32) = (2026, 9, 1);
/// Seconds in the 30 days generated conversions are spread over.
const MONTH_SECS: i64 = 30 * 86_400;

fn month_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(MONTH_START.0, MONTH_START.1, MONTH_START.2)
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
}

/// The most generated conversions one month holds; beyond, ids run on into later months (a
/// billion-conversion sandbox has a month of a million, readable in seconds).
const MONTH_HOLDS: u32 = 1_000_000;

/// When generated conversion `i` of `n` converted: spread evenly over the month, in id order.
fn generated_date(i: i32, n: u32) -> NaiveDateTime {
    let per_month = i64::from(n.clamp(1, MONTH_HOLDS));
    let offset = i64::from(i.max(1) - 1) * MONTH_SECS / per_month;
    month_start() + chrono::Duration::seconds(offset)
}

/// A loaded ledger's `conversion_date`: `YYYY-MM-DD`, with ` HH:MM:SS` or `THH:MM:SS`.
fn loaded_date(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(&s.replacen(' ', "T", 1), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// The CAKE-local text of a timestamp.
pub(super) fn cake_time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

impl Conversion {
    fn generated(i: i32, n: u32) -> Self {
        let date = cake_time(&generated_date(i, n));
        Self {
            conversion_date: date.clone(),
            last_updated: date,
            conversion_id: i,
            offer_id: None,
            request_session_id: RSID_BASE.saturating_add(i),
            transaction_id: format!("T{i}"),
            payout: Decimal::new(1000, 2),
            revenue: Decimal::new(1500, 2),
            sale_amount: Decimal::new(10000, 2),
            disposition_type: "pending".into(),
            disposition_id: 0,
            update_revshare_payout: false,
            effective_date: String::new(),
            notes: Vec::new(),
            applied: 0,
        }
    }
}

/// Where conversions come from.
#[derive(Debug, Clone)]
enum Universe {
    /// Ids 1..=N exist, made on first touch (so a million costs nothing until used).
    Generated(u32),
    /// Exactly the conversions loaded from a file.
    Loaded,
}

/// All conversions.
#[derive(Debug, Clone)]
pub struct Ledger {
    universe: Universe,
    conversions: BTreeMap<i32, Conversion>,
    by_rsid: HashMap<i32, i32>,
    by_tx: HashMap<String, i32>,
}

/// The conversions of a report window, in date order: a range of generated ids (a month of a
/// billion conversions costs nothing) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Window {
    Range(std::ops::Range<i32>),
    List(Vec<i32>),
}

impl Window {
    pub(super) fn len(&self) -> usize {
        match self {
            Window::Range(r) => usize::try_from(r.end.saturating_sub(r.start)).unwrap_or(0),
            Window::List(v) => v.len(),
        }
    }

    /// The ids at positions `from..to` (0-based).
    pub(super) fn slice(&self, from: usize, to: usize) -> Vec<i32> {
        let to = to.min(self.len());
        if from >= to {
            return Vec::new();
        }
        match self {
            Window::Range(r) => {
                let at = |i: usize| r.start.saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
                (at(from)..at(to)).collect()
            }
            Window::List(v) => v.get(from..to).map(<[i32]>::to_vec).unwrap_or_default(),
        }
    }
}

/// The answer a call gets from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Updated,
    /// success=false with this message.
    Refused(&'static str),
    /// An amount beyond SQL Server `money`: CAKE answers HTTP 500 and changes nothing.
    Overflow,
}

impl Ledger {
    /// Conversions 1..=n, made lazily.
    #[must_use]
    pub fn generated(n: u32) -> Self {
        Self {
            universe: Universe::Generated(n.min(MAX_GENERATED)),
            conversions: BTreeMap::new(),
            by_rsid: HashMap::new(),
            by_tx: HashMap::new(),
        }
    }

    /// Loads conversions from a CSV with a header of (any of) `conversion_id, offer_id,
    /// request_session_id, transaction_id, payout, revenue, sale_amount, disposition_type,
    /// conversion_date`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let mut rdr =
            csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let (id_col, offer, rsid, tx) = (
            col("conversion_id"),
            col("offer_id"),
            col("request_session_id"),
            col("transaction_id"),
        );
        let date = col("conversion_date");
        let (payout, revenue, sale, disp) = (
            col("payout"),
            col("revenue"),
            col("sale_amount"),
            col("disposition_type"),
        );
        let id_col = id_col.ok_or("the ledger CSV needs a conversion_id column")?;
        let mut ledger = Self {
            universe: Universe::Loaded,
            conversions: BTreeMap::new(),
            by_rsid: HashMap::new(),
            by_tx: HashMap::new(),
        };
        for (n, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| e.to_string())?;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).map_or("", str::trim);
            let bad = |what: &str| format!("ledger row {}: bad {what}", n + 2);
            let id: i32 = get(Some(id_col))
                .parse()
                .map_err(|_| bad("conversion_id"))?;
            let mut c = Conversion::generated(id, 1);
            // Loaded conversions without a date are spread over the month by id.
            c.conversion_date = cake_time(&generated_date(id.rem_euclid(30) * 1000 + 1, 30_000));
            c.last_updated.clone_from(&c.conversion_date);
            c.offer_id = match get(offer) {
                "" => None,
                v => Some(v.parse().map_err(|_| bad("offer_id"))?),
            };
            c.request_session_id = match get(rsid) {
                "" => 0,
                v => v.parse().map_err(|_| bad("request_session_id"))?,
            };
            c.transaction_id = get(tx).to_string();
            for (slot, column, what) in [
                (&mut c.payout, payout, "payout"),
                (&mut c.revenue, revenue, "revenue"),
                (&mut c.sale_amount, sale, "sale_amount"),
            ] {
                if !get(column).is_empty() {
                    *slot = get(column).parse().map_err(|_| bad(what))?;
                }
            }
            if !get(disp).is_empty() {
                c.disposition_type = get(disp).to_string();
            }
            if !get(date).is_empty() {
                let d = loaded_date(get(date)).ok_or_else(|| bad("conversion_date"))?;
                c.conversion_date = cake_time(&d);
                c.last_updated.clone_from(&c.conversion_date);
            }
            if c.request_session_id != 0 {
                ledger.by_rsid.insert(c.request_session_id, id);
            }
            if !c.transaction_id.is_empty() {
                ledger.by_tx.insert(c.transaction_id.clone(), id);
            }
            ledger.conversions.insert(id, c);
        }
        Ok(ledger)
    }

    /// The conversion with this id, made on first touch in a generated ledger.
    fn get_mut(&mut self, id: i32) -> Option<&mut Conversion> {
        if let Universe::Generated(n) = self.universe
            && id >= 1
            && u32::try_from(id).is_ok_and(|i| i <= n)
        {
            return Some(
                self.conversions
                    .entry(id)
                    .or_insert_with(|| Conversion::generated(id, n)),
            );
        }
        self.conversions.get_mut(&id)
    }

    fn id_for_rsid(&self, rsid: i32) -> Option<i32> {
        match self.universe {
            Universe::Generated(_) => rsid.checked_sub(RSID_BASE).filter(|i| *i >= 1),
            Universe::Loaded => self.by_rsid.get(&rsid).copied(),
        }
    }

    fn id_for_tx(&self, tx: &str) -> Option<i32> {
        match self.universe {
            Universe::Generated(_) => tx
                .strip_prefix('T')
                .and_then(|d| d.parse::<i32>().ok())
                .filter(|i| format!("T{i}") == tx),
            Universe::Loaded => self.by_tx.get(tx).copied(),
        }
    }

    /// Applies one bound call with CAKE's semantics.
    pub fn apply(&mut self, call: &Call) -> Applied {
        let id = if call.conversion_id != 0 {
            Some(call.conversion_id)
        } else if call.request_session_id != 0 {
            self.id_for_rsid(call.request_session_id)
        } else if !call.transaction_id.is_empty() {
            self.id_for_tx(&call.transaction_id)
        } else {
            return Applied::Refused(
                "Conversion ID, Request Session ID or Transaction ID Required",
            );
        };
        let Some(conv) = id.and_then(|id| self.get_mut(id)) else {
            return Applied::Refused("Conversion Not Found");
        };
        // Every id given must name the same conversion.
        if (call.request_session_id != 0 && call.request_session_id != conv.request_session_id)
            || (!call.transaction_id.is_empty() && call.transaction_id != conv.transaction_id)
        {
            return Applied::Refused("Conversion Not Found");
        }
        if call.offer_id != 0 && conv.offer_id.is_some_and(|o| o != call.offer_id) {
            return Applied::Refused("Offer ID does not match");
        }
        if call.disposition_id != 0 && !VALID_DISPOSITION_IDS.contains(&call.disposition_id) {
            return Applied::Refused("Invalid Disposition ID");
        }
        // Work out every new amount first: an overflow leaves the conversion untouched, as
        // SQL Server's rolled-back statement would.
        let money = |d: Option<Decimal>| d.filter(|d| d.abs() <= MONEY_MAX);
        let payout = if call.add_to_existing_payout {
            money(conv.payout.checked_add(call.payout))
        } else {
            money(Some(call.payout))
        };
        let (revenue, sale_amount) = match call.received_option.as_str() {
            "total_revenue" => (money(Some(call.received)), Some(conv.sale_amount)),
            "additional_revenue" => (
                money(conv.revenue.checked_add(call.received)),
                Some(conv.sale_amount),
            ),
            "total_sale_amount" => (Some(conv.revenue), money(Some(call.received))),
            "additional_sale_amount" => (
                Some(conv.revenue),
                money(conv.sale_amount.checked_add(call.received)),
            ),
            _ => (Some(conv.revenue), Some(conv.sale_amount)),
        };
        let (Some(payout), Some(revenue), Some(sale_amount)) = (payout, revenue, sale_amount)
        else {
            return Applied::Overflow;
        };
        conv.payout = payout;
        conv.revenue = revenue;
        conv.sale_amount = sale_amount;
        if call.disposition_type != "no_change" {
            conv.disposition_type.clone_from(&call.disposition_type);
        }
        if call.disposition_id != 0 {
            conv.disposition_id = call.disposition_id;
        }
        conv.update_revshare_payout = call.update_revshare_payout;
        conv.effective_date = match call.effective_date_option.as_str() {
            "custom" => call.custom_date.format("%Y-%m-%d %H:%M:%S").to_string(),
            other => other.to_string(),
        };
        if !call.note_to_append.is_empty() {
            conv.notes.push(call.note_to_append.clone());
        }
        conv.applied += 1;
        conv.last_updated = cake_time(&chrono::Local::now().naive_local());
        Applied::Updated
    }

    /// The ids of the conversions whose date falls in `[start, end)`, in date order (then id).
    pub(super) fn window(&self, start: NaiveDateTime, end: NaiveDateTime) -> Window {
        match self.universe {
            Universe::Generated(n) => {
                // Dates rise with ids: the window is one range of ids, found by bisection.
                let first_at = |t: NaiveDateTime| {
                    let (mut lo, mut hi) = (1i64, i64::from(n) + 1);
                    while lo < hi {
                        let mid = lo + (hi - lo) / 2;
                        if generated_date(i32::try_from(mid).unwrap_or(i32::MAX), n) < t {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    i32::try_from(lo).unwrap_or(i32::MAX)
                };
                Window::Range(first_at(start)..first_at(end))
            }
            Universe::Loaded => {
                let mut ids: Vec<(&str, i32)> = self
                    .conversions
                    .values()
                    .filter(|c| {
                        let d = c.conversion_date.as_str();
                        d >= cake_time(&start).as_str() && d < cake_time(&end).as_str()
                    })
                    .map(|c| (c.conversion_date.as_str(), c.conversion_id))
                    .collect();
                ids.sort_unstable();
                Window::List(ids.into_iter().map(|(_, id)| id).collect())
            }
        }
    }

    /// The conversion with this id as it stands (generated ones as they were made), without
    /// touching it.
    pub(super) fn peek(&self, id: i32) -> Option<Conversion> {
        if let Some(c) = self.conversions.get(&id) {
            return Some(c.clone());
        }
        match self.universe {
            Universe::Generated(n) if id >= 1 && u32::try_from(id).is_ok_and(|i| i <= n) => {
                Some(Conversion::generated(id, n))
            }
            _ => None,
        }
    }

    /// Every conversion touched (generated) or loaded, by id.
    #[must_use]
    pub fn conversions(&self) -> &BTreeMap<i32, Conversion> {
        &self.conversions
    }
}

#[cfg(test)]
mod tests;

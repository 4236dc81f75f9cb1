//! Reading a window of conversions back: pages, retries, the rate gate, and windows split when
//! CAKE will not page through them.
//!
//! CAKE caps pages silently and stops returning rows somewhere near 100,000 into a window, so a
//! page's size is never trusted: the scan pages until `row_count` rows came, and when a page
//! comes back empty before that, the window is too dense to page through — it is split in two
//! (by time) and each half scanned, the reach learned so later windows split at once. Rows read
//! twice across a split are harmless: [`Targets`] keeps one record per conversion. An answer
//! without a `row_count` is read until a page comes back empty.

use super::limiter::RateGate;
use super::retry::Backoff;
use crate::cake::client::{Client, ReadFailure};
use crate::cake::reports::{Matcher, PageError, parse_page};
use crate::update::{ConversionUpdate, Held};
use chrono::NaiveDateTime;
use rand::{SeedableRng, rngs::SmallRng};
use std::collections::HashMap;

/// Rows asked for per page (CAKE may return fewer).
const PAGE_ROWS: u64 = 10_000;
/// The shortest window a split makes: denser than this cannot be read.
const SHORTEST_WINDOW: chrono::Duration = chrono::Duration::seconds(60);

/// What a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanStats {
    /// Report rows parsed (all of them, matched or not).
    pub rows: u64,
    pub pages: u64,
    /// Windows split because CAKE would not page through them.
    pub splits: u64,
}

/// A reader of one CAKE's reports.
pub(crate) struct Scanner<'a> {
    pub client: &'a Client,
    pub gate: &'a RateGate,
    pub backoff: Backoff,
    pub version: u8,
}

impl Scanner<'_> {
    /// Reads every conversion of `[start, end)` (CAKE-local), handing the sheet's to `matcher`.
    pub(crate) async fn scan(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
        matcher: &mut dyn Matcher,
    ) -> Result<ScanStats, String> {
        let mut stats = ScanStats::default();
        let mut reach: Option<u64> = None;
        let mut windows = vec![(start, end)];
        while let Some((s, e)) = windows.pop() {
            let first = self.page(s, e, 1, matcher).await?;
            stats.pages += 1;
            stats.rows += first.rows;
            let splittable = e - s >= SHORTEST_WINDOW * 2;
            // Without a `row_count`, read until a page comes back empty.
            let total = first.row_count.unwrap_or(u64::MAX);
            if reach.is_some_and(|r| total > r) && splittable && first.row_count.is_some() {
                stats.splits += 1;
                windows.extend(halves(s, e));
                continue;
            }
            let mut got = first.rows;
            while got < total {
                let p = self.page(s, e, got + 1, matcher).await?;
                stats.pages += 1;
                stats.rows += p.rows;
                if p.rows == 0 && first.row_count.is_none() {
                    break;
                }
                if p.rows == 0 {
                    // CAKE will not go further into this window.
                    reach = Some(reach.map_or(got, |r| r.min(got)));
                    if !splittable {
                        return Err(format!(
                            "CAKE returns only {got} of the {total} conversions between {s} and \
                             {e}, and a window this short cannot be split further; narrow the \
                             window with --since/--until"
                        ));
                    }
                    stats.splits += 1;
                    windows.extend(halves(s, e));
                    break;
                }
                got += p.rows;
            }
        }
        Ok(stats)
    }

    /// One page, retried while retrying can help.
    async fn page(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
        at: u64,
        matcher: &mut dyn Matcher,
    ) -> Result<crate::cake::reports::PageInfo, String> {
        let mut attempt = 0;
        let mut rng = SmallRng::seed_from_u64(at ^ 0x5DEE_CE66_D1CE_4E5B);
        loop {
            attempt += 1;
            self.gate.acquire().await;
            let failure = match self
                .client
                .read_report(self.version, start, end, at, PAGE_ROWS)
                .await
            {
                Ok(body) => match parse_page(&body, matcher) {
                    Ok(info) => {
                        self.gate.succeeded();
                        return Ok(info);
                    }
                    Err(PageError::Refused(m)) if m.eq_ignore_ascii_case("Restricted") => {
                        self.gate.throttled();
                        format!("CAKE answered {m}")
                    }
                    Err(PageError::Refused(m)) => {
                        return Err(format!(
                            "CAKE refused the report: {m} (at {}); check the API key",
                            self.client.base_url()
                        ));
                    }
                    Err(PageError::Malformed(m)) => m,
                },
                Err(ReadFailure::Fatal(m)) => {
                    return Err(format!("{m} (CAKE at {})", self.client.base_url()));
                }
                Err(ReadFailure::Retry { message, after }) => {
                    if let Some(d) = after {
                        self.gate.throttled();
                        self.gate.pause_for(d);
                    }
                    message
                }
            };
            if attempt >= self.backoff.max_attempts {
                return Err(format!(
                    "reading conversions back failed {attempt} times; the last: {failure} \
                     (CAKE at {}). Run the same command again later",
                    self.client.base_url()
                ));
            }
            let delay = self.backoff.delay(attempt, &mut rng);
            tokio::time::sleep(delay).await;
        }
    }
}

fn halves(s: NaiveDateTime, e: NaiveDateTime) -> [(NaiveDateTime, NaiveDateTime); 2] {
    let mid = s + (e - s) / 2;
    // Popped last-in first-out: the earlier half is read first.
    [(mid, e), (s, mid)]
}

/// The sheet's conversions, looked up by any id a row gives, and what CAKE holds for each row.
///
/// Memory follows the sheet, never the window: a report row that is not the sheet's is dropped
/// as soon as its ids are read.
#[derive(Debug, Default)]
pub struct Targets {
    by_conversion: HashMap<i32, Vec<u64>>,
    by_session: HashMap<i32, Vec<u64>>,
    by_transaction: HashMap<String, Vec<u64>>,
    /// Sheet row → the conversions found for it (one per conversion id).
    found: HashMap<u64, Vec<Held>>,
}

impl Targets {
    /// Adds a sheet row's ids.
    pub fn add(&mut self, u: &ConversionUpdate) {
        if u.conversion_id != 0 {
            self.by_conversion
                .entry(u.conversion_id)
                .or_default()
                .push(u.row);
        }
        if u.request_session_id != 0 {
            self.by_session
                .entry(u.request_session_id)
                .or_default()
                .push(u.row);
        }
        if !u.transaction_id.is_empty() {
            self.by_transaction
                .entry(u.transaction_id.clone())
                .or_default()
                .push(u.row);
        }
    }

    /// What was found for a sheet row: none, one, or (ambiguous) several conversions.
    #[must_use]
    pub fn found(&self, row: u64) -> &[Held] {
        self.found.get(&row).map_or(&[], Vec::as_slice)
    }

    fn rows_for(&self, conversion_id: i32, rsid: Option<i32>, tx: Option<&str>) -> Vec<u64> {
        let mut rows: Vec<u64> = Vec::new();
        for list in [
            self.by_conversion.get(&conversion_id),
            rsid.and_then(|r| self.by_session.get(&r)),
            tx.and_then(|t| self.by_transaction.get(t)),
        ]
        .into_iter()
        .flatten()
        {
            rows.extend(list);
        }
        rows.sort_unstable();
        rows.dedup();
        rows
    }
}

impl Matcher for Targets {
    fn wants(&self, conversion_id: i32, rsid: Option<i32>, tx: Option<&str>) -> bool {
        self.by_conversion.contains_key(&conversion_id)
            || rsid.is_some_and(|r| self.by_session.contains_key(&r))
            || tx.is_some_and(|t| self.by_transaction.contains_key(t))
    }

    fn take(&mut self, held: Held) {
        let rows = self.rows_for(
            held.conversion_id,
            held.request_session_id,
            held.transaction_id.as_deref(),
        );
        for row in rows {
            let list = self.found.entry(row).or_default();
            match list
                .iter_mut()
                .find(|h| h.conversion_id == held.conversion_id)
            {
                // Read twice (a split window): the later read is the newer. Two reads that
                // disagree on its offer leave the offer unknown: which one CAKE files it under
                // is not for this client to guess.
                Some(h) => {
                    let offer = if h.offer_id == held.offer_id {
                        held.offer_id
                    } else {
                        None
                    };
                    *h = held.clone();
                    h.offer_id = offer;
                }
                None => list.push(held.clone()),
            }
        }
    }
}

/// Reads the CAKE-local days `since..=until` of the CAKE at `dest` with the run's rate, timeout
/// and retries, on a runtime of its own.
pub(crate) fn read_window(
    s: &super::Settings,
    dest: &super::Destination,
    version: u8,
    (since, until): (chrono::NaiveDate, chrono::NaiveDate),
    matcher: &mut dyn Matcher,
) -> Result<ScanStats, crate::error::Error> {
    use crate::cake::request::Endpoint;
    use crate::error::Error;
    let start = NaiveDateTime::from(since);
    let end = NaiveDateTime::from(until + chrono::Duration::days(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let endpoint = Endpoint::new(&dest.url, s.api_version, s.transport);
        let client =
            Client::new(endpoint, dest.key.clone(), s.timeout, 2).map_err(Error::Internal)?;
        let gate = RateGate::new(s.rate);
        let scanner = Scanner {
            client: &client,
            gate: &gate,
            backoff: Backoff {
                base: s.retry_base,
                cap: s.retry_cap,
                max_attempts: s.max_attempts,
            },
            version,
        };
        scanner
            .scan(start, end, matcher)
            .await
            .map_err(Error::ReadBack)
    })
}

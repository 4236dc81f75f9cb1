//! Reading conversions back: one page of `reports.asmx/EventConversions` (v15–v18; `Conversions`
//! v11 rows parse too), requested over GET with every parameter the `.asmx` binding needs, and
//! parsed as a stream by local name.
//!
//! A window of a million conversions is a gigabyte of XML, and only the sheet's conversions
//! matter: the parser keeps a row's few fields in reused buffers, asks the [`Matcher`] whether
//! the row is wanted, and builds a [`Held`] (decimals, dates) only for those. Control-character
//! references XML 1.0 forbids (`&#x16;`, seen in real report bodies) are skipped, never fatal.

use crate::update::{DispositionType, EVENT_CONVERSIONS_PARAMS, Held};
use chrono::{NaiveDate, NaiveDateTime};
use quick_xml::events::Event;
use rust_decimal::Decimal;
use std::fmt::Write as _;

/// Which report rows the caller keeps.
pub trait Matcher {
    /// Whether a row with these ids is one of the sheet's.
    fn wants(&self, conversion_id: i32, request_session_id: Option<i32>, tx: Option<&str>) -> bool;
    /// A wanted row.
    fn take(&mut self, held: Held);
}

/// What a page said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// The whole window's count (not the page's); `None` when the answer has no `row_count`
    /// (then a window is read until a page comes back empty).
    pub row_count: Option<u64>,
    /// Rows on this page.
    pub rows: u64,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// `success=false` with this message (`Invalid API Key`, `Restricted`, …).
    Refused(String),
    /// Not a report answer at all.
    Malformed(String),
}

/// The GET URL of one page: every parameter of the table, the window's CAKE-local days
/// (`end` exclusive), 1-based paging, ascending by date.
pub(crate) fn page_url(
    base_url: &str,
    version: u8,
    key: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
    start_at_row: u64,
    row_limit: u64,
) -> String {
    let mut url = format!(
        "{}/api/{version}/reports.asmx/EventConversions?",
        base_url.trim_end_matches('/')
    );
    let date = |t: NaiveDateTime| {
        if t.time() == chrono::NaiveTime::MIN {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.format("%m/%d/%Y %H:%M:%S").to_string()
        }
    };
    for (i, spec) in EVENT_CONVERSIONS_PARAMS.iter().enumerate() {
        let value = match spec.name {
            "api_key" => key.to_string(),
            "start_date" => date(start),
            "end_date" => date(end),
            "start_at_row" => start_at_row.to_string(),
            "row_limit" => row_limit.to_string(),
            _ => spec.value.to_string(),
        };
        if i > 0 {
            url.push('&');
        }
        let _ = write!(
            url,
            "{}={}",
            spec.name,
            percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
        );
    }
    url
}

/// The elements the parser reads; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum El {
    Success,
    Message,
    RowCount,
    Row,
    ConversionId,
    RequestSessionId,
    TransactionId,
    OfferId,
    OfferName,
    AffiliateId,
    AffiliateName,
    Paid,
    Received,
    OrderTotal,
    Amount,
    Disposition,
    DispositionId,
    DispositionTypeName,
    ConversionDate,
    LastUpdated,
    Note,
    Other,
}

fn element(local: &str, in_row: bool) -> El {
    match local {
        "success" if !in_row => El::Success,
        "message" if !in_row => El::Message,
        "row_count" if !in_row => El::RowCount,
        "event_conversion" | "conversion" => El::Row,
        "event_conversion_id" | "conversion_id" => El::ConversionId,
        "request_session_id" => El::RequestSessionId,
        "transaction_id" => El::TransactionId,
        "site_offer_id" | "offer_id" => El::OfferId,
        "site_offer_name" | "offer_name" => El::OfferName,
        "source_affiliate_id" | "affiliate_id" => El::AffiliateId,
        "source_affiliate_name" | "affiliate_name" => El::AffiliateName,
        "paid" => El::Paid,
        "received" => El::Received,
        "order_total" => El::OrderTotal,
        "amount" => El::Amount,
        "current_disposition" => El::Disposition,
        "disposition_id" => El::DispositionId,
        "disposition_type_name" => El::DispositionTypeName,
        "event_conversion_date" | "conversion_date" => El::ConversionDate,
        "last_updated" => El::LastUpdated,
        "note" => El::Note,
        _ => El::Other,
    }
}

/// One row's fields as text, in buffers reused from row to row.
#[derive(Default)]
struct RowText {
    conversion_id: String,
    rsid: String,
    tx: String,
    offer: String,
    offer_name: String,
    affiliate: String,
    affiliate_name: String,
    paid: String,
    received: String,
    order_total: String,
    disposition_id: String,
    disposition: String,
    date: String,
    updated: String,
    note: String,
    has_disposition: bool,
}

impl RowText {
    fn clear(&mut self) {
        for s in [
            &mut self.conversion_id,
            &mut self.rsid,
            &mut self.tx,
            &mut self.offer,
            &mut self.offer_name,
            &mut self.affiliate,
            &mut self.affiliate_name,
            &mut self.paid,
            &mut self.received,
            &mut self.order_total,
            &mut self.disposition_id,
            &mut self.disposition,
            &mut self.date,
            &mut self.updated,
            &mut self.note,
        ] {
            s.clear();
        }
        self.has_disposition = false;
    }

    /// The buffer for text at `leaf` whose parent is `parent`.
    fn slot(&mut self, leaf: El, parent: El) -> Option<&mut String> {
        Some(match (leaf, parent) {
            (El::ConversionId, El::Row) => &mut self.conversion_id,
            (El::RequestSessionId, El::Row) => &mut self.rsid,
            (El::TransactionId, El::Row) => &mut self.tx,
            (El::OfferId, _) => &mut self.offer,
            (El::OfferName, _) => &mut self.offer_name,
            (El::AffiliateId, _) => &mut self.affiliate,
            (El::AffiliateName, _) => &mut self.affiliate_name,
            (El::Amount, El::Paid) => &mut self.paid,
            (El::Amount, El::Received) => &mut self.received,
            (El::Amount, El::OrderTotal) => &mut self.order_total,
            (El::DispositionId, El::Disposition) => &mut self.disposition_id,
            (El::DispositionTypeName, _) => &mut self.disposition,
            (El::ConversionDate, El::Row) => &mut self.date,
            (El::LastUpdated, El::Row) => &mut self.updated,
            (El::Note, El::Row) => &mut self.note,
            _ => return None,
        })
    }

    fn held(&self, conversion_id: i32) -> Held {
        let int = |s: &str| s.trim().parse::<i32>().ok();
        let money = |s: &str| Decimal::from_str_exact(s.trim()).ok();
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Held {
            conversion_id,
            request_session_id: int(&self.rsid),
            transaction_id: text(&self.tx),
            offer_id: int(&self.offer),
            offer_name: text(self.offer_name.trim()),
            affiliate_id: int(&self.affiliate),
            affiliate_name: text(self.affiliate_name.trim()),
            paid: money(&self.paid),
            received: money(&self.received),
            sale_amount: money(&self.order_total),
            disposition: self
                .has_disposition
                .then(|| DispositionType::from_wire(&self.disposition.trim().to_ascii_lowercase()))
                .flatten(),
            disposition_id: int(&self.disposition_id),
            conversion_date: cake_time(&self.date),
            last_updated: cake_time(&self.updated),
            note: text(&self.note),
        }
    }
}

/// A CAKE-local timestamp: `YYYY-MM-DDTHH:MM:SS` with an optional fraction of any length.
fn cake_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// The parser's state between events.
#[derive(Default)]
struct State {
    stack: Vec<El>,
    row: RowText,
    in_row: bool,
    rows: u64,
    success: String,
    message: String,
    row_count: String,
}

impl State {
    /// Where text at the current position goes, if it is wanted.
    fn slot(&mut self) -> Option<&mut String> {
        let leaf = self.stack.last().copied().unwrap_or(El::Other);
        let parent = self
            .stack
            .len()
            .checked_sub(2)
            .and_then(|i| self.stack.get(i))
            .copied()
            .unwrap_or(El::Other);
        if self.in_row {
            self.row.slot(leaf, parent)
        } else {
            match leaf {
                El::Success => Some(&mut self.success),
                El::Message => Some(&mut self.message),
                El::RowCount => Some(&mut self.row_count),
                _ => None,
            }
        }
    }

    fn start(&mut self, local: &str) {
        let el = element(local, self.in_row);
        if el == El::Row && !self.in_row {
            self.in_row = true;
            self.row.clear();
        } else if el == El::Disposition {
            self.row.has_disposition = true;
        }
        self.stack.push(el);
    }

    fn end(&mut self, matcher: &mut dyn Matcher) {
        if self.stack.pop() != Some(El::Row) || !self.in_row {
            return;
        }
        self.in_row = false;
        self.rows += 1;
        if let Ok(id) = self.row.conversion_id.trim().parse::<i32>() {
            let rsid = self.row.rsid.trim().parse::<i32>().ok();
            let tx = (!self.row.tx.is_empty()).then_some(self.row.tx.as_str());
            if matcher.wants(id, rsid, tx) {
                matcher.take(self.row.held(id));
            }
        }
    }

    fn finish(self) -> Result<PageInfo, PageError> {
        if !self.success.trim().eq_ignore_ascii_case("true") {
            return Err(if self.success.is_empty() {
                PageError::Malformed("the answer has no success element: not a report".into())
            } else {
                PageError::Refused(if self.message.trim().is_empty() {
                    "the report failed without a message".into()
                } else {
                    self.message.trim().to_string()
                })
            });
        }
        Ok(PageInfo {
            row_count: match self.row_count.trim() {
                "" => None,
                n => Some(n.parse().map_err(|_| {
                    PageError::Malformed(format!("row_count \"{n}\" is not a number"))
                })?),
            },
            rows: self.rows,
        })
    }
}

/// Parses one page, handing the wanted rows to `matcher`.
///
/// Most rows of a window are not the sheet's: each row's ids are found first by plain search
/// (`memmem`), and only a wanted row — or a page whose rows are written some other way
/// (prefixed names, entities in an id) — goes through the full XML reader.
pub fn parse_page(body: &[u8], matcher: &mut dyn Matcher) -> Result<PageInfo, PageError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    fast_page(body, matcher).unwrap_or_else(|| full_page(body, matcher))
}

/// The text of the first `<tag>text<` in `row`, when written plainly.
fn plain<'a>(row: &'a [u8], open: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(row, open)? + open.len();
    let rest = row.get(at..)?;
    let end = memchr::memchr(b'<', rest)?;
    rest.get(..end)
}

/// The fast path: `None` when the page is not in the plain shape it expects (then the full
/// reader reads it).
fn fast_page(body: &[u8], matcher: &mut dyn Matcher) -> Option<Result<PageInfo, PageError>> {
    let (first, open, close, id_tag): (usize, &[u8], &[u8], &[u8]) =
        if let Some(at) = memchr::memmem::find(body, b"<event_conversion>") {
            (
                at,
                b"<event_conversion>",
                b"</event_conversion>",
                b"<event_conversion_id>",
            )
        } else if let Some(at) = memchr::memmem::find(body, b"<conversion>") {
            (at, b"<conversion>", b"</conversion>", b"<conversion_id>")
        } else {
            return None;
        };
    // The head (success, message, row_count) is small: the full reader reads it.
    let mut st = State::default();
    if let Err(e) = read_events(body.get(..first)?, &mut st, matcher) {
        return Some(Err(e));
    }
    let opens = memchr::memmem::Finder::new(open);
    let closes = memchr::memmem::Finder::new(close);
    let mut at = first;
    while let Some(start) = opens.find(body.get(at..)?).map(|i| at + i) {
        let end = closes
            .find(body.get(start..)?)
            .map(|i| start + i + close.len())?;
        let row = body.get(start..end)?;
        let id = std::str::from_utf8(plain(row, id_tag)?)
            .ok()?
            .trim()
            .parse::<i32>()
            .ok()?;
        let rsid = plain(row, b"<request_session_id>")
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.trim().parse::<i32>().ok());
        let tx = match plain(row, b"<transaction_id>") {
            Some(t) if t.contains(&b'&') => return None,
            Some(t) => Some(std::str::from_utf8(t).ok()?),
            None => None,
        };
        st.rows += 1;
        if matcher.wants(id, rsid, tx.filter(|t| !t.is_empty())) {
            // The whole row, through the full reader.
            let mut one = State::default();
            if let Err(e) = read_events(row, &mut one, matcher) {
                return Some(Err(e));
            }
        }
        at = end;
    }
    Some(st.finish())
}

/// The full reader, for pages the fast path does not know.
fn full_page(body: &[u8], matcher: &mut dyn Matcher) -> Result<PageInfo, PageError> {
    let mut st = State::default();
    read_events(body, &mut st, matcher)?;
    st.finish()
}

/// Feeds every event of `body` to `st` (a whole page, its head, or one row).
fn read_events(body: &[u8], st: &mut State, matcher: &mut dyn Matcher) -> Result<(), PageError> {
    let mut reader = quick_xml::Reader::from_reader(body);
    // A head or a row alone ends with open elements: not an error here.
    reader.config_mut().check_end_names = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| PageError::Malformed(format!("not a report answer: {e}")))?;
        match event {
            Event::Start(e) => st.start(e.local_name().as_ref()),
            Event::Empty(e) if element(e.local_name().as_ref(), st.in_row) == El::Disposition => {
                st.row.has_disposition = true;
            }
            Event::Text(t) => {
                if let Some(slot) = st.slot() {
                    slot.push_str(t.as_ref());
                }
            }
            Event::GeneralRef(r) => {
                if st.in_row
                    && let Some(slot) = st.slot()
                {
                    // A reference XML forbids (`&#x16;`) is dropped, not fatal.
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        if !c.is_control() {
                            slot.push(c);
                        }
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        slot.push_str(s);
                    }
                }
            }
            Event::End(_) => st.end(matcher),
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

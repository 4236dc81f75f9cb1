//! `reports.asmx/EventConversions` (v15–v18) from the ledger, as CAKE serves it over GET: the
//! recorded v17 row shape, namespaces on the id/name pairs, CAKE-local timestamps without a
//! zone, money with 4 and 10 decimals, 1-based paging with `row_count` the whole window's count,
//! pages silently capped, nothing returned past the reach, and now and then a control-character
//! reference XML 1.0 forbids (as real report bodies carry).

use super::ledger::{Conversion, Ledger};
use crate::update::{EVENT_CONVERSIONS_PARAMS, ReportParamType};
use chrono::{NaiveDate, NaiveDateTime};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A bound `EventConversions` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReportCall {
    pub api_key: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// 1-based; 0 reads as 1 (CAKE returns the first row for both).
    pub start_at_row: usize,
    /// 0 = no limit (then only the page cap applies).
    pub row_limit: usize,
    pub descending: bool,
}

/// A report date: `YYYY-MM-DD`, `MM/DD/YYYY`, either with a time.
fn report_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    ["%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Binds the query as ASP.NET does: every parameter present and of its type, or the error text
/// of the HTTP 500 CAKE answers.
pub(super) fn bind(values: &HashMap<String, String>) -> Result<ReportCall, String> {
    for spec in EVENT_CONVERSIONS_PARAMS {
        let Some(v) = values.get(spec.name) else {
            return Err(format!("Missing parameter: {}.", spec.name));
        };
        let ok = match spec.ty {
            ReportParamType::Text => true,
            ReportParamType::Int => v.trim().parse::<i64>().is_ok(),
            ReportParamType::Bool => {
                v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
            }
            ReportParamType::Date => report_date(v).is_some(),
        };
        if !ok {
            return Err(format!(
                "System.ArgumentException: Cannot convert {v} to {}.\nParameter name: {}",
                match spec.ty {
                    ReportParamType::Int => "System.Int32",
                    ReportParamType::Bool => "System.Boolean",
                    ReportParamType::Date => "System.DateTime",
                    ReportParamType::Text => "System.String",
                },
                spec.name
            ));
        }
    }
    let get = |k: &str| values.get(k).map_or("", String::as_str);
    let num = |k: &str| get(k).trim().parse::<i64>().unwrap_or(0).max(0);
    Ok(ReportCall {
        api_key: get("api_key").to_string(),
        start: report_date(get("start_date")).unwrap_or_default(),
        end: report_date(get("end_date")).unwrap_or_default(),
        start_at_row: usize::try_from(num("start_at_row")).unwrap_or(usize::MAX),
        row_limit: usize::try_from(num("row_limit")).unwrap_or(usize::MAX),
        descending: get("sort_descending").eq_ignore_ascii_case("true"),
    })
}

/// The page of the window the call asks for, as CAKE's XML.
pub(super) fn page(ledger: &Ledger, call: &ReportCall, page_cap: usize, reach: usize) -> String {
    let window = ledger.window(call.start, call.end);
    let total = window.len();
    let reachable = total.min(reach);
    let from = call.start_at_row.max(1) - 1;
    let wanted = if call.row_limit == 0 {
        page_cap
    } else {
        call.row_limit.min(page_cap)
    };
    let to = from.saturating_add(wanted).min(reachable);
    let ids = if call.descending {
        // Newest first: positions counted from the end.
        let mut ids = window.slice(total.saturating_sub(to), total.saturating_sub(from));
        ids.reverse();
        ids
    } else {
        window.slice(from, to)
    };
    let mut xml = String::with_capacity(256 + ids.len() * 1400);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<event_conversion_report_response \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns=\"http://cakemarketing.com/api/17/\"><success>true</success>",
    );
    let _ = write!(xml, "<row_count>{total}</row_count><event_conversions>");
    for id in ids {
        if let Some(c) = ledger.peek(id) {
            row(&mut xml, &c);
        }
    }
    xml.push_str("</event_conversions></event_conversion_report_response>");
    xml
}

/// One page of `EventConversions` for `[start, end)`, as the emulator serves it (for benchmarks
/// and tests that want the body without a server): rows `start_at_row..` (1-based), at most
/// `row_limit`.
#[must_use]
pub fn event_conversions_page(
    ledger: &Ledger,
    start: NaiveDateTime,
    end: NaiveDateTime,
    start_at_row: usize,
    row_limit: usize,
) -> String {
    let call = ReportCall {
        api_key: String::new(),
        start,
        end,
        start_at_row,
        row_limit,
        descending: false,
    };
    page(ledger, &call, usize::MAX, usize::MAX)
}

/// CAKE's answer when the report cannot be run (a bad key).
pub(super) fn refusal(message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<event_conversion_report_response \
         xmlns=\"http://cakemarketing.com/api/17/\"><success>false</success>\
         <message>{message}</message><row_count>0</row_count><event_conversions />\
         </event_conversion_report_response>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Amounts as CAKE writes them: `paid` with 4 decimals, `received` with 10.
fn amount(d: rust_decimal::Decimal, scale: u32) -> String {
    let mut d = d;
    d.rescale(scale);
    d.to_string()
}

/// The affiliate a conversion of the emulator came through: one of five, by its id, so
/// totals by affiliate have something to show.
fn affiliate_of(conversion_id: i32) -> i32 {
    16_000 + conversion_id.rem_euclid(5)
}

const ID_NAME: &str = " xmlns=\"API:id_name_store\"";

/// One `event_conversion`, in the recorded v17 order (the fields a reconcile reads, and enough
/// of the rest to be the real size and shape).
fn row(xml: &mut String, c: &Conversion) {
    let offer = c.offer_id.unwrap_or(5769);
    let disposition = match c.disposition_type.as_str() {
        "pending" => Some((1, "Pending")),
        "rejected" => Some((2, "Rejected")),
        "approved" => Some((3, "Approved")),
        "returned" => Some((4, "Returned")),
        _ => None,
    };
    let note: String = c.notes.join(" ").chars().take(50).collect();
    // Every 997th conversion carries a control character in a sub id, as real bodies do.
    let sub_id_1 = if c.conversion_id % 997 == 0 {
        "a&#x16;b"
    } else {
        ""
    };
    let _ = write!(
        xml,
        "<event_conversion><event_conversion_id>{id}</event_conversion_id>\
         <visitor_id>0</visitor_id><original_visitor_id>0</original_visitor_id>\
         <tracking_id>0</tracking_id><original_tracking_id>0</original_tracking_id>\
         <request_session_id>{rsid}</request_session_id>\
         <event_conversion_date>{date}</event_conversion_date>\
         <last_updated>{updated}</last_updated><click_date xsi:nil=\"true\" />\
         <source_date>{date}</source_date>\
         <event_info><event_id{ID_NAME}>22</event_id><event_name{ID_NAME}>Conversion</event_name></event_info>\
         <source_affiliate><source_affiliate_id{ID_NAME}>{affiliate}</source_affiliate_id><source_affiliate_name{ID_NAME}>Affiliate {affiliate}</source_affiliate_name></source_affiliate>\
         <brand_advertiser><brand_advertiser_id{ID_NAME}>1</brand_advertiser_id><brand_advertiser_name{ID_NAME}>Advertiser</brand_advertiser_name></brand_advertiser>\
         <site_offer><site_offer_id{ID_NAME}>{offer}</site_offer_id><site_offer_name{ID_NAME}>Offer {offer}</site_offer_name></site_offer>\
         <campaign><campaign_id>1</campaign_id><campaign_type><campaign_type_id>1</campaign_type_id><campaign_type_name>Standard</campaign_type_name></campaign_type></campaign>\
         <creative><creative_id{ID_NAME}>1</creative_id><creative_name{ID_NAME}>Creative</creative_name></creative>\
         <sub_id_1>{sub_id_1}</sub_id_1><sub_id_2 /><sub_id_3 /><sub_id_4 /><sub_id_5 />\
         <event_conversion_ip_address /><event_conversion_referrer_url /><event_conversion_user_agent />\
         <source_type>Pixel</source_type>\
         <price_format><price_format_id{ID_NAME}>1</price_format_id><price_format_name{ID_NAME}>CPA</price_format_name></price_format>\
         <paid><currency_id>1</currency_id><amount>{paid}</amount><formatted_amount>${paid}</formatted_amount></paid>\
         <paid_unbilled><currency_id>1</currency_id><amount>0.0000</amount><formatted_amount>$0.00</formatted_amount></paid_unbilled>\
         <received><currency_id>1</currency_id><amount>{received}</amount><formatted_amount>${received}</formatted_amount></received>\
         <received_unbilled><currency_id>1</currency_id><amount>0.0000000000</amount><formatted_amount>$0.00</formatted_amount></received_unbilled>\
         <site_offer_credit_percentage>1.000000</site_offer_credit_percentage>\
         <site_offer_payment_percentage>1.000000</site_offer_payment_percentage>\
         <program_credit_percentage>1.000000</program_credit_percentage>\
         <pixel_dropped>false</pixel_dropped><suppressed>false</suppressed>\
         <returned>{returned}</returned><test>false</test>\
         <transaction_id>{tx}</transaction_id>",
        id = c.conversion_id,
        rsid = c.request_session_id,
        affiliate = affiliate_of(c.conversion_id),
        date = c.conversion_date,
        updated = c.last_updated,
        paid = amount(c.payout, 4),
        received = amount(c.revenue, 10),
        returned = c.disposition_type == "returned",
        tx = escape(&c.transaction_id),
    );
    if let Some((type_id, type_name)) = disposition {
        let _ = write!(
            xml,
            "<current_disposition><disposition_id>{did}</disposition_id>\
             <disposition_name>{type_name}</disposition_name>\
             <disposition_type><disposition_type_id{ID_NAME}>{type_id}</disposition_type_id>\
             <disposition_type_name{ID_NAME}>{type_name}</disposition_type_name></disposition_type>\
             <contact /><disposition_date>{updated}</disposition_date></current_disposition>",
            did = c.disposition_id,
            updated = c.last_updated,
        );
    }
    let _ = write!(
        xml,
        "<order_total><currency_id>1</currency_id><amount>{sale}</amount>\
         <formatted_amount>${sale}</formatted_amount></order_total>\
         <event_conversion_score xsi:nil=\"true\" /><note>{note}</note></event_conversion>",
        sale = amount(c.sale_amount, 4),
        note = escape(&note),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = EVENT_CONVERSIONS_PARAMS
            .iter()
            .map(|p| (p.name.to_string(), p.value.to_string()))
            .collect();
        m.insert("api_key".into(), "k".into());
        m.insert("start_date".into(), "2026-09-01".into());
        m.insert("end_date".into(), "2026-10-01".into());
        m.insert("start_at_row".into(), "1".into());
        m.insert("row_limit".into(), "0".into());
        for (k, v) in pairs {
            m.insert((*k).to_string(), (*v).to_string());
        }
        m
    }

    #[test]
    fn every_parameter_is_bound_or_the_call_fails_as_asmx_does() {
        assert!(bind(&query(&[])).is_ok());
        let mut q = query(&[]);
        q.remove("test_filter");
        assert_eq!(bind(&q).unwrap_err(), "Missing parameter: test_filter.");
        assert!(
            bind(&query(&[("row_limit", "ten")]))
                .unwrap_err()
                .contains("Cannot convert ten to System.Int32")
        );
        assert!(bind(&query(&[("start_date", "someday")])).is_err());
    }

    #[test]
    fn pages_are_capped_and_rows_past_the_reach_never_come() {
        let ledger = Ledger::generated(3000);
        let call = |start: usize, limit: usize| ReportCall {
            start_at_row: start,
            row_limit: limit,
            ..bind(&query(&[])).unwrap()
        };
        let count = |xml: &str| xml.matches("<event_conversion>").count();
        let first = page(&ledger, &call(1, 0), 500, 2000);
        assert!(first.contains("<row_count>3000</row_count>"));
        assert_eq!(count(&first), 500, "silently capped");
        assert!(first.contains("<event_conversion_id>1</event_conversion_id>"));
        assert_eq!(count(&page(&ledger, &call(1, 100), 500, 2000)), 100);
        assert_eq!(count(&page(&ledger, &call(1901, 500), 500, 2000)), 100);
        assert_eq!(
            count(&page(&ledger, &call(2001, 500), 500, 2000)),
            0,
            "past the reach"
        );
        let one_day = ReportCall {
            end: report_date("2026-09-02").unwrap(),
            ..call(1, 0)
        };
        assert!(page(&ledger, &one_day, 500, 2000).contains("<row_count>100</row_count>"));
    }
}

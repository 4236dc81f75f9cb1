//! THE table of `reports.asmx/EventConversions` parameters: the reports client sends every one
//! (an `.asmx` GET binding answers HTTP 500 `Missing parameter: NAME.` for any it lacks) and the
//! emulator binds every one, from this list.

/// How the emulator checks a value (and what the client must send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportParamType {
    Text,
    Int,
    /// `YYYY-MM-DD` (what the client sends), `MM/DD/YYYY` also accepted.
    Date,
    Bool,
}

/// One parameter: its name, type and the value the client sends unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportParam {
    pub name: &'static str,
    pub ty: ReportParamType,
    /// The client's fixed value ("" for the ones it fills per request: key, dates, paging).
    pub value: &'static str,
}

const fn p(name: &'static str, ty: ReportParamType, value: &'static str) -> ReportParam {
    ReportParam { name, ty, value }
}

use ReportParamType::{Bool, Date, Int, Text};

/// `EventConversions` v15–v18 (the same request shape), in the documented order.
pub const EVENT_CONVERSIONS_PARAMS: &[ReportParam] = &[
    p("api_key", Text, ""),
    p("start_date", Date, ""),
    p("end_date", Date, ""),
    // Every event: a row of the sheet may be a micro-event.
    p("event_type", Text, "all"),
    p("event_id", Int, "0"),
    p("source_affiliate_id", Int, "0"),
    p("brand_advertiser_id", Int, "0"),
    p("channel_id", Int, "0"),
    p("site_offer_id", Int, "0"),
    p("site_offer_contract_id", Int, "0"),
    p("source_affiliate_tag_id", Int, "0"),
    p("brand_advertiser_tag_id", Int, "0"),
    p("site_offer_tag_id", Int, "0"),
    p("campaign_id", Int, "0"),
    p("creative_id", Int, "0"),
    p("price_format_id", Int, "0"),
    p("source_type", Text, "all"),
    p("payment_percentage_filter", Text, "both"),
    p("disposition_type", Text, "all"),
    p("disposition_id", Int, "0"),
    p("source_affiliate_billing_status", Text, "all"),
    p("brand_advertiser_billing_status", Text, "all"),
    // Test conversions may be in the sheet too.
    p("test_filter", Text, "both"),
    p("start_at_row", Int, ""),
    p("row_limit", Int, ""),
    // Always explicit: reports differ in their default order (ascending by date keeps rows
    // inserted while paging at the end rather than shifting earlier pages).
    p("sort_field", Text, "event_conversion_date"),
    p("sort_descending", Bool, "false"),
];

/// The report versions that share this request and the v17 row shape.
pub const REPORT_VERSIONS: std::ops::RangeInclusive<u8> = 15..=18;

//! Unit tests of `reports`.

use super::*;

#[derive(Default)]
struct All(Vec<Held>);
impl Matcher for All {
    fn wants(&self, _: i32, _: Option<i32>, _: Option<&str>) -> bool {
        true
    }
    fn take(&mut self, held: Held) {
        self.0.push(held);
    }
}

/// The recorded v17 row (the `soapy_cake` `EventConversions` cassette), as GET serves it, with a
/// disposition and a forbidden character reference added.
const V17: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<event_conversion_report_response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://cakemarketing.com/api/17/">
<success>true</success><row_count>26999</row_count><event_conversions>
<event_conversion><event_conversion_id>266066</event_conversion_id><visitor_id>0</visitor_id>
<request_session_id>1304298</request_session_id>
<event_conversion_date>2015-05-08T02:00:00</event_conversion_date>
<last_updated>2017-07-25T14:46:07.493</last_updated><click_date xsi:nil="true" />
<site_offer><site_offer_id xmlns="API:id_name_store">5769</site_offer_id><site_offer_name xmlns="API:id_name_store">Offer</site_offer_name></site_offer>
<sub_id_1>x&#x16;y</sub_id_1><sub_id_2 />
<paid><currency_id>2</currency_id><amount>0.7000</amount><formatted_amount>€0.70</formatted_amount></paid>
<received><currency_id>2</currency_id><amount>1.5000000000</amount><formatted_amount>€1.50</formatted_amount></received>
<transaction_id>T&amp;1&#x13;</transaction_id>
<current_disposition><disposition_id>7</disposition_id><disposition_name>Approved</disposition_name><disposition_type><disposition_type_id xmlns="API:id_name_store">3</disposition_type_id><disposition_type_name xmlns="API:id_name_store">Approved</disposition_type_name></disposition_type></current_disposition>
<order_total><currency_id>2</currency_id><amount>10.0000</amount></order_total>
<event_conversion_score xsi:nil="true" /><note>Test created on 2015-05-08 Conversion added on 7/2</note>
</event_conversion>
<event_conversion><event_conversion_id>266067</event_conversion_id><paid><amount>1</amount></paid><note /></event_conversion>
</event_conversions></event_conversion_report_response>"#;

#[test]
fn the_recorded_report_rows_read_their_ids_offer_amounts_and_disposition() {
    use crate::cake::response::tests::recorded;
    let mut all = All::default();
    let body = recorded("soap12-event-conversions-v17-one-row.xml");
    let info = parse_page(&body, &mut all).unwrap();
    assert_eq!(info.rows, 1);
    let h = &all.0[0];
    assert_eq!(h.conversion_id, 266_066);
    assert_eq!(h.request_session_id, Some(1_304_298));
    assert_eq!(h.offer_id, Some(5769), "site_offer_id");
    assert_eq!(h.paid, Some(Decimal::ZERO));
    assert_eq!(h.received, Some(Decimal::ZERO));
    assert_eq!(h.transaction_id.as_deref(), Some("TRANSACTION_ID"));

    let mut all = All::default();
    let body = recorded("soap12-conversions-v11-one-row.xml");
    let info = parse_page(&body, &mut all).unwrap();
    assert_eq!((info.row_count, info.rows), (Some(26999), 1));
    let h = &all.0[0];
    assert_eq!(h.conversion_id, 8_297_323);
    assert_eq!(h.request_session_id, Some(703_387_483));
    assert_eq!(h.offer_id, Some(9611));
    assert_eq!(
        h.paid,
        Some(Decimal::new(7000, 4)),
        "paid, not paid_unbilled"
    );
    assert_eq!(
        h.received,
        Some(Decimal::new(10000, 4)),
        "received, not received_unbilled"
    );
    assert_eq!(h.disposition, Some(DispositionType::Approved));
}

#[test]
fn a_v17_page_is_read_by_local_name_with_every_field_optional() {
    let mut all = All::default();
    let info = parse_page(V17.as_bytes(), &mut all).unwrap();
    assert_eq!(
        info,
        PageInfo {
            row_count: Some(26999),
            rows: 2
        }
    );
    let h = &all.0[0];
    assert_eq!(h.conversion_id, 266_066);
    assert_eq!(h.request_session_id, Some(1_304_298));
    assert_eq!(h.offer_id, Some(5769));
    assert_eq!(h.paid, Some(Decimal::new(7, 1)));
    assert_eq!(
        h.received.map(|d| d.to_string()),
        Some("1.5000000000".into())
    );
    assert_eq!(h.sale_amount, Some(Decimal::new(10, 0)));
    assert_eq!(h.disposition, Some(DispositionType::Approved));
    assert_eq!(h.disposition_id, Some(7));
    assert_eq!(h.transaction_id.as_deref(), Some("T&1"));
    assert_eq!(
        h.last_updated.unwrap().to_string(),
        "2017-07-25 14:46:07.493"
    );
    let bare = &all.0[1];
    assert_eq!(
        (bare.paid, bare.disposition, bare.note.as_deref()),
        (Some(Decimal::ONE), None, None)
    );
}

/// The recorded v11 `Conversions` row (K2) as GET serves it: `conversion`, `offer/offer_id`,
/// unbilled amounts beside the billed ones, a 2-digit fraction, an empty note.
const V11: &str = r#"<conversion_report_response xmlns="http://cakemarketing.com/api/11/"><success>true</success><row_count>26999</row_count><conversions><conversion><conversion_id>8297323</conversion_id><visitor_id>0</visitor_id><request_session_id>703387483</request_session_id><click_request_session_id>1</click_request_session_id><conversion_date>2015-04-11T01:00:00.52</conversion_date><last_updated>2015-04-11T01:09:30.397</last_updated><click_date /><offer><offer_id xmlns="API:id_name_store">9611</offer_id><offer_name xmlns="API:id_name_store">O</offer_name></offer><paid><currency_id>1</currency_id><amount>0.7000</amount><formatted_amount>$0.70</formatted_amount></paid><paid_unbilled><currency_id>1</currency_id><amount>0.7000</amount></paid_unbilled><received><currency_id>1</currency_id><amount>1.0000</amount></received><received_unbilled><currency_id>1</currency_id><amount>0.0865</amount></received_unbilled><transaction_id /><current_disposition><disposition_id>3</disposition_id><disposition_name>Approved</disposition_name><disposition_type><disposition_type_id xmlns="API:id_name_store">3</disposition_type_id><disposition_type_name xmlns="API:id_name_store">Approved</disposition_type_name></disposition_type><contact>System Process</contact></current_disposition><conversion_score>0.00</conversion_score><note /></conversion></conversions></conversion_report_response>"#;

/// The SOAP 1.2 framing of the recordings, with prefixed ids (the full reader's case).
const SOAP: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><EventConversionsResponse xmlns="http://cakemarketing.com/api/17/"><EventConversionsResult><success>true</success><row_count>1</row_count><event_conversions><event_conversion xmlns:a="x"><a:event_conversion_id>266066</a:event_conversion_id><a:request_session_id>1304298</a:request_session_id><paid><amount>0.0000</amount></paid><received><amount>0.0000000000</amount></received><transaction_id /><note>Test created on 2015-05-08</note></event_conversion></event_conversions></EventConversionsResult></EventConversionsResponse></soap:Body></soap:Envelope>"#;

#[test]
fn the_v11_and_soap_shapes_read_the_same_fields() {
    let mut all = All::default();
    assert_eq!(
        parse_page(V11.as_bytes(), &mut all).unwrap(),
        PageInfo {
            row_count: Some(26999),
            rows: 1
        }
    );
    let h = &all.0[0];
    assert_eq!(
        (h.conversion_id, h.request_session_id, h.offer_id),
        (8_297_323, Some(703_387_483), Some(9611))
    );
    assert_eq!(
        (h.paid, h.received),
        (Some(Decimal::new(7, 1)), Some(Decimal::ONE)),
        "billed, not unbilled"
    );
    assert_eq!(
        (h.disposition, h.disposition_id),
        (Some(DispositionType::Approved), Some(3))
    );
    assert_eq!(
        h.conversion_date.unwrap().to_string(),
        "2015-04-11 01:00:00.520"
    );
    assert_eq!(
        (h.transaction_id.as_deref(), h.note.as_deref()),
        (None, None)
    );
    let mut all = All::default();
    assert_eq!(
        parse_page(SOAP.as_bytes(), &mut all).unwrap(),
        PageInfo {
            row_count: Some(1),
            rows: 1
        }
    );
    let h = &all.0[0];
    assert_eq!(
        (h.conversion_id, h.request_session_id),
        (266_066, Some(1_304_298))
    );
    assert_eq!(
        h.received.map(|d| d.to_string()).as_deref(),
        Some("0.0000000000")
    );
    assert_eq!(h.disposition, None, "no current_disposition: none");
}

#[test]
fn a_page_without_row_count_is_read_and_says_so() {
    let page = "<r><success>true</success><event_conversions><event_conversion><event_conversion_id>5</event_conversion_id></event_conversion></event_conversions></r>";
    let mut all = All::default();
    assert_eq!(
        parse_page(page.as_bytes(), &mut all).unwrap(),
        PageInfo {
            row_count: None,
            rows: 1
        }
    );
    assert_eq!(all.0[0].conversion_id, 5);
}

#[test]
fn refusals_and_garbage_are_errors_not_empty_pages() {
    let refused = "<event_conversion_report_response><success>false</success><message>Invalid API Key</message><row_count>0</row_count></event_conversion_report_response>";
    assert_eq!(
        parse_page(refused.as_bytes(), &mut All::default()),
        Err(PageError::Refused("Invalid API Key".into()))
    );
    assert!(matches!(
        parse_page(
            b"<html><body>Server Error</body></html>",
            &mut All::default()
        ),
        Err(PageError::Malformed(_))
    ));
}

#[test]
fn the_url_carries_every_parameter_of_the_table() {
    let day = |d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    };
    let url = page_url(
        "http://h/",
        17,
        "k&y",
        day("2026-09-01"),
        day("2026-10-01"),
        1,
        5000,
    );
    assert!(url.starts_with("http://h/api/17/reports.asmx/EventConversions?api_key=k%26y&start_date=2026%2D09%2D01&end_date=2026%2D10%2D01&event_type=all"), "{url}");
    for spec in EVENT_CONVERSIONS_PARAMS {
        assert!(url.contains(&format!("{}=", spec.name)), "{}", spec.name);
    }
    assert!(url.ends_with("start_at_row=1&row_limit=5000&sort_field=event%5Fconversion%5Fdate&sort_descending=false"), "{url}");
}

//! The synonym table, tried against headers as advertisers and finance teams write them. Each
//! header reads as one field, or is ignored with the hint a person would need (or none, for a
//! column that is nobody's field). One list, so a change to the table shows what it moves.

#![cfg(test)]

use super::cells::CellParser;
use super::columns::resolve_header;

/// (header, the field it reads as, or `None` and the start of the hint it gets).
const HEADERS: &[(&str, Option<&str>, &str)] = &[
    // Conversion ids.
    ("conversion_id", Some("conversion_id"), ""),
    ("Conversion ID", Some("conversion_id"), ""),
    ("Conversion Id", Some("conversion_id"), ""),
    ("CONVERSION_ID", Some("conversion_id"), ""),
    ("Conv ID", Some("conversion_id"), ""),
    ("Conv. ID", Some("conversion_id"), ""),
    ("Conv_ID", Some("conversion_id"), ""),
    ("ConversionID", Some("conversion_id"), ""),
    ("Conversion #", Some("conversion_id"), ""),
    ("Conversion No", Some("conversion_id"), ""),
    ("Conversion Number", Some("conversion_id"), ""),
    ("Conv #", Some("conversion_id"), ""),
    ("CAKE Conversion ID", Some("conversion_id"), ""),
    ("CAKE ID", Some("conversion_id"), ""),
    // Request session ids.
    ("request_session_id", Some("request_session_id"), ""),
    ("Request Session ID", Some("request_session_id"), ""),
    ("Request ID", Some("request_session_id"), ""),
    ("Session ID", Some("request_session_id"), ""),
    ("Click ID", Some("request_session_id"), ""),
    // Transaction ids.
    ("transaction_id", Some("transaction_id"), ""),
    ("Transaction ID", Some("transaction_id"), ""),
    ("Txn ID", Some("transaction_id"), ""),
    ("TX ID", Some("transaction_id"), ""),
    ("Txn", Some("transaction_id"), ""),
    ("Txn #", Some("transaction_id"), ""),
    ("Transaction", Some("transaction_id"), ""),
    ("Transaction #", Some("transaction_id"), ""),
    ("Order ID", Some("transaction_id"), ""),
    ("Order No", Some("transaction_id"), ""),
    ("Order Number", Some("transaction_id"), ""),
    ("Order #", Some("transaction_id"), ""),
    ("Order Ref", Some("transaction_id"), ""),
    // Offers.
    ("offer_id", Some("offer_id"), ""),
    ("Offer ID", Some("offer_id"), ""),
    ("OfferID", Some("offer_id"), ""),
    ("Offer #", Some("offer_id"), ""),
    // Payouts.
    ("payout", Some("payout"), ""),
    ("Payout", Some("payout"), ""),
    ("Payout (USD)", Some("payout"), ""),
    ("Payout USD", Some("payout"), ""),
    ("Approved Payout", Some("payout"), ""),
    ("Payout Amount", Some("payout"), ""),
    ("Final Payout", Some("payout"), ""),
    ("Final Payout (USD)", Some("payout"), ""),
    ("New Payout", Some("payout"), ""),
    ("Adjusted Payout", Some("payout"), ""),
    ("Payout Approved", Some("payout"), ""),
    ("Approved Commission", Some("payout"), ""),
    ("Commission", None, "--map \"Commission=payout\""),
    ("Original Payout", None, "--map \"Original Payout=payout\""),
    ("Bonus Payout", None, "=payout+\" adds it"),
    ("Payout Adjustment", None, "=payout+\" adds it"),
    ("Additional Payout", None, "=payout+\" adds it"),
    ("Extra Payout", None, "=payout+\" adds it"),
    ("Payout Increase", None, "=payout+\" adds it"),
    ("Payout (+/-)", None, "=payout+\" adds it"),
    ("Payout Delta", None, "=payout+\" adds it"),
    ("add_to_existing_payout", Some("add_to_existing_payout"), ""),
    ("Add To Existing Payout", Some("add_to_existing_payout"), ""),
    // Revenue and sale amounts.
    ("received", Some("received"), ""),
    ("Received", Some("received"), ""),
    ("Approved Revenue", Some("received"), ""),
    ("Approved Received", Some("received"), ""),
    ("Received Amount", Some("received"), ""),
    ("New Revenue", Some("received"), ""),
    ("Adjusted Revenue", Some("received"), ""),
    ("Final Revenue", Some("received"), ""),
    ("Revenue", None, "--map \"Revenue=received\""),
    ("Net Revenue", None, "--map \"Net Revenue=received\""),
    ("Revenue Adjustment", None, "=revenue+\" adds it"),
    ("Sale Amount", None, "=sale_amount\""),
    ("received_option", Some("received_option"), ""),
    ("Received Option", Some("received_option"), ""),
    // Dispositions.
    ("disposition_type", Some("disposition_type"), ""),
    ("Disposition Type", Some("disposition_type"), ""),
    ("Disposition", Some("disposition_type"), ""),
    ("Disposition Status", Some("disposition_type"), ""),
    ("Status", None, "add --map \"Status=disposition_type\""),
    (
        "Approval Status",
        None,
        "add --map \"Approval Status=disposition_type\"",
    ),
    ("disposition_id", Some("disposition_id"), ""),
    // Notes and dates.
    ("note_to_append", Some("note_to_append"), ""),
    ("Note To Append", Some("note_to_append"), ""),
    ("Note", None, "add --map \"Note=note_to_append\""),
    ("Comments", None, "add --map \"Comments=note_to_append\""),
    ("effective_date_option", Some("effective_date_option"), ""),
    ("custom_date", Some("custom_date"), ""),
    ("Custom Date", Some("custom_date"), ""),
    // Nobody's field: ignored, no hint.
    ("Affiliate", None, ""),
    ("Affiliate Name", None, ""),
    ("Sub ID", None, ""),
    ("Lead ID", None, ""),
    ("Clicks", None, ""),
    ("Campaign", None, ""),
    ("Country", None, ""),
    ("Reason", None, ""),
    (
        "Advertiser Comment",
        None,
        "add --map \"Advertiser Comment=note_to_append\"",
    ),
];

#[test]
fn every_header_reads_as_its_field_or_gets_its_hint() {
    assert!(HEADERS.len() >= 80, "{}", HEADERS.len());
    let mut wrong = Vec::new();
    for (header, field, hint) in HEADERS {
        // The id column beside it, unless the header is an id itself.
        let mut cols = vec![*header];
        if !matches!(
            field,
            Some("conversion_id" | "request_session_id" | "transaction_id")
        ) {
            cols.insert(0, "conversion_id");
        }
        let record = csv::StringRecord::from(cols);
        let c = resolve_header(&record, &[], &[], &[], 4, CellParser::default())
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        let read = crate::update::PARAMS
            .iter()
            .find(|s| c.column(s.param) == Some(record.len() - 1))
            .map(|s| s.name);
        let got_hint = if read.is_none() {
            c.suggested_map(header).unwrap_or_default()
        } else {
            String::new()
        };
        let hint_ok = if hint.is_empty() {
            got_hint.is_empty()
        } else {
            got_hint.contains(hint)
        };
        if read != *field || !hint_ok {
            wrong.push(format!("{header}: read {read:?}, hint {got_hint:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

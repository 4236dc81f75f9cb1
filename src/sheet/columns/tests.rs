//! Unit tests of `columns`.

use super::*;
use crate::sheet::parse::{DateOrder, DecimalStyle};

fn cells() -> CellParser {
    CellParser {
        decimal: DecimalStyle::Point,
        date_order: DateOrder::Mdy,
    }
}

fn header(cols: &[&str]) -> csv::StringRecord {
    csv::StringRecord::from(cols.to_vec())
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

#[test]
fn headers_are_normalised_and_aliased() {
    let h = header(&[
        " Conversion ID ",
        "Request-ID",
        "TRANSACTION_ID",
        "Approved Revenue",
        "Payout",
        "Revenue",
    ]);
    let c = resolve(&h, &[], &[], &[], 2, cells()).unwrap();
    assert_eq!(c.column(Param::Received), Some(3));
    assert_eq!(c.column(Param::ConversionId), Some(0));
    assert_eq!(c.column(Param::RequestSessionId), Some(1));
    assert_eq!(c.column(Param::TransactionId), Some(2));
    assert_eq!(c.column(Param::Payout), Some(4));
    assert_eq!(c.ignored, vec!["Revenue"]);
    assert_eq!(c.label(Param::ConversionId), " Conversion ID ");
}

#[test]
fn map_and_set() {
    let h = header(&["Conv", "Approved Revenue"]);
    let maps = pairs(&[("approved revenue", "received"), ("CONV", "Conversion ID")]);
    let sets = pairs(&[("received_option", "Total Revenue")]);
    let c = resolve(&h, &maps, &sets, &[], 2, cells()).unwrap();
    assert_eq!(c.column(Param::Received), Some(1));
    assert_eq!(c.column(Param::ConversionId), Some(0));
    assert!(matches!(
        c.source(Param::ReceivedOption),
        Source::Set { .. }
    ));
    assert_eq!(c.label(Param::ReceivedOption), "--set received_option");
}

#[test]
fn a_column_mapped_to_ignore_feeds_nothing() {
    // Two columns both named like the payout: the screen (or --map) sets one aside.
    let h = header(&["conversion_id", "Payout", "Approved Payout"]);
    let conflict = resolve(&h, &[], &[], &[], 2, cells())
        .unwrap_err()
        .to_string();
    assert!(conflict.contains("both give payout"), "{conflict}");
    let c = resolve(&h, &pairs(&[("Payout", "ignore")]), &[], &[], 2, cells()).unwrap();
    assert_eq!(c.column(Param::Payout), Some(2));
    assert_eq!(c.ignored, vec!["Payout"]);
}

#[test]
fn conflicts_are_errors() {
    let err = |h: &[&str], m: &[(&str, &str)], s: &[(&str, &str)]| {
        resolve(&header(h), &pairs(m), &pairs(s), &[], 2, cells())
            .unwrap_err()
            .to_string()
    };
    assert!(err(&["conversion_id", "Conversion ID"], &[], &[]).contains("both give conversion_id"));
    assert!(err(&["conversion_id", "payout"], &[], &[("payout", "5")]).contains("both by column"));
    assert!(err(&["conversion_id", "x"], &[("x", "conversion_id")], &[]).contains("both give"));
    assert!(err(&["conversion_id"], &[("nope", "payout")], &[]).contains("no column \"nope\""));
    assert!(err(&["conversion_id"], &[("conversion_id", "bogus")], &[]).contains("not a CAKE"));
    assert!(err(&["conversion_id"], &[], &[("bogus", "1")]).contains("not a CAKE"));
    assert!(err(&["conversion_id"], &[], &[("payout", "1e3")]).contains("exponent"));
    assert!(err(&["amount"], &[], &[]).contains("no id column"));
    assert!(err(&["conversion_id", "disallow_on_billing_status"], &[], &[]).contains("version 4"));
    assert!(err(&["conversion_id"], &[], &[("payout", "1"), ("payout", "2")]).contains("twice"));
}

#[test]
fn api_key_column_is_never_a_field() {
    let c = resolve(
        &header(&["conversion_id", "api_key", "payout"]),
        &[],
        &[],
        &[],
        2,
        cells(),
    )
    .unwrap();
    assert_eq!(c.ignored, vec!["api_key"]);
}

#[test]
fn a_sheet_that_changes_nothing_says_which_map_to_add() {
    let e = resolve(
        &header(&["Conv ID", "Approved Amount", "Status", "Comment"]),
        &[],
        &[],
        &[],
        2,
        cells(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("changes nothing"), "{e}");
    assert!(e.contains("--map \"Status=disposition_type\""), "{e}");
    assert!(e.contains("--map \"Comment=note_to_append\""), "{e}");
    // Learnt synonyms map on their own.
    let c = resolve(
        &header(&["Conv ID", "Approved Payout"]),
        &[],
        &[],
        &[],
        2,
        cells(),
    )
    .unwrap();
    assert_eq!(c.column(Param::ConversionId), Some(0));
    assert_eq!(c.column(Param::Payout), Some(1));
}

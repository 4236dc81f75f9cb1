//! Unit tests of `ledger`.

use super::*;
use crate::mock::binding::{Strictness, bind};

fn call(pairs: &[(&str, &str)]) -> Call {
    let mut m: HashMap<String, String> = [
        ("api_key", "k"),
        ("offer_id", "0"),
        ("conversion_id", "0"),
        ("request_session_id", "0"),
        ("transaction_id", ""),
        ("payout", "0"),
        ("add_to_existing_payout", "true"),
        ("received", "0"),
        ("received_option", "no_change"),
        ("disposition_type", "no_change"),
        ("disposition_id", "0"),
        ("update_revshare_payout", "false"),
        ("effective_date_option", "today"),
        ("custom_date", "01/01/2001 00:00:00"),
        ("note_to_append", ""),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (k, v) in pairs {
        m.insert((*k).to_string(), (*v).to_string());
    }
    bind(&m, 2, Strictness::Form).unwrap()
}

#[test]
fn an_amount_beyond_money_is_an_overflow_that_changes_nothing() {
    let mut l = Ledger::generated(10);
    let huge = "900000000000000";
    let add = call(&[
        ("conversion_id", "3"),
        ("payout", huge),
        ("received", huge),
        ("received_option", "additional_revenue"),
    ]);
    assert_eq!(l.apply(&add), Applied::Updated);
    let before = l.conversions()[&3].clone();
    assert_eq!(l.apply(&add), Applied::Overflow);
    assert_eq!(l.conversions()[&3], before);
    let max = "79228162514264337593543950335";
    let set = call(&[
        ("conversion_id", "4"),
        ("payout", max),
        ("add_to_existing_payout", "false"),
    ]);
    assert_eq!(l.apply(&set), Applied::Overflow);
    let add_max = call(&[("conversion_id", "4"), ("payout", max)]);
    assert_eq!(
        l.apply(&add_max),
        Applied::Overflow,
        "no panic on Decimal overflow"
    );
}

#[test]
fn payout_set_and_add() {
    let mut l = Ledger::generated(10);
    assert_eq!(
        l.apply(&call(&[
            ("conversion_id", "3"),
            ("payout", "4.5"),
            ("add_to_existing_payout", "false")
        ])),
        Applied::Updated
    );
    assert_eq!(l.conversions()[&3].payout.to_string(), "4.5");
    l.apply(&call(&[("conversion_id", "3"), ("payout", "1.25")]));
    assert_eq!(l.conversions()[&3].payout.to_string(), "5.75");
    l.apply(&call(&[("conversion_id", "3")]));
    assert_eq!(
        l.conversions()[&3].payout.to_string(),
        "5.75",
        "payout=0 added leaves it"
    );
    assert_eq!(l.conversions()[&3].applied, 3);
}

#[test]
fn received_options() {
    let mut l = Ledger::generated(10);
    let apply = |l: &mut Ledger, opt: &str, amt: &str| {
        l.apply(&call(&[
            ("conversion_id", "1"),
            ("received", amt),
            ("received_option", opt),
        ]))
    };
    apply(&mut l, "total_revenue", "30");
    apply(&mut l, "additional_revenue", "2.5");
    apply(&mut l, "total_sale_amount", "200");
    apply(&mut l, "additional_sale_amount", "-50");
    apply(&mut l, "no_change", "999");
    let c = &l.conversions()[&1];
    assert_eq!(
        (c.revenue.to_string(), c.sale_amount.to_string()),
        ("32.5".into(), "150".into())
    );
}

#[test]
fn disposition_notes_dates() {
    let mut l = Ledger::generated(10);
    l.apply(&call(&[
        ("conversion_id", "2"),
        ("disposition_type", "approved"),
        ("disposition_id", "7"),
        ("note_to_append", "a"),
        ("effective_date_option", "custom"),
        ("custom_date", "09/30/2026 14:05:00"),
    ]));
    l.apply(&call(&[
        ("conversion_id", "2"),
        ("note_to_append", "b & c"),
        ("effective_date_option", "conversion_date"),
    ]));
    let c = &l.conversions()[&2];
    assert_eq!(c.disposition_type, "approved");
    assert_eq!(c.disposition_id, 7);
    assert_eq!(c.notes, vec!["a", "b & c"]);
    assert_eq!(c.effective_date, "conversion_date");
    assert_eq!(
        l.apply(&call(&[("conversion_id", "2"), ("disposition_id", "99")])),
        Applied::Refused("Invalid Disposition ID")
    );
}

#[test]
fn lookups_and_refusals() {
    let mut l = Ledger::generated(10);
    assert_eq!(
        l.apply(&call(&[("request_session_id", "1000000004")])),
        Applied::Updated
    );
    assert_eq!(
        l.apply(&call(&[("transaction_id", "T5")])),
        Applied::Updated
    );
    assert_eq!(
        l.apply(&call(&[("transaction_id", "T05")])),
        Applied::Refused("Conversion Not Found")
    );
    assert_eq!(
        l.apply(&call(&[("transaction_id", "0")])),
        Applied::Refused("Conversion Not Found")
    );
    assert_eq!(
        l.apply(&call(&[("conversion_id", "11")])),
        Applied::Refused("Conversion Not Found")
    );
    assert_eq!(
        l.apply(&call(&[("conversion_id", "4"), ("transaction_id", "T5")])),
        Applied::Refused("Conversion Not Found")
    );
    assert!(matches!(l.apply(&call(&[])), Applied::Refused(_)));
    assert_eq!(l.conversions()[&4].applied, 1);
    assert_eq!(l.conversions()[&5].applied, 1);
}

#[test]
fn loaded_conversions_keep_their_ids_and_get_a_date_in_the_month() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.csv");
    std::fs::write(
        &path,
        "conversion_id,payout,conversion_date\n77,1.00,\n78,2.00,2026-09-15 10:00:00\n",
    )
    .unwrap();
    let l = Ledger::load(&path).unwrap();
    let c = &l.conversions()[&77];
    assert_eq!(c.conversion_id, 77);
    assert!(
        c.conversion_date.starts_with("2026-09-"),
        "{}",
        c.conversion_date
    );
    assert_eq!(l.conversions()[&78].conversion_date, "2026-09-15T10:00:00");
}

#[test]
fn loaded_ledger_checks_offer() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("l.csv");
    std::fs::write(
        &p,
        "conversion_id,offer_id,request_session_id,transaction_id,payout\n7,55,700,00871,1.00\n",
    )
    .unwrap();
    let mut l = Ledger::load(&p).unwrap();
    assert_eq!(
        l.apply(&call(&[("conversion_id", "7"), ("offer_id", "56")])),
        Applied::Refused("Offer ID does not match")
    );
    assert_eq!(
        l.apply(&call(&[
            ("transaction_id", "00871"),
            ("offer_id", "55"),
            ("payout", "2")
        ])),
        Applied::Updated
    );
    assert_eq!(
        l.apply(&call(&[("request_session_id", "700")])),
        Applied::Updated
    );
    assert_eq!(
        l.apply(&call(&[("conversion_id", "8")])),
        Applied::Refused("Conversion Not Found")
    );
    assert_eq!(l.conversions()[&7].payout.to_string(), "3.00");
    assert_eq!(l.conversions()[&7].applied, 2);
}

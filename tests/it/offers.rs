//! Real offer ids (issue 20): a sheet without an offer column is sent each conversion's own
//! offer, read from CAKE's reports in the run's window, against an emulator that refuses offer 0
//! on version 4 as an instance that checks the offer does; without a window nothing is sent.
//! Every run here is typed as a person would (`run_as_is`: no test offer added).

use crate::emu::{Emu, KEY, args};
use crate::run::results;
use crate::util::{Output, TestDir};
use cake_recon::mock::{Faults, Ledger};

/// Conversions on three offers, on known days of September 2026.
fn ledger(t: &TestDir) -> Emu {
    let path = t.write(
        "ledger.csv",
        "conversion_id,offer_id,request_session_id,transaction_id,payout,revenue,sale_amount,conversion_date\n\
         101,55,0,T101,10.00,15.00,100.00,2026-09-03\n\
         102,56,0,T102,10.00,15.00,100.00,2026-09-04\n\
         103,57,0,T103,10.00,15.00,100.00,2026-09-05\n\
         104,55,0,T104,10.00,15.00,100.00,2026-09-20\n",
    );
    Emu::with(Ledger::load(&path).unwrap(), Faults::default())
}

/// `run SHEET` against `emu` exactly as given (no offer added).
fn run(t: &TestDir, emu: &Emu, sheet: &str, extra: &[&str]) -> Output {
    let a: Vec<String> = args(emu, sheet, extra)
        .iter()
        .map(|a| (*a).to_string())
        .collect();
    t.run_exact(&a, &[("CAKE_API_KEY", KEY)])
}

const SHEET: &str = "Conversion ID,Payout,Status\n101,12.00,Approved\n102,13.00,Approved\n103,0,Rejected\n104,1.50,Approved\n";
const WINDOW: [&str; 4] = ["--since", "2026-09-01", "--until", "2026-09-30"];

#[test]
fn a_dry_run_with_default_flags_builds_version_4_requests() {
    let t = TestDir::new();
    t.write("s.csv", SHEET);
    let out = t.run_as_is(&["run", "s.csv", "--dry-run"]);
    let examples: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("row "))
        .collect();
    assert_eq!(examples.len(), 3, "{}", out.stdout);
    assert!(
        examples
            .iter()
            .all(|l| l.contains("/api/4/track.asmx/UpdateConversion?")
                && l.contains("offer_id=FROM_CAKE")
                && l.contains("&disallow_on_billing_status=ignore")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("CAKE API:  version 4"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_sheet_without_offers_sends_each_conversions_own_offer_read_in_the_window() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("s.csv", SHEET);
    let out = run(&t, &emu, "s.csv", &WINDOW);
    assert_eq!(out.code, 0, "{out:?}");
    // The emulator refuses offer 0 and an offer that is not the conversion's: none refused.
    let lines = results(&t, "s.results.csv");
    assert!(lines.iter().all(|l| l["status"] == "updated"), "{lines:?}");
    let offers: Vec<&str> = lines.iter().map(|l| l["offer_id"].as_str()).collect();
    assert_eq!(offers, ["55", "56", "57", "55"]);
    let c = emu.conversions();
    assert!(c.values().all(|c| c.applied == 1), "{c:?}");
    assert_eq!(c[&101].payout, rust_decimal::Decimal::new(1200, 2));
    assert_eq!(emu.stats().requests, 4);
}

#[test]
fn without_a_window_nothing_is_sent_and_the_two_ways_to_give_the_offer_are_named() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("s.csv", SHEET);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    for needed in [
        "4 of the sheet's rows give no offer",
        "--set offer_id=N",
        "--since",
        "--until",
    ] {
        assert!(out.stderr.contains(needed), "{needed}: {}", out.stderr);
    }
    assert!(out.stderr.contains("Nothing was sent"), "{}", out.stderr);
    let st = emu.stats();
    assert_eq!((st.requests, st.report_requests), (0, 0));
    // The dry run says the same, and exits as the run would.
    let dry = t.run_as_is(&["run", "s.csv", "--dry-run"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "A run would stop before sending anything: 4 of the sheet's rows give no offer"
        ),
        "{}",
        dry.stdout
    );
}

#[test]
fn a_conversion_date_column_gives_the_window_and_a_blank_offer_cell_is_read_too() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write(
        "s.csv",
        "Conversion ID,Offer ID,Conversion Date,Payout\n101,,2026-09-03,12.00\n102,56,2026-09-04,13.00\n104,,2026-09-20,1.50\n",
    );
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let offers: Vec<String> = results(&t, "s.results.csv")
        .iter()
        .map(|l| format!("{} {}", l["offer_id"], l["status"]))
        .collect();
    assert_eq!(offers, ["55 updated", "56 updated", "55 updated"]);
}

#[test]
fn a_conversion_the_window_does_not_hold_stops_the_run_unless_skip_invalid() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("s.csv", SHEET);
    // 2026-09-20 is outside: conversion 104's offer cannot be read.
    let narrow = ["--since", "2026-09-01", "--until", "2026-09-10"];
    let out = run(&t, &emu, "s.csv", &narrow);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("row 5 (conversion_id 104)")
            && out.stderr.contains("Nothing was sent")
            && out.stderr.contains("--skip-invalid"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
    let mut skip = narrow.to_vec();
    skip.push("--skip-invalid");
    let out = run(&t, &emu, "s.csv", &skip);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines[3]["status"], "invalid", "{:?}", lines[3]);
    assert!(
        lines[3]["message"].contains("its offer is unknown"),
        "{:?}",
        lines[3]
    );
    assert_eq!(lines[3]["offer_id"], "");
    let c = emu.conversions();
    assert_eq!(c[&104].applied, 0, "never sent");
    assert!([101, 102, 103].iter().all(|id| c[id].applied == 1));
}

#[test]
fn an_addition_with_an_offer_from_cake_is_the_same_row_on_every_run() {
    let t = TestDir::new();
    let emu = ledger(&t);
    let sheet = "conversion_id,payout,add_to_existing_payout\n101,2.50,yes\n102,1.00,yes\n";
    t.write("bonus.csv", sheet);
    assert_eq!(run(&t, &emu, "bonus.csv", &WINDOW).code, 0);
    let read = emu.stats().report_requests;
    assert!(read > 0, "the offers were read");
    // Run again, as cron would: the same rows (the offer CAKE gave is not their identity), so
    // nothing is sent twice; every row is finished, so CAKE is not even read.
    let again = run(&t, &emu, "bonus.csv", &WINDOW);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(emu.stats().report_requests, read);
    // A copy under another name is the same additions, by the journal.
    t.write("bonus (1).csv", sheet);
    let copy = run(&t, &emu, "bonus (1).csv", &WINDOW);
    assert_ne!(copy.code, 0, "{copy:?}");
    let c = emu.conversions();
    assert_eq!(
        (c[&101].applied, c[&102].applied),
        (1, 1),
        "each addition applied once"
    );
    assert_eq!(c[&101].payout, rust_decimal::Decimal::new(1250, 2));
    assert_eq!(emu.stats().requests, 2);
}

#[test]
fn offer_0_is_sent_only_when_asked_for_by_name_and_a_checking_cake_refuses_it() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("s.csv", "conversion_id,payout\n101,12.00\n");
    let out = run(&t, &emu, "s.csv", &["--set", "offer_id=0"]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(
        (lines[0]["offer_id"].as_str(), lines[0]["status"].as_str()),
        ("0", "rejected")
    );
    assert_eq!(lines[0]["message"], cake_recon::mock::OFFER_0_REFUSED);
    assert_eq!(emu.conversions()[&101].applied, 0);
}

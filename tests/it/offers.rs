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

/// An additive sheet of conversions 101 and 102, without offers.
const BONUS: &str = "conversion_id,payout,add_to_existing_payout\n101,2.50,yes\n102,1.00,yes\n";

#[test]
fn an_offer_filled_in_or_set_later_is_the_same_row_and_nothing_is_added_again() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("june.csv", BONUS);
    assert_eq!(run(&t, &emu, "june.csv", &WINDOW).code, 0);
    // Finance copies the offers CAKE gave into the sheet, and runs it again without a window.
    t.write(
        "june.csv",
        "conversion_id,offer_id,payout,add_to_existing_payout\n101,55,2.50,yes\n102,,1.00,yes\n",
    );
    let filled = run(&t, &emu, "june.csv", &WINDOW);
    assert_eq!(filled.code, 0, "{filled:?}");
    // Or gives one offer for every row.
    t.write("june.csv", BONUS);
    let set = run(&t, &emu, "june.csv", &["--set", "offer_id=55"]);
    assert_eq!(set.code, 0, "{set:?}");
    let c = emu.conversions();
    assert_eq!((c[&101].applied, c[&102].applied), (1, 1), "{c:?}");
    assert_eq!(emu.stats().requests, 2);
}

#[test]
fn another_sheet_with_the_same_additions_and_a_given_offer_is_held_back_by_the_journal() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write(
        "a.csv",
        "transaction_id,add_to_existing_payout,payout\nT101,yes,5.00\nT103,yes,5.00\n",
    );
    assert_eq!(run(&t, &emu, "a.csv", &WINDOW).code, 0);
    t.write(
        "b.csv",
        "transaction_id,offer_id,add_to_existing_payout,payout\nT103,57,yes,5.00\nT101,55,yes,5.00\n",
    );
    let out = run(&t, &emu, "b.csv", &[]);
    let lines = results(&t, "b.results.csv");
    assert!(
        lines.iter().all(|l| l["status"] == "skipped"),
        "{out:?} {lines:?}"
    );
    let c = emu.conversions();
    assert_eq!((c[&101].applied, c[&103].applied), (1, 1));
}

#[test]
fn two_rows_the_reading_shows_are_one_conversion_are_refused_before_sending() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write(
        "two.csv",
        "conversion_id,transaction_id,add_to_existing_payout,payout\n101,,yes,1.00\n,T101,yes,2.00\n",
    );
    let out = run(&t, &emu, "two.csv", &WINDOW);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "rows 2 (conversion_id 101) and 3 (transaction_id T101) are both conversion 101"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn a_run_refused_before_sending_leaves_nothing_in_the_journal() {
    let t = TestDir::new();
    let emu = ledger(&t);
    t.write("june.csv", BONUS);
    // Conversion 102 converted on the 4th: a window of the 1st to the 3rd misses it.
    let narrow = ["--since", "2026-09-01", "--until", "2026-09-03"];
    assert_eq!(run(&t, &emu, "june.csv", &narrow).code, 2);
    // The copy someone makes next is not "already applied": it never was.
    t.write("june (1).csv", BONUS);
    let copy = run(&t, &emu, "june (1).csv", &WINDOW);
    assert_eq!(copy.code, 0, "{copy:?}");
    let c = emu.conversions();
    assert_eq!((c[&101].applied, c[&102].applied), (1, 1));
}

#[test]
fn in_doubt_rows_settled_not_applied_by_read_back_are_sent_with_their_offer() {
    let t = TestDir::new();
    let addr = crate::util::free_addr();
    let path = t.write(
        "ledger.csv",
        "conversion_id,offer_id,payout,conversion_date\n101,55,10.00,2026-09-03\n102,56,10.00,2026-09-04\n",
    );
    t.write("june.csv", BONUS);
    {
        // A CAKE that finishes every update a minute late: the client gives up (in doubt),
        // and this CAKE goes down before any lands.
        let late = Emu::at(
            &addr,
            Ledger::load(&path).unwrap(),
            Faults {
                land_late_rate: 1.0,
                land_late_ms: 60_000,
                ..Faults::default()
            },
        );
        let out = run(
            &t,
            &late,
            "june.csv",
            &[&WINDOW[..], &["--timeout", "1", "--max-attempts", "1"]].concat(),
        );
        assert_eq!(out.code, 1, "{out:?}");
        let lines = results(&t, "june.results.csv");
        assert!(lines.iter().all(|l| l["status"] == "in_doubt"), "{out:?}");
        assert!(late.conversions().values().all(|c| c.applied == 0));
    }
    // The same CAKE, working again, read after the settling bound: not applied, so sent, each
    // with its conversion's own offer (the same rows: the offer is not what a row is).
    let cake = Emu::at(&addr, Ledger::load(&path).unwrap(), Faults::default());
    let mut again = WINDOW.to_vec();
    again.extend(["--read-back", "--settle-after", "1"]);
    // Run again until the settling bound has passed for both (a person would run it later).
    let started = std::time::Instant::now();
    loop {
        let out = run(&t, &cake, "june.csv", &again);
        if out.code == 0 {
            break;
        }
        assert!(out.stdout.contains("in_doubt 2"), "{out:?}");
        assert!(started.elapsed().as_secs() < 20, "never settled: {out:?}");
    }
    let lines = results(&t, "june.results.csv");
    let got: Vec<String> = lines
        .iter()
        .map(|l| format!("{} {}", l["offer_id"], l["status"]))
        .collect();
    assert_eq!(got, ["55 updated", "56 updated"]);
    let c = cake.conversions();
    assert_eq!((c[&101].applied, c[&102].applied), (1, 1));
}

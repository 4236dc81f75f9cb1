//! One conversion, however the sheet names it: by conversion id in one row (or one job) and
//! by transaction id in another. Only a reading of CAKE can tell the two names are one
//! conversion; these tests try the ways a second addition slips through, and assert on the
//! emulator's ledger.

use crate::emu::{Emu, run};
use crate::run::results;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};

#[test]
fn one_conversion_named_by_two_ids_is_refused_under_read_back_and_warned_without() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(30_000), Faults::default());
    // Conversion 7's transaction id is T7: two rows, one conversion, +2.00 each.
    t.write(
        "two.csv",
        "conversion_id,transaction_id,payout,add_to_existing_payout\n7,,2.00,yes\n,T7,2.00,yes\n",
    );
    let preview = run(&t, &emu, "two.csv", &["--dry-run"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview
            .stdout
            .contains("cannot prove they are different conversions")
            && preview
                .stdout
                .contains("1 by conversion_id, 1 by transaction_id")
            && preview.stdout.contains("--read-back"),
        "{}",
        preview.stdout
    );
    let out = run(
        &t,
        &emu,
        "two.csv",
        &[
            "--read-back",
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-01",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("rows 2 (conversion_id 7) and 3 (transaction_id T7) are both conversion 7"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0, "nothing sent");
    assert_eq!(emu.conversions().get(&7).map_or(0, |c| c.applied), 0);
}

#[test]
fn the_same_addition_under_another_id_is_recognised_once_cake_was_read() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(30_000), Faults::default());
    let window = ["--since", "2026-09-01", "--until", "2026-09-01"];
    // June: conversion 10 by its transaction id, +1.00 (CAKE read first: T10 is conversion 10).
    t.write(
        "june.csv",
        "transaction_id,payout,add_to_existing_payout\nT10,1.00,yes\n",
    );
    assert_eq!(run(&t, &emu, "june.csv", &window).code, 0);
    // The re-export names it by conversion id: held back, even without a window.
    t.write(
        "june-v2.csv",
        "conversion_id,payout,add_to_existing_payout\n10,1.00,yes\n",
    );
    let out = run(&t, &emu, "june-v2.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(results(&t, "june-v2.results.csv")[0]["status"], "skipped");
    // And the other way round: by conversion id first, by transaction id later (with a window).
    t.write(
        "july.csv",
        "conversion_id,payout,add_to_existing_payout\n11,2.00,yes\n",
    );
    assert_eq!(run(&t, &emu, "july.csv", &[]).code, 0);
    t.write(
        "july-v2.csv",
        "transaction_id,payout,add_to_existing_payout\nT11,2.00,yes\n",
    );
    let out = run(&t, &emu, "july-v2.csv", &window);
    assert_eq!(out.code, 1, "{out:?}");
    let l = &results(&t, "july-v2.results.csv")[0];
    assert_eq!(l["status"], "skipped", "{l:?}");
    assert!(l["message"].contains("july.csv"), "{l:?}");
    let ledger = emu.conversions();
    assert_eq!((ledger[&10].applied, ledger[&11].applied), (1, 1));
}

#[test]
fn an_addition_by_transaction_id_without_a_reading_is_found_by_a_later_reading() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(30_000), Faults::default());
    let window = ["--since", "2026-09-01", "--until", "2026-09-01"];
    // August: conversion 7 by its transaction id, no window: nothing resolves T7 then.
    t.write(
        "aug.csv",
        "transaction_id,payout,add_to_existing_payout\nT7,1.00,yes\n",
    );
    assert_eq!(run(&t, &emu, "aug.csv", &[]).code, 0);
    // The re-export by conversion id, read back: the reading shows conversion 7 is T7.
    t.write(
        "aug-v2.csv",
        "conversion_id,payout,add_to_existing_payout\n7,1.00,yes\n",
    );
    let mut args = vec!["--read-back"];
    args.extend(window);
    let out = run(&t, &emu, "aug-v2.csv", &args);
    assert_eq!(out.code, 1, "{out:?}");
    let l = &results(&t, "aug-v2.results.csv")[0];
    assert_eq!(l["status"], "skipped", "{l:?}");
    assert!(l["message"].contains("aug.csv"), "{l:?}");
    // The same without --read-back: the snapshot an additive sheet takes resolves it too.
    t.write(
        "aug-v3.csv",
        "conversion_id,payout,add_to_existing_payout,note\n7,1.00,yes,\n",
    );
    let out = run(&t, &emu, "aug-v3.csv", &window);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(results(&t, "aug-v3.results.csv")[0]["status"], "skipped");
    assert_eq!(emu.conversions()[&7].applied, 1);
}

#[test]
fn a_sheet_re_keyed_within_its_job_does_not_add_again() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(30_000), Faults::default());
    let args = [
        "--read-back",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
    ];
    t.write(
        "bonus.csv",
        "conversion_id,payout,add_to_existing_payout\n7,1.00,yes\n8,1.00,yes\n",
    );
    assert_eq!(run(&t, &emu, "bonus.csv", &args).code, 0);
    // The same job's sheet, its ids rewritten as transaction ids (and one new row).
    t.write(
        "bonus.csv",
        "transaction_id,payout,add_to_existing_payout\nT7,1.00,yes\nT8,1.00,yes\nT9,1.00,yes\n",
    );
    // Told it looks like a new sheet, the person says it is the same one edited.
    let mut edited = args.to_vec();
    edited.push("--edited-sheet");
    let out = run(&t, &emu, "bonus.csv", &edited);
    let lines = results(&t, "bonus.results.csv");
    let status: Vec<&str> = lines.iter().map(|l| l["status"].as_str()).collect();
    assert_eq!(status, ["skipped", "skipped", "updated"], "{out:?}");
    assert!(
        lines[0]["message"].contains("by this job") && lines[0]["message"].contains("row 2"),
        "{:?}",
        lines[0]
    );
    let ledger = emu.conversions();
    assert_eq!(
        (ledger[&7].applied, ledger[&8].applied, ledger[&9].applied),
        (1, 1, 1)
    );
}

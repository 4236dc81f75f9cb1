//! Settling unknown outcomes: a later reading decides what an in-doubt row did, and
//! `--resend-in-doubt` never sends again what a reading can show applied. Assertions are on the
//! emulator's ledger.

use crate::emu::{Emu, run};
use crate::exactly_once::{
    LATE_ARGS, additive_sheet, assert_applied_at_most_once, late_cake, wait_until_settled,
};
use crate::run::{Row, results};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::time::{Duration, Instant};

#[test]
fn resend_in_doubt_waits_for_the_settling_bound() {
    let t = TestDir::new();
    let emu = late_cake();
    let rows = additive_sheet(&t, "bonus.csv", 1, 100);
    let out = run(&t, &emu, "bonus.csv", &LATE_ARGS);
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    // The person asks at once for every in-doubt row to be sent again: while CAKE may still be
    // working on them, none is. (Rows a breaker stop left unsent on a loaded machine are sent
    // by the second run: only then may it make requests at all.)
    let first = results(&t, "bonus.results.csv");
    let doubted: Vec<&str> = first
        .iter()
        .filter(|l| l["status"] == "in_doubt")
        .map(|l| l["row"].as_str())
        .collect();
    let unsent = first
        .iter()
        .filter(|l| !matches!(l["status"].as_str(), "updated" | "in_doubt"))
        .count();
    let requests = emu.stats().requests;
    let mut again = LATE_ARGS.to_vec();
    again.push("--resend-in-doubt");
    let out = run(&t, &emu, "bonus.csv", &again);
    if unsent == 0 {
        assert_eq!(emu.stats().requests, requests, "{out:?}");
    }
    let lines = results(&t, "bonus.results.csv");
    for row in &doubted {
        let line = lines.iter().find(|l| l["row"] == *row).unwrap();
        assert_eq!(
            line["status"], "in_doubt",
            "row {row} was sent again: {line:?}"
        );
    }
    assert!(
        lines
            .iter()
            .filter(|l| l["status"] == "in_doubt")
            .all(|l| l["message"].contains("not re-sent although --resend-in-doubt selected it")),
        "{lines:?}"
    );
    assert_applied_at_most_once(&emu, &rows);
}

#[test]
fn resend_in_doubt_without_read_back_reads_first_when_it_can() {
    let t = TestDir::new();
    // Unknown outcomes of both kinds: applied with the answer lost, and never reached CAKE.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            drop_before_rate: 0.15,
            drop_after_rate: 0.15,
            seed: 9,
            ..Faults::default()
        },
    );
    let rows = additive_sheet(&t, "bonus.csv", 1, 100);
    let window = ["--since", "2026-09-01", "--until", "2026-09-01"];
    let out = run(&t, &emu, "bonus.csv", &window);
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    let lines = results(&t, "bonus.results.csv");
    let applied_to = |l: &std::collections::BTreeMap<i32, cake_recon::mock::Conversion>, id| {
        l.get(&id).map_or(0, |c| c.applied)
    };
    let ledger = emu.conversions();
    let (applied, not_applied): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .filter(|r| lines[usize::try_from(r.row - 2).unwrap()]["status"] == "in_doubt")
        .partition(|r| applied_to(&ledger, r.id) == 1);
    assert!(
        applied.len() >= 3 && !not_applied.is_empty(),
        "{} {}",
        applied.len(),
        not_applied.len()
    );
    wait_until_settled(&lines);
    // "Send them all again", without --read-back: the snapshot and the window are there, so
    // CAKE is read first and what it shows applied is settled, not sent again.
    let mut again = window.to_vec();
    again.extend(["--resend-in-doubt", "--settle-after", "1"]);
    let out = run(&t, &emu, "bonus.csv", &again);
    assert!(
        out.stderr
            .contains("read CAKE before sending anything again"),
        "{}",
        out.stderr
    );
    let lines = results(&t, "bonus.results.csv");
    let ledger = emu.conversions();
    for r in &applied {
        let l = &lines[usize::try_from(r.row - 2).unwrap()];
        assert_eq!(l["status"], "updated", "{l:?}");
    }
    for r in &rows {
        assert!(applied_to(&ledger, r.id) <= 1, "conversion {}", r.id);
    }
    // Those that had not applied wait for the bound, then are sent again (some may be in doubt
    // again: the same CAKE).
    wait_until_settled(&lines);
    run(&t, &emu, "bonus.csv", &again);
    let ledger = emu.conversions();
    for r in &rows {
        assert!(applied_to(&ledger, r.id) <= 1, "conversion {}", r.id);
    }
    let resent = not_applied
        .iter()
        .filter(|r| applied_to(&ledger, r.id) == 1)
        .count();
    assert!(resent > 0, "none of {} sent again", not_applied.len());
}

#[test]
fn an_additive_run_without_read_back_takes_the_snapshot_so_a_later_read_back_settles_it() {
    let t = TestDir::new();
    // Calls cut off before CAKE applies them, and calls applied with the answer lost: the
    // client cannot tell which is which.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            drop_before_rate: 0.15,
            drop_after_rate: 0.15,
            seed: 5,
            ..Faults::default()
        },
    );
    let rows = additive_sheet(&t, "bonus.csv", 1, 100);
    let window = ["--since", "2026-09-01", "--until", "2026-09-01"];
    let out = run(&t, &emu, "bonus.csv", &window);
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    assert!(
        out.stderr.contains("read CAKE before sending"),
        "{}",
        out.stderr
    );
    let in_doubt = results(&t, "bonus.results.csv")
        .iter()
        .filter(|l| l["status"] == "in_doubt")
        .count();
    assert!(in_doubt >= 10, "{in_doubt}");
    // A later run that reads back settles every one of them (the bound shortened for the test),
    // without a person deciding row by row; the verification does not cry wolf.
    let mut settle = window.to_vec();
    settle.extend(["--read-back", "--settle-after", "1"]);
    let started = Instant::now();
    loop {
        let out = run(&t, &emu, "bonus.csv", &settle);
        let lines = results(&t, "bonus.results.csv");
        if lines.iter().all(|l| l["status"] == "updated") {
            assert!(out.stdout.contains("0 not as sent"), "{}", out.stdout);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{out:?}");
        wait_until_settled(&lines);
    }
    let ledger = emu.conversions();
    for r in &rows {
        assert_eq!(ledger[&r.id].applied, 1, "conversion {}", r.id);
    }
}

#[test]
fn rows_sent_without_a_reading_from_before_are_not_verifiable_never_not_as_sent() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(30_000), Faults::default());
    // No window the first time: no snapshot is taken.
    additive_sheet(&t, "bonus.csv", 1, 30);
    let out = run(&t, &emu, "bonus.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    // Resumed with --read-back: every row applied exactly once, and the verification says it
    // cannot tell, rather than "not as sent".
    let out = run(
        &t,
        &emu,
        "bonus.csv",
        &[
            "--read-back",
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-01",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("0 not as sent"), "{}", out.stdout);
    assert!(
        out.stdout.contains("not verifiable: 30 additive rows")
            && out.stdout.contains("no reading from before this job wrote"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().requests, 30);
}

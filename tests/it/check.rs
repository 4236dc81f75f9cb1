//! `cake-recon check`: the sheet against what the emulator's reports say, read only.

use crate::emu::{Emu, check, run};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};

const WINDOW: [&str; 4] = ["--since", "2026-09-01", "--until", "2026-09-01"];

/// 30,000 conversions over September: 1,000 a day (a debug build parses a day in no time).
fn emulator() -> Emu {
    Emu::with(Ledger::generated(30_000), Faults::default())
}

/// The check file, parsed: the contract's six columns first.
fn lines(t: &TestDir, name: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    crate::run::read_rows(
        t,
        name,
        &[
            "row",
            "conversion_id",
            "request_session_id",
            "transaction_id",
            "status",
            "differences",
        ],
    )
}

/// A sheet adding 1.00 to the payout of conversions `1..=n`.
fn additions(n: i32) -> String {
    std::iter::once("conversion_id,payout,add_to_existing_payout\n".to_string())
        .chain((1..=n).map(|id| format!("{id},1.00,true\n")))
        .collect()
}

#[test]
fn a_sheet_already_applied_checks_correct_and_check_sends_nothing() {
    let t = TestDir::new();
    let emu = emulator();
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout,received,disposition_type\n\
         10,12.50,false,30,approved\n20,7,false,,rejected\n",
    );
    let before = check(&t, &emu, "s.csv", &WINDOW);
    assert_eq!(before.code, 1, "{before:?}");
    let l = lines(&t, "s.check.csv");
    assert_eq!(l[0]["status"], "differs");
    assert_eq!(
        l[0]["differences"],
        "payout 10.00 -> 12.50; received 15.00 -> 30.00; disposition pending -> approved"
    );
    assert_eq!(
        l[1]["differences"],
        "payout 10.00 -> 7.00; disposition pending -> rejected"
    );
    assert!(
        before.stdout.contains("Σ payout -0.50, Σ received 15.00"),
        "{}",
        before.stdout
    );
    assert_eq!(emu.stats().requests, 0, "check sends no UpdateConversion");
    assert!(emu.stats().report_requests >= 1);
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let after = check(&t, &emu, "s.csv", &WINDOW);
    assert_eq!(after.code, 0, "{after:?}");
    let l = lines(&t, "s.check.csv");
    assert!(l.iter().all(|l| l["status"] == "already_correct"), "{l:?}");
    assert_eq!(l[0]["cake_payout"], "12.5");
    assert!(
        after.stdout.contains("already_correct 2"),
        "{}",
        after.stdout
    );
    assert_eq!(emu.stats().requests, 2, "only the run sent");
}

#[test]
fn every_status_of_the_contract_is_reached() {
    let t = TestDir::new();
    let emu = emulator();
    t.write(
        "s.csv",
        "conversion_id,transaction_id,payout,add_to_existing_payout\n\
         1,,10.00,false\n\
         2,,5.00,true\n\
         3000000,,1.00,false\n\
         5,T6,1.00,false\n\
         x,,1.00,false\n",
    );
    let out = check(&t, &emu, "s.csv", &WINDOW);
    assert_eq!(out.code, 1, "{out:?}");
    let l = lines(&t, "s.check.csv");
    let statuses: Vec<&str> = l.iter().map(|l| l["status"].as_str()).collect();
    assert_eq!(
        statuses,
        [
            "already_correct",
            "additive",
            "not_found",
            "ambiguous",
            "invalid"
        ]
    );
    assert_eq!(l[1]["differences"], "payout now 10.00 (the row adds to it)");
    assert!(
        l[3]["differences"].contains("2 conversions match these ids: 5, 6"),
        "{l:?}"
    );
    assert!(l[4]["differences"].contains("conversion_id"), "{l:?}");
}

#[test]
fn the_window_comes_from_the_sheets_dates_or_must_be_given() {
    let t = TestDir::new();
    let emu = emulator();
    t.write("s.csv", "conversion_id,payout\n1500,10.00\n");
    let out = check(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--since 2026-09-01 --until 2026-09-30"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().report_requests, 0);
    // Conversion 1,500 of 30,000 spread over September converted on the 2nd.
    t.write(
        "s.csv",
        "conversion_id,payout,Conversion Date\n1500,10.00,09/02/2026 11:00\n",
    );
    let out = check(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("2026-09-01 to 2026-09-03"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_window_too_dense_to_page_through_is_split_and_pages_are_never_trusted() {
    let t = TestDir::new();
    // 30,000 conversions over September: 1,000 a day. CAKE here pages 100 rows at most and
    // stops 1,000 rows into any window.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            report_page_cap: 100,
            report_reach: 1_000,
            throttle_rate: 0.2,
            ..Faults::default()
        },
    );
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n1,10,false\n2500,10,false\n2999,10,false\n3000,10,false\n",
    );
    let out = check(
        &t,
        &emu,
        "s.csv",
        &["--since", "2026-09-01", "--until", "2026-09-03"],
    );
    assert_eq!(out.code, 0, "every row found and correct: {out:?}");
    let l = lines(&t, "s.check.csv");
    assert!(l.iter().all(|l| l["status"] == "already_correct"), "{l:?}");
    let read: u64 = out
        .stdout
        .split(" conversions read")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        read >= 3000,
        "every conversion of the window was read: {}",
        out.stdout
    );
}

/// The reader's fast path (ids found by plain search, only wanted rows parsed) finds exactly what
/// the full XML reader finds, on pages as the emulator serves them.
#[test]
fn the_fast_reader_and_the_full_reader_agree() {
    use cake_recon::internals::{Matcher, Targets, parse_page};
    use cake_recon::mock::event_conversions_page;
    use cake_recon::update::{ConversionUpdate, Held};

    /// Every row, through the full reader: a matcher that wants all, then filters as `Targets`.
    struct Everything(Vec<Held>);
    impl Matcher for Everything {
        fn wants(&self, _: i32, _: Option<i32>, _: Option<&str>) -> bool {
            true
        }
        fn take(&mut self, held: Held) {
            self.0.push(held);
        }
    }
    let day = |d| {
        chrono::NaiveDate::from_ymd_opt(2026, 9, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    };
    let ledger = Ledger::generated(30_000);
    let page = event_conversions_page(&ledger, day(1), day(3), 1, 2_000);
    let mut all = Everything(Vec::new());
    let info = parse_page(page.as_bytes(), &mut all).unwrap();
    assert_eq!((info.rows, info.row_count), (2_000, Some(2_000)));
    let mut targets = Targets::default();
    let row = |n: u64, conversion_id: i32, transaction_id: &str| ConversionUpdate {
        row: n,
        offer_id: 0,
        offer: cake_recon::update::Offer::Given,
        conversion_id,
        request_session_id: 0,
        transaction_id: transaction_id.into(),
        payout: rust_decimal::Decimal::ZERO,
        add_to_existing_payout: true,
        received: rust_decimal::Decimal::ZERO,
        received_option: cake_recon::update::ReceivedOption::NoChange,
        disposition_type: cake_recon::update::DispositionType::Approved,
        disposition_id: 0,
        update_revshare_payout: false,
        effective_date_option: cake_recon::update::EffectiveDateOption::Today,
        custom_date: None,
        note_to_append: String::new(),
        disallow_on_billing_status: "ignore".into(),
    };
    // By id, by transaction id, one with a forbidden character in its row (997), one absent.
    for (n, (id, tx)) in [(7, ""), (0, "T1500"), (997, ""), (1994, ""), (29_000, "")]
        .into_iter()
        .enumerate()
    {
        targets.add(&row(n as u64 + 2, id, tx));
    }
    parse_page(page.as_bytes(), &mut targets).unwrap();
    for (sheet_row, id) in [(2, 7), (3, 1500), (4, 997), (5, 1994)] {
        let found = targets.found(sheet_row);
        assert_eq!(found.len(), 1, "row {sheet_row}");
        let full = all.0.iter().find(|h| h.conversion_id == id).unwrap();
        assert_eq!(&found[0], full, "row {sheet_row}");
    }
    assert!(targets.found(6).is_empty());
}

#[test]
fn read_back_skips_what_cake_holds_writes_an_undo_sheet_that_puts_cake_back_and_verifies() {
    let t = TestDir::new();
    let emu = emulator();
    // Conversion 1 already holds payout 10.00 and pending (the emulator's starting values).
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout,received,disposition_type,note_to_append\n\
         1,10.00,false,,pending,\n\
         2,12.50,false,30,approved,\n\
         3,2.00,true,,,\n\
         4,,,,rejected,checked\n",
    );
    let before = emu.conversions();
    let out = run(
        &t,
        &emu,
        "s.csv",
        &[
            "--read-back",
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-01",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.stats().requests, 3, "the unchanged row was not sent");
    let results = crate::run::results(&t, "s.results.csv");
    assert_eq!(results[0]["status"], "unchanged");
    // What CAKE held before, after the contract's columns.
    assert_eq!(
        (
            results[1]["payout_before"].as_str(),
            results[1]["received_before"].as_str(),
            results[1]["disposition_before"].as_str()
        ),
        ("10.00", "15.00", "pending")
    );
    assert!(
        results[1..].iter().all(|l| l["status"] == "updated"),
        "{results:?}"
    );
    assert!(
        out.stdout
            .contains("verified after sending: 3 rows, 0 not as sent")
            && out.stdout.contains("1 rows already held their values"),
        "{}",
        out.stdout
    );
    let c = emu.conversions();
    assert_eq!(c[&2].payout.to_string(), "12.50");
    assert_eq!(c[&3].payout.to_string(), "12.00");
    assert_eq!(c[&4].disposition_type, "rejected");
    // The undo sheet is a sheet cake-recon accepts, and puts back what CAKE held.
    let undo = t.read("s.undo.csv");
    assert!(undo.contains("a note cannot be taken back"), "{undo}");
    let back = run(&t, &emu, "s.undo.csv", &[]);
    assert_eq!(back.code, 0, "{back:?}");
    let restored = emu.conversions();
    for id in [2, 3, 4] {
        let (was, now) = (&before.get(&id), &restored[&id]);
        let was_payout = was.map_or("10.00".to_string(), |w| w.payout.to_string());
        assert_eq!(
            now.payout.normalize().to_string(),
            was_payout
                .parse::<rust_decimal::Decimal>()
                .unwrap()
                .normalize()
                .to_string(),
            "conversion {id}"
        );
        assert_eq!(now.disposition_type, "pending", "conversion {id}");
    }
    assert_eq!(restored[&2].revenue.normalize().to_string(), "15");
    assert_eq!(
        restored[&4].notes,
        ["checked"],
        "a note stays: it cannot be taken back"
    );
}

#[test]
fn in_doubt_additive_rows_are_settled_by_reading_back_and_never_applied_twice() {
    let t = TestDir::new();
    // Half the calls lose their connection: before CAKE applied them, or after.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            drop_before_rate: 0.25,
            drop_after_rate: 0.25,
            seed: 7,
            ..Faults::default()
        },
    );
    t.write("s.csv", additions(40));
    let args = [
        "--read-back",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
        "--timeout",
        "0.3",
        "--max-attempts",
        "2",
        // Shortened for the test: nothing here lands late.
        "--settle-after",
        "1",
    ];
    let mut settled_seen = false;
    let mut finished = false;
    for _ in 0..25 {
        // Rows cut off before CAKE applied them settle only after the bound: wait for it, as
        // the rows themselves say.
        if t.path("s.results.csv").exists() {
            crate::exactly_once::wait_until_settled(&crate::run::results(&t, "s.results.csv"));
        }
        let out = run(&t, &emu, "s.csv", &args);
        // With half the calls cut off, an error storm may stop a run (exit 3): run it again.
        assert!(matches!(out.code, 0 | 1 | 3), "{out:?}");
        let lines = crate::run::results(&t, "s.results.csv");
        settled_seen |= lines
            .iter()
            .any(|l| l["message"].starts_with("settled by reading back: applied"));
        if lines.iter().all(|l| l["status"] == "updated") {
            finished = true;
            break;
        }
    }
    assert!(
        finished,
        "every row ends updated once reading back settles them"
    );
    assert!(
        settled_seen,
        "some rows were settled as applied without being sent again"
    );
    for (id, c) in emu.conversions() {
        assert_eq!(
            c.applied, 1,
            "conversion {id} was applied {} times",
            c.applied
        );
        assert_eq!(c.payout.to_string(), "11.00", "conversion {id}");
    }
}

#[test]
fn the_sandbox_answers_reports_too() {
    let t = TestDir::new();
    t.sample("approvals.csv");
    let out = t.run(&[
        "check",
        "approvals.csv",
        "--sandbox",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("differs"), "{}", out.stdout);
    let l = lines(&t, "approvals.check.csv");
    assert!(
        !l.is_empty() && l.iter().all(|l| l["status"] != "not_found"),
        "{l:?}"
    );
}

#[test]
fn an_undo_sheet_onto_a_file_cake_recon_did_not_write_is_refused() {
    let t = TestDir::new();
    let emu = emulator();
    t.write("s.csv", "conversion_id,payout\n1,2.00\n");
    t.write("s.undo.csv", "my,own\nnotes,here\n");
    let out = run(
        &t,
        &emu,
        "s.csv",
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
        out.stderr.contains("--undo s.undo.csv: that file exists"),
        "{}",
        out.stderr
    );
    assert_eq!(t.read("s.undo.csv"), "my,own\nnotes,here\n");
    assert_eq!((emu.stats().requests, emu.stats().report_requests), (0, 0));
}

#[test]
fn rows_a_run_leaves_in_doubt_are_settled_by_the_same_run_when_reading_back() {
    let t = TestDir::new();
    // A third of the calls are applied, then their connection is cut: in doubt.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            drop_after_rate: 0.3,
            seed: 11,
            ..Faults::default()
        },
    );
    t.write("s.csv", additions(30));
    let out = run(
        &t,
        &emu,
        "s.csv",
        &[
            "--read-back",
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-01",
            "--timeout",
            "0.3",
        ],
    );
    assert_eq!(out.code, 0, "one command, nothing left in doubt: {out:?}");
    let lines = crate::run::results(&t, "s.results.csv");
    assert!(lines.iter().all(|l| l["status"] == "updated"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["message"].starts_with("settled by reading back: applied")),
        "{lines:?}"
    );
    for (id, c) in emu.conversions() {
        assert_eq!(c.applied, 1, "conversion {id}");
    }
    assert_eq!(emu.stats().requests, 30, "no row was sent twice");
}

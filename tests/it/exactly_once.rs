//! "An addition is never applied twice", tried the ways it breaks: a CAKE that finishes
//! requests after the client gave up, and the same sheet under another name, path or output.
//! Every assertion is on the emulator's ledger (how many calls each conversion took).

use crate::emu::{Emu, KEY, run};
use crate::run::{Row, results};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// `n` rows on conversions `first..`, each adding `+1.00` to the payout (`adds` decides the
/// amount of row i).
pub(crate) fn additive_sheet(t: &TestDir, name: &str, first: i32, n: usize) -> Vec<Row> {
    let mut text = String::from("conversion_id,payout,add_to_existing_payout\n");
    let mut rows = Vec::new();
    for i in 0..n {
        let id = first + i32::try_from(i).unwrap();
        writeln!(text, "{id},1.00,yes").unwrap();
        rows.push(Row {
            row: u64::try_from(i).unwrap() + 2,
            id,
            payout: rust_decimal::Decimal::ONE,
            additive: true,
            received: rust_decimal::Decimal::ZERO,
            note: String::new(),
        });
    }
    t.write(name, text);
    rows
}

/// The late CAKE: a fifth of the calls are held 1.5 s (3x the client's 0.5 s timeout), then
/// applied whether or not the client is still there.
pub(crate) fn late_cake() -> Emu {
    cake(0.0)
}

/// [`late_cake`], and a share of calls cut off before CAKE does any work (the client cannot
/// tell them from the late ones: both are unknown outcomes).
fn cake(drop_before_rate: f64) -> Emu {
    Emu::with(
        Ledger::generated(30_000),
        Faults {
            land_late_rate: 0.2,
            land_late_ms: 1500,
            drop_before_rate,
            seed: 77,
            ..Faults::default()
        },
    )
}

pub(crate) const LATE_ARGS: [&str; 8] = [
    "--timeout",
    "0.5",
    "--concurrency",
    "16",
    "--rate",
    "0",
    "--max-attempts",
    "3",
];

/// Waits until every held call has landed, then checks no conversion took a call twice.
pub(crate) fn assert_applied_at_most_once(emu: &Emu, rows: &[Row]) -> usize {
    assert!(
        emu.wait_for(Duration::from_secs(30), |s| s.landing == 0),
        "late calls still held after 30 s"
    );
    let ledger = emu.conversions();
    let mut once = 0;
    for r in rows {
        let applied = ledger.get(&r.id).map_or(0, |c| c.applied);
        assert!(applied <= 1, "conversion {} took {applied} calls", r.id);
        once += usize::try_from(applied).unwrap();
    }
    once
}

#[test]
fn late_landings_without_read_back_stay_in_doubt_and_are_never_resent() {
    let t = TestDir::new();
    let emu = late_cake();
    let rows = additive_sheet(&t, "bonus.csv", 1, 120);
    // Exit 1, or 3 when the timeouts come ten in a row (the error-storm breaker): resumable.
    let out = run(&t, &emu, "bonus.csv", &LATE_ARGS);
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    let lines = results(&t, "bonus.results.csv");
    let in_doubt = lines.iter().filter(|l| l["status"] == "in_doubt").count();
    assert!(
        in_doubt >= 10,
        "a fifth of 120 held past the timeout: {in_doubt}"
    );
    // Rows a breaker stop left unsent (a loaded machine makes more timeouts) are sent by the
    // next run; nothing else is.
    let unsent = lines
        .iter()
        .filter(|l| !matches!(l["status"].as_str(), "updated" | "in_doubt"))
        .count();
    // The same command again, as cron would: nothing in doubt is sent again.
    let before = emu.stats().requests;
    let again = run(&t, &emu, "bonus.csv", &LATE_ARGS);
    assert!(matches!(again.code, 1 | 3), "{again:?}");
    let sent = emu.stats().requests - before;
    assert!(
        sent <= u64::try_from(unsent).unwrap() * 3,
        "in-doubt rows are not re-sent: {sent} requests for {unsent} unsent rows"
    );
    let applied = assert_applied_at_most_once(&emu, &rows);
    // Every row did apply once in the end (the held calls landed).
    assert_eq!(applied, rows.len());
    // No row says `updated` that CAKE did not apply.
    for l in results(&t, "bonus.results.csv") {
        assert!(
            matches!(l["status"].as_str(), "updated" | "in_doubt"),
            "{l:?}"
        );
    }
}

#[test]
fn late_landings_with_read_back_settle_only_after_the_bound_and_apply_once() {
    let t = TestDir::new();
    let emu = cake(0.1);
    let rows = additive_sheet(&t, "bonus.csv", 1, 120);
    let mut args = LATE_ARGS.to_vec();
    // 6 s: longer than any landing here (1.5 s), as 10 minutes is for a real CAKE.
    args.extend([
        "--read-back",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
        "--settle-after",
        "6",
    ]);
    let out = run(&t, &emu, "bonus.csv", &args);
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    let lines = results(&t, "bonus.results.csv");
    let in_doubt = lines.iter().filter(|l| l["status"] == "in_doubt").count();
    assert!(in_doubt >= 10, "{in_doubt}");
    // Rows a breaker stop left unsent are sent by the next run; nothing else is.
    let unsent = lines
        .iter()
        .filter(|l| !matches!(l["status"].as_str(), "updated" | "in_doubt"))
        .count();
    // Run at once again: the reading is taken before the bound, nothing is settled "not
    // applied", each row says when it can be.
    let requests = emu.stats().requests;
    let again = run(&t, &emu, "bonus.csv", &args);
    let lines = results(&t, "bonus.results.csv");
    let waiting = lines
        .iter()
        .filter(|l| l["status"] == "in_doubt" && l["message"].contains("settles after"))
        .count();
    assert!(
        waiting >= 5,
        "the cut-off rows wait for the bound: {again:?}"
    );
    let sent = emu.stats().requests - requests;
    assert!(
        sent <= u64::try_from(unsent).unwrap() * 3,
        "nothing in doubt re-sent before the bound: {sent} requests for {unsent} unsent rows"
    );
    // The same command after the bound (a cron job's next tick) settles every row, bounded in
    // count and time.
    let started = Instant::now();
    let mut runs = 0;
    loop {
        let out = run(&t, &emu, "bonus.csv", &args);
        runs += 1;
        let lines = results(&t, "bonus.results.csv");
        if lines.iter().all(|l| l["status"] == "updated") {
            assert_eq!(out.code, 0, "{out:?}");
            break;
        }
        assert!(
            runs < 20 && started.elapsed() < Duration::from_secs(90),
            "not settled after {runs} runs: {out:?} {:?}",
            lines
                .iter()
                .filter(|l| l["status"] != "updated")
                .collect::<Vec<_>>()
        );
        // Not before the time the rows themselves name (what a person would wait for).
        wait_until_settled(&lines);
    }
    let applied = assert_applied_at_most_once(&emu, &rows);
    assert_eq!(applied, rows.len(), "every addition applied exactly once");
}

/// Waits until the latest "settles after YYYY-MM-DD HH:MM:SS UTC" the results name has passed
/// (at most 30 s): the tool's own word for when the same command can settle them.
pub(crate) fn wait_until_settled(lines: &[std::collections::BTreeMap<String, String>]) {
    let latest = lines
        .iter()
        .filter_map(|l| {
            let m = &l["message"];
            let at = m.split("settles after ").nth(1)?.get(..19)?;
            chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").ok()
        })
        .max();
    if let Some(at) = latest {
        let wait = (at.and_utc() - chrono::Utc::now() + chrono::Duration::milliseconds(1100))
            .to_std()
            .unwrap_or_default()
            .min(Duration::from_secs(30));
        std::thread::sleep(wait);
    }
}

/// Applies `bonus.csv` (all additive) once; returns the rows.
fn applied_once(t: &TestDir, emu: &Emu) -> Vec<Row> {
    let rows = additive_sheet(t, "bonus.csv", 1, 20);
    let out = run(t, emu, "bonus.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    rows
}

fn assert_each_applied_once(emu: &Emu, rows: &[Row]) {
    let ledger = emu.conversions();
    for r in rows {
        assert_eq!(
            ledger.get(&r.id).map_or(0, |c| c.applied),
            1,
            "conversion {}",
            r.id
        );
    }
}

#[test]
fn the_same_sheet_under_another_name_path_or_output_is_refused() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = applied_once(&t, &emu);
    let requests = emu.stats().requests;
    std::fs::copy(t.path("bonus.csv"), t.path("bonus (1).csv")).unwrap();
    std::fs::copy(t.path("bonus.csv"), t.path("copy.csv")).unwrap();
    std::fs::hard_link(t.path("bonus.csv"), t.path("hard.csv")).unwrap();
    std::os::unix::fs::symlink(t.path("bonus.csv"), t.path("link.csv")).unwrap();
    std::fs::create_dir(t.path("elsewhere")).unwrap();
    std::fs::copy(t.path("bonus.csv"), t.path("elsewhere/bonus.csv")).unwrap();
    let tries: [(&str, &[&str]); 6] = [
        ("bonus (1).csv", &[]),
        ("copy.csv", &[]),
        ("hard.csv", &[]),
        ("link.csv", &[]),
        ("elsewhere/bonus.csv", &[]),
        ("bonus.csv", &["--output", "other.results.csv"]),
    ];
    for (sheet, extra) in tries {
        let out = run(&t, &emu, sheet, extra);
        assert_eq!(out.code, 2, "{sheet} {extra:?}: {out:?}");
        assert!(
            out.stderr.contains("already applied") && out.stderr.contains("bonus.csv"),
            "{sheet}: names the earlier file: {}",
            out.stderr
        );
        assert!(out.stderr.contains("--same-sheet-again"), "{}", out.stderr);
        assert_eq!(emu.stats().requests, requests, "{sheet}: nothing sent");
    }
    assert_each_applied_once(&emu, &rows);
    // Meaning it: the copy is sent, but its additions already applied are still skipped.
    let out = run(&t, &emu, "copy.csv", &["--same-sheet-again"]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "copy.results.csv");
    assert!(lines.iter().all(|l| l["status"] == "skipped"), "{lines:?}");
    assert!(
        lines[0]["message"].contains("bonus.csv") && lines[0]["message"].contains("another job"),
        "{lines:?}"
    );
    assert!(out.stdout.contains("were NOT sent"), "{}", out.stdout);
    assert_eq!(emu.stats().requests, requests);
    assert_each_applied_once(&emu, &rows);
    // Both flags: added again, as asked for by name.
    let out = run(
        &t,
        &emu,
        "copy.csv",
        &["--same-sheet-again", "--same-additions-again"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(rows.iter().all(|r| emu.conversions()[&r.id].applied == 2));
}

#[test]
fn another_sheet_with_the_same_additions_skips_them_and_sends_the_rest() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = applied_once(&t, &emu);
    // Next week's re-export: the same 20 additions, one new row, other bytes.
    let mut text = t.read("bonus.csv");
    text.push_str("500,3.00,yes\n");
    t.write("bonus-v2.csv", text);
    let out = run(&t, &emu, "bonus-v2.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "bonus-v2.results.csv");
    assert_eq!(
        lines.iter().filter(|l| l["status"] == "skipped").count(),
        20,
        "{lines:?}"
    );
    assert_eq!(lines[20]["status"], "updated");
    assert!(
        out.stdout.contains("20 additive rows were NOT sent"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Σ payout 20.00"), "{}", out.stdout);
    assert_each_applied_once(&emu, &rows);
    assert_eq!(emu.conversions()[&500].applied, 1);
    // A different amount on the same conversion is another addition: sent.
    t.write(
        "extra.csv",
        "conversion_id,payout,add_to_existing_payout\n1,5.00,yes\n",
    );
    let out = run(&t, &emu, "extra.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&1].applied, 2);
}

#[test]
fn a_deleted_checkpoint_does_not_make_a_new_job_of_an_applied_sheet() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = applied_once(&t, &emu);
    std::fs::remove_file(t.path("bonus.results.csv.ckpt")).unwrap();
    let out = run(&t, &emu, "bonus.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    // The advice is not "run the same command" (that meets the same refusal).
    assert!(
        out.stderr.contains("that checkpoint is gone") && out.stderr.contains("--same-sheet-again"),
        "{}",
        out.stderr
    );
    // Said to send it as a new job: the rows the journal shows applied are skipped.
    let out = run(&t, &emu, "bonus.csv", &["--same-sheet-again"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        results(&t, "bonus.results.csv")
            .iter()
            .all(|l| l["status"] == "skipped")
    );
    assert_each_applied_once(&emu, &rows);
}

#[test]
fn a_sandbox_trial_is_not_journaled() {
    let t = TestDir::new();
    additive_sheet(&t, "bonus.csv", 1, 5);
    let out = t.run(&["run", "bonus.csv", "--sandbox"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!t.journal().exists(), "a trial writes no journal");
}

#[test]
fn history_shows_every_change_to_a_conversion() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    applied_once(&t, &emu);
    // A rerun (nothing sent) and a refused copy add nothing to the history.
    assert_eq!(run(&t, &emu, "bonus.csv", &[]).code, 0);
    std::fs::copy(t.path("bonus.csv"), t.path("bonus (1).csv")).unwrap();
    assert_eq!(run(&t, &emu, "bonus (1).csv", &[]).code, 2);
    let out = t.run(&["history", "--conversion", "7"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("conversion 7"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(
        lines[0].contains("payout +1.00") && lines[0].contains("updated"),
        "{}",
        out.stdout
    );
    assert!(lines[0].contains("bonus.csv"), "{}", out.stdout);
    assert!(lines[0].contains(&emu.url), "{}", out.stdout);
    // The month as CSV, for the auditor: one line per update sent.
    let out = t.run(&["history", "--csv", "--base-url", &emu.url]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1 + 20, "{}", out.stdout);
    assert!(out.stdout.starts_with("sent_at,instance,conversion,payout"));
    // The key never reaches the journal.
    let bytes = std::fs::read(t.journal()).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(KEY));
}

#[test]
fn the_dry_run_says_what_the_journal_would_refuse_and_skip() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    applied_once(&t, &emu);
    std::fs::copy(t.path("bonus.csv"), t.path("bonus (1).csv")).unwrap();
    let out = run(&t, &emu, "bonus (1).csv", &["--dry-run"]);
    assert!(
        out.stdout
            .contains("A run would be refused: these very bytes were already applied"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("20 additive rows would NOT be sent")
            && out.stdout.contains("Σ payout 20.00"),
        "{}",
        out.stdout
    );
}

#[test]
fn additive_rows_without_a_window_are_told_before_sending() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    additive_sheet(&t, "bonus.csv", 1, 3);
    // The dry run says it as the run will.
    let preview = run(&t, &emu, "bonus.csv", &["--dry-run"]);
    assert!(
        preview
            .stdout
            .contains("Note: additive rows without a window: an unknown outcome will need your"),
        "{}",
        preview.stdout
    );
    let out = run(&t, &emu, "bonus.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("additive rows without a window: an unknown outcome will need your decision"),
        "{}",
        out.stderr
    );
    // With a window, neither says it.
    additive_sheet(&t, "more.csv", 10, 3);
    let window = [
        "--dry-run",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
    ];
    let preview = run(&t, &emu, "more.csv", &window);
    assert!(
        !preview.stdout.contains("without a window"),
        "{}",
        preview.stdout
    );
}

#[test]
fn the_dry_run_stops_where_the_run_would_for_a_sheet_that_looks_new() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    applied_once(&t, &emu);
    // Next month's sheet, saved over this month's file name.
    additive_sheet(&t, "bonus.csv", 100, 20);
    let preview = run(&t, &emu, "bonus.csv", &["--dry-run"]);
    assert_eq!(preview.code, 2, "{preview:?}");
    assert!(
        preview
            .stdout
            .contains("A run would stop before sending anything: the sheet looks like a new one"),
        "{}",
        preview.stdout
    );
    let out = run(&t, &emu, "bonus.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("the sheet looks like a new one"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_quiet_line_counts_the_skipped_rows() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    applied_once(&t, &emu);
    // The same additions in another sheet (one more row): 20 skipped, 1 sent.
    let mut text = std::fs::read_to_string(t.path("bonus.csv")).unwrap();
    text.push_str("500,1.00,yes\n");
    t.write("again.csv", text);
    let out = run(&t, &emu, "again.csv", &["-q", "--same-sheet-again"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("updated 1, skipped 20,"),
        "{}",
        out.stderr
    );
}

#[test]
fn two_copies_started_at_the_same_moment_apply_once() {
    let t = TestDir::new();
    let emu = Emu::start(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let rows = additive_sheet(&t, "bonus.csv", 1, 40);
    std::fs::copy(t.path("bonus.csv"), t.path("bonus (1).csv")).unwrap();
    // A person and a cron job, each with a copy, at once.
    let a = crate::emu::spawn(&t, &emu, "bonus.csv", &["--concurrency", "2"]);
    let b = crate::emu::spawn(&t, &emu, "bonus (1).csv", &["--concurrency", "2"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort_unstable();
    assert_eq!(
        codes,
        [Some(0), Some(2)],
        "one applies, the other is refused: {} / {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_each_applied_once(&emu, &rows);
}

#[test]
fn the_settling_bound_counts_from_the_last_request_not_the_intent() {
    let t = TestDir::new();
    // Half the calls are throttled with a 3 s Retry-After before CAKE looks at them; every call
    // that gets through lands 1.5 s late, past the client's 0.5 s timeout. A row's request may
    // so leave 3 s or more after its intent was committed.
    let emu = Emu::with(
        Ledger::generated(30_000),
        Faults {
            throttle_rate: 0.5,
            retry_after: 3,
            land_late_rate: 1.0,
            land_late_ms: 1500,
            seed: 5,
            ..Faults::default()
        },
    );
    let rows = additive_sheet(&t, "bonus.csv", 1, 8);
    let args = [
        "--timeout",
        "0.5",
        "--rate",
        "0",
        "--max-attempts",
        "10",
        "--read-back",
        "--since",
        "2026-09-01",
        "--until",
        "2026-09-01",
        // Longer than a landing (1.5 s), shorter than a Retry-After pause plus a landing.
        "--settle-after",
        "3",
    ];
    let started = Instant::now();
    loop {
        let out = run(&t, &emu, "bonus.csv", &args);
        let lines = results(&t, "bonus.results.csv");
        if lines.iter().all(|l| l["status"] == "updated") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not settled: {out:?}"
        );
        wait_until_settled(&lines);
    }
    let applied = assert_applied_at_most_once(&emu, &rows);
    assert_eq!(applied, rows.len());
}

#[test]
fn the_same_instance_written_another_way_is_the_same_instance() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = applied_once(&t, &emu);
    std::fs::copy(t.path("bonus.csv"), t.path("copy.csv")).unwrap();
    let shouted = format!("{}/./", emu.url.replace("http://", "HTTP://"));
    let out = t.run_env(
        &["run", "copy.csv", "--base-url", &shouted, "--rate", "0"],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("already applied"), "{}", out.stderr);
    assert_each_applied_once(&emu, &rows);
}

#[test]
fn a_config_file_names_the_shared_journal() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    additive_sheet(&t, "bonus.csv", 1, 3);
    t.write(
        "cake.toml",
        "journal = \"shared/journal.sqlite\"\njournal-days = 30\n",
    );
    let out = run(&t, &emu, "bonus.csv", &["--config", "cake.toml"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(t.path("shared/journal.sqlite").exists());
    assert!(!t.journal().exists(), "not the default one");
    let out = t.run(&["history", "--journal", "shared/journal.sqlite", "--csv"]);
    assert_eq!(out.stdout.lines().count(), 4, "{out:?}");
}

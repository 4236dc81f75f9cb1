//! Checkpoint and resume: refusals (garbage, truncated, locked, mismatched), --restart,
//! --resend-in-doubt, and the kill -9 crash loop.

use crate::emu::{Emu, KEY, args, run, spawn};
use crate::run::{Row, check, results, sheet};
use crate::util::TestDir;
use cake_recon::mock::Faults;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits (bounded) until the emulator has seen `n` requests.
fn wait_for_requests(emu: &Emu, n: u64) {
    emu.wait_for(Duration::from_secs(20), |s| s.requests >= n);
}

#[test]
fn rerun_after_completion_sends_nothing_and_rebuilds_the_output() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = sheet(&t, "s.csv", 1, 40, 2);
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let first = t.read("s.results.csv");
    std::fs::remove_file(t.path("s.results.csv")).unwrap();
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("40 rows were finished by an earlier run"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().requests, 40, "nothing sent twice");
    assert_eq!(t.read("s.results.csv"), first);
    check(
        &rows,
        &results(&t, "s.results.csv"),
        &emu.conversions(),
        true,
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path("s.results.csv.ckpt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn garbage_and_truncated_checkpoints_are_refused() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    sheet(&t, "s.csv", 1, 10, 2);
    t.write("s.results.csv.ckpt", "this is not a database\n");
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("is not a cake-recon checkpoint"),
        "{}",
        out.stderr
    );
    assert_eq!(
        t.read("s.results.csv.ckpt"),
        "this is not a database\n",
        "left untouched"
    );
    assert_eq!(emu.stats().requests, 0);

    // A real checkpoint, cut in half.
    std::fs::remove_file(t.path("s.results.csv.ckpt")).unwrap();
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let bytes = std::fs::read(t.path("s.results.csv.ckpt")).unwrap();
    let _ = std::fs::remove_file(t.path("s.results.csv.ckpt-wal"));
    let _ = std::fs::remove_file(t.path("s.results.csv.ckpt-shm"));
    std::fs::write(t.path("s.results.csv.ckpt"), &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("integrity check")
            || out.stderr.contains("not a cake-recon checkpoint"),
        "{}",
        out.stderr
    );
    assert_eq!(
        emu.stats().requests,
        10,
        "nothing sent on a damaged checkpoint"
    );

    // Someone else's SQLite database.
    let other = t.path("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let out = run(&t, &emu, "s.csv", &["--checkpoint", "other.db"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("not a cake-recon checkpoint"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_run_on_the_same_checkpoint_is_refused_and_status_reads_it() {
    let t = TestDir::new();
    let emu = Emu::start(Faults {
        latency_ms: 50,
        ..Faults::default()
    });
    sheet(&t, "s.csv", 1, 200, 2);
    let first = spawn(&t, &emu, "s.csv", &["--rate", "20", "--concurrency", "2"]);
    wait_for_requests(&emu, 5);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 4, "another run holds the checkpoint: {out:?}");
    assert!(
        out.stderr
            .contains(&format!("is in use by pid {}", first.id())),
        "{}",
        out.stderr
    );
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status
            .stdout
            .contains(&format!("running:  yes — pid {}", first.id())),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("of 200 valid rows have no final outcome"),
        "{}",
        status.stdout
    );
    Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    // Now the lock is free: the same command resumes and completes.
    let rows: Vec<Row> = sheet(&t, "unused.csv", 1, 200, 2);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    check(
        &rows,
        &results(&t, "s.results.csv"),
        &emu.conversions(),
        true,
    );
    assert!(emu.conversions().values().all(|c| c.applied == 1));
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    assert!(
        status.stdout.contains("rows:     updated 200"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("remaining: 0 of 200"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("running:  no"), "{}", status.stdout);
}

#[test]
fn another_target_is_refused_an_edited_sheet_continues_the_job() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    sheet(&t, "s.csv", 1, 10, 2);
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let out = run(&t, &emu, "s.csv", &["--api-version", "2"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("api_version was 4, now 2") && out.stderr.contains("--output"),
        "{}",
        out.stderr
    );
    // One row more: only that row is sent; the ten keep their outcome.
    sheet(&t, "s.csv", 1, 11, 2);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("the input file differs")
            && out.stdout.contains("10 earlier outcomes found their row"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().requests, 11);
    // The first run applied additive rows: a plain --restart refuses to add them again.
    let out = run(&t, &emu, "s.csv", &["--restart"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--restart-resend-additive"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 11);
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--restart", "--restart-resend-additive"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.stats().requests, 22, "--restart sends every row again");
    assert_eq!(results(&t, "s.results.csv").len(), 11);
}

#[test]
fn in_doubt_rows_are_kept_until_resend_in_doubt() {
    let t = TestDir::new();
    let emu = Emu::start(Faults {
        drop_after_rate: 0.15,
        retry_after: 0,
        seed: 9,
        ..Faults::default()
    });
    let rows = sheet(&t, "s.csv", 1, 40, 1);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    let doubts: Vec<u64> = lines
        .iter()
        .filter(|l| l["status"] == "in_doubt")
        .map(|l| l["row"].parse().unwrap())
        .collect();
    assert!(!doubts.is_empty());
    check(&rows, &lines, &emu.conversions(), true);
    let sent = emu.stats().requests;

    // The same command again: nothing is sent, the in-doubt rows stay in doubt.
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(emu.stats().requests, sent);
    let again = results(&t, "s.results.csv");
    assert_eq!(again, lines);
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    assert!(
        status
            .stdout
            .contains(&format!("in doubt: {}", doubts.len())),
        "{}",
        status.stdout
    );

    // The user checked CAKE and asks for them to be sent again.
    let emu_applied_before: Vec<u32> = rows
        .iter()
        .map(|r| emu.conversions().get(&r.id).map_or(0, |c| c.applied))
        .collect();
    // (Once the settling bound has passed since the requests left: 1 s for the test.)
    std::thread::sleep(Duration::from_millis(1100));
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--resend-in-doubt", "--settle-after", "1"],
    );
    let after = results(&t, "s.results.csv");
    assert!(out.code == 0 || out.code == 1, "{out:?}");
    let ledger = emu.conversions();
    for (i, r) in rows.iter().enumerate() {
        let now = ledger.get(&r.id).map_or(0, |c| c.applied);
        if doubts.contains(&r.row) {
            assert_eq!(now, emu_applied_before[i] + 1, "row {}: sent again", r.row);
        } else {
            assert_eq!(
                now, emu_applied_before[i],
                "row {}: not in doubt, not re-sent",
                r.row
            );
            assert_eq!(after[i]["status"], "updated");
        }
    }
}

/// Resumes to completion (with read-back, until the last run's own faults are settled too) and
/// checks the ledger; returns the final results.
fn resume_to_the_end(
    t: &TestDir,
    emu: &Emu,
    rows: &[crate::run::Row],
    extra: &[&str],
    read_back: bool,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines;
    let mut resumes = 0;
    // Unknown outcomes settle only once the settling bound has passed since their requests
    // left: the same command is run again until then (as a cron job's next tick would),
    // bounded in count and time.
    let started = Instant::now();
    loop {
        let out = run(t, emu, "s.csv", extra);
        assert!(matches!(out.code, 0 | 1 | 3), "{out:?}");
        resumes += 1;
        lines = results(t, "s.results.csv");
        let unsettled = lines
            .iter()
            .any(|l| l["status"] == "in_doubt" || l["message"].starts_with("not sent"));
        if !read_back || !unsettled || resumes >= 60 || started.elapsed() > Duration::from_secs(120)
        {
            assert!(out.code == 0 || out.code == 1, "{out:?}");
            break;
        }
    }
    // Every late landing has landed before the ledger is read.
    assert!(
        emu.wait_for(Duration::from_secs(30), |s| s.landing == 0),
        "late landings still held after 30 s"
    );
    check(rows, &lines, &emu.conversions(), true);
    if read_back {
        let ledger = emu.conversions();
        for (r, l) in rows.iter().zip(&lines) {
            assert_ne!(
                l["status"], "in_doubt",
                "row {}: left in doubt: {l:?}",
                r.row
            );
            if r.additive {
                assert_eq!(
                    ledger.get(&r.id).map_or(0, |c| c.applied),
                    1,
                    "row {}: every additive row applied exactly once",
                    r.row
                );
            }
        }
    }
    lines
}

/// The crash loop: kill -9 at random moments, resume, and check the ledger. `kills` bounded.
/// With `read_back`, every run reads CAKE first: unknown outcomes are settled, so at the end no
/// row may be left `in_doubt` and every additive row is applied exactly once.
fn crash_loop(kills: usize, rows_n: usize, read_back: bool) {
    let t = TestDir::new();
    // 1,000 conversions a day: the read-back window (September 1st) holds the sheet's.
    let emu = Emu::with(
        cake_recon::mock::Ledger::generated(30_000),
        Faults {
            drop_after_rate: 0.05,
            slow_after_rate: 0.05,
            unavailable_rate: if read_back { 0.05 } else { 0.0 },
            slow_ms: 300,
            // CAKE finishing requests after the client gave up: 3x the client's timeout.
            land_late_rate: 0.05,
            land_late_ms: 600,
            latency_ms: 2,
            jitter_ms: 3,
            retry_after: 0,
            seed: 1234,
            ..Faults::default()
        },
    );
    let rows = sheet(&t, "s.csv", 1, rows_n, 2);
    let mut extra = vec![
        "--timeout",
        "0.2",
        "--concurrency",
        "16",
        "--max-attempts",
        "10",
        // Longer than any late landing here (600 ms), as 10 minutes is for a real CAKE.
        "--settle-after",
        "2",
    ];
    let until = format!("2026-09-{:02}", 1 + (rows_n.max(1) - 1) / 1000);
    let until = until.as_str();
    if read_back {
        // 1,000 conversions a day: the sheet's ids 1..=rows_n fall in the first days (a window
        // no wider, so a debug build reads it before the loop's patience runs out).
        extra.extend(["--read-back", "--since", "2026-09-01", "--until", until]);
    }
    let mut rng_state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let started = Instant::now();
    let mut killed = 0;
    while killed < kills && started.elapsed() < Duration::from_secs(600) {
        let before = emu.stats().requests;
        let mut child = spawn(&t, &emu, "s.csv", &extra);
        // The moments that matter are while it sends: wait (bounded) for its first request —
        // a debug build reads the sheet and the window for a while before that.
        for _ in 0..300 {
            if emu.wait_for(Duration::from_millis(100), |s| s.requests > before)
                || child.try_wait().unwrap().is_some()
            {
                break;
            }
        }
        // Kill at a random moment: after a random number of new requests, or a random delay.
        let target = before + 1 + next() % 40;
        let patience = Duration::from_millis(50 + next() % 400);
        emu.wait_for(patience, |s| s.requests >= target);
        let sent_by_this_run = emu.stats().requests > before;
        let alive = child.try_wait().unwrap().is_none();
        if alive {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        match (out.status.code(), out.status.signal()) {
            (Some(0 | 1), _) => break, // finished before the kill
            // A kill counts only when it hit a run that had started sending.
            (None, Some(9)) if alive && sent_by_this_run => killed += 1,
            (None, Some(9)) => {}
            (code, signal) => panic!(
                "exit {code:?} signal {signal:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!(
        killed, kills,
        "the loop must kill runs that were sending, {kills} times (the sheet finished first?)"
    );
    let lines = resume_to_the_end(&t, &emu, &rows, &extra, read_back);
    let again = run(&t, &emu, "s.csv", &extra);
    assert_eq!(
        results(&t, "s.results.csv"),
        lines,
        "a further run changes nothing: {again:?}"
    );
    eprintln!(
        "crash loop: {killed} kills, {} rows: {} updated, {} unchanged, {} in_doubt, {} requests",
        rows.len(),
        lines.iter().filter(|l| l["status"] == "updated").count(),
        lines.iter().filter(|l| l["status"] == "unchanged").count(),
        lines.iter().filter(|l| l["status"] == "in_doubt").count(),
        emu.stats().requests
    );
}

#[test]
fn kill_9_at_random_moments_never_double_applies() {
    crash_loop(8, 800, false);
}

#[test]
fn kill_9_with_read_back_settles_every_row_and_applies_each_addition_once() {
    crash_loop(8, 800, true);
}

/// The long mode with reading back:
/// `CAKE_RECON_CRASH_KILLS=100 cargo test --release --test integration crash_loop_read_back_long -- --ignored --nocapture`.
#[test]
#[ignore = "long: run on demand with CAKE_RECON_CRASH_KILLS"]
fn crash_loop_read_back_long() {
    let kills = std::env::var("CAKE_RECON_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    crash_loop(kills, 5000, true);
}

/// The long mode: `CAKE_RECON_CRASH_KILLS=100 cargo test --release crash_loop_long -- --ignored --nocapture`.
#[test]
#[ignore = "long: run on demand with CAKE_RECON_CRASH_KILLS"]
fn crash_loop_long() {
    let kills = std::env::var("CAKE_RECON_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    crash_loop(kills, 5000, false);
}

#[test]
fn a_full_disk_stops_the_run_with_exit_3_and_it_resumes() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    // One row in 40 additive: their plans fit in the journal before sending, so the limit is
    // reached mid-run (by the journal, the checkpoint or the results, whichever grows first).
    let rows = sheet(&t, "s.csv", 1, 3000, 40);
    // A file-size limit (in 512-byte blocks) makes every write past 50 KiB fail with EFBIG,
    // as a full disk would; SIGXFSZ is ignored so the write error reaches the program.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 100; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(&args(&emu, "s.csv", &[])))
        .current_dir(t.dir.path())
        .env("XDG_DATA_HOME", t.data_home())
        .env("CAKE_API_KEY", KEY);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("File too large")
            || stderr.contains("could not be written")
            || stderr.contains("free space or fix permissions"),
        "{stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    // Space is back: the same command finishes the job, nothing lost, nothing applied twice.
    let out = run(&t, &emu, "s.csv", &[]);
    assert!(out.code == 0 || out.code == 1, "{out:?}");
    check(
        &rows,
        &results(&t, "s.results.csv"),
        &emu.conversions(),
        true,
    );
}

#[test]
fn a_checkpoint_or_output_in_a_missing_directory_is_a_usage_error() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    sheet(&t, "s.csv", 1, 5, 2);
    let out = run(&t, &emu, "s.csv", &["--checkpoint", "no/such/dir/x.ckpt"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = run(&t, &emu, "s.csv", &["--output", "no/such/dir/out.csv"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(emu.stats().requests, 0, "nothing sent");
}

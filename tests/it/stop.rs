//! The screen's Stop signals only the very process that holds the run (issue 21): a run held on
//! another machine sharing the folder, or a pid now reused by another process, is refused —
//! here the recorded pid is this test's own, so a wrong signal would end the test itself.

use crate::emu::{Emu, KEY};
use crate::serve::{Server, payout_sheet};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::time::Duration;

#[test]
fn stop_refuses_a_run_held_on_another_host_or_by_a_reused_pid() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(100), Faults::default());
    let s = Server::start(
        &t,
        &["--base-url", emu.url.as_str(), "--listen", "127.0.0.1:0"],
        &[("CAKE_API_KEY", KEY)],
    );
    let page = s.upload("june.csv", payout_sheet(3).as_bytes());
    assert_eq!(
        s.post_form(&format!("{page}/apply"), &[("rows", "3")])
            .status,
        303
    );
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 3, "{p}");
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    // Another process of this machine, named with its true start time.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", sleeper.id())).unwrap();
    let began = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let (me, sleeping) = (std::process::id(), sleeper.id());
    for (pid, host, started, why) in [
        (me, "another-machine", "null", "another host"),
        (me, here.as_str(), "1", "a reused pid"),
        (sleeping, here.as_str(), began.as_str(), "another program"),
    ] {
        // A run holding the checkpoint, as its lock file records it.
        let lock_path = t.path("june.results.csv.ckpt.lock");
        std::fs::write(
            &lock_path,
            format!(
                "{{\"pid\":{pid},\"host\":\"{host}\",\"since\":\"2026-12-03 10:00:00 UTC\",\"started\":{started}}}"
            ),
        )
        .unwrap();
        let lock = std::fs::File::open(&lock_path).unwrap();
        lock.lock().unwrap();
        let r = s.post_form("/job/june/stop", &[]);
        assert_eq!(r.status, 409, "{why}: {}", r.body);
        assert!(
            r.body
                .contains("not a cake-recon run of this job on this machine now"),
            "{why}: {}",
            r.body
        );
        drop(lock);
    }
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the other program was not signalled"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn a_run_that_does_not_stop_within_the_grace_is_killed() {
    let t = TestDir::new();
    // A CAKE that answers in a minute: the run's requests stay out, and on SIGTERM it would
    // wait for them (up to 15 s) — longer than this server's grace of 1 s.
    let emu = Emu::with(
        Ledger::generated(100),
        Faults {
            latency_ms: 60_000,
            ..Faults::default()
        },
    );
    let s = Server::start(
        &t,
        &[
            "--base-url",
            emu.url.as_str(),
            "--listen",
            "127.0.0.1:0",
            "--stop-grace-secs",
            "1",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    let page = s.upload("june.csv", payout_sheet(3).as_bytes());
    assert_eq!(
        s.post_form(&format!("{page}/apply"), &[("rows", "3")])
            .status,
        303
    );
    assert!(
        emu.wait_for(Duration::from_secs(30), |st| st.requests >= 1),
        "a request is out"
    );
    let page = s.get("/job/june");
    assert!(page.body.contains("at most 1 seconds"), "{}", page.body);
    let stopped = s.post_form("/job/june/stop", &[]);
    assert_eq!(stopped.status, 303, "{}", stopped.body);
    let started = std::time::Instant::now();
    s.wait_for_job("june", Duration::from_secs(30));
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "killed after the grace, not waited out"
    );
    let record: serde_json::Value =
        serde_json::from_str(&t.read(".cake-recon/jobs/june.json")).unwrap();
    assert_eq!(record["runs"][0]["exit"], 128 + 9, "{record}");
}

#[test]
fn serve_refuses_at_start_a_rate_and_a_grace_run_would_refuse() {
    let t = TestDir::new();
    for (flag, value, said) in [
        ("--rate", "0.005", "--rate 0.005"),
        ("--rate", "0", "--rate 0 (unlimited)"),
        (
            "--stop-grace-secs",
            "0",
            "--stop-grace-secs 0 is out of range",
        ),
    ] {
        let out = t.run(&["serve", "--sandbox", "--listen", "127.0.0.1:0", flag, value]);
        assert_eq!(out.code, 2, "{flag} {value}: {out:?}");
        assert!(out.stderr.contains(said), "{flag} {value}: {}", out.stderr);
    }
}

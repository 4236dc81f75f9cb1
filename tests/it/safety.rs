//! Safety bugs found by reading the code (issue 10), each pinned by a test.

use crate::emu::{Emu, KEY, run, spawn};
use crate::run::{results, sheet};
use crate::util::TestDir;
use cake_recon::mock::Faults;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A server that answers every request with `302 Found` to `target` (query string included,
/// as an http → https redirect would), until a request containing `STOP` arrives.
fn redirecting_server(target: String) -> (String, std::thread::JoinHandle<u32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut answered = 0;
        for _ in 0..40 {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            if head.contains("STOP") {
                break;
            }
            let query = head
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.split_once('?'))
                .map(|(_, q)| q.to_string())
                .unwrap_or_default();
            let _ = write!(
                s,
                "HTTP/1.1 302 Found\r\nLocation: {target}/api/2/track.asmx/UpdateConversion?{query}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            answered += 1;
        }
        answered
    });
    (url, handle)
}

fn stop(url: &str) {
    let addr = url.trim_start_matches("http://");
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.write_all(b"GET /STOP HTTP/1.1\r\n\r\n");
    }
}

#[test]
fn redirects_are_never_followed_and_name_their_target() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 3, 2);
    // The "other host" is a real emulator: it must never see a request.
    let elsewhere = Emu::start(Faults::default());
    let (url, server) = redirecting_server(elsewhere.url.clone());
    let out = t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            &url,
            "--rate",
            "0",
            "--no-progress",
            "--max-attempts",
            "2",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    stop(&url);
    let answered = server.join().unwrap();
    assert!(
        answered >= 3,
        "every row reached the redirecting server: {answered}"
    );
    assert_eq!(elsewhere.stats().requests, 0, "a redirect was followed");
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["status"], "failed", "{l:?}");
        assert_eq!(l["http_status"], "302", "{l:?}");
        assert!(
            l["message"].contains(&format!("redirects to {}/api/2/", elsewhere.url)),
            "{l:?}"
        );
        assert!(
            !l["message"].contains(KEY) && !l["message"].contains('?'),
            "{l:?}"
        );
    }
}

#[test]
fn output_or_checkpoint_onto_the_sheet_is_refused() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 3, 2);
    let before = t.read("s.csv");
    let emu = Emu::start(Faults::default());
    for extra in [
        &["--output", "s.csv"][..],
        &["--output", "./s.csv", "--dry-run"],
        &["--checkpoint", "s.csv"],
        &["--output", "r.csv", "--checkpoint", "r.csv"],
    ] {
        let out = run(&t, &emu, "s.csv", extra);
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        assert!(
            out.stderr.contains("would overwrite"),
            "{extra:?}: {}",
            out.stderr
        );
        assert_eq!(
            t.read("s.csv"),
            before,
            "{extra:?}: the sheet was overwritten"
        );
    }
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn rates_out_of_range_are_usage_errors_not_panics() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 2, 0);
    let emu = Emu::start(Faults::default());
    for rate in ["1e-20", "1e9", "-0.5", "NaN", "inf"] {
        let flag = format!("--rate={rate}");
        let out = t.run_env(
            &["run", "s.csv", "--base-url", &emu.url, &flag],
            &[("CAKE_API_KEY", KEY)],
        );
        assert_eq!(out.code, 2, "--rate {rate}: {out:?}");
        assert!(
            out.stderr.contains("--rate"),
            "--rate {rate}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn an_unknown_status_in_the_checkpoint_is_refused_not_resent() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 4, 1);
    let emu = Emu::start(Faults::default());
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let sent = emu.stats().requests;
    {
        let db = rusqlite::Connection::open(t.path("s.results.csv.ckpt")).unwrap();
        let n = db
            .execute("UPDATE rows SET status = 'applied_v9' WHERE row = 3", [])
            .unwrap();
        assert_eq!(n, 1);
    }
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("applied_v9"), "{}", out.stderr);
    assert_eq!(
        emu.stats().requests,
        sent,
        "a row with an unknown status was sent again"
    );
}

#[test]
fn a_second_interrupt_abandons_requests_in_flight_at_once() {
    use std::io::BufRead;
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 4, 1);
    // Answers take a minute: without a second interrupt the run would wait out its grace.
    let emu = Emu::start(Faults {
        latency_ms: 60_000,
        ..Faults::default()
    });
    let mut child = spawn(&t, &emu, "s.csv", &["--timeout", "100"]);
    assert!(
        emu.wait_for(Duration::from_secs(20), |s| s.requests >= 4),
        "all rows in flight"
    );
    let pid = child.id().to_string();
    let interrupt = || {
        let ok = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    interrupt();
    // Wait until the first interrupt was taken (the warning names the way out).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for _ in 0..50 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.contains("interrupt again") {
            break;
        }
    }
    assert!(seen.contains("interrupt again"), "{seen}");
    interrupt();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_eq!(l["status"], "in_doubt", "{l:?}");
        assert!(
            l["message"].contains("abandoned on a second interrupt"),
            "{l:?}"
        );
    }
}

#[test]
fn a_dry_run_whose_reader_went_away_is_not_a_disk_error() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 50, 2);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // like `| head` that already exited: every write is EPIPE
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(&["run", "s.csv", "--dry-run"]))
        .current_dir(t.dir.path())
        .env("XDG_DATA_HOME", t.data_home())
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("free space"), "{stderr}");
    assert_eq!(results(&t, "s.results.csv").len(), 50);
}

#[test]
fn a_setup_kind_of_error_after_sending_began_exits_3_not_2() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 8, 2);
    std::fs::create_dir(t.path("out")).unwrap();
    let emu = Emu::start(Faults {
        latency_ms: 1_500,
        ..Faults::default()
    });
    let child = spawn(
        &t,
        &emu,
        "s.csv",
        &["--output", "out/r.csv", "--checkpoint", "r.ckpt"],
    );
    assert!(
        emu.wait_for(Duration::from_secs(20), |s| s.requests >= 8),
        "rows in flight"
    );
    // The results' directory vanishes while requests are in flight: NotFound, but rows were
    // sent, so this is no "usage error, nothing sent".
    std::fs::remove_dir_all(t.path("out")).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
}

#[test]
fn base_url_on_the_command_line_beats_sandbox_in_the_config_file() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 3, 0);
    t.write("c.toml", "sandbox = true\n");
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &["--config", "c.toml"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        emu.stats().applied,
        3,
        "the rows went to the sandbox, not to --base-url"
    );
    // Both in one file is a contradiction, said so.
    t.write(
        "both.toml",
        format!("sandbox = true\nbase-url = \"{}\"\n", emu.url),
    );
    let out = t.run(&["run", "s.csv", "--config", "both.toml", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("sandbox") && out.stderr.contains("base-url"),
        "{}",
        out.stderr
    );
}

#[test]
fn set_splits_at_the_first_equals_sign() {
    let t = TestDir::new();
    t.write("s.csv", "conversion_id,payout\n5,1.00\n");
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &["--set", "note_to_append=ref=A7"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&5].notes, vec!["ref=A7".to_string()]);
    // --map's header may hold '=' (the field never does): split at the last one.
    t.write("m.csv", "conversion_id,Payout=USD\n6,2.00\n");
    let out = run(&t, &emu, "m.csv", &["--map", "Payout=USD=payout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&6].payout.to_string(), "2.00");
}

//! The API key never appears in any byte the tool writes: stdout, stderr (text and JSON logs at
//! every level), the results file, the checkpoint — on success and on every failure path.

use crate::emu::Emu;
use crate::run::sheet;
use crate::util::TestDir;
use cake_recon::mock::Faults;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const SECRET: &str = "SuperSecretKey-9f8e7d";

/// A server that answers every request with HTTP 500 and the request head echoed back, the way
/// some error pages print the URL (and so the key of a GET).
fn echo_server() -> (String, std::thread::JoinHandle<()>) {
    echo_server_with(0)
}

/// [`echo_server`] whose error page has `padding` characters before the echo, so a shortened
/// excerpt cuts through the key.
fn echo_server_with(padding: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        for _ in 0..40 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            if head.contains("STOP") {
                return;
            }
            let body = format!(
                "{}Server Error while processing {head}",
                "x".repeat(padding)
            );
            let _ = write!(
                s,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, handle)
}

/// No output and no file holds the key, whole or a good part of it (a message cut short can
/// cut the key short too).
fn assert_clean(t: &TestDir, outputs: &[&str]) {
    let part = &SECRET[..10];
    for o in outputs {
        assert!(!o.contains(part), "key leaked in output: {o}");
    }
    for entry in std::fs::read_dir(t.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains(part), "key leaked in {}", path.display());
    }
}

#[test]
fn the_key_never_leaks_on_any_path() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    // The key file lives elsewhere: every file in the run's directory is searched.
    let keys = TestDir::new();
    keys.write("key.txt", format!("{SECRET}\n"));
    let key_file = keys.path("key.txt");
    let key_arg = key_file.to_str().unwrap();
    let mut outputs = Vec::new();
    let mut run = |base: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "run",
            "s.csv",
            "--base-url",
            base,
            "--api-key-file",
            key_arg,
            "--rate",
            "0",
            "--retry-base-ms",
            "1",
            "--retry-cap-ms",
            "5",
            "--max-attempts",
            "2",
            "--restart",
            "--restart-resend-additive",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        let out = t.run_env(&args, env);
        outputs.push(out.stdout.clone());
        outputs.push(out.stderr.clone());
        out
    };
    // 500 answers that echo the request line (with the key in the query).
    let (echo, handle) = echo_server();
    for fmt in ["text", "json"] {
        let out = run(&echo, &["-vv", "--log-format", fmt], &[]);
        assert!(out.code == 1 || out.code == 3, "{out:?}");
        // The echoed URL reached the results file, with the key replaced.
        assert!(
            t.read("s.results.csv").contains("api_key=***"),
            "{}",
            t.read("s.results.csv")
        );
    }
    let out = run(&echo, &["-vv"], &[("RUST_LOG", "trace")]);
    assert!(out.code == 1 || out.code == 3, "{out:?}");
    let _ = std::net::TcpStream::connect(echo.trim_start_matches("http://"))
        .and_then(|mut s| s.write_all(b"STOP"));
    handle.join().unwrap();
    // An error page whose excerpt is cut through the key.
    let (echo, handle) = echo_server_with(110);
    let out = run(&echo, &["-vv"], &[]);
    assert!(out.code == 1 || out.code == 3, "{out:?}");
    let _ = std::net::TcpStream::connect(echo.trim_start_matches("http://"))
        .and_then(|mut s| s.write_all(b"STOP"));
    handle.join().unwrap();
    // Connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = run(&refused, &["-vv", "--log-format", "json"], &[]);
    assert!(out.code == 1 || out.code == 3, "{out:?}");
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    // Timeouts: a server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let out = run(&silent_url, &["-vv", "--timeout", "0.3"], &[]);
    assert!(out.code == 1 || out.code == 3, "{out:?}");
    drop(silent);
    // Success, and a refused key, against the emulator; and a dry run.
    let emu = Emu::start(Faults::default());
    let out = run(&emu.url, &["-vv"], &[]);
    assert_eq!(out.code, 3, "the emulator's key is not SECRET: {out:?}");
    let out = t.run_env(
        &["run", "s.csv", "--dry-run", "--method", "soap"],
        &[("CAKE_API_KEY", SECRET)],
    );
    outputs.push(out.stdout.clone());
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    outputs.push(status.stdout.clone());
    let refs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    assert_clean(&t, &refs);
}

#[test]
fn reading_back_never_leaks_the_key_either() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 4, 2);
    let mut outputs = Vec::new();
    let (echo, handle) = echo_server();
    let emu = Emu::start(Faults::default());
    let outs = ["c1.csv", "r1.csv", "c2.csv", "r2.csv"];
    for ((command, base), output) in [
        ("check", &echo),
        ("run", &echo),
        ("check", &emu.url),
        ("run", &emu.url),
    ]
    .into_iter()
    .zip(outs)
    {
        let mut args = vec![
            command,
            "s.csv",
            "--output",
            output,
            "--base-url",
            base,
            "--since",
            "2026-09-01",
            "--until",
            "2026-09-01",
            "--retry-base-ms",
            "1",
            "--retry-cap-ms",
            "5",
            "--max-attempts",
            "2",
            "--no-progress",
            "-vv",
            "--log-format",
            "json",
        ];
        if command == "run" {
            args.push("--read-back");
        }
        let out = t.run_env(&args, &[("CAKE_API_KEY", SECRET)]);
        assert_eq!(
            out.code, 3,
            "a failing or refusing CAKE stops the read: {out:?}"
        );
        outputs.push(out.stdout);
        outputs.push(out.stderr);
    }
    let _ = std::net::TcpStream::connect(echo.trim_start_matches("http://"))
        .and_then(|mut s| s.write_all(b"STOP"));
    handle.join().unwrap();
    assert!(
        outputs.iter().any(|o| o.contains("api_key=***")),
        "the echoed URL was seen, redacted: {outputs:?}"
    );
    let refs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    assert_clean(&t, &refs);
}

//! Hostile input: sheets that are not what they claim, and server answers that try to smuggle
//! formulas into the results file. Clear errors, bounded memory, nothing sent.

use crate::emu::{Emu, KEY};
use crate::util::TestDir;
use cake_recon::mock::Faults;
use std::io::{Read, Write};
use std::net::TcpListener;

fn run_against(t: &TestDir, emu: &Emu, sheet: &str) -> crate::util::Output {
    t.run_env(
        &[
            "run",
            sheet,
            "--base-url",
            &emu.url,
            "--rate",
            "0",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", KEY)],
    )
}

#[test]
fn not_a_csv_is_refused_and_nothing_is_sent() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    png.extend((0..5000u32).map(|i| (i * 7919 % 251) as u8));
    t.write("image.csv", png);
    let out = run_against(&t, &emu, "image.csv");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no id column"), "{}", out.stderr);

    let mut body = b"conversion_id,note_to_append\n1,\"never closed\n".to_vec();
    for _ in 0..250_000 {
        body.extend_from_slice(b"2,more text swallowed by the open quote\n");
    }
    t.write("quote.csv", body);
    let out = run_against(&t, &emu, "quote.csv");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unclosed quote"), "{}", out.stderr);
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn thousands_of_columns_nul_bytes_and_stray_bytes() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let mut header: Vec<String> = (0..3000).map(|i| format!("extra {i}")).collect();
    header[1234] = "Conversion ID".into();
    header[2999] = "Payout".into();
    let mut text = header.join(",");
    text.push('\n');
    for id in 1..=3 {
        let mut row = vec![String::from("x"); 3000];
        row[1234] = id.to_string();
        row[2999] = format!("{id}.50");
        text.push_str(&row.join(","));
        text.push('\n');
    }
    t.write("wide.csv", &text);
    let out = run_against(&t, &emu, "wide.csv");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&2].payout.to_string(), "2.50");

    // A NUL in a note and a byte that is not UTF-8: read as Windows-1252, row by row.
    t.write(
        "nul.csv",
        b"conversion_id,note_to_append\n10,a\x00b\n11,caf\xe9\n",
    );
    let out = t.run(&["run", "nul.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("windows-1252"), "{}", out.stdout);
    assert!(
        out.stdout.contains("note_to_append=a%00b"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("note_to_append=caf%C3%A9"),
        "{}",
        out.stdout
    );
}

/// A server whose answers carry spreadsheet formulas in `message`.
fn formula_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate().take(2) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let message = if i == 0 {
                "=cmd|' /C calc'!A0"
            } else {
                "@SUM(1+1)*cmd|' /C calc'!A0"
            };
            let body = format!(
                "<update_conversion_response><success>false</success><message>{message}</message></update_conversion_response>"
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, handle)
}

#[test]
fn formulas_from_the_sheet_and_from_the_server_are_neutralised() {
    let t = TestDir::new();
    let (url, handle) = formula_server();
    t.write(
        "s.csv",
        "conversion_id,transaction_id,disposition_type\n1,=HYPERLINK(\"http://evil\"),approved\n2,+SUM(A1),approved\n",
    );
    let out = t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            &url,
            "--rate",
            "0",
            "--concurrency",
            "1",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    // Checked before joining: a run that never connects must fail the test, not hang it.
    assert_eq!(out.code, 1, "{out:?}");
    handle.join().unwrap();
    let results = t.read("s.results.csv");
    assert!(results.contains("'=HYPERLINK"), "{results}");
    assert!(results.contains("'+SUM(A1)"), "{results}");
    assert!(
        results.contains(",rejected,1,200,'=cmd|' /C calc'!A0"),
        "{results}"
    );
    assert!(results.contains(",rejected,1,200,'@SUM(1+1)"), "{results}");
    for line in results.lines().skip(1) {
        for cell in line.split(',') {
            let c = cell.trim_start_matches('"');
            assert!(
                !c.starts_with(['=', '+', '@']),
                "unneutralised cell {cell:?} in {line}"
            );
        }
    }
}

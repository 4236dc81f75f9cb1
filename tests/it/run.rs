//! `run` against the emulator: every transport and version, every fault, alone and mixed.
//! Assertions are on what the emulator's ledger recorded, on every output line and on the
//! exit code.

use crate::emu::{Emu, KEY, run};
use crate::util::{HEADER, TestDir};
use cake_recon::mock::{Conversion, Faults, Ledger};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// One generated sheet row and what it asks for.
#[expect(
    clippy::struct_field_names,
    reason = "`row` is the contract's word for the row number"
)]
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub row: u64,
    pub id: i32,
    pub payout: Decimal,
    pub additive: bool,
    pub received: Decimal,
    pub note: String,
}

/// `n` rows on conversions `first..`, every `additive_every`-th row additive (add to payout,
/// additional revenue, a note); the others set payout and total revenue.
pub(crate) fn sheet(
    t: &TestDir,
    name: &str,
    first: i32,
    n: usize,
    additive_every: usize,
) -> Vec<Row> {
    let mut text = String::from(
        "conversion_id,payout,add_to_existing_payout,received,received_option,note_to_append\n",
    );
    let mut rows = Vec::new();
    for i in 0..n {
        let id = first + i32::try_from(i).unwrap();
        let additive = additive_every > 0 && i % additive_every == 0;
        let payout = Decimal::from_str(&format!("{}.{:02}", 1 + i % 40, i % 100)).unwrap();
        let received = Decimal::from_str(&format!("{}.5", 2 + i % 30)).unwrap();
        let note = if additive {
            format!("approved #{i} & co")
        } else {
            String::new()
        };
        let (add, opt) = if additive {
            ("yes", "additional_revenue")
        } else {
            ("no", "total_revenue")
        };
        let _ = writeln!(text, "{id},{payout},{add},{received},{opt},{note}");
        rows.push(Row {
            row: i as u64 + 2,
            id,
            payout,
            additive,
            received,
            note,
        });
    }
    t.write(name, text);
    rows
}

/// The state a generated conversion reaches after `row` was applied `n` times.
fn expected(row: &Row, n: u32) -> (Decimal, Decimal, Vec<String>) {
    let (base_payout, base_revenue) = (Decimal::new(1000, 2), Decimal::new(1500, 2));
    if n == 0 {
        return (base_payout, base_revenue, vec![]);
    }
    if row.additive {
        let k = Decimal::from(n);
        (
            base_payout + row.payout * k,
            base_revenue + row.received * k,
            vec![row.note.clone(); n as usize],
        )
    } else {
        (row.payout, row.received, vec![])
    }
}

/// A file cake-recon wrote (results or check file), parsed: written as the sheet was (its
/// delimiter, its BOM), the delimiter being the byte after `row` in the header; its first
/// columns must be `first`, in order.
pub(crate) fn read_rows(t: &TestDir, name: &str, first: &[&str]) -> Vec<BTreeMap<String, String>> {
    let bytes = std::fs::read(t.path(name)).unwrap();
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let delimiter = bytes.get(3).copied().unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes);
    let headers = rdr.headers().unwrap().clone();
    let names: Vec<&str> = headers.iter().collect();
    assert_eq!(names.get(..first.len()), Some(first), "{names:?}");
    rdr.records()
        .map(|r| {
            headers
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Parsed results file: the contract's columns first and in order (--read-back may append more).
pub(crate) fn results(t: &TestDir, name: &str) -> Vec<BTreeMap<String, String>> {
    read_rows(t, name, &HEADER.split(',').collect::<Vec<_>>())
}

/// The money-safety checks every run must pass, whatever the faults.
pub(crate) fn check(
    rows: &[Row],
    lines: &[BTreeMap<String, String>],
    ledger: &BTreeMap<i32, Conversion>,
    complete: bool,
) {
    assert_eq!(lines.len(), rows.len(), "one line per data row");
    for (row, line) in rows.iter().zip(lines) {
        assert_eq!(line["row"], row.row.to_string(), "input order");
        let applied = ledger.get(&row.id).map_or(0, |c| c.applied);
        let status = line["status"].as_str();
        if row.additive {
            assert!(
                applied <= 1,
                "row {}: additive row applied {applied} times ({line:?})",
                row.row
            );
            if applied == 1 {
                assert!(
                    matches!(status, "updated" | "in_doubt"),
                    "row {}: applied additive row is {status}",
                    row.row
                );
            }
        }
        if status == "updated" {
            assert!(applied >= 1, "row {}: updated but never applied", row.row);
        }
        if status == "failed" && row.additive {
            assert_eq!(
                applied, 0,
                "row {}: failed additive row was applied",
                row.row
            );
        }
        if complete {
            assert!(
                !line["message"].starts_with("not sent"),
                "row {}: {line:?}",
                row.row
            );
        }
        if let Some(c) = ledger.get(&row.id) {
            let (payout, revenue, notes) = expected(row, c.applied);
            assert_eq!(
                (c.payout, c.revenue, &c.notes),
                (payout, revenue, &notes),
                "row {} values",
                row.row
            );
        }
    }
}

fn count(lines: &[BTreeMap<String, String>], status: &str) -> usize {
    lines.iter().filter(|l| l["status"] == status).count()
}

#[test]
fn clean_run_every_transport_and_version() {
    for (method, version) in [
        ("get", "2"),
        ("post", "2"),
        ("soap", "2"),
        ("soap12", "2"),
        ("get", "4"),
        ("post", "4"),
        ("soap", "4"),
        ("soap12", "4"),
    ] {
        let t = TestDir::new();
        let emu = Emu::start(Faults::default());
        let rows = sheet(&t, "s.csv", 1, 30, 3);
        let out = run(
            &t,
            &emu,
            "s.csv",
            &["--method", method, "--api-version", version],
        );
        assert_eq!(out.code, 0, "{method} v{version}: {out:?}");
        let lines = results(&t, "s.results.csv");
        check(&rows, &lines, &emu.conversions(), true);
        assert_eq!(count(&lines, "updated"), 30, "{method} v{version}");
        assert!(lines.iter().all(|l| l["attempts"] == "1"
            && l["http_status"] == "200"
            && l["message"] == "Conversion Updated"));
        let ledger = emu.conversions();
        assert!(
            rows.iter().all(|r| ledger[&r.id].applied == 1),
            "{method} v{version}"
        );
        assert!(
            out.stdout
                .contains("updated 30, rejected 0, failed 0, in_doubt 0"),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn exact_output_lines_and_rejections() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write("s.csv", "conversion_id,transaction_id,payout,received,disposition_type,disposition_id\n5,,7.50,9,approved,3\n,T6,1,,rejected,\n2000000,,1,1,,\n8,,1,1,,99\n9,T10,1,1,,\n");
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        t.read("s.results.csv"),
        format!(
            "{HEADER}\n\
             2,5,0,,5769,7.50,9,approved,updated,1,200,Conversion Updated\n\
             3,0,0,T6,5769,1,,rejected,updated,1,200,Conversion Updated\n\
             4,2000000,0,,5769,1,1,no_change,rejected,1,200,Conversion Not Found\n\
             5,8,0,,5769,1,1,no_change,rejected,1,200,Invalid Disposition ID\n\
             6,9,0,T10,5769,1,1,no_change,rejected,1,200,Conversion Not Found\n"
        )
    );
    let ledger = emu.conversions();
    assert_eq!(ledger[&5].disposition_type, "approved");
    assert_eq!(ledger[&5].disposition_id, 3);
    assert_eq!(ledger[&5].payout.to_string(), "7.50");
    assert_eq!(ledger[&6].disposition_type, "rejected");
    assert_eq!(
        ledger[&6].revenue.to_string(),
        "15.00",
        "received left unchanged"
    );
    assert_eq!(ledger[&8].applied, 0);
    assert_eq!(ledger[&9].applied, 0);
}

#[test]
fn awkward_strings_arrive_byte_for_byte_on_every_transport() {
    let awkward = [
        "a b+c&d=e#f%g",
        "quote \" and ' <tag> &amp;",
        "café € 日本",
        "line1\r\nline2",
        "  padded  ",
        "0",
    ];
    for method in ["get", "post", "soap", "soap12"] {
        let t = TestDir::new();
        let mut ledger_csv = String::from("conversion_id,transaction_id\n");
        let mut sheet = String::from("transaction_id,note_to_append\n");
        for (i, s) in awkward.iter().enumerate() {
            let tx = format!("tx {s}");
            let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
            let _ = writeln!(ledger_csv, "{},{}", 100 + i, quoted(&tx));
            let _ = writeln!(sheet, "{},{}", quoted(&tx), quoted(s));
        }
        let ledger_path = t.write("ledger.csv", ledger_csv);
        t.write("s.csv", sheet);
        let emu = Emu::with(Ledger::load(&ledger_path).unwrap(), Faults::default());
        let out = run(&t, &emu, "s.csv", &["--method", method]);
        assert_eq!(out.code, 0, "{method}: {out:?}");
        let ledger = emu.conversions();
        for (i, s) in awkward.iter().enumerate() {
            let c = &ledger[&(100 + i32::try_from(i).unwrap())];
            assert_eq!(c.applied, 1, "{method}: {s:?}");
            // The sheet reader trims cells, so padding does not survive the sheet; everything
            // else must arrive exactly.
            assert_eq!(c.notes, vec![s.trim().to_string()], "{method}");
        }
    }
}

fn faulty(f: &Faults) -> Faults {
    Faults {
        retry_after: 0,
        ..f.clone()
    }
}

#[test]
fn throttling_is_retried_and_never_double_applies() {
    for f in [
        Faults {
            throttle_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            unavailable_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            restricted_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            drop_before_rate: 0.0,
            error_rate: 0.0,
            throttle_rate: 0.2,
            restricted_rate: 0.2,
            ..Faults::default()
        },
    ] {
        let t = TestDir::new();
        let emu = Emu::start(faulty(&f));
        let rows = sheet(&t, "s.csv", 1, 60, 2);
        let out = run(&t, &emu, "s.csv", &["--max-attempts", "10"]);
        assert_eq!(out.code, 0, "{f:?}: {out:?}");
        let lines = results(&t, "s.results.csv");
        check(&rows, &lines, &emu.conversions(), true);
        assert_eq!(count(&lines, "updated"), 60);
        assert!(emu.conversions().values().all(|c| c.applied == 1), "{f:?}");
        assert!(
            lines.iter().any(|l| l["attempts"] != "1"),
            "some rows needed a retry"
        );
    }
}

#[test]
fn maybe_applied_faults_leave_additive_rows_in_doubt() {
    for f in [
        Faults {
            error_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            error_after_apply_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            drop_before_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            drop_after_rate: 0.3,
            ..Faults::default()
        },
    ] {
        let t = TestDir::new();
        let emu = Emu::start(faulty(&f));
        let rows = sheet(&t, "s.csv", 1, 80, 2);
        let out = run(&t, &emu, "s.csv", &["--max-attempts", "10"]);
        assert_eq!(out.code, 1, "{f:?}: {out:?}");
        let lines = results(&t, "s.results.csv");
        check(&rows, &lines, &emu.conversions(), true);
        let in_doubt = count(&lines, "in_doubt");
        assert!(in_doubt > 0, "{f:?}");
        // Only additive rows may be in doubt; idempotent rows were retried to success.
        for (r, l) in rows.iter().zip(&lines) {
            if r.additive {
                assert!(
                    matches!(l["status"].as_str(), "updated" | "in_doubt"),
                    "{f:?} {l:?}"
                );
            } else {
                assert_eq!(l["status"], "updated", "{f:?} {l:?}");
            }
        }
        assert_eq!(count(&lines, "updated") + in_doubt, 80);
        assert!(out.stdout.contains("--resend-in-doubt"), "{}", out.stdout);
    }
}

#[test]
fn slow_answers_time_out_and_additive_rows_stay_in_doubt() {
    let t = TestDir::new();
    let emu = Emu::start(faulty(&Faults {
        slow_after_rate: 0.3,
        slow_ms: 3000,
        ..Faults::default()
    }));
    let rows = sheet(&t, "s.csv", 1, 24, 2);
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--timeout", "0.5", "--max-attempts", "10"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    check(&rows, &lines, &emu.conversions(), true);
    let doubts: Vec<_> = lines.iter().filter(|l| l["status"] == "in_doubt").collect();
    assert!(!doubts.is_empty());
    assert!(
        doubts.iter().all(|l| l["message"].contains("timed out")),
        "{doubts:?}"
    );
    // The slow calls were applied: in doubt, not failed.
    let ledger = emu.conversions();
    for (r, l) in rows.iter().zip(&lines) {
        if l["status"] == "in_doubt" {
            assert_eq!(ledger[&r.id].applied, 1);
        }
    }
}

#[test]
fn a_mix_of_every_fault() {
    let t = TestDir::new();
    let emu = Emu::start(faulty(&Faults {
        throttle_rate: 0.05,
        unavailable_rate: 0.05,
        restricted_rate: 0.05,
        error_rate: 0.05,
        error_after_apply_rate: 0.05,
        drop_before_rate: 0.05,
        drop_after_rate: 0.05,
        slow_after_rate: 0.03,
        slow_ms: 1500,
        jitter_ms: 5,
        seed: 42,
        ..Faults::default()
    }));
    let rows = sheet(&t, "s.csv", 1, 200, 2);
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--timeout", "0.5", "--max-attempts", "10"],
    );
    assert!(out.code == 0 || out.code == 1, "{out:?}");
    let lines = results(&t, "s.results.csv");
    check(&rows, &lines, &emu.conversions(), true);
    assert_eq!(count(&lines, "failed"), 0, "{lines:?}");
    let stats = emu.stats();
    assert!(stats.requests > 200, "{stats:?}");
}

#[test]
fn invalid_api_key_stops_at_once() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let rows = sheet(&t, "s.csv", 1, 500, 0);
    let out = t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            &emu.url,
            "--rate",
            "0",
            "--concurrency",
            "4",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", "wrong-key")],
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("Invalid API Key"), "{}", out.stdout);
    let stats = emu.stats();
    assert!(
        stats.requests <= 8,
        "a handful of requests at most, not the sheet: {stats:?}"
    );
    assert_eq!(stats.applied, 0);
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), rows.len());
    assert!(
        lines.iter().all(|l| l["status"] == "failed"
            && (l["message"].starts_with("not sent") || l["message"].starts_with("not applied"))),
        "{:?}",
        &lines[..3]
    );
    assert!(!out.stdout.contains("wrong-key") && !out.stderr.contains("wrong-key"));
}

#[test]
fn an_error_storm_trips_the_breaker() {
    let t = TestDir::new();
    let emu = Emu::start(faulty(&Faults {
        error_rate: 1.0,
        ..Faults::default()
    }));
    sheet(&t, "s.csv", 1, 2000, 1);
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("error storm"), "{}", out.stdout);
    let stats = emu.stats();
    assert!(stats.requests < 100, "stopped early: {stats:?}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), 2000);
    assert!(count(&lines, "in_doubt") >= 10);
}

#[test]
fn rate_limit_holds_at_the_emulator() {
    let t = TestDir::new();
    let emu = Emu::start(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let rows = sheet(&t, "s.csv", 1, 75, 0);
    let started = std::time::Instant::now();
    let out = t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            &emu.url,
            "--rate",
            "25",
            "--concurrency",
            "8",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{out:?}");
    check(
        &rows,
        &results(&t, "s.results.csv"),
        &emu.conversions(),
        true,
    );
    let stats = emu.stats();
    // Counted where requests *arrive*: a stall on a loaded machine (the emulator shares its two
    // cores) can deliver two requests sent 40 ms apart together, so one more than the rate may
    // land in a one-second window while the sender kept its pace (the contract allows 1.1x).
    assert!(stats.max_in_any_second <= 26, "{stats:?}");
    // 75 requests at 25/s take about 3 s: generous bounds, the tight figures are benchmarks.
    assert!(secs > 2.2 && secs < 8.0, "{secs}");
}

#[test]
fn sigterm_stops_dispatching_finishes_in_flight_and_exits_130() {
    let t = TestDir::new();
    let emu = Emu::start(Faults {
        latency_ms: 100,
        ..Faults::default()
    });
    let rows = sheet(&t, "s.csv", 1, 300, 2);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(&[
            "run",
            "s.csv",
            "--base-url",
            &emu.url,
            "--rate",
            "40",
            "--concurrency",
            "4",
            "--no-progress",
        ]))
        .current_dir(t.dir.path())
        .env("XDG_DATA_HOME", t.data_home())
        .env("CAKE_API_KEY", KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the run is well under way.
    emu.wait_for(std::time::Duration::from_secs(20), |s| s.applied >= 20);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = results(&t, "s.results.csv");
    check(&rows, &lines, &emu.conversions(), false);
    let updated = count(&lines, "updated");
    let not_sent = lines
        .iter()
        .filter(|l| l["message"].starts_with("not sent"))
        .count();
    assert!(
        updated >= 20 && not_sent > 100,
        "updated {updated}, not sent {not_sent}"
    );
    assert_eq!(
        count(&lines, "in_doubt"),
        0,
        "in-flight requests were allowed to finish"
    );
    // Everything the emulator applied is reported updated: nothing was abandoned mid-flight.
    let ledger = emu.conversions();
    for (r, l) in rows.iter().zip(&lines) {
        let applied = ledger.get(&r.id).map_or(0, |c| c.applied);
        assert_eq!(
            applied > 0,
            l["status"] == "updated",
            "row {}: {l:?}",
            r.row
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("Run interrupted"));
}

#[test]
fn every_parameter_round_trips_builder_to_ledger() {
    for (method, version) in [
        ("get", "2"),
        ("post", "2"),
        ("soap", "2"),
        ("soap12", "2"),
        ("get", "4"),
        ("post", "4"),
        ("soap", "4"),
        ("soap12", "4"),
    ] {
        let t = TestDir::new();
        let ledger = t.write(
            "ledger.csv",
            "conversion_id,offer_id,request_session_id,transaction_id,payout,revenue,sale_amount\n\
             1,55,0,,10.00,15.00,100.00\n2,55,700,,10.00,15.00,100.00\n3,56,0,00871,10.00,15.00,100.00\n4,57,0,,10.00,15.00,100.00\n",
        );
        t.write(
            "s.csv",
            "Conversion ID,Request ID,Transaction ID,Offer ID,Payout,Add To Existing Payout,Received,Received Option,Disposition Type,Disposition ID,Update Revshare Payout,Effective Date Option,Custom Date,Note To Append\n\
             1,,,55,12.34,no,56.78,Total Sale Amount,Approved,3,yes,custom,9/30/2026 14:05:07,n1\n\
             ,700,,,1.5,yes,2.25,additional_revenue,pending,,,conversion_date,,\"n2, with comma\"\n\
             ,,00871,56,,,10,total_revenue,returned,,,today,,\n\
             4,,,99,1,,,,,,,,,\n",
        );
        let emu = Emu::with(Ledger::load(&ledger).unwrap(), Faults::default());
        let out = run(
            &t,
            &emu,
            "s.csv",
            // Row 3 gives no offer: its conversion's is read from CAKE in the month.
            &[
                "--method",
                method,
                "--api-version",
                version,
                "--since",
                "2026-09-01",
                "--until",
                "2026-09-30",
            ],
        );
        assert_eq!(out.code, 1, "{method} v{version}: {out:?}");
        let c = emu.conversions();
        let one = &c[&1];
        assert_eq!(
            (
                one.payout.to_string(),
                one.revenue.to_string(),
                one.sale_amount.to_string()
            ),
            ("12.34".into(), "15.00".into(), "56.78".into())
        );
        assert_eq!(
            (
                one.disposition_type.as_str(),
                one.disposition_id,
                one.update_revshare_payout
            ),
            ("approved", 3, true)
        );
        assert_eq!(
            (one.effective_date.as_str(), one.notes.clone()),
            ("2026-09-30 14:05:07", vec!["n1".to_string()])
        );
        let two = &c[&2];
        assert_eq!(
            (two.payout.to_string(), two.revenue.to_string()),
            ("11.50".into(), "17.25".into())
        );
        assert_eq!(
            (two.disposition_type.as_str(), two.effective_date.as_str()),
            ("pending", "conversion_date")
        );
        assert_eq!(two.notes, vec!["n2, with comma".to_string()]);
        assert!(!two.update_revshare_payout);
        let three = &c[&3];
        assert_eq!(
            (three.payout.to_string(), three.revenue.to_string()),
            ("10.00".into(), "10".into()),
            "payout unchanged"
        );
        assert_eq!(
            (
                three.disposition_type.as_str(),
                three.effective_date.as_str()
            ),
            ("returned", "today")
        );
        assert_eq!(c[&4].applied, 0);
        let lines = results(&t, "s.results.csv");
        assert_eq!(
            lines
                .iter()
                .map(|l| l["status"].as_str())
                .collect::<Vec<_>>(),
            ["updated", "updated", "updated", "rejected"]
        );
        assert_eq!(lines[3]["message"], "Offer ID does not match");
        // The row without an offer was sent its conversion's, as CAKE's reports show it.
        assert_eq!(lines[1]["offer_id"], "55");
        assert!(c.values().take(3).all(|c| c.applied == 1));
    }
}

#[test]
fn sandbox_runs_the_sample_and_logs_json() {
    let t = TestDir::new();
    t.sample("approvals.csv");
    let out = t.run(&[
        "run",
        "approvals.csv",
        "--sandbox",
        "--rate",
        "0",
        "--log-format",
        "json",
        "--no-progress",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = results(&t, "approvals.results.csv");
    assert_eq!(count(&lines, "updated"), 5);
    assert!(
        out.stdout
            .contains("applied by this run: 5 rows, Σ payout 52.75"),
        "{}",
        out.stdout
    );
    let logs: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!logs.is_empty());
    for l in logs {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
        assert!(v.get("level").is_some(), "{l}");
    }
}

#[test]
fn refused_before_sending_without_url_key_or_valid_sheet() {
    let t = TestDir::new();
    t.sample("approvals.csv");
    t.sample("errors.csv");
    let out = t.run(&["run", "approvals.csv"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--sandbox"), "{}", out.stderr);
    let out = t.run(&[
        "run",
        "approvals.csv",
        "--base-url",
        "https://cake.example.com",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("CAKE_API_KEY"), "{}", out.stderr);
    let out = t.run_env(
        &[
            "run",
            "approvals.csv",
            "--base-url",
            "http://cake.example.com",
        ],
        &[("CAKE_API_KEY", "k")],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--allow-insecure-http"),
        "{}",
        out.stderr
    );
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "errors.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("10 of 10 rows are invalid; nothing was sent"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("row 3, column \"payout\", value \"1e3\""),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn config_file_supplies_options_and_the_command_line_wins() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write("s.csv", "Conv,Approved Revenue\n1,20.5\n2,30\n");
    t.write(
        "cake.toml",
        format!(
            "base-url = \"{}\"\nmethod = \"post\"\nrate = 1\nconcurrency = 2\nno_progress = true\n\
             [set]\ndisposition_type = \"approved\"\nreceived_option = \"total_revenue\"\n\
             [map]\n\"Conv\" = \"conversion_id\"\n\"Approved Revenue\" = \"received\"\n",
            emu.url
        ),
    );
    let out = t.run_env(
        &["run", "s.csv", "--config", "cake.toml", "--rate", "0"],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("configured unlimited"),
        "--rate on the command line wins: {}",
        out.stdout
    );
    let ledger = emu.conversions();
    assert_eq!(ledger[&1].disposition_type, "approved");
    assert_eq!(ledger[&1].revenue.to_string(), "20.5");
    assert_eq!(ledger[&2].revenue.to_string(), "30");
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    assert!(status.stdout.contains("method=post"), "{}", status.stdout);

    t.write("bad.toml", "api_key = \"x\"\n");
    let out = t.run(&["run", "s.csv", "--config", "bad.toml", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("does not go in the config file"),
        "{}",
        out.stderr
    );
    t.write("typo.toml", "base-ulr = \"https://x\"\n");
    let out = t.run(&["run", "s.csv", "--config", "typo.toml", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown field"), "{}", out.stderr);
}

/// The file holds any option of `run` (each flag once, in `RunArgs`): a `[values]` table and
/// reading back included; a decision about one run, or a key that is no option, is refused.
#[test]
fn a_config_file_holds_values_and_read_back_but_never_a_one_run_decision() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    // Conversion 1 already holds payout 10.00 and pending (the emulator's starting values).
    t.write(
        "s.csv",
        "Conversion ID,Payout,Approved?\n1,10.00,No\n2,12.50,Yes\n",
    );
    t.write(
        "cake.toml",
        format!(
            "base-url = \"{}\"\nread_back = true\nsince = \"2026-09-01\"\n\
             until = \"2026-09-01\"\nno-progress = true\n\
             [values]\n\"Approved?\" = \"Yes:approved,No:pending\"\n",
            emu.url
        ),
    );
    let out = t.run_env(
        &["run", "s.csv", "--config", "cake.toml"],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        emu.stats().requests,
        1,
        "read back from the file: the row CAKE already holds is not sent"
    );
    let results = results(&t, "s.results.csv");
    assert_eq!(results[0]["status"], "unchanged", "{results:?}");
    assert_eq!(results[1]["status"], "updated", "{results:?}");
    assert_eq!(emu.conversions()[&2].disposition_type, "approved");

    for (line, says) in [
        (
            "edited_sheet = true\n",
            "--edited-sheet on the command line",
        ),
        ("same-sheet-again = true\n", "never kept in a file"),
        ("restart = true\n", "never kept in a file"),
        ("dry_run = true\n", "never kept in a file"),
        ("summary-json = \"x.json\"\n", "never kept in a file"),
        (
            "sandbox = true\nbase-url = \"http://127.0.0.1:9\"\n",
            "keep one",
        ),
        ("rate = \"fast\"\n", "fast"),
        ("method = false\n", "false"),
        ("set = \"received=1\"\n", "[set] with one line per entry"),
        ("recieved = 1\n", "unknown field `recieved`"),
    ] {
        t.write("one.toml", line);
        let out = t.run_env(
            &["run", "s.csv", "--config", "one.toml", "--dry-run"],
            &[("CAKE_API_KEY", KEY)],
        );
        assert_eq!(out.code, 2, "{line}: {out:?}");
        assert!(
            out.stderr.contains("one.toml") && out.stderr.contains(says),
            "{line}: {}",
            out.stderr
        );
    }
    assert_eq!(emu.stats().requests, 1, "nothing more was sent");
}

#[test]
fn a_server_limit_below_the_configured_rate_is_honoured() {
    let t = TestDir::new();
    // The server allows 10/s and answers 429 + Retry-After: 1 beyond; the client is set to 20/s.
    let emu = Emu::start(Faults {
        max_rps: 10.0,
        ..Faults::default()
    });
    let rows = sheet(&t, "s.csv", 1, 60, 2);
    let out = run(&t, &emu, "s.csv", &["--rate", "20", "--max-attempts", "10"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = results(&t, "s.results.csv");
    check(&rows, &lines, &emu.conversions(), true);
    assert!(emu.conversions().values().all(|c| c.applied == 1));
    let stats = emu.stats();
    let refused = stats.answers.get("over_max_rps").copied().unwrap_or(0);
    assert!(
        refused > 0 && refused < 60,
        "throttled, then adapted: {stats:?}"
    );
}

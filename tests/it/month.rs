//! The seams between runs (issue 11): a dry run, a trial and a live run never clobber one
//! another's files, and a held checkpoint has an exit code of its own.

use crate::emu::{Emu, run, spawn};
use crate::run::{results, sheet};
use crate::util::{TestDir, free_addr};
use cake_recon::mock::Faults;
use std::time::Duration;

#[test]
fn a_dry_run_after_a_real_run_leaves_its_results_alone() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let real = t.read("s.results.csv");
    let ckpt = std::fs::read(t.path("s.results.csv.ckpt")).unwrap();
    let out = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("s.preview.csv"), "{}", out.stdout);
    assert_eq!(
        t.read("s.results.csv"),
        real,
        "the real results were rewritten"
    );
    assert_eq!(std::fs::read(t.path("s.results.csv.ckpt")).unwrap(), ckpt);
    assert!(t.read("s.preview.csv").contains("would_update"));
    // And the same command still resumes to the same, complete results.
    let again = run(&t, &emu, "s.csv", &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(t.read("s.results.csv"), real);
    assert!(emu.conversions().values().all(|c| c.applied == 1));
}

#[test]
fn a_dry_run_during_a_live_run_changes_nothing_of_it() {
    let t = TestDir::new();
    let rows = sheet(&t, "s.csv", 1, 60, 2);
    let emu = Emu::start(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let live = spawn(&t, &emu, "s.csv", &["--rate", "40", "--concurrency", "2"]);
    assert!(emu.wait_for(Duration::from_secs(20), |s| s.requests >= 5));
    let dry = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("s.preview.csv"), "{}", dry.stdout);
    let out = live.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), rows.len());
    assert!(lines.iter().all(|l| l["status"] == "updated"), "{lines:?}");
    assert!(emu.conversions().values().all(|c| c.applied == 1));
    let leftovers: Vec<String> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_sandbox_trial_never_blocks_the_first_real_run() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 5, 2);
    let trial = t.run(&["run", "s.csv", "--sandbox", "--rate", "0", "--no-progress"]);
    assert_eq!(trial.code, 0, "{trial:?}");
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(
        out.code, 0,
        "the real run was refused because of a trial: {out:?}"
    );
    assert_eq!(emu.stats().applied, 5, "every row really sent");
    // A trial after the real run does not overwrite the real results.
    let real = t.read("s.results.csv");
    let trial = t.run(&["run", "s.csv", "--sandbox", "--rate", "0", "--no-progress"]);
    assert_eq!(trial.code, 0, "{trial:?}");
    assert!(
        trial.stdout.contains("s.sandbox.results.csv"),
        "{}",
        trial.stdout
    );
    assert_eq!(t.read("s.results.csv"), real);
}

#[test]
fn another_run_holding_the_checkpoint_is_exit_4_and_sends_nothing() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 40, 2);
    let emu = Emu::start(Faults {
        latency_ms: 50,
        ..Faults::default()
    });
    let first = spawn(&t, &emu, "s.csv", &["--rate", "20", "--concurrency", "1"]);
    assert!(emu.wait_for(Duration::from_secs(20), |s| s.requests >= 2));
    let out = run(&t, &emu, "s.csv", &["--concurrency", "8"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("nothing was sent"), "{}", out.stderr);
    let done = first.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert!(emu.conversions().values().all(|c| c.applied == 1));
}

#[test]
fn after_an_outage_the_same_command_finishes_the_job() {
    let t = TestDir::new();
    let rows = sheet(&t, "s.csv", 1, 6, 2);
    // A port nobody listens on: every request is refused, provably not applied.
    let addr = free_addr();
    let url = format!("http://{addr}");
    let args = [
        "run",
        "s.csv",
        "--base-url",
        &url,
        "--rate",
        "0",
        "--no-progress",
        "--max-attempts",
        "2",
        "--retry-base-ms",
        "1",
        "--retry-cap-ms",
        "5",
    ];
    let down = t.run_env(&args, &[("CAKE_API_KEY", crate::emu::KEY)]);
    assert_eq!(down.code, 1, "{down:?}");
    let lines = results(&t, "s.results.csv");
    assert!(lines.iter().all(|l| l["status"] == "failed"), "{lines:?}");
    assert!(
        lines[0]["message"].contains("could not connect"),
        "{lines:?}"
    );
    // The server is back at the same address: the same command sends the failed rows again.
    let emu = Emu::at(
        &addr,
        cake_recon::mock::Ledger::generated(1000),
        Faults::default(),
    );
    let up = t.run_env(&args, &[("CAKE_API_KEY", crate::emu::KEY)]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout.contains("6 rows that failed in an earlier run"),
        "{}",
        up.stdout
    );
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), rows.len());
    assert!(lines.iter().all(|l| l["status"] == "updated"), "{lines:?}");
    assert!(emu.conversions().values().all(|c| c.applied == 1));
    assert_eq!(emu.conversions().len(), rows.len());
}

#[test]
fn restart_never_doubles_applied_additive_rows_without_being_told() {
    let t = TestDir::new();
    // Rows 2, 4, 6 (every second) are additive.
    let rows = sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    let before = emu.conversions();
    let out = run(&t, &emu, "s.csv", &["--restart"]);
    assert_eq!(out.code, 2, "{out:?}");
    let additive: Vec<_> = rows.iter().filter(|r| r.additive).collect();
    let payout: rust_decimal::Decimal = additive.iter().map(|r| r.payout).sum();
    let received: rust_decimal::Decimal = additive.iter().map(|r| r.received).sum();
    let expected = format!(
        "{} additive rows that an earlier run applied or may have applied (rows {})",
        additive.len(),
        additive
            .iter()
            .map(|r| r.row.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Σ payout {payout} and Σ received {received}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--restart-resend-additive"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.conversions(), before, "nothing was sent");
    // Named explicitly, the restart sends everything again: the additive money is added twice.
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--restart", "--restart-resend-additive"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for r in &rows {
        let c = &emu.conversions()[&r.id];
        assert_eq!(c.applied, 2, "row {}", r.row);
    }
}

#[test]
fn cron_quiet_with_a_refused_key_still_says_why_and_json_ends_with_a_summary() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 4, 2);
    let emu = Emu::start(Faults::default());
    let args = crate::emu::args(&emu, "s.csv", &["-q", "--log-format", "json"]);
    let out = t.run_env(&args, &[("CAKE_API_KEY", "wrong-key")]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("stopped: CAKE answered Invalid API Key")
            && out.stderr.contains("CAKE_API_KEY or --api-key-file")
            && out.stderr.contains("exit 3"),
        "{}",
        out.stderr
    );
    // Quiet, the JSON log still ends with the summary event.
    let last: serde_json::Value =
        serde_json::from_str(out.stderr.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(
        (&last["message"], &last["exit_code"]),
        (&"summary".into(), &3.into()),
        "{last}"
    );
    // JSON, verbose: one event per finished row and a closing summary event.
    let args = crate::emu::args(&emu, "s.csv", &["-v", "--log-format", "json", "--restart"]);
    let out = t.run_env(&args, &[("CAKE_API_KEY", crate::emu::KEY)]);
    assert_eq!(out.code, 0, "{out:?}");
    let events: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let rows: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "row finished")
        .collect();
    assert_eq!(rows.len(), 4, "{}", out.stderr);
    assert!(rows.iter().all(|e| e["status"] == "updated"));
    let last = events.last().unwrap();
    assert_eq!(last["message"], "summary", "{last}");
    assert_eq!(last["updated"], 4);
    assert_eq!(last["exit_code"], 0);
}

#[test]
fn an_error_storm_names_the_refused_connection_and_the_url() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 30, 0);
    let addr = free_addr();
    let url = format!("http://{addr}");
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
            "1",
            "--concurrency",
            "1",
        ],
        &[("CAKE_API_KEY", crate::emu::KEY)],
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("error storm"), "{}", out.stdout);
    assert!(out.stdout.contains("could not connect"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("CAKE at {url}")),
        "{}",
        out.stdout
    );
}

#[test]
fn status_on_a_live_run_says_in_flight_has_json_and_names_the_right_file() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 40, 1);
    let emu = Emu::start(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let live = spawn(&t, &emu, "s.csv", &["--rate", "0", "--concurrency", "4"]);
    assert!(emu.wait_for(Duration::from_secs(20), |s| s.requests >= 4));
    let text = t.run(&["status", "s.results.csv.ckpt"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("running:  yes"), "{}", text.stdout);
    assert!(text.stdout.contains("in flight: "), "{}", text.stdout);
    assert!(text.stdout.contains("in doubt: 0"), "{}", text.stdout);
    assert!(
        !text.stdout.contains("may have been sent"),
        "{}",
        text.stdout
    );
    let json = t.run(&["status", "s.results.csv.ckpt", "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["running"].is_string(), "{v}");
    assert_eq!(v["valid_rows"], 40);
    assert_eq!(v["in_doubt_total"], 0);
    let out = live.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let done: serde_json::Value =
        serde_json::from_str(&t.run(&["status", "s.results.csv.ckpt", "--json"]).stdout).unwrap();
    assert_eq!(done["rows"]["updated"], 40);
    assert!(done["running"].is_null());
    // The sheet instead of its checkpoint: the checkpoint beside it.
    let by_sheet = t.run(&["status", "s.csv"]);
    assert_eq!(by_sheet.code, 0, "{by_sheet:?}");
    assert!(
        by_sheet
            .stdout
            .starts_with("Checkpoint s.results.csv.ckpt\n"),
        "{}",
        by_sheet.stdout
    );
    // A sheet with no checkpoint beside it: the message names the checkpoint it looked for,
    // and no option that `status` does not have.
    std::fs::copy(t.path("s.csv"), t.path("t.csv")).unwrap();
    let wrong = t.run(&["status", "t.csv"]);
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(
        wrong
            .stderr
            .contains("cake-recon status t.results.csv.ckpt"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("--checkpoint"), "{}", wrong.stderr);
    assert!(
        !wrong.stderr.contains("remove the file"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn a_sheet_where_only_the_id_is_recognised_is_refused_with_the_map_to_add() {
    let t = TestDir::new();
    t.write(
        "s.csv",
        "Conv ID,Approved Amount,Status\n1,12.50,Approved\n2,3.00,Approved\n",
    );
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    // The status is read from its cells; the amounts are never ignored silently.
    assert!(
        out.stderr
            .contains("column \"Approved Amount\" holds amounts (12.50, 3.00)")
            && out.stderr.contains("--map \"Approved Amount=payout\"")
            && out.stderr.contains("--map \"Approved Amount=ignore\""),
        "{}",
        out.stderr
    );
    // Only ids: the sheet changes nothing, with the map to add.
    t.write("ids.csv", "Conv ID,Comments\n1,late\n");
    let out = run(&t, &emu, "ids.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("changes nothing")
            && out.stderr.contains("--map \"Comments=note_to_append\""),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
    // Following the advice works; a row left empty is then an error naming its row.
    t.write(
        "s.csv",
        "Conv ID,Approved Payout,Status\n1,12.50,Approved\n2,,\n",
    );
    let out = run(&t, &emu, "s.csv", &["--map", "Status=disposition_type"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("row 3") && out.stderr.contains("changes nothing"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0, "nothing is half-sent");
}

#[test]
fn titles_and_blank_lines_above_the_header_are_skipped_and_said() {
    let t = TestDir::new();
    // As LibreOffice saves a sheet with a title block: `;`, CRLF, a title, a blank line.
    t.write(
        "s.csv",
        "ACME approvals June 2026;;\r\n;;\r\nConversion ID;Payout;Disposition Type\r\n7;12.50;approved\r\n8;3.00;rejected\r\n",
    );
    let out = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("header:    row 3"), "{}", out.stdout);
    assert!(out.stdout.contains("delimiter: ';'"), "{}", out.stdout);
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["row"], "4", "row numbers stay the spreadsheet's");
    assert_eq!(lines[0]["payout"], "12.50");
    // The sent values reach CAKE.
    let emu = Emu::start(Faults::default());
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    assert_eq!(emu.conversions()[&7].payout.to_string(), "12.50");
    // --header-row names the row; a wrong one says what is wrong with it.
    let out = t.run(&["run", "s.csv", "--dry-run", "--header-row", "1"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no id column"), "{}", out.stderr);
}

#[test]
fn a_total_line_is_recognised_checked_and_never_sent() {
    let t = TestDir::new();
    t.write(
        "s.csv",
        "conversion_id,payout,disposition_type\n1,10.00,approved\n2,2.50,approved\nTotal,12.50,\n",
    );
    let out = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(
        out.code, 0,
        "a total line does not block the sheet: {out:?}"
    );
    assert!(
        out.stdout
            .contains("row 4: a total line, not sent; its amounts match"),
        "{}",
        out.stdout
    );
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines.len(), 3, "one line per row, the total included");
    assert_eq!(lines[2]["status"], "skipped");
    assert_eq!(emu.stats().requests, 2);
    // An unlabelled line whose amounts are the sums is a total too; a wrong total is said.
    t.write(
        "u.csv",
        "conversion_id,payout,disposition_type\n1,10.00,approved\n2,2.50,approved\n,12.50,\n",
    );
    let out = t.run(&["run", "u.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("a total line"), "{}", out.stdout);
    t.write(
        "w.csv",
        "conversion_id,payout,disposition_type\n1,10.00,approved\n2,2.50,approved\nGrand Total,99.00,\n",
    );
    let out = t.run(&["run", "w.csv", "--dry-run"]);
    assert!(out.stdout.contains("do NOT match"), "{}", out.stdout);
}

/// Payouts as the emulator holds them (generated conversions start at 10.00).
fn payouts(emu: &Emu) -> Vec<(i32, String, u32)> {
    emu.conversions()
        .values()
        .map(|c| (c.conversion_id, c.payout.to_string(), c.applied))
        .collect()
}

#[test]
fn a_corrected_and_resorted_sheet_sends_only_the_changed_and_new_rows() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n\
         1,5.00,false\n\
         2,3.00,true\n\
         3,8.00,false\n\
         2000000000,1.00,false\n",
    );
    let first = run(&t, &emu, "s.csv", &[]);
    assert_eq!(
        first.code, 1,
        "the unknown conversion is rejected: {first:?}"
    );
    assert_eq!(emu.stats().requests, 4);
    // Fixed: the wrong id corrected, conversion 3's amount changed, a row added, sorted anew.
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n\
         6,1.00,false\n\
         4,1.00,false\n\
         3,9.00,false\n\
         1,5.00,false\n\
         2,3.00,true\n",
    );
    let second = run(&t, &emu, "s.csv", &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        emu.stats().requests,
        7,
        "only 6, 4 and the changed 3 are sent"
    );
    assert_eq!(
        payouts(&emu),
        vec![
            (1, "5.00".into(), 1),
            (2, "13.00".into(), 1),
            (3, "9.00".into(), 2),
            (4, "1.00".into(), 1),
            (6, "1.00".into(), 1),
        ]
    );
    assert!(
        second.stdout.contains("2 earlier outcomes found their row, 1 rows were changed, 1 earlier rows are no longer in the sheet")
            && second.stdout.contains("1 changed rows were sent in their new version"),
        "{}",
        second.stdout
    );
    let lines = results(&t, "s.results.csv");
    let ids: Vec<&str> = lines.iter().map(|l| l["conversion_id"].as_str()).collect();
    assert_eq!(
        ids,
        ["6", "4", "3", "1", "2"],
        "results follow the new sheet"
    );
    assert!(lines.iter().all(|l| l["status"] == "updated"), "{lines:?}");
    // And the same command once more sends nothing.
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    assert_eq!(emu.stats().requests, 7);
}

#[test]
fn a_changed_additive_row_that_was_applied_is_held_back_until_made_absolute() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n1,2.00,false\n2,3.00,true\n",
    );
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    // The analyst "fixes" the bonus from +3.00 to +4.00: sending +4.00 would make it +7.00.
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n1,2.00,false\n2,4.00,true\n",
    );
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(emu.stats().requests, 2, "nothing was added on top");
    assert_eq!(payouts(&emu)[1], (2, "13.00".into(), 1));
    let lines = results(&t, "s.results.csv");
    assert_eq!(lines[1]["status"], "skipped");
    assert!(
        lines[1]["message"].contains("add_to_existing_payout=false"),
        "{lines:?}"
    );
    assert!(
        out.stdout.contains("1 changed additive rows were NOT sent"),
        "{}",
        out.stdout
    );
    // Made absolute (the full payout the conversion should hold), it is sent.
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout\n1,2.00,false\n2,14.00,false\n",
    );
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.stats().requests, 3);
    assert_eq!(payouts(&emu)[1], (2, "14.00".into(), 2));
}

#[test]
fn next_months_sheet_saved_over_last_months_is_not_taken_for_an_edit() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let header = "conversion_id,payout,add_to_existing_payout\n";
    t.write(
        "s.csv",
        format!("{header}1,5.00,true\n2,5.00,true\n3,5.00,true\n"),
    );
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    // December: conversion 1 earns the same bonus again; 2 and 3 are not in it.
    t.write(
        "s.csv",
        format!("{header}1,5.00,true\n7,5.00,true\n8,5.00,true\n"),
    );
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("looks like a new one")
            && out.stderr.contains("--output NEW.results.csv"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 3, "nothing was sent");
    // Given results of its own, the new rows are sent; the recurring bonus is the same addition
    // to the same conversion another job made, so the journal holds it back and says whose…
    let out = run(&t, &emu, "s.csv", &["--output", "dec.results.csv"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("1 additive rows were NOT sent"),
        "{}",
        out.stdout
    );
    let dec = t.read("dec.results.csv");
    assert!(
        dec.contains("skipped") && dec.contains("s.csv") && dec.contains("--same-additions-again"),
        "{dec}"
    );
    assert_eq!(payouts(&emu)[0], (1, "15.00".into(), 1));
    // …until the user says it is meant: then it is added again.
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--output", "dec.results.csv", "--same-additions-again"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(payouts(&emu)[0], (1, "20.00".into(), 2));
}

#[test]
fn a_european_export_is_read_from_its_own_evidence() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    // As a German Excel saves it: `;`, decimal comma, thousands points, day first.
    t.write(
        "eu.csv",
        "Conversion ID;Payout;Custom Date\r\n\
         1;1.234,56;30/09/2026\r\n\
         2;1.500;01/10/2026\r\n\
         3;12,5;02/10/2026 14:05\r\n",
    );
    let out = run(
        &t,
        &emu,
        "eu.csv",
        &["--set", "add_to_existing_payout=false"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let c = emu.conversions();
    assert_eq!(c[&1].payout.to_string(), "1234.56");
    assert_eq!(
        c[&2].payout.to_string(),
        "1500",
        "1.500 is fifteen hundred here"
    );
    assert_eq!(c[&3].payout.to_string(), "12.5");
    assert_eq!(c[&1].effective_date, "2026-09-30 00:00:00");
    assert_eq!(
        c[&2].effective_date, "2026-10-01 00:00:00",
        "1 October, not January 10"
    );
    assert_eq!(c[&3].effective_date, "2026-10-02 14:05:00");
    // The dry run says what it decided and why.
    let dry = t.run(&[
        "run",
        "eu.csv",
        "--dry-run",
        "--set",
        "add_to_existing_payout=false",
    ]);
    assert!(
        dry.stdout
            .contains("decimal comma: 1.234,56 (from row 2 Payout \"1.234,56\")")
            && dry
                .stdout
                .contains("day first: 30/09/2026 (from row 2 Custom Date \"30/09/2026\")"),
        "{}",
        dry.stdout
    );
}

#[test]
fn a_european_sheet_whose_dates_prove_nothing_asks_for_the_order() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write(
        "eu.csv",
        "conversion_id;payout;custom_date\n1;12,50;01/10/2026\n2;7,25;03/11/2026\n",
    );
    let out = run(&t, &emu, "eu.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("row 2 custom_date \"01/10/2026\" could be either")
            && out.stderr.contains("--date-order dmy"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
    // Told, it reads them that way.
    let out = run(&t, &emu, "eu.csv", &["--date-order", "dmy"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&2].effective_date, "2026-11-03 00:00:00");
}

#[test]
fn a_thousands_shaped_amount_in_a_decimal_point_sheet_is_refused() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write("us.csv", "conversion_id,payout\n1,12.50\n2,1.500\n");
    let out = run(&t, &emu, "us.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("row 3, column \"payout\", value \"1.500\": is ambiguous"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
}

/// One part of a workbook (its XML), read from the zip.
pub(crate) fn xlsx_part(path: &std::path::Path, part: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(part).unwrap(), &mut xml).unwrap();
    xml
}

#[test]
fn results_can_be_a_real_workbook_and_a_finished_run_leaves_no_lock_or_temporary_file() {
    use calamine::{Data, Reader as _};
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write(
        "s.csv",
        "conversion_id,payout,add_to_existing_payout,transaction_id\n1,12.50,false,\n2,3.00,true,\n,1.00,false,=cmd\n",
    );
    let out = run(&t, &emu, "s.csv", &["--output", "s.results.xlsx"]);
    assert_eq!(out.code, 1, "the third conversion does not exist: {out:?}");
    let mut book = calamine::open_workbook_auto(t.path("s.results.xlsx")).unwrap();
    let range = book.worksheet_range("Results").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect();
    assert_eq!(rows[0][..3], ["row", "conversion_id", "request_session_id"]);
    assert_eq!(rows[3][3], "=cmd", "text, never a formula");
    assert_eq!(rows[3][8], "rejected");
    // Amounts are numbers (SUM works), shown with two decimals; an addition shows its sign.
    assert_eq!(range.get((1, 5)), Some(&Data::Float(12.5)));
    assert_eq!(range.get((2, 5)), Some(&Data::Float(3.0)));
    assert_eq!(range.get((1, 0)), Some(&Data::Float(2.0)), "the sheet row");
    assert_eq!(
        range.get((1, 1)),
        Some(&Data::String("1".into())),
        "ids stay text"
    );
    let styles = xlsx_part(&t.path("s.results.xlsx"), "xl/styles.xml");
    assert!(
        styles.contains("formatCode=\"#,##0.00\"")
            && styles.contains("formatCode=\"+#,##0.00;-#,##0.00;0.00\""),
        "{styles}"
    );
    assert_eq!(rows[2][6], "", "received left as it is: blank");
    assert_eq!(rows[2][8], "updated");
    let names = t.names();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".lock") || n.contains(".tmp")),
        "{names:?}"
    );
    // A kind of file cake-recon does not write is refused, not filled with CSV text.
    let out = run(&t, &emu, "s.csv", &["--output", "s.results.ods"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains(".csv or .xlsx"), "{}", out.stderr);
}

#[test]
fn run_help_teaches_the_month_the_exit_codes_and_cron() {
    let t = TestDir::new();
    let out = t.run(&["run", "--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    for needle in [
        "The monthly workflow",
        "--sandbox",
        "--dry-run",
        "run the same command",
        "4    another run holds the checkpoint",
        "3    stopped by a run-wide failure",
        "Cron",
        "--sheet",
        "--date-order",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
}

#[test]
fn an_output_onto_a_file_cake_recon_did_not_write_is_refused() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    t.write("s.csv", "conversion_id,payout\n1,2.00\n");
    t.write("june-report.csv", "month,total\nJune,1234.56\n");
    let out = run(&t, &emu, "s.csv", &["--output", "june-report.csv"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("cake-recon did not write it"),
        "{}",
        out.stderr
    );
    assert_eq!(t.read("june-report.csv"), "month,total\nJune,1234.56\n");
    assert_eq!(emu.stats().requests, 0);
    let dry = t.run(&["run", "s.csv", "--dry-run", "--output", "june-report.csv"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    // Its own results, from an earlier run, it replaces.
    assert_eq!(run(&t, &emu, "s.csv", &["--output", "mine.csv"]).code, 0);
    assert_eq!(run(&t, &emu, "s.csv", &["--output", "mine.csv"]).code, 0);
}

#[test]
fn the_preview_says_which_map_an_ignored_column_that_looks_like_a_field_wants() {
    let t = TestDir::new();
    t.write(
        "s.csv",
        "Conv ID,Approved Payout,Comments\n101,12.50,late\n",
    );
    let out = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(
            "(ignored: if it is meant to be sent, add --map \"Comments=note_to_append\")"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn a_dry_run_beside_a_run_says_what_the_next_run_would_send() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let header = "conversion_id,payout,add_to_existing_payout\n";
    t.write(
        "s.csv",
        format!("{header}1,5.00,false\n2,6.00,false\n3,7.00,false\n"),
    );
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    // One cell fixed, one row added.
    t.write(
        "s.csv",
        format!("{header}1,5.00,false\n2,6.50,false\n3,7.00,false\n4,1.00,false\n"),
    );
    let dry = t.run(&["run", "s.csv", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "2 rows keep their outcome (updated 2); 1 changed and 1 new rows would be sent"
        ),
        "{}",
        dry.stdout
    );
    assert_eq!(emu.stats().requests, 3, "a dry run sends nothing");
    // And the run does just that.
    assert_eq!(run(&t, &emu, "s.csv", &[]).code, 0);
    assert_eq!(emu.stats().requests, 5);
}

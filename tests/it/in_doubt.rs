//! In-doubt rows settled without guessing: `status` names each one's conversion, what it adds
//! and when its request left; `--resend-in-doubt` sends only the rows (or conversions)
//! selected; a re-run that sends nothing says so and claims no money for itself.

use crate::emu::{Emu, run};
use crate::run::{Row, results, sheet};
use crate::util::TestDir;
use cake_recon::mock::Faults;
use rust_decimal::Decimal;
use std::str::FromStr;

/// A run of additive rows where some connections drop after CAKE applied the call: those rows
/// end `in_doubt`, each applied exactly once. Returns the rows and the in-doubt ones.
fn with_doubts(t: &TestDir, emu: &Emu) -> (Vec<Row>, Vec<Row>) {
    let rows = sheet(t, "s.csv", 1, 60, 1);
    let out = run(t, emu, "s.csv", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let doubts: Vec<Row> = results(t, "s.results.csv")
        .iter()
        .filter(|l| l["status"] == "in_doubt")
        .filter_map(|l| rows.iter().find(|r| r.row.to_string() == l["row"]).cloned())
        .collect();
    assert!(doubts.len() >= 3, "the faults left too few rows in doubt");
    (rows, doubts)
}

fn drops_after_applying() -> Emu {
    Emu::start(Faults {
        drop_after_rate: 0.15,
        retry_after: 0,
        seed: 9,
        ..Faults::default()
    })
}

#[test]
fn status_lists_each_in_doubt_row_with_its_conversion_addition_and_time() {
    let t = TestDir::new();
    let emu = drops_after_applying();
    let (_, doubts) = with_doubts(&t, &emu);
    // By the checkpoint and by the sheet: the same listing.
    for target in ["s.results.csv.ckpt", "s.csv"] {
        let status = t.run(&["status", target]);
        assert_eq!(status.code, 0, "{status:?}");
        for d in &doubts {
            let line = format!(
                "row {}: conversion_id {}; adds +{:.2} payout, +{:.2} received, a note; sent 20",
                d.row, d.id, d.payout, d.received
            );
            assert!(status.stdout.contains(&line), "{line}\n{}", status.stdout);
        }
        assert!(
            status.stdout.contains("--resend-in-doubt ROWS"),
            "{}",
            status.stdout
        );
    }
    let json = t.run(&["status", "s.csv", "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let listed = v["in_doubt"].as_array().unwrap();
    assert_eq!(listed.len(), doubts.len());
    for (d, j) in doubts.iter().zip(listed) {
        assert_eq!(j["row"], d.row);
        assert_eq!(j["conversion"]["conversion_id"], d.id);
        let amount = |k: &str| Decimal::from_str(j["adds"][k].as_str().unwrap()).unwrap();
        assert_eq!(amount("payout"), d.payout, "{j}");
        assert_eq!(amount("received"), d.received, "{j}");
        assert_eq!(j["adds"]["received_field"], "received");
        assert_eq!(j["adds"]["note"], true);
        assert!(j["sent_at"].as_str().unwrap().starts_with("20"), "{j}");
    }

    // An edited row is not described by its new amounts: they are not what was sent.
    let first = &doubts[0];
    let text = t.read("s.csv").replacen(
        &format!("\n{},{},", first.id, first.payout),
        &format!("\n{},{},", first.id, first.payout + Decimal::ONE),
        1,
    );
    t.write("s.csv", text);
    let status = t.run(&["status", "s.results.csv.ckpt"]);
    assert!(
        status.stdout.contains(&format!(
            "row {}: conversion_id {}; adds ? (row {} of s.csv now differs from what was sent)",
            first.row, first.id, first.row
        )),
        "{}",
        status.stdout
    );
}

#[test]
fn a_selected_resend_sends_only_the_rows_and_conversions_selected() {
    let t = TestDir::new();
    let emu = drops_after_applying();
    let (rows, doubts) = with_doubts(&t, &emu);
    let sent = emu.stats().requests;
    let applied = |id: i32| emu.conversions().get(&id).map_or(0, |c| c.applied);
    assert!(rows.iter().all(|r| applied(r.id) == 1), "each applied once");
    let not_in_doubt = rows
        .iter()
        .find(|r| !doubts.iter().any(|d| d.row == r.row))
        .unwrap();

    // Two in-doubt rows by number, and a row that is not in doubt (never sent again).
    let selection = format!("{},{},{}", doubts[0].row, doubts[1].row, not_in_doubt.row);
    // At once, even selected, nothing is sent: CAKE may still be working on those requests
    // (the settling bound, 10 minutes by default, has not passed).
    let early = run(&t, &emu, "s.csv", &["--resend-in-doubt", &selection]);
    assert_eq!(emu.stats().requests, sent, "{early:?}");
    let lines = results(&t, "s.results.csv");
    assert!(
        lines
            .iter()
            .any(|l| l["message"].contains("not re-sent although --resend-in-doubt selected it")),
        "{lines:?}"
    );
    // With the bound shortened to 1 s for the test, once it has passed the selection is sent.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--resend-in-doubt", &selection, "--settle-after", "1"],
    );
    assert!(matches!(out.code, 0 | 1), "{out:?}");
    assert!(
        out.stdout
            .contains("2 in-doubt rows were sent again (--resend-in-doubt)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "--resend-in-doubt selected 1 that no in-doubt row answers, so nothing was sent for \
             it (not in doubt, or not in the sheet): row {}",
            not_in_doubt.row
        )),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().requests, sent + 2, "only the two selected rows");
    for r in &rows {
        let again = r.row == doubts[0].row || r.row == doubts[1].row;
        assert_eq!(applied(r.id), if again { 2 } else { 1 }, "row {}", r.row);
    }

    // A third one by its conversion, from a file as `status` lists it.
    let third = &doubts[2];
    t.write(
        "ids.txt",
        format!(
            "# checked in CAKE: not applied\nconversion_id {}\n",
            third.id
        ),
    );
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--resend-in-doubt-file", "ids.txt", "--settle-after", "1"],
    );
    assert!(matches!(out.code, 0 | 1), "{out:?}");
    assert_eq!(emu.stats().requests, sent + 3);
    assert_eq!(applied(third.id), 2);
    let out = run(
        &t,
        &emu,
        "s.csv",
        &["--resend-in-doubt", "@ids.txt", "--settle-after", "1"],
    );
    assert!(matches!(out.code, 0 | 1), "{out:?}");
    // Row 3 ended in doubt again or updated; either way the file form selects the same row.
    assert!(emu.stats().requests <= sent + 4);

    // A selection that is not one is refused before anything is sent.
    let before = emu.stats().requests;
    for bad in ["3-1", "0", "@no-such-file.txt"] {
        let out = run(&t, &emu, "s.csv", &["--resend-in-doubt", bad]);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
    }
    let out = t.run(&["run", "--resend-in-doubt", "s.csv", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("put --resend-in-doubt after the sheet"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, before);
    for r in &rows {
        assert!(applied(r.id) <= 3, "row {}", r.row);
    }
}

#[test]
fn a_rerun_that_sends_nothing_says_so_and_claims_no_money() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    sheet(&t, "s.csv", 1, 10, 2);
    let first = run(&t, &emu, "s.csv", &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first
            .stdout
            .contains("applied by this run: 10 rows, Σ payout"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("the job's"), "{}", first.stdout);

    let again = run(&t, &emu, "s.csv", &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("nothing was sent; the job's 10 rows were applied earlier (20"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains(" UTC)"),
        "the date, to the minute: {}",
        again.stdout
    );
    assert!(
        !again.stdout.contains("applied by this run"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("applied: Σ"), "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("the job's totals (this run and earlier runs): 10 rows updated, Σ payout"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("  the job's rows: updated 10,"),
        "{}",
        again.stdout
    );
    assert_eq!(emu.stats().requests, 10);

    // The JSON summary carries the same distinction in typed fields.
    let quiet = run(&t, &emu, "s.csv", &["-q", "--log-format", "json"]);
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert!(quiet.stderr.contains("; nothing sent;"), "{}", quiet.stderr);
    let last: serde_json::Value =
        serde_json::from_str(quiet.stderr.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(last["message"], "summary", "{last}");
    assert_eq!(last["nothing_sent"], true, "{last}");
    assert_eq!(last["requests"], 0, "{last}");
    assert_eq!(last["applied_rows"], 0, "{last}");
    assert_eq!(last["payout_applied"], "0", "{last}");
    assert_eq!(last["job_rows_updated"], 10, "{last}");
    assert_eq!(last["earlier_rows_applied"], 10, "{last}");
    assert!(
        last["earlier_applied_last_at"]
            .as_str()
            .is_some_and(|at| at.starts_with("20")),
        "{last}"
    );
}

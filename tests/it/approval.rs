//! Sign-off in pairs (`serve --users`): a preparer's Apply waits for an approver's approval;
//! nobody approves their own sheet; an approval binds to the sheet's bytes, the choices and the
//! money, and a change to either voids it; the audit log holds who did what, and `cake-recon
//! audit --verify` finds an edited line. Asserted on the emulator's ledger and the log file.

use crate::emu::{Emu, KEY};
use crate::serve::{Server, payout_sheet};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

fn hash(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let h = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(h.starts_with("$argon2id$"), "{h}");
    assert!(!h.contains(password));
    h
}

/// The plan digest the page's approve button carries.
fn plan_of(page: &str) -> String {
    let at = page
        .find("name=\"plan\" value=\"")
        .expect("an approve button");
    page[at + 19..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

fn audit(t: &TestDir, verify: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cake-recon"));
    cmd.arg("audit").arg("--dir").arg(t.dir.path());
    if verify {
        cmd.arg("--verify");
    }
    cmd.output().unwrap()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one sign-off, each way it can go wrong"
)]
fn a_payout_run_waits_for_a_second_person_and_the_record_keeps_who_did_what() {
    let t = TestDir::new();
    let users = t.path("users.toml");
    std::fs::write(
        &users,
        format!(
            "[[user]]\nname = \"ana\"\nrole = \"preparer\"\npassword_hash = \"{}\"\n\
             [[user]]\nname = \"ben\"\nrole = \"approver\"\npassword_hash = \"{}\"\n",
            hash("ana's own password"),
            hash("ben's own password")
        ),
    )
    .unwrap();
    let emu = Emu::with(Ledger::generated(1_000), Faults::default());
    let s = Server::start(
        &t,
        &[
            "--base-url",
            emu.url.as_str(),
            "--listen",
            "127.0.0.1:0",
            "--users",
            users.to_str().unwrap(),
            "--approval-over",
            "100",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    // Without a session nothing opens; the token of the printed link is not a way in.
    assert_eq!(s.get("/").status, 303);
    assert_eq!(s.sign_in("ana", "ben's own password"), 401);
    assert_eq!(s.sign_in("ana", "ana's own password"), 303);
    assert!(s.get("/").body.contains("id=\"whoami\">ana"));

    let sheet = payout_sheet(20);
    let page = s.upload("june.csv", sheet.as_bytes());
    let preview = s.get(&page);
    assert!(
        preview.body.contains("needs an approval"),
        "{}",
        preview.body
    );
    assert!(
        !preview.body.contains("id=\"approve\""),
        "a preparer has no approve button"
    );
    let refused = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("approver"), "{}", refused.body);
    let own = s.post_form(&format!("{page}/approve"), &[("plan", "x")]);
    assert_eq!(own.status, 403, "a preparer approves nothing");

    // Ben approves what he sees.
    assert_eq!(s.sign_in("ben", "ben's own password"), 303);
    let seen = s.get(&page);
    assert!(
        seen.body.contains("Apply 20 rows"),
        "the approver sees the same preview"
    );
    let plan = plan_of(&seen.body);
    let stale = s.post_form(&format!("{page}/approve"), &[("plan", "0000")]);
    assert_eq!(stale.status, 409, "an approval of another plan is refused");
    assert_eq!(
        s.post_form(&format!("{page}/approve"), &[("plan", &plan)])
            .status,
        303
    );
    assert!(
        s.get(&page)
            .body
            .contains("Approved by <strong>ben</strong>")
    );

    // Ben's own sheet: he prepared it, so he cannot approve it.
    let his = s.upload("july.csv", payout_sheet(5).as_bytes());
    let his_page = s.get(&his);
    assert!(
        !his_page.body.contains("id=\"approve\""),
        "{}",
        his_page.body
    );
    assert!(his_page.body.contains("You prepared this sheet"));
    let forced = s.post_form(&format!("{his}/approve"), &[("plan", &plan_of(&seen.body))]);
    assert_eq!(forced.status, 403);

    // The sheet's bytes changed after the approval (the kept upload edited): void.
    let id = page.rsplit('/').next().unwrap();
    let kept = t
        .dir
        .path()
        .join(".cake-recon/uploads")
        .join(id)
        .join("june.csv");
    std::fs::write(&kept, sheet.replace("1001.25", "9001.25")).unwrap();
    assert_eq!(s.sign_in("ana", "ana's own password"), 303);
    let voided = s.get(&page);
    assert!(voided.body.contains("is void"), "{}", voided.body);
    assert!(
        voided.body.contains("the sheet&#39;s file is another"),
        "{}",
        voided.body
    );
    let rows_now = if voided.body.contains("Apply 20 rows") {
        "20"
    } else {
        "0"
    };
    assert_eq!(
        s.post_form(&format!("{page}/apply"), &[("rows", rows_now)])
            .status,
        409
    );
    std::fs::write(&kept, &sheet).unwrap();
    assert!(
        s.get(&page).body.contains("Approved by"),
        "the same bytes: the approval holds"
    );

    // Changed choices void it too.
    assert_eq!(
        s.post_form(&format!("{page}/choices"), &[("date_order", "dmy")])
            .status,
        303
    );
    let changed = s.get(&page);
    assert!(
        changed.body.contains("the choices on this page changed"),
        "{}",
        changed.body
    );
    assert_eq!(
        s.post_form(&format!("{page}/apply"), &[("rows", "20")])
            .status,
        409
    );
    assert_eq!(
        emu.stats().requests,
        0,
        "nothing was sent without an approval"
    );

    // Approved again, then applied by the preparer.
    assert_eq!(s.sign_in("ben", "ben's own password"), 303);
    let plan = plan_of(&s.get(&page).body);
    assert_eq!(
        s.post_form(&format!("{page}/approve"), &[("plan", &plan)])
            .status,
        303
    );
    assert_eq!(s.sign_in("ana", "ana's own password"), 303);
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    assert_eq!(emu.conversions()[&1].payout.to_string(), "1001.25");
    let close = s.get("/job/june/close");
    assert_eq!(close.status, 200);
    for said in [
        "Prepared by",
        "ana",
        "Approved by",
        "ben",
        "Applied by",
        "Σ applied by offer",
    ] {
        assert!(close.body.contains(said), "{said}: {}", close.body);
    }

    // The record: who, which sheet (its digest), the money; the chain holds.
    let log_path = t.dir.path().join(".cake-recon/audit.jsonl");
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(
        std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let digest = {
        use sha2::Digest as _;
        sha2::Sha256::digest(sheet.as_bytes())
            .iter()
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    };
    let find = |action: &str, who: &str| {
        events
            .iter()
            .find(|e| e["action"] == action && e["who"] == who && e["sheet"] == "june.csv")
            .unwrap_or_else(|| panic!("no {action} by {who}: {text}"))
    };
    assert_eq!(find("upload", "ana")["digest"], digest.as_str());
    let approve = find("approve", "ben");
    assert_eq!(approve["digest"], digest.as_str());
    assert_eq!(approve["payout"], "20215.00");
    let apply = find("apply", "ana");
    assert_eq!(apply["rows"], 20);
    assert_eq!(apply["digest"], digest.as_str());
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "finish" && e["exit"] == 0),
        "{text}"
    );
    assert!(!text.contains(KEY), "no key in the log");
    let ok = audit(&t, true);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let listed = String::from_utf8(audit(&t, false).stdout).unwrap();
    assert!(
        listed.contains("approve") && listed.contains("ben"),
        "{listed}"
    );

    // One line edited (ben's approval made eve's): the chain breaks there.
    let n = text
        .lines()
        .position(|l| l.contains("\"approve\""))
        .unwrap()
        + 1;
    std::fs::write(
        &log_path,
        text.replacen(
            "\"who\":\"ben\",\"action\":\"approve\"",
            "\"who\":\"eve\",\"action\":\"approve\"",
            1,
        ),
    )
    .unwrap();
    let broken = audit(&t, true);
    assert_eq!(broken.status.code(), Some(3));
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(said.contains(&format!("line {n} ")), "{said}");
    assert!(said.contains("changed after it was written"), "{said}");
}

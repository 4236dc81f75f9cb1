//! The served folder is a jail (issue 21): links planted where the screen reads or writes are
//! never followed — every download kind answers "not found", the job log is never appended
//! through a link — and what the screen makes is the owner's alone (0600 files, 0700 folders).

use crate::emu::{Emu, KEY};
use crate::serve::{Server, payout_sheet};
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;
use std::time::Duration;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn links_planted_in_the_served_folder_are_never_followed() {
    let t = TestDir::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("passwd");
    std::fs::write(&secret, "root:x:0:0:secret\n").unwrap();
    let emu = Emu::with(Ledger::generated(100), Faults::default());
    let s = Server::start(
        &t,
        &["--base-url", emu.url.as_str(), "--listen", "127.0.0.1:0"],
        &[("CAKE_API_KEY", KEY)],
    );
    // A real job first: its files exist, then each is replaced by a link to the outside file.
    let page = s.upload("june.csv", payout_sheet(3).as_bytes());
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "3")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 3, "{p}");
    // Every row finished: the uploaded copy is removed (the results and the checkpoint stay).
    let upload = t.path(&format!(
        ".cake-recon/uploads/{}",
        page.trim_start_matches("/sheet/")
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while upload.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!upload.exists(), "the applied upload was removed");
    assert!(t.path("june.results.csv").exists());

    let state = t.path(".cake-recon");
    for made in [state.clone(), state.join("jobs"), state.join("uploads")] {
        assert_eq!(mode(&made), 0o700, "{}", made.display());
    }
    for made in [state.join("jobs/june.log"), state.join("jobs/june.json")] {
        assert_eq!(mode(&made), 0o600, "{}", made.display());
    }

    for name in ["june.results.csv", "june.undo.csv", "june.check.csv"] {
        let _ = std::fs::remove_file(t.path(name));
        symlink(&secret, t.path(name)).unwrap();
    }
    for kind in ["results.csv", "results.xlsx", "undo.csv", "check.csv"] {
        let r = s.get(&format!("/job/june/file/{kind}"));
        assert_eq!(r.status, 404, "{kind}: {}", r.body);
        assert!(!r.body.contains("secret"), "{kind}: {}", r.body);
    }
    let job = s.get("/job/june");
    assert!(!job.body.contains("root:x"), "{}", job.body);

    // The job log, linked out: Apply never appends to the outside file.
    let log = state.join("jobs/june.log");
    std::fs::remove_file(&log).unwrap();
    symlink(&secret, &log).unwrap();
    let r = s.get("/job/june/file/log.txt");
    assert_eq!(r.status, 404, "{}", r.body);
    let page = s.upload("june.csv", payout_sheet(3).as_bytes());
    let _ = s.post_form(&format!("{page}/apply"), &[("rows", "3")]);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "root:x:0:0:secret\n",
        "the outside file is untouched"
    );
}

#[test]
fn uploads_older_than_the_kept_days_are_removed_when_the_server_starts() {
    let t = TestDir::new();
    let old = t.path(".cake-recon/uploads/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("may.csv"), "conversion_id,payout\n1,2\n").unwrap();
    let status = std::process::Command::new("touch")
        .args(["-d", "40 days ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    let fresh = t.path(".cake-recon/uploads/fedcba9876543210fedcba9876543210");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(fresh.join("june.csv"), "conversion_id,payout\n1,2\n").unwrap();
    let _s = Server::start(&t, &["--sandbox", "--listen", "127.0.0.1:0"], &[]);
    assert!(!old.exists(), "older than 30 days: removed");
    assert!(fresh.exists(), "kept");
}

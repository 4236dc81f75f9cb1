//! Paths, files and numbers a run refuses before anything is sent (issue 18, items 4 and 6):
//! an undo sheet onto another file of the run (by name or through a link), outputs that are not
//! regular files, checkpoints whose schema is not exactly ours, numeric flags out of range,
//! `serve`'s rate, and a file-size limit that must end in exit 3 with a message.

use crate::emu::{Emu, KEY, run};
use crate::run::sheet;
use crate::util::{Output, TestDir, free_addr};
use cake_recon::mock::{Faults, Ledger};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The read-back window every conversion of the emulator falls in.
const WINDOW: [&str; 5] = [
    "--read-back",
    "--since",
    "2026-09-01",
    "--until",
    "2026-09-01",
];

/// Runs `cake-recon ARGS` in `t`, killed after `limit` (a refused run must end at once; one that
/// opened a FIFO would wait for ever).
fn run_within(t: &TestDir, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(args))
        .current_dir(t.dir.path())
        .env("CAKE_API_KEY", KEY)
        .env_remove("CAKE_BASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("CAKE_RECON_JOURNAL")
        .env("XDG_DATA_HOME", t.data_home())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "cake-recon {args:?} still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `run SHEET` against `emu` with `extra`, killed if it does not end within a minute.
fn run_bounded(t: &TestDir, emu: &Emu, sheet: &str, extra: &[&str]) -> Output {
    run_within(
        t,
        &crate::emu::args(emu, sheet, extra),
        Duration::from_secs(60),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

#[cfg(unix)]
fn kind(path: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = std::fs::symlink_metadata(path).unwrap().file_type();
    if t.is_fifo() {
        "fifo"
    } else if t.is_char_device() {
        "char device"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_file() {
        "file"
    } else {
        "other"
    }
}

/// Exit 2, the emulator saw nothing (no update, no report), and `stderr` says `words`.
fn refused(out: &Output, emu: &Emu, before: u64, words: &[&str], case: &str) {
    assert_eq!(out.code, 2, "{case}: {out:?}");
    let s = emu.stats();
    assert_eq!(
        s.requests + s.report_requests,
        before,
        "{case}: something was sent"
    );
    for w in words {
        assert!(out.stderr.contains(w), "{case}: {w:?} in {}", out.stderr);
    }
    assert!(!out.stderr.contains(KEY), "{case}: the key in a message");
}

fn sent(emu: &Emu) -> u64 {
    let s = emu.stats();
    s.requests + s.report_requests
}

#[test]
fn undo_onto_the_sheet_the_results_or_the_checkpoint_is_refused() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    for undo in [
        "s.csv",
        "./s.csv",
        "s.results.csv",
        "s.results.csv.ckpt",
        "../{dir}/s.results.csv.ckpt",
    ] {
        let dir = t.dir.path().file_name().unwrap().to_string_lossy();
        let undo = undo.replace("{dir}", &dir);
        let mut extra = WINDOW.to_vec();
        extra.extend(["--undo", &undo]);
        let out = run(&t, &emu, "s.csv", &extra);
        refused(&out, &emu, 0, &["--undo", "would overwrite"], &undo);
    }
    // With an explicit --output and --checkpoint too.
    let mut extra = WINDOW.to_vec();
    extra.extend([
        "--output",
        "r.csv",
        "--checkpoint",
        "c.db",
        "--undo",
        "c.db",
    ]);
    let out = run(&t, &emu, "s.csv", &extra);
    refused(&out, &emu, 0, &["--undo c.db", "the checkpoint"], "c.db");
    assert!(!t.path("c.db").exists() && !t.path("r.csv").exists());
}

#[test]
fn undo_through_a_link_to_the_results_or_the_checkpoint_is_refused() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "s.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let before = sent(&emu);
    let results = std::fs::read(t.path("s.results.csv")).unwrap();
    let checkpoint = std::fs::read(t.path("s.results.csv.ckpt")).unwrap();
    std::fs::hard_link(t.path("s.results.csv"), t.path("hard.csv")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(t.path("s.results.csv"), t.path("soft.csv")).unwrap();
        std::os::unix::fs::symlink("s.results.csv.ckpt", t.path("ckpt-link.csv")).unwrap();
        std::os::unix::fs::symlink("s.csv", t.path("sheet-link.csv")).unwrap();
    }
    std::fs::hard_link(t.path("s.results.csv.ckpt"), t.path("ckpt-hard.csv")).unwrap();
    for undo in [
        "hard.csv",
        "soft.csv",
        "ckpt-link.csv",
        "ckpt-hard.csv",
        "sheet-link.csv",
    ] {
        let mut extra = WINDOW.to_vec();
        extra.extend(["--undo", undo]);
        let out = run(&t, &emu, "s.csv", &extra);
        refused(&out, &emu, before, &["--undo", "would overwrite"], undo);
    }
    // The output itself through a hard link to the sheet.
    std::fs::hard_link(t.path("s.csv"), t.path("sheet-hard.csv")).unwrap();
    let out = run(&t, &emu, "s.csv", &["--output", "sheet-hard.csv"]);
    refused(&out, &emu, before, &["--output", "the sheet"], "sheet-hard");
    assert_eq!(std::fs::read(t.path("s.results.csv")).unwrap(), results);
    assert_eq!(
        std::fs::read(t.path("s.results.csv.ckpt")).unwrap(),
        checkpoint
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_as_output_checkpoint_or_undo_is_refused_and_stays_a_fifo() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    mkfifo(&t.path("pipe"));
    for (flag, extra) in [
        ("--output", vec!["--output", "pipe"]),
        ("--checkpoint", vec!["--checkpoint", "pipe"]),
        ("--checkpoint", vec!["--checkpoint", "pipe", "--dry-run"]),
        ("--undo", {
            let mut w = WINDOW.to_vec();
            w.extend(["--undo", "pipe"]);
            w
        }),
    ] {
        let out = run_bounded(&t, &emu, "s.csv", &extra);
        refused(&out, &emu, 0, &[flag, "a FIFO", "not a regular file"], flag);
        assert_eq!(kind(&t.path("pipe")), "fifo", "{extra:?}");
    }
    // `check` writes a file too.
    let mut a = crate::emu::args(&emu, "s.csv", &["--output", "pipe"]);
    a[0] = "check";
    let out = run_within(&t, &a, Duration::from_secs(60));
    refused(&out, &emu, 0, &["--output", "a FIFO"], "check");
    assert_eq!(kind(&t.path("pipe")), "fifo");
}

#[cfg(unix)]
#[test]
fn a_device_or_a_directory_as_output_is_refused_and_left_alone() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 6, 2);
    let emu = Emu::start(Faults::default());
    // A link to a device is the device (the link would be replaced by the results, the device
    // written through it by the checkpoint).
    std::os::unix::fs::symlink("/dev/null", t.path("null.csv")).unwrap();
    for flag in ["--output", "--checkpoint"] {
        let out = run_bounded(&t, &emu, "s.csv", &[flag, "null.csv"]);
        refused(&out, &emu, 0, &[flag, "a character device"], flag);
        assert_eq!(kind(&t.path("null.csv")), "symlink");
    }
    assert_eq!(kind(Path::new("/dev/null")), "char device");
    std::fs::create_dir(t.path("out.csv")).unwrap();
    let out = run_bounded(&t, &emu, "s.csv", &["--output", "out.csv"]);
    refused(&out, &emu, 0, &["--output", "a directory"], "directory");
    assert!(t.path("out.csv").is_dir());
    if !is_root() {
        println!("note: not root, so no device node of our own is made (mknod); skipped");
        return;
    }
    let dev = t.path("dev.csv");
    let ok = Command::new("mknod")
        .args([dev.to_str().unwrap(), "c", "1", "3"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod");
    for flag in ["--output", "--checkpoint"] {
        let out = run_bounded(&t, &emu, "s.csv", &[flag, "dev.csv"]);
        refused(&out, &emu, 0, &[flag, "a character device"], flag);
        assert_eq!(kind(&dev), "char device", "{flag}: the device was replaced");
    }
    let mut extra = WINDOW.to_vec();
    extra.extend(["--undo", "dev.csv"]);
    let out = run_bounded(&t, &emu, "s.csv", &extra);
    refused(&out, &emu, 0, &["--undo", "a character device"], "--undo");
    assert_eq!(kind(&dev), "char device");
}

/// A checkpoint with rows still to send: a first run against a port nobody listens on (every
/// row `failed`, proved unsent), then the emulator on that port. Returns the emulator.
fn checkpoint_with_work(t: &TestDir) -> (Emu, String) {
    sheet(t, "s.csv", 1, 8, 2);
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
            "--max-attempts",
            "1",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    assert!(matches!(out.code, 1 | 3), "{out:?}");
    assert!(t.path("s.results.csv.ckpt").exists(), "{out:?}");
    let emu = Emu::at(&addr, Ledger::generated(1000), Faults::default());
    (emu, url)
}

fn rerun(t: &TestDir, url: &str) -> Output {
    t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            url,
            "--rate",
            "0",
            "--no-progress",
        ],
        &[("CAKE_API_KEY", KEY)],
    )
}

fn tamper(t: &TestDir, sql: &str) {
    let conn = rusqlite::Connection::open(t.path("s.results.csv.ckpt")).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_checkpoint_whose_schema_is_not_ours_is_refused_before_anything_runs() {
    for (case, sql, words) in [
        (
            "trigger",
            "CREATE TRIGGER t BEFORE INSERT ON runs BEGIN DELETE FROM rows; END;",
            &["trigger \"t\""][..],
        ),
        (
            "view",
            "CREATE VIEW v AS SELECT * FROM rows;",
            &["view \"v\""],
        ),
        (
            "extra table",
            "CREATE TABLE extra (x TEXT);",
            &["table \"extra\""],
        ),
        (
            "extra index",
            "CREATE INDEX rows_kind ON rows(kind);",
            &["index \"rows_kind\""],
        ),
        (
            "wrong column type",
            "ALTER TABLE runs RENAME TO runs_old;
             CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL,
               finished_at TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL, ended TEXT);
             INSERT INTO runs SELECT * FROM runs_old; DROP TABLE runs_old;",
            &["\"runs\"", "started_at INTEGER"],
        ),
        (
            "extra column",
            "ALTER TABLE rows ADD COLUMN extra TEXT;",
            &["\"rows\"", "extra column extra"],
        ),
        (
            "missing table",
            "DROP TABLE retired;",
            &["no table \"retired\""],
        ),
    ] {
        let t = TestDir::new();
        let (emu, url) = checkpoint_with_work(&t);
        tamper(&t, sql);
        let before = std::fs::read(t.path("s.results.csv.ckpt")).unwrap();
        let out = rerun(&t, &url);
        let mut want = vec!["is not a cake-recon checkpoint"];
        want.extend_from_slice(words);
        refused(&out, &emu, 0, &want, case);
        assert_eq!(
            std::fs::read(t.path("s.results.csv.ckpt")).unwrap(),
            before,
            "{case}: the checkpoint was written"
        );
        // `status` refuses it too, without running anything in it.
        let out = t.run(&["status", "s.results.csv.ckpt"]);
        assert_eq!(out.code, 2, "{case}: {out:?}");
    }
}

#[test]
fn a_checkpoint_of_the_shapes_we_wrote_resumes_and_sends() {
    // The control: the same setup untouched resumes and sends every row, and a checkpoint
    // made before `--read-back` existed (no snapshot table) is still ours.
    for drop_snapshot in [false, true] {
        let t = TestDir::new();
        let (emu, url) = checkpoint_with_work(&t);
        if drop_snapshot {
            tamper(&t, "DROP TABLE snapshot;");
        }
        let out = rerun(&t, &url);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(emu.stats().requests, 8, "{out:?}");
        assert!(emu.conversions().values().all(|c| c.applied <= 1));
    }
}

#[test]
fn numeric_flags_out_of_range_are_refused_naming_flag_value_and_range() {
    let t = TestDir::new();
    sheet(&t, "s.csv", 1, 4, 2);
    let emu = Emu::start(Faults::default());
    for (flag, value) in [
        ("--retry-base-ms", "18446744073709551615"),
        ("--retry-base-ms", "3600001"),
        ("--retry-cap-ms", "18446744073709551615"),
        ("--timeout", "100000"),
        ("--timeout", "0"),
        ("--concurrency", "1000000"),
        ("--concurrency", "0"),
        ("--max-attempts", "4000000000"),
        ("--rate", "0.005"),
        ("--rate", "1000000"),
        ("--rate", "NaN"),
        ("--header-row", "18446744073709551615"),
    ] {
        for command in ["run", "check"] {
            let a = [
                command,
                "s.csv",
                "--base-url",
                &emu.url,
                "--no-progress",
                flag,
                value,
            ];
            let out = t.run_env(&a, &[("CAKE_API_KEY", KEY)]);
            let case = format!("{command} {flag} {value}");
            refused(&out, &emu, 0, &[flag, value], &case);
            assert!(
                out.stderr.contains(" to ") || out.stderr.contains("between"),
                "{case}: the range in {}",
                out.stderr
            );
        }
    }
    // The bound itself is accepted.
    let out = t.run_env(
        &[
            "run",
            "s.csv",
            "--base-url",
            &emu.url,
            "--no-progress",
            "--rate",
            "0",
            "--retry-base-ms",
            "3600000",
            "--retry-cap-ms",
            "3600000",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn serve_refuses_a_rate_its_runs_would_refuse() {
    let t = TestDir::new();
    for rate in ["0.005", "0", "1e12"] {
        let out = run_within(
            &t,
            &[
                "serve",
                "--sandbox",
                "--listen",
                "127.0.0.1:0",
                "--dir",
                ".",
                "--rate",
                rate,
            ],
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 2, "--rate {rate}: {out:?}");
        assert!(out.stderr.contains("--rate"), "{}", out.stderr);
    }
}

#[cfg(unix)]
#[test]
fn a_file_size_limit_ends_in_exit_3_with_the_disk_full_message() {
    let t = TestDir::new();
    // One row in 40 additive: their plans fit in the journal before sending, so the limit is
    // reached mid-run (by the journal, the checkpoint or the results, whichever grows first).
    let rows = sheet(&t, "s.csv", 1, 6000, 40);
    let emu = Emu::start(Faults::default());
    let args = crate::emu::args(&emu, "s.csv", &[]);
    // 400 blocks: 200 kB in dash (512-byte blocks), 400 kB in bash — less than the results of
    // 6000 rows, more than a new checkpoint and a new journal with the additive rows' plans:
    // the limit is reached while rows are being sent.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 400 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(&args))
        .current_dir(t.dir.path())
        .env("CAKE_API_KEY", KEY)
        .env_remove("CAKE_BASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("CAKE_RECON_JOURNAL")
        .env("XDG_DATA_HOME", t.data_home())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "killed by SIGXFSZ, or not exit 3: {:?} {stderr}",
        out.status
    );
    assert!(
        stderr.contains("free space or fix permissions, then run the same command again"),
        "{stderr}"
    );
    assert!(stderr.contains("file-size limit"), "{stderr}");
    assert!(
        emu.stats().requests > 0,
        "the limit was reached mid-run: {stderr}"
    );
    // Nothing applied twice, and the same command without the limit finishes the job.
    let again = run(&t, &emu, "s.csv", &[]);
    assert!(matches!(again.code, 0 | 1), "{again:?}");
    let ledger = emu.conversions();
    for r in rows.iter().filter(|r| r.additive) {
        let applied = ledger[&r.id].applied;
        assert!(
            applied <= 1,
            "additive row {}: applied {applied} times",
            r.row
        );
    }
}

#[cfg(unix)]
#[test]
fn a_journal_that_is_not_ours_or_not_a_file_is_refused() {
    let t = TestDir::new();
    sheet(&t, "a.csv", 1, 4, 2);
    sheet(&t, "b.csv", 100, 4, 2);
    let emu = Emu::start(Faults::default());
    let out = run(&t, &emu, "a.csv", &["--journal", "j.sqlite"]);
    assert_eq!(out.code, 0, "{out:?}");
    let before = sent(&emu);
    let conn = rusqlite::Connection::open(t.path("j.sqlite")).unwrap();
    conn.execute_batch("CREATE TRIGGER t AFTER INSERT ON sent BEGIN DELETE FROM sent; END;")
        .unwrap();
    drop(conn);
    let out = run(&t, &emu, "b.csv", &["--journal", "j.sqlite"]);
    refused(
        &out,
        &emu,
        before,
        &["is not a cake-recon journal", "trigger \"t\""],
        "trigger",
    );
    mkfifo(&t.path("jpipe"));
    let out = run_bounded(&t, &emu, "b.csv", &["--journal", "jpipe"]);
    refused(&out, &emu, before, &["--journal", "a FIFO"], "fifo");
    assert_eq!(kind(&t.path("jpipe")), "fifo");
    // Nor may it be another file of the run.
    let out = run(&t, &emu, "b.csv", &["--journal", "b.results.csv.ckpt"]);
    refused(
        &out,
        &emu,
        before,
        &["journal", "--checkpoint"],
        "same file",
    );
}

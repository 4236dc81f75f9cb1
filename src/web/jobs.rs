//! Runs and checks started from the page: the command line itself, as a child process.
//!
//! A *job* is a sheet's name in the served folder (`june` for `june.xlsx`): its results,
//! checkpoint, undo sheet and check file sit in the folder under the names the command line
//! gives them, and `.cake-recon/jobs/june.json` keeps what the page started (arguments without
//! the key, start, end, exit code); a `--sandbox` server's trials take `june.sandbox` names.
//! Progress comes from the checkpoint, read only — so what the
//! page shows is what `cake-recon status` would say, and a reload or a server restart finds a
//! run where it is. The lock on the checkpoint keeps one run per sheet, whoever started it.

use super::process::{
    CHECK_OUTPUT_SHOWN, STOP_GRACE, Target, exit_code, kill, run_bounded, runs_job, terminate,
};
use super::staged::state_dir;
use crate::checkpoint::status::{Report, read};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One run the page started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RunRecord {
    pub started: String,
    pub ended: Option<String>,
    pub exit: Option<i32>,
    pub pid: u32,
}

/// What the page knows of a job.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct JobRecord {
    /// The sheet's file name as uploaded.
    pub sheet: String,
    /// The upload the last run read.
    pub upload: String,
    /// The last run's arguments (after `run`; never the key).
    pub args: Vec<String>,
    /// The last run reads CAKE before sending (the page gave a window).
    #[serde(default)]
    pub reads_back: bool,
    /// Σ money the last Apply stated, as shown.
    pub stated: String,
    /// The rows the last Apply stated.
    #[serde(default)]
    pub rows: u64,
    /// Who prepared the sheet, who approved it (when an approval was needed) and who pressed
    /// Apply, for the close report.
    #[serde(default)]
    pub prepared_by: String,
    #[serde(default)]
    pub approved_by: Option<(String, String)>,
    #[serde(default)]
    pub applied_by: String,
    /// The digest of the sheet's bytes the last Apply sent.
    #[serde(default)]
    pub digest: String,
    /// Σ payout and Σ received the last Apply stated.
    #[serde(default)]
    pub money: (rust_decimal::Decimal, rust_decimal::Decimal),
    pub runs: Vec<RunRecord>,
}

/// The files of a job, named as the command line names them ([`crate::config::sheet_files`]),
/// and the page's own: the log, the record, how the last run ended.
pub(super) struct JobFiles {
    pub results: PathBuf,
    pub checkpoint: PathBuf,
    pub undo: PathBuf,
    pub check: PathBuf,
    pub log: PathBuf,
    /// `--summary-json` of the job's runs: how the last one ended, as a value.
    pub summary: PathBuf,
    record: PathBuf,
}

impl JobFiles {
    /// The files of the job `stem` (with its trial suffix) in the served folder `root`.
    pub(super) fn in_folder(root: &Path, stem: &str) -> Self {
        let named = crate::config::sheet_files(root, stem);
        let jobs = state_dir(root).join("jobs");
        Self {
            results: named.results,
            checkpoint: named.checkpoint,
            undo: named.undo,
            check: named.check,
            log: jobs.join(format!("{stem}.log")),
            summary: jobs.join(format!("{stem}.summary.json")),
            record: jobs.join(format!("{stem}.json")),
        }
    }
}

/// A job name from a URL: only what [`super::staged::stem_of`] can produce.
pub(super) fn valid_stem(stem: &str) -> bool {
    !stem.is_empty()
        && stem.len() <= 120
        && !stem.starts_with('.')
        && stem
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '(' | ')'))
}

/// How a run ended, in words, from its exit code.
pub(super) fn outcome(exit: Option<i32>) -> (&'static str, &'static str) {
    use crate::exit::Exit;
    let Some(code) = exit else {
        return (
            "warn",
            "ended while this server was not watching (it was restarted): the rows below say \
             where it stands; Resume sends what is left",
        );
    };
    match Exit::of(code) {
        Exit::Ok => ("ok", "finished: every row was updated"),
        Exit::SomeRowsNotUpdated => (
            "warn",
            "finished, but some rows were not updated: they are listed first below",
        ),
        Exit::Usage => (
            "error",
            "nothing was sent: the sheet or the settings need a fix (the reason is below)",
        ),
        Exit::Aborted => (
            "error",
            "stopped by a run-wide failure (the reason is below): fix it and press Resume",
        ),
        Exit::Locked => (
            "error",
            "another run holds this sheet's checkpoint: nothing was sent; try again when it ends",
        ),
        Exit::Interrupted => (
            "warn",
            "stopped before the end: press Resume to finish (applied rows are not sent again)",
        ),
        Exit::Abnormal(_) => (
            "error",
            "ended abnormally: press Resume to finish (the checkpoint keeps every outcome)",
        ),
    }
}

/// A status reading kept for the next polls: when it was read, how long that took, what it said.
type Polled = (Instant, Duration, Arc<Report>);

/// Progress samples of a live run, for its rate.
#[derive(Default)]
struct Samples(VecDeque<(Instant, u64)>);

/// Starts, stops and reads runs; one per server.
pub(super) struct Jobs {
    root: PathBuf,
    /// `.sandbox` when runs go to the server's sandbox: a trial's files never take a real
    /// run's names (a real run is never refused because of a trial).
    suffix: &'static str,
    pub(super) exe: PathBuf,
    key: SecretString,
    /// Children started here that have not ended: job → pid.
    live: Arc<Mutex<HashMap<String, u32>>>,
    samples: Mutex<HashMap<String, Samples>>,
    /// The last status read for a live run's progress: when, how long the read took, what it
    /// said (a million-row checkpoint takes ~0.4 s to count; a page polling every second must
    /// not take that share of a core from the run).
    polled: Mutex<HashMap<String, Polled>>,
    /// How long Stop lets a run finish before it is killed.
    stop_grace: Duration,
}

fn now() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Jobs {
    pub(super) fn new(root: PathBuf, key: SecretString, sandbox: bool) -> std::io::Result<Self> {
        super::jail::create_dir_all(&root, &state_dir(&root).join("jobs"))?;
        Ok(Self {
            root,
            suffix: if sandbox { ".sandbox" } else { "" },
            exe: std::env::current_exe()?,
            key,
            live: Arc::default(),
            samples: Mutex::default(),
            polled: Mutex::default(),
            stop_grace: STOP_GRACE,
        })
    }

    /// How long Stop lets a run finish before it is killed (`serve --stop-grace-secs`).
    pub(super) fn with_stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    pub(super) fn stop_grace(&self) -> Duration {
        self.stop_grace
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn files(&self, stem: &str) -> JobFiles {
        JobFiles::in_folder(&self.root, &format!("{stem}{}", self.suffix))
    }

    pub(super) fn record(&self, stem: &str) -> Option<JobRecord> {
        let bytes = super::jail::read(&self.root, &self.files(stem).record).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn save(&self, stem: &str, r: &JobRecord) -> std::io::Result<()> {
        save_record(&self.root, &self.files(stem).record, r)
    }

    /// How the job's last run ended, as it wrote it (`--summary-json`): its exit code and why
    /// it stopped.
    pub(super) fn last_outcome(&self, stem: &str) -> Option<crate::app::RunOutcome> {
        let bytes = super::jail::read(&self.root, &self.files(stem).summary).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The checkpoint's status, if the job has one.
    pub(super) fn status(&self, stem: &str) -> Option<Report> {
        let path = self.files(stem).checkpoint;
        path.exists().then(|| read(&path).ok()).flatten()
    }

    /// [`Jobs::status`] for progress polls: read again only after four times as long as the
    /// last read took (and at least a second).
    pub(super) fn status_for_progress(&self, stem: &str) -> Option<Arc<Report>> {
        let cached = self.polled.lock().ok()?.get(stem).cloned();
        if let Some((at, took, report)) = cached
            && at.elapsed() < (took * 4).max(Duration::from_secs(1))
        {
            return Some(report);
        }
        let start = Instant::now();
        let report = Arc::new(self.status(stem)?);
        if let Ok(mut p) = self.polled.lock() {
            p.insert(
                stem.to_string(),
                (start, start.elapsed(), Arc::clone(&report)),
            );
        }
        Some(report)
    }

    /// True while a run this server started is going on.
    pub(super) fn is_live(&self, stem: &str) -> bool {
        self.live.lock().is_ok_and(|l| l.contains_key(stem))
    }

    /// True while a run holds the job's checkpoint (started here or anywhere else).
    pub(super) fn running(&self, stem: &str) -> bool {
        self.is_live(stem) || self.status(stem).is_some_and(|s| s.running.is_some())
    }

    /// Starts `cake-recon run ARGS` for the job; the key goes through the child's environment.
    /// `ended` is told how the run ended, once it did (the audit log's `finish`).
    pub(super) fn start(
        &self,
        stem: &str,
        mut record: JobRecord,
        ended: Box<dyn FnOnce(Option<i32>) + Send>,
    ) -> Result<(), String> {
        // Held until the child is registered: two presses of Apply start one run.
        let mut live = self
            .live
            .lock()
            .map_err(|_| "the server's run table is broken: restart it".to_string())?;
        if live.contains_key(stem) || self.status(stem).is_some_and(|s| s.running.is_some()) {
            return Err(format!(
                "a run of {stem} is already going on: wait for it, or stop it first"
            ));
        }
        let files = self.files(stem);
        // The run's own files are checked by the run (`config/resolve.rs`); its log is ours.
        if let Some(kind) = crate::report::files::not_regular(&files.log) {
            return Err(format!(
                "{} is {kind}, not a regular file: nothing was started. Move it away and apply \
                 again",
                files.log.display()
            ));
        }
        // Each run's output follows the ones before (a resume keeps the first run's story).
        let mut log = super::jail::append(&self.root, &files.log)
            .map_err(|e| format!("cannot write {}: {e}", files.log.display()))?;
        let _ = std::io::Write::write_all(
            &mut log,
            format!("--- run started {} ---\n", now()).as_bytes(),
        );
        let err_log = log
            .try_clone()
            .map_err(|e| format!("cannot write {}: {e}", files.log.display()))?;
        let mut child = Command::new(&self.exe)
            .arg("run")
            .args(&record.args)
            .env("CAKE_API_KEY", self.key.expose_secret())
            .env_remove("CAKE_BASE_URL")
            .env_remove("CAKE_RECON_TOKEN")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| format!("cannot start the run: {e}"))?;
        let pid = child.id();
        record.runs.push(RunRecord {
            started: now(),
            ended: None,
            exit: None,
            pid,
        });
        // The run is going on whatever happens to its record: it is watched either way (and its
        // checkpoint says how it stands).
        if let Err(e) = self.save(stem, &record) {
            tracing::warn!(job = stem, error = %e, "the run started but its record was not saved");
        }
        live.insert(stem.to_string(), pid);
        drop(live);
        tracing::info!(job = stem, pid, "run started");
        // The child is waited for on a thread of its own, which records how it ended.
        let (live, stem, path, root) = (
            Arc::clone(&self.live),
            stem.to_string(),
            files.record.clone(),
            self.root.clone(),
        );
        // A trial's upload stays: the real run of the same sheet follows it.
        let upload = (self.suffix.is_empty()).then(|| record.upload.clone());
        std::thread::spawn(move || {
            let exit = child.wait().ok().map(exit_code);
            if let Some(mut r) = super::jail::read(&root, &path)
                .ok()
                .and_then(|b| serde_json::from_slice::<JobRecord>(&b).ok())
                && let Some(last) = r.runs.iter_mut().rev().find(|x| x.pid == pid)
            {
                last.ended = Some(now());
                last.exit = exit;
                let _ = save_record(&root, &path, &r);
            }
            // Every row finished as the sheet says: the uploaded copy has served its purpose
            // (the results, the checkpoint and the journal keep what was done).
            if exit.map(crate::exit::Exit::of) == Some(crate::exit::Exit::Ok)
                && let Some(id) = &upload
            {
                super::staged::remove_upload(&root, id);
            }
            if let Ok(mut l) = live.lock() {
                l.remove(&stem);
            }
            tracing::info!(job = %stem, pid, exit = ?exit, "run ended");
            ended(exit);
        });
        Ok(())
    }

    /// Sends SIGTERM to the job's run, as `kill` would: it stops sending, waits for the requests
    /// out, records them and exits 130. Works for a run started before a server restart too (the
    /// lock file names its pid).
    ///
    /// A run this server started is its child; any other is found by the checkpoint's lock
    /// record, and signalled only when it is this very process on this machine (its host and
    /// start time match: a pid reused by another process, or a run on another machine sharing
    /// the folder, is never signalled). SIGTERM first, as Ctrl-C; a run still there after
    /// the grace period (`serve --stop-grace-secs`) is killed (its in-flight rows are then in doubt, never sent again blind).
    pub(super) fn stop(&self, stem: &str) -> Result<(), String> {
        let ours = self.live.lock().ok().and_then(|l| l.get(stem).copied());
        let target = if let Some(pid) = ours {
            Target {
                pid,
                started: crate::checkpoint::lock_process_start(pid),
            }
        } else {
            let status = self
                .status(stem)
                .ok_or("no run of this sheet is going on")?;
            let holder = status.holder.ok_or_else(|| match status.running {
                Some(text) => format!(
                    "the run holding this sheet ({text}) cannot be identified: stop it \
                     where it runs"
                ),
                None => "no run of this sheet is going on".to_string(),
            })?;
            // Only a cake-recon run of this very checkpoint is signalled: a lock file anyone
            // could write must not make this server signal some other process.
            if !holder.is_alive_here() || !runs_job(holder.pid, &self.exe, stem) {
                return Err(format!(
                    "the run holding this sheet is {holder}: not a cake-recon run of this job \
                     on this machine now (another host, another process, or it has ended), so \
                     it is not signalled from here. Stop it where it runs"
                ));
            }
            Target {
                pid: holder.pid,
                started: holder.started,
            }
        };
        tracing::info!(job = stem, pid = target.pid, "stopping the run (SIGTERM)");
        terminate(target.pid)?;
        // Escalate after the grace period, if the same process is still there.
        let grace = self.stop_grace;
        std::thread::spawn(move || {
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if !target.still_there() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if target.still_there() {
                tracing::warn!(
                    pid = target.pid,
                    "the run did not stop in time: killing it (SIGKILL)"
                );
                kill(target.pid);
            }
        });
        Ok(())
    }

    /// Stops every run this server started (the server is stopping), and waits for them.
    pub(super) fn stop_all(&self, wait: Duration) {
        let stems: Vec<String> = self
            .live
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        for stem in &stems {
            let _ = self.stop(stem);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && self.live.lock().is_ok_and(|l| !l.is_empty()) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Rows per second over the last ~15 s of polls, for the progress line.
    pub(super) fn rate(&self, stem: &str, done: u64) -> Option<f64> {
        let mut all = self.samples.lock().ok()?;
        let s = all.entry(stem.to_string()).or_default();
        let t = Instant::now();
        s.0.push_back((t, done));
        while s.0.len() > 2
            && s.0
                .front()
                .is_some_and(|(t0, _)| t.duration_since(*t0) > Duration::from_secs(15))
        {
            s.0.pop_front();
        }
        let (t0, d0) = *s.0.front()?;
        let secs = t.duration_since(t0).as_secs_f64();
        let rows = u32::try_from(done.saturating_sub(d0)).unwrap_or(u32::MAX);
        (secs >= 0.5 && done >= d0).then(|| f64::from(rows) / secs)
    }

    /// Runs `cake-recon check ARGS` and waits (bounded by `timeout`): exit code and the end of
    /// its output (to a file, never a pipe: [`run_bounded`]).
    pub(super) fn check(&self, args: &[String], timeout: Duration) -> (Option<i32>, String) {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("check")
            .args(args)
            .env("CAKE_API_KEY", self.key.expose_secret())
            .env_remove("CAKE_BASE_URL")
            .env_remove("CAKE_RECON_TOKEN");
        match run_bounded(cmd, timeout, CHECK_OUTPUT_SHOWN) {
            Ok(f) => (f.code, f.output),
            Err(e) => (None, format!("the check failed: {e}")),
        }
    }

    /// Every job in the folder: those the page started and any checkpoint the command line left,
    /// newest first.
    pub(super) fn history(&self) -> Vec<(String, Option<JobRecord>, Option<Report>)> {
        let mut stems: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".results.csv.ckpt")?;
                // This server's kind of runs only: trials or real ones.
                let stem = match self.suffix {
                    "" if stem.ends_with(".sandbox") => return None,
                    "" => stem,
                    suffix => stem.strip_suffix(suffix)?,
                }
                .to_string();
                let t = e.metadata().and_then(|m| m.modified()).ok()?;
                valid_stem(&stem).then_some((t, stem))
            })
            .collect();
        stems.sort_by_key(|s| std::cmp::Reverse(s.0));
        stems
            .into_iter()
            .map(|(_, stem)| {
                let rec = self.record(&stem);
                let st = self.status(&stem);
                (stem, rec, st)
            })
            .collect()
    }
}

fn save_record(root: &Path, path: &Path, r: &JobRecord) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?;
    super::jail::write(root, path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_from_urls_stay_in_the_folder() {
        assert!(valid_stem("June 2026 (final)"));
        assert!(!valid_stem("../etc"));
        assert!(!valid_stem("a/b"));
        assert!(!valid_stem(".cake-recon"));
        assert!(!valid_stem(""));
    }

    #[test]
    fn every_exit_code_reads_as_what_to_do() {
        for code in [0, 1, 2, 3, 4, 130, 9] {
            let (_, text) = outcome(Some(code));
            assert!(!text.is_empty());
        }
        assert!(outcome(Some(130)).1.contains("Resume"));
    }

    #[cfg(unix)]
    #[test]
    fn a_check_that_prints_megabytes_finishes_and_its_end_is_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // Stands in for `cake-recon check`: 2 MB on each stream, then its summary, exit 1.
        let exe = dir.path().join("chatty");
        std::fs::write(
            &exe,
            "#!/bin/sh\nhead -c 2000000 /dev/zero | tr '\\0' x\nhead -c 2000000 /dev/zero | tr '\\0' y >&2\necho; echo the summary\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut jobs = Jobs::new(dir.path().to_path_buf(), SecretString::from("k"), false).unwrap();
        jobs.exe = exe;
        let started = Instant::now();
        let (code, text) = jobs.check(&[], Duration::from_secs(60));
        assert_eq!(code, Some(1));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not blocked on a pipe"
        );
        assert!(
            text.ends_with("the summary\n"),
            "{}",
            &text[text.len().saturating_sub(80)..]
        );
        assert!(text.len() as u64 <= CHECK_OUTPUT_SHOWN + 8);
    }
}

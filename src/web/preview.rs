//! An upload's preview: `cake-recon run --dry-run` of it with the page's choices, in a process
//! of its own, under a memory limit (`--max-memory-mb`, set by the child on itself before it
//! reads) and a time limit (killed after it). The child writes its whole dry run as JSON
//! (`--summary-json`); the page renders that value. So no upload can take the server down,
//! and the page's rows and money are the command line's, whole or not at all.

use super::job_spec::{Job, JobSpec, RunTarget};
use super::staged::{Choices, Staged};
use crate::app::DryRun;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A preview: the dry run's value, or why there is none (the sheet is too large or malformed,
/// or the preview could not be run) in the page's words.
pub(super) type Preview = Result<DryRun, String>;

/// A preview and the results file its dry run wrote (one line per row: what the page's row
/// table is read from), kept in a folder of its own inside the served folder's state while
/// the preview is kept, removed with it.
pub(super) struct Previewed {
    pub model: Preview,
    dir: Option<tempfile::TempDir>,
}

impl Previewed {
    /// The dry run's results file, when it wrote one.
    pub(super) fn rows(&self) -> Option<PathBuf> {
        let path = self.dir.as_ref()?.path().join(ROWS_FILE);
        path.is_file().then_some(path)
    }
}

/// The preview's results file, in its folder.
const ROWS_FILE: &str = "preview.results.csv";

/// How an upload is previewed: by which program, under which limits.
pub(super) struct Previewer {
    pub exe: PathBuf,
    pub memory_mb: u64,
    pub timeout: Duration,
}

impl Previewer {
    /// Runs the dry run of `staged` with `c` beside `checkpoint`; `columns_only`: only its
    /// columns are read.
    fn dry_run(
        &self,
        staged: &Staged,
        c: &Choices,
        target: &RunTarget,
        checkpoint: &Path,
        columns_only: bool,
    ) -> Previewed {
        // Beside the upload: inside the served folder's state (0700), never /tmp.
        let dir = match staged
            .path()
            .parent()
            .map(|p| tempfile::Builder::new().prefix(".preview-").tempdir_in(p))
        {
            Some(Ok(dir)) => dir,
            Some(Err(e)) => {
                return Previewed {
                    model: Err(format!("the preview cannot start: {e}")),
                    dir: None,
                };
            }
            None => {
                return Previewed {
                    model: Err("the preview cannot start: the upload has no folder".into()),
                    dir: None,
                };
            }
        };
        let model = self.run_in(&dir, staged, c, target, checkpoint, columns_only);
        Previewed {
            model,
            dir: Some(dir),
        }
    }

    fn run_in(
        &self,
        dir: &tempfile::TempDir,
        staged: &Staged,
        c: &Choices,
        target: &RunTarget,
        checkpoint: &Path,
        columns_only: bool,
    ) -> Preview {
        let summary = dir.path().join("preview.json");
        let spec = JobSpec {
            sheet: &staged.path(),
            choices: c,
            target,
            job: Job::Preview {
                output: &dir.path().join(ROWS_FILE),
                checkpoint,
                summary: &summary,
                memory_mb: self.memory_mb,
                columns_only,
            },
        };
        let mut cmd = Command::new(&self.exe);
        // A dry run needs no key: the child never has it.
        cmd.arg(spec.command())
            .args(spec.args())
            .env_remove("CAKE_API_KEY")
            .env_remove("CAKE_BASE_URL")
            .env_remove("CAKE_RECON_TOKEN");
        let finished = super::process::run_bounded(cmd, self.timeout, 4 << 10)
            .map_err(|e| format!("the preview cannot start: {e}"))?;
        if finished.timed_out {
            return Err(format!(
                "The sheet is too large or malformed to preview: reading it took more than {} \
                 seconds. Check that it opens in a spreadsheet program, save it again (as .xlsx or \
                 .csv, only the rows to send), and upload it again.",
                self.timeout.as_secs()
            ));
        }
        match std::fs::read(&summary) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("the preview's answer cannot be read ({e}): upload again")),
            Err(_) => Err(match finished.code.map(crate::exit::Exit::of) {
                // Refused before reading: the child's own words say why.
                Some(crate::exit::Exit::Usage) => last_error(&finished.output),
                _ => format!(
                    "The sheet is too large or malformed to preview: reading it needed more than \
                     {} MB of memory, or the reader failed. Check that it opens in a spreadsheet \
                     program, save it again (as .xlsx or .csv, only the rows to send), and \
                     upload it again.",
                    self.memory_mb
                ),
            }),
        }
    }
}

/// The reason a command refused, from its last `error:` line (shown as it is; nothing is
/// decided from these words).
fn last_error(output: &str) -> String {
    output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("the preview was refused")
        .to_string()
}

/// The last few previews, by what they were read from: a reload, or the Apply that follows the
/// page, does not read a million rows again.
pub(super) struct Previews {
    by: Previewer,
    kept: Mutex<Vec<(String, Arc<Previewed>)>>,
}

/// How many previews are kept.
const KEPT: usize = 4;

impl Previews {
    pub(super) fn new(by: Previewer) -> Self {
        Self {
            by,
            kept: Mutex::default(),
        }
    }

    /// The preview of `staged` with `c`, read again only when the sheet, the choices or the
    /// checkpoint beside it changed.
    pub(super) fn get(
        &self,
        staged: &Staged,
        c: &Choices,
        target: &RunTarget,
        checkpoint: &Path,
    ) -> Arc<Previewed> {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut wal = checkpoint.as_os_str().to_owned();
        wal.push("-wal");
        let key = format!(
            "{}|{}|{:?}|{:?}|{:?}",
            staged.id,
            serde_json::to_string(c).unwrap_or_default(),
            modified(&staged.path()),
            modified(checkpoint),
            modified(Path::new(&wal)),
        );
        if let Some(p) = self
            .kept
            .lock()
            .ok()
            .and_then(|kept| kept.iter().find(|(k, _)| *k == key).map(|(_, p)| p.clone()))
        {
            return p;
        }
        let p = Arc::new(self.by.dry_run(staged, c, target, checkpoint, false));
        if let Ok(mut kept) = self.kept.lock() {
            kept.push((key, Arc::clone(&p)));
            if kept.len() > KEPT {
                kept.remove(0);
            }
        }
        p
    }

    /// The sheet's columns as `c` reads it, leaving out its mappings (they may name columns the
    /// sheet, read another way, no longer has); only the rows above the header are read.
    pub(super) fn columns(&self, staged: &Staged, c: &Choices, target: &RunTarget) -> Vec<String> {
        self.columns_read(staged, c, target)
            .into_iter()
            .map(|c| c.header)
            .collect()
    }

    /// [`columns`](Self::columns), with what each column would feed and looks like.
    pub(super) fn columns_read(
        &self,
        staged: &Staged,
        c: &Choices,
        target: &RunTarget,
    ) -> Vec<crate::app::ColumnRead> {
        let plain = Choices {
            maps: Vec::new(),
            ..c.clone()
        };
        // Beside no checkpoint: the columns do not depend on one.
        let none = staged.path().with_file_name(".no-checkpoint");
        self.by
            .dry_run(staged, &plain, target, &none, true)
            .model
            .map(|m| m.columns)
            .unwrap_or_default()
    }
}

//! What the page asks of the command line, as one typed value: [`JobSpec`] — the upload, the
//! page's choices, where runs go, and which command — turned into arguments in one place.
//! The arguments then go through the command line's own parser and checks (the child process
//! is `cake-recon` itself); a test parses every kind of spec with that parser, so a renamed
//! flag fails there, not on a finance user's screen.

use super::jobs::JobFiles;
use super::staged::Choices;
use std::path::Path;

/// Where runs go and how fast: what every argument list shares.
#[derive(Debug, Clone)]
pub(super) struct RunTarget {
    pub url: String,
    /// The server's own sandbox: runs are trials (`--sandbox-url`), kept apart from real ones.
    pub sandbox: bool,
    pub allow_insecure_http: bool,
    pub rate: crate::engine::limiter::Rate,
}

/// Which command, with what only it takes.
pub(super) enum Job<'a> {
    /// `run --dry-run`, its whole model to `summary` (the screen's preview), under a memory
    /// limit; `columns_only`: only the sheet's columns are read.
    Preview {
        output: &'a Path,
        checkpoint: &'a Path,
        summary: &'a Path,
        memory_mb: u64,
        columns_only: bool,
    },
    /// `run` for real: the job's files, how it ends to `files.summary`.
    Run {
        files: &'a JobFiles,
        skip_invalid: bool,
        edited_sheet: bool,
    },
    /// `check` over the page's window, to `out`.
    Check { out: &'a Path },
}

/// One command the page starts.
pub(super) struct JobSpec<'a> {
    pub sheet: &'a Path,
    pub choices: &'a Choices,
    pub target: &'a RunTarget,
    pub job: Job<'a>,
}

impl JobSpec<'_> {
    /// The subcommand.
    pub(super) fn command(&self) -> &'static str {
        match self.job {
            Job::Check { .. } => "check",
            Job::Preview { .. } | Job::Run { .. } => "run",
        }
    }

    /// Whether the run reads CAKE before sending (the page's window was given).
    pub(super) fn reads_back(&self) -> bool {
        matches!(self.job, Job::Run { .. }) && self.choices.window.is_some()
    }

    /// The arguments after the subcommand (never the key: it goes through the environment).
    pub(super) fn args(&self) -> Vec<String> {
        let c = self.choices;
        let mut a = sheet_args(self.sheet, c);
        let t = self.target;
        a.extend([
            if t.sandbox {
                "--sandbox-url"
            } else {
                "--base-url"
            }
            .into(),
            t.url.clone(),
        ]);
        if t.allow_insecure_http {
            a.push("--allow-insecure-http".into());
        }
        let path = |p: &Path| p.display().to_string();
        match &self.job {
            Job::Preview {
                output,
                checkpoint,
                summary,
                memory_mb,
                columns_only,
            } => {
                a.extend([
                    "--dry-run".into(),
                    "--output".into(),
                    path(output),
                    "--checkpoint".into(),
                    path(checkpoint),
                    "--summary-json".into(),
                    path(summary),
                    "--max-memory-mb".into(),
                    memory_mb.to_string(),
                    "-q".into(),
                ]);
                if *columns_only {
                    a.push("--columns-only".into());
                }
                window_args(&mut a, c);
            }
            Job::Run {
                files,
                skip_invalid,
                edited_sheet,
            } => {
                a.extend([
                    "--output".into(),
                    path(&files.results),
                    "--checkpoint".into(),
                    path(&files.checkpoint),
                    "--summary-json".into(),
                    path(&files.summary),
                    "--rate".into(),
                    t.rate.to_string(),
                ]);
                // With a window, CAKE is read back: an undo sheet, rows already right unsent.
                if c.window.is_some() {
                    a.extend(["--read-back".into(), "--undo".into(), path(&files.undo)]);
                    window_args(&mut a, c);
                }
                if *skip_invalid {
                    a.push("--skip-invalid".into());
                }
                if *edited_sheet {
                    a.push("--edited-sheet".into());
                }
            }
            Job::Check { out } => {
                a.extend(["--output".into(), path(out)]);
                window_args(&mut a, c);
                a.push("-q".into());
            }
        }
        a
    }
}

/// The sheet-reading arguments of every command for an upload and its choices.
fn sheet_args(sheet: &Path, c: &Choices) -> Vec<String> {
    let mut a = vec![sheet.display().to_string()];
    for (h, f) in &c.maps {
        a.extend(["--map".into(), format!("{h}={f}")]);
    }
    for (f, v) in &c.sets {
        a.extend(["--set".into(), format!("{f}={v}")]);
    }
    if let Some(d) = &c.date_order {
        a.extend(["--date-order".into(), d.clone()]);
    }
    match c.decimal.as_deref() {
        Some("comma") => a.push("--decimal-comma".into()),
        Some("point") => a.push("--decimal-point".into()),
        _ => {}
    }
    if let Some(e) = &c.encoding {
        a.extend(["--encoding".into(), e.clone()]);
    }
    if let Some(d) = &c.delimiter {
        a.extend(["--delimiter".into(), d.clone()]);
    }
    if let Some(s) = &c.sheet {
        a.extend(["--sheet".into(), s.clone()]);
    }
    if let Some(h) = c.header_row {
        a.extend(["--header-row".into(), h.to_string()]);
    }
    if let Some(h) = &c.hidden_rows {
        a.extend(["--hidden-rows".into(), h.clone()]);
    }
    if let Some(m) = &c.amounts {
        a.extend(["--amounts".into(), m.clone()]);
    }
    for (column, pairs) in c.values.iter().filter(|(_, p)| !p.is_empty()) {
        let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        a.extend(["--values".into(), format!("{column}={}", pairs.join(","))]);
    }
    a
}

/// `--since`/`--until`, unless the window is left to the sheet's `conversion_date` column
/// (both days empty).
fn window_args(a: &mut Vec<String>, c: &Choices) {
    if let Some((since, until)) = &c.window
        && !since.is_empty()
        && !until.is_empty()
    {
        a.extend([
            "--since".into(),
            since.clone(),
            "--until".into(),
            until.clone(),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of spec, with every choice the page can make, is read by the command line's
    /// own parser as the page meant it: a renamed or removed flag fails here.
    #[test]
    fn every_spec_parses_with_the_command_lines_parser() {
        let c = Choices {
            maps: vec![("Conv. ID".into(), "conversion_id".into())],
            sets: vec![("offer_id".into(), "5769".into())],
            date_order: Some("dmy".into()),
            decimal: Some("comma".into()),
            window: Some(("2026-09-01".into(), "2026-09-30".into())),
            encoding: Some("windows-1252".into()),
            delimiter: Some("semicolon".into()),
            sheet: Some("June".into()),
            header_row: Some(3),
            hidden_rows: Some("skip".into()),
            amounts: Some("as-shown".into()),
            values: vec![("Approved?".into(), vec![("Yes".into(), "approved".into())])],
            came: super::super::staged::Came::default(),
        };
        let target = RunTarget {
            url: "http://127.0.0.1:9".into(),
            sandbox: false,
            allow_insecure_http: true,
            rate: crate::engine::limiter::Rate::new("--rate", 5.0).unwrap(),
        };
        let dir = tempfile::tempdir().unwrap();
        let files = JobFiles::in_folder(dir.path(), "june");
        let out = dir.path().join("x.csv");
        let jobs = [
            Job::Preview {
                output: &out,
                checkpoint: &files.checkpoint,
                summary: &files.summary,
                memory_mb: 512,
                columns_only: true,
            },
            Job::Run {
                files: &files,
                skip_invalid: true,
                edited_sheet: true,
            },
            Job::Check { out: &out },
        ];
        for job in jobs {
            let spec = JobSpec {
                sheet: Path::new("june.csv"),
                choices: &c,
                target: &target,
                job,
            };
            let a = crate::config::parse_run_args(spec.args())
                .unwrap_or_else(|e| panic!("{}: {e}", spec.command()));
            assert_eq!(a.maps.len(), 1);
            assert_eq!(a.sets.len(), 1);
            assert_eq!(a.values.len(), 1);
            assert!(a.decimal_comma && a.delimiter == Some(b';'));
            assert_eq!(a.header_row, Some(3));
            assert_eq!(a.sheet.as_deref(), Some("June"));
            assert!(a.since.is_some() && a.until.is_some());
            assert!(a.hidden_rows.is_some() && a.amounts.is_some() && a.date_order.is_some());
            match spec.job {
                Job::Preview { .. } => {
                    assert!(a.dry_run && a.columns_only && a.summary_json.is_some());
                    assert_eq!(a.max_memory_mb, Some(512));
                }
                Job::Run { .. } => {
                    assert!(a.read_back && a.skip_invalid && a.edited_sheet);
                    assert!(a.summary_json.is_some() && a.undo.is_some());
                    assert!(spec.reads_back());
                }
                Job::Check { .. } => assert!(a.quiet),
            }
        }
    }
}

//! The processes the screen starts and stops: who a Stop signals (the very process, by its
//! start time), SIGTERM then SIGKILL, exit codes as a shell reports them, and the end of a
//! check's output.

use std::time::Duration;

/// How long a stopped run may take to finish its requests in flight before it is killed, unless
/// `serve --stop-grace-secs` says otherwise (the page says which).
pub(super) const STOP_GRACE: Duration = Duration::from_secs(30);

/// A process Stop signals: its pid, and its start time where known.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    pub pid: u32,
    pub started: Option<u64>,
}

impl Target {
    /// The same process is still running (a pid that now names another process is not it).
    pub(super) fn still_there(&self) -> bool {
        crate::checkpoint::process_is_running(self.pid, self.started)
    }
}

/// The most of a check's output the page shows: its end, where the summary is.
pub(super) const CHECK_OUTPUT_SHOWN: u64 = 64 << 10;

/// The last `max` bytes of `file` (from its start), as text.
pub(super) fn tail(file: &mut std::fs::File, max: u64) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = file.seek(SeekFrom::End(0)).unwrap_or(0);
    let from = len.saturating_sub(max);
    let mut bytes = Vec::new();
    let _ = file
        .seek(SeekFrom::Start(from))
        .and_then(|_| file.take(max).read_to_end(&mut bytes));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if from > 0 {
        format!("…\n{text}")
    } else {
        text
    }
}

/// SIGTERM to `pid`, as `kill PID` sends it.
#[cfg(unix)]
pub(super) fn terminate(pid: u32) -> Result<(), String> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or("not a process id")?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| format!("cannot stop the run: {e}"))
}

/// SIGKILL to `pid`.
#[cfg(unix)]
pub(super) fn kill(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
pub(super) fn kill(_pid: u32) {}

#[cfg(not(unix))]
pub(super) fn terminate(_pid: u32) -> Result<(), String> {
    Err(
        "stopping a run from the page needs a Unix system here: press Ctrl-C in the server's \
         window instead (the runs stop as with SIGTERM, and Resume finishes them)"
            .into(),
    )
}

/// The exit code, or 128 + the signal that ended the process (as a shell reports it).
pub(super) fn exit_code(s: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        s.code()
            .unwrap_or_else(|| 128 + s.signal().unwrap_or_default())
    }
    #[cfg(not(unix))]
    {
        s.code().unwrap_or(-1)
    }
}

/// True when process `pid` is this program (`exe`) running a job of `stem` (an argument — the
/// sheet, the results, the checkpoint — is named after it): the run the lock names, never
/// another process that a crafted lock file names.
#[cfg(unix)]
pub(super) fn runs_job(pid: u32, exe: &std::path::Path, stem: &str) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let same_program = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .zip(exe.canonicalize().ok())
        .is_some_and(|(theirs, ours)| theirs == ours);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let names_it = cmdline.split(|b| *b == 0).any(|arg| {
        std::path::Path::new(std::ffi::OsStr::from_bytes(arg))
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| {
                n.strip_prefix(stem)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    });
    same_program && names_it
}

#[cfg(not(unix))]
pub(super) fn runs_job(_pid: u32, _exe: &std::path::Path, _stem: &str) -> bool {
    false
}

/// How a bounded child process ended.
pub(super) struct Finished {
    /// Its exit code (128 + signal), `None` when it could not be waited for.
    pub code: Option<i32>,
    /// It ran past its time and was killed.
    pub timed_out: bool,
    /// The end of what it printed (stdout and stderr, in order), at most `shown` bytes.
    pub output: String,
}

/// Runs `cmd` to its end, or kills it after `timeout`. Its output goes to a file of its own,
/// never to a pipe: nobody reads a pipe while this waits, and a child that printed more than
/// a pipe holds would block until it is killed.
pub(super) fn run_bounded(
    mut cmd: std::process::Command,
    timeout: Duration,
    shown: u64,
) -> Result<Finished, String> {
    use std::process::Stdio;
    let output = tempfile::tempfile()
        .and_then(|f| Ok((f.try_clone()?, f.try_clone()?, f)))
        .map_err(|e| format!("cannot start it: {e}"))?;
    let (out, err, mut output) = output;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let deadline = std::time::Instant::now() + timeout;
    let mut timed_out = false;
    // Polled: the child is ours alone, and a wait with a deadline is what std offers.
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(_) => {
                let _ = child.kill();
                break;
            }
        }
    }
    let code = child.wait().ok().map(exit_code);
    Ok(Finished {
        code,
        timed_out,
        output: tail(&mut output, shown),
    })
}

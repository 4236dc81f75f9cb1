//! One run per checkpoint: an exclusive OS lock on `CHECKPOINT.lock`, naming its holder.

use super::CheckpointError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held for the whole run; released when dropped (or when the process dies, even by `kill -9`).
/// Dropped, it removes its file first — while still holding the lock — so a finished run leaves
/// no `.lock` behind.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// True when `path` still names the file `file` has open: a lock taken on a file another run
/// removed in the meantime guards nothing.
fn still_named(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (std::fs::metadata(path), file.metadata()) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        true
    }
}

/// The lock file beside a checkpoint.
#[must_use]
pub(super) fn lock_path(checkpoint: &Path) -> PathBuf {
    let mut p = checkpoint.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// This machine's name, for the holder line.
#[must_use]
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
}

/// Who holds a checkpoint's lock, as the lock file records it: what the screen's Stop needs to
/// signal the right process (on this machine, the very process, not one that reuses its pid).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Holder {
    pub pid: u32,
    pub host: String,
    /// When it took the lock, local time (for people).
    pub since: String,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`), where known.
    pub started: Option<u64>,
}

impl Holder {
    /// This process.
    fn this_process() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: hostname(),
            since: chrono::Local::now()
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            started: process_start(pid),
        }
    }

    /// True when this names a process that is running on this machine now (the same process:
    /// its start time matches, where known).
    #[must_use]
    pub(crate) fn is_alive_here(&self) -> bool {
        self.host == hostname() && is_running(self.pid, self.started)
    }
}

/// True when process `pid` runs now and is the process that started at `started` (clock
/// ticks since boot, where known): a pid reused by a later process is not it. The one rule
/// for the lock's holder and for the process a Stop escalates against.
#[must_use]
pub(crate) fn is_running(pid: u32, started: Option<u64>) -> bool {
    match (started, process_start(pid)) {
        (Some(then), Some(now)) => then == now,
        (None, now) => now.is_some(),
        (Some(_), None) => false,
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {} since {}", self.pid, self.host, self.since)
    }
}

/// When process `pid` started, in clock ticks since boot (Linux), or `None`.
#[must_use]
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields after it follow the last `)`.
    let after = stat.get(stat.rfind(')')? + 1..)?;
    // Field 22 of the whole line is the 20th after the name.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// What the lock file says of its holder: the record, or its raw text when it is none.
fn holder_record(file: &mut File) -> (Option<Holder>, String) {
    let mut s = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut s));
    match serde_json::from_str::<Holder>(s.trim()) {
        Ok(h) => {
            let text = h.to_string();
            (Some(h), text)
        }
        Err(_) if s.trim().is_empty() => (None, "another cake-recon process".into()),
        Err(_) => (None, s.trim().to_string()),
    }
}

fn holder_text(file: &mut File) -> String {
    holder_record(file).1
}

/// Takes the exclusive lock or says who holds it.
pub(super) fn acquire(checkpoint: &Path) -> Result<Lock, CheckpointError> {
    let path = lock_path(checkpoint);
    // A run that ends removes the file as it lets go: after locking, check that the name still
    // leads to the locked file, or else lock the new one. Each retry is lost only to a whole
    // other run starting and ending in between, so a few suffice.
    for _ in 0..4 {
        let mut file = open(&path).map_err(|e| CheckpointError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) if still_named(&path, &file) => {
                let line = serde_json::to_string(&Holder::this_process())
                    .unwrap_or_else(|_| format!("pid {}", std::process::id()));
                file.set_len(0)
                    .and_then(|()| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(line.as_bytes()))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| CheckpointError::io(&path, e))?;
                return Ok(Lock { _file: file, path });
            }
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(CheckpointError::Locked {
                    path: checkpoint.to_path_buf(),
                    holder: holder_text(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(CheckpointError::io(&path, e)),
        }
    }
    Err(CheckpointError::Locked {
        path: checkpoint.to_path_buf(),
        holder: "other runs starting and ending one after another".into(),
    })
}

/// Who holds the lock right now, if anyone (for `status` and the screen's Stop): the record
/// (when the file holds one) and the words.
#[must_use]
pub(super) fn holder(checkpoint: &Path) -> Option<(Option<Holder>, String)> {
    let path = lock_path(checkpoint);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Some(holder_record(&mut file)),
        Ok(()) | Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("x.ckpt");
        let lock = acquire(&ckpt).unwrap();
        let err = acquire(&ckpt).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        let (record, text) = holder(&ckpt).unwrap();
        assert!(text.contains("pid"), "{text}");
        let record = record.unwrap();
        assert_eq!(record.pid, std::process::id());
        assert!(record.is_alive_here());
        let elsewhere = Holder {
            host: "another-machine".into(),
            ..record.clone()
        };
        assert!(!elsewhere.is_alive_here());
        let reused = Holder {
            started: record.started.map(|s| s + 1),
            ..record
        };
        assert!(!reused.is_alive_here() || !cfg!(target_os = "linux"));
        drop(lock);
        assert!(holder(&ckpt).is_none());
        assert!(
            !lock_path(&ckpt).exists(),
            "a finished run leaves no lock file"
        );
        let again = acquire(&ckpt).unwrap();
        assert!(lock_path(&ckpt).exists());
        drop(again);
    }

    #[test]
    fn a_lock_file_removed_meanwhile_is_not_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ckpt.lock");
        let stale = open(&path).unwrap();
        assert!(still_named(&path, &stale));
        // The run that owned it ended and removed it; a new run created a new one.
        std::fs::remove_file(&path).unwrap();
        let fresh = open(&path).unwrap();
        assert!(!still_named(&path, &stale));
        assert!(still_named(&path, &fresh));
    }
}

//! One run per checkpoint: an exclusive OS lock on `CHECKPOINT.lock`, naming its holder.

use super::CheckpointError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held for the whole run; released when dropped (or when the process dies, even by `kill -9`).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
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

fn holder_text(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut s));
    let s = s.trim();
    if s.is_empty() {
        "another cake-recon process".into()
    } else {
        s.to_string()
    }
}

/// Takes the exclusive lock or says who holds it.
pub(super) fn acquire(checkpoint: &Path) -> Result<Lock, CheckpointError> {
    let path = lock_path(checkpoint);
    let mut file = open(&path).map_err(|e| CheckpointError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {
            let line = format!(
                "pid {} on {} since {}",
                std::process::id(),
                hostname(),
                chrono::Local::now().format("%Y-%m-%d %H:%M:%S %Z")
            );
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(line.as_bytes()))
                .and_then(|()| file.sync_all())
                .map_err(|e| CheckpointError::io(&path, e))?;
            Ok(Lock { _file: file })
        }
        Err(TryLockError::WouldBlock) => Err(CheckpointError::Locked {
            path: checkpoint.to_path_buf(),
            holder: holder_text(&mut file),
        }),
        Err(TryLockError::Error(e)) => Err(CheckpointError::io(&path, e)),
    }
}

/// Who holds the lock right now, if anyone (for `status`).
#[must_use]
pub(super) fn holder(checkpoint: &Path) -> Option<String> {
    let path = lock_path(checkpoint);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Some(holder_text(&mut file)),
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
        assert!(holder(&ckpt).is_some_and(|h| h.contains("pid")));
        drop(lock);
        assert!(holder(&ckpt).is_none());
        assert!(acquire(&ckpt).is_ok());
    }
}

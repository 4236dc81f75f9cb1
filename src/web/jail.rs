//! The served folder is a jail: every file the screen reads or writes is inside `--dir`, opened
//! by handle without following a link, and what the screen makes is the owner's alone.
//!
//! `serve` is put on shared machines. Anyone who can write into the folder could plant
//! `june.results.csv → /etc/passwd` (a download would serve the outside file) or a job log
//! linked to someone's `.bashrc` (Apply would append to it). So a path is refused unless its
//! folder resolves inside the served folder (no linked folder leads out), and the file itself
//! is opened with `O_NOFOLLOW` (a link answers "not found", whatever it points to), as a
//! regular file. Files are created 0600 and folders 0700; a file replaced whole is written beside
//! and renamed over (a link in its place is replaced, never written through).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::Path;

/// Why a path is refused: as a missing file, to a page.
fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: {why}", path.display()),
    )
}

/// True when `path` (which exists) resolves inside `root`: the one test of "in the served
/// folder", whatever links lie on the way.
pub(super) fn is_inside(root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .ok()
        .zip(root.canonicalize().ok())
        .is_some_and(|(p, r)| p.starts_with(r))
}

/// Refuses `path` unless its folder resolves inside `root`.
fn inside(root: &Path, path: &Path) -> io::Result<()> {
    let folder = path.parent().ok_or_else(|| refused(path, "no folder"))?;
    if is_inside(root, folder) {
        Ok(())
    } else {
        Err(refused(path, "outside the served folder"))
    }
}

/// Options that never follow a link in the last place of a path, never wait on a FIFO (it is
/// then refused as no regular file), and create files 0600.
fn no_follow(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        o.custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
            .mode(0o600);
    }
    o
}

/// Refuses a handle that is not a regular file of the server's own (a folder, a FIFO that would
/// block a reader), or one with another name elsewhere (a hard link to a file outside).
fn regular(path: &Path, file: File) -> io::Result<File> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(path, "not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if meta.nlink() > 1 {
            return Err(refused(
                path,
                "a hard link (the screen reads only files of its own)",
            ));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(refused(path, "not the server's own file"));
        }
    }
    Ok(file)
}

/// Opens `path` (inside `root`) for reading.
pub(super) fn open(root: &Path, path: &Path) -> io::Result<File> {
    inside(root, path)?;
    let file = no_follow(OpenOptions::new().read(true))
        .open(path)
        .map_err(|e| link_or(path, e))?;
    regular(path, file)
}

/// A link opened with `O_NOFOLLOW` fails with `ELOOP`: said as what it is.
fn link_or(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) || path.is_symlink() {
        refused(path, "a link (the screen does not follow links)")
    } else {
        e
    }
}

/// Reads `path` (inside `root`) whole.
pub(super) fn read(root: &Path, path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(root, path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads `path` (inside `root`) whole, as text.
pub(super) fn read_to_string(root: &Path, path: &Path) -> io::Result<String> {
    String::from_utf8(read(root, path)?).map_err(io::Error::other)
}

/// Opens `path` (inside `root`) to append to it, made 0600 when new.
pub(super) fn append(root: &Path, path: &Path) -> io::Result<File> {
    inside(root, path)?;
    let file = no_follow(OpenOptions::new().create(true).append(true))
        .open(path)
        .map_err(|e| link_or(path, e))?;
    regular(path, file)
}

/// Creates `path` (inside `root`) new, 0600: an existing file or link there is refused.
pub(super) fn create_new(root: &Path, path: &Path) -> io::Result<File> {
    inside(root, path)?;
    no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
}

/// Replaces `path` (inside `root`) with `bytes`: written 0600 beside it, then renamed over it.
pub(super) fn write(root: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    inside(root, path)?;
    let folder = path.parent().ok_or_else(|| refused(path, "no folder"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".screen-")
        .tempfile_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Removes `path` (inside `root`): a link is removed itself, never what it points to.
pub(super) fn remove(root: &Path, path: &Path) -> io::Result<()> {
    inside(root, path)?;
    std::fs::remove_file(path)
}

/// Creates `path` and its missing parents, 0700, inside `root` (which must exist): refused,
/// with nothing made, when the part of it that exists leads out of `root`.
pub(super) fn create_dir_all(root: &Path, path: &Path) -> io::Result<()> {
    let existing = path
        .ancestors()
        .find(|a| a.exists())
        .ok_or_else(|| refused(path, "no folder"))?;
    if !is_inside(root, existing) {
        return Err(refused(path, "outside the served folder"));
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(path)?;
    // Made by another in the meantime, through a link: refused all the same.
    if is_inside(root, path) {
        Ok(())
    } else {
        Err(refused(path, "outside the served folder"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_paths_outside_are_refused_and_what_is_made_is_the_owners() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "outside").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::os::unix::fs::symlink(&secret, root.join("leak.csv")).unwrap();
            std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
            assert!(read(root, &root.join("leak.csv")).is_err());
            assert!(append(root, &root.join("leak.csv")).is_err());
            assert!(read(root, &root.join("out/secret")).is_err());
            assert!(write(root, &root.join("out/secret"), b"x").is_err());
            // Replacing a link replaces the link.
            write(root, &root.join("leak.csv"), b"ours").unwrap();
            assert_eq!(std::fs::read_to_string(&secret).unwrap(), "outside");
            assert_eq!(read(root, &root.join("leak.csv")).unwrap(), b"ours");
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&root.join("leak.csv")), 0o600);
            drop(append(root, &root.join("log.txt")).unwrap());
            assert_eq!(mode(&root.join("log.txt")), 0o600);
            create_dir_all(root, &root.join("a/b")).unwrap();
            assert_eq!(mode(&root.join("a/b")), 0o700);
        }
        #[cfg(unix)]
        {
            std::fs::hard_link(&secret, root.join("hard.csv")).unwrap();
            assert!(
                read(root, &root.join("hard.csv")).is_err(),
                "a hard link is refused"
            );
            rustix::fs::mkfifoat(
                rustix::fs::CWD,
                root.join("fifo.csv"),
                rustix::fs::Mode::from_raw_mode(0o600),
            )
            .unwrap();
            assert!(
                read(root, &root.join("fifo.csv")).is_err(),
                "a FIFO is refused at once"
            );
            assert!(create_dir_all(root, &root.join("out/made")).is_err());
            assert!(
                !outside.path().join("made").exists(),
                "nothing made outside"
            );
        }
        assert!(read(root, &root.join("../x")).is_err());
        assert!(create_new(root, &root.join("new.csv")).is_ok());
        assert!(create_new(root, &root.join("new.csv")).is_err());
    }
}

//! Which files cake-recon may replace: only its own.

use super::output::{BEFORE_COLUMNS, columns, is_xlsx};
use super::{check, undo};
use std::fs::File;
use std::io;
use std::path::Path;

/// True when `path` does not exist, is empty, or is a results, check or undo file cake-recon wrote
/// (its header is ours, in any delimiter, as a CSV or in an `.xlsx` sheet `Results`): the only
/// files a run may replace.
#[must_use]
pub(crate) fn replaceable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return true;
    };
    // Before its length: a device or a FIFO is "empty" too, and is never ours to replace.
    if !meta.is_file() {
        return false;
    }
    if meta.len() == 0 {
        return true;
    }
    // Ours: a results file, or a check file.
    let ours = |first: &[String]| {
        let is = |cols: &[&str]| first.iter().map(String::as_str).eq(cols.iter().copied());
        let results: Vec<&str> = columns().collect();
        let with_before: Vec<&str> = columns().chain(BEFORE_COLUMNS).collect();
        is(&results) || is(&with_before) || is(&check::COLUMNS) || is(&undo::COLUMNS)
    };
    if is_xlsx(path) {
        use calamine::Reader as _;
        return calamine::open_workbook_auto(path)
            .ok()
            .and_then(|mut book| book.worksheet_range("Results").ok())
            .and_then(|range| {
                range
                    .rows()
                    .next()
                    .map(|r| r.iter().map(ToString::to_string).collect::<Vec<_>>())
            })
            .is_some_and(|first| ours(&first));
    }
    let mut head = vec![0u8; 4096];
    let n = File::open(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head.truncate(n);
    let head = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&head);
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Written in the sheet's delimiter: any of those a sheet may use.
    [b',', b';', b'\t', b'|'].iter().any(|&delimiter| {
        let first: Vec<String> = line
            .split(|&b| b == delimiter)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        ours(&first)
    })
}

/// What `path` is when it exists and is not a regular file (following symlinks: a link to
/// `/dev/null` is a device), in words for a message: "a directory", "a FIFO (named pipe)", …
/// `None` when it is a regular file or does not exist (a link to nothing is refused too).
#[must_use]
pub(crate) fn not_regular(path: &Path) -> Option<&'static str> {
    let Ok(meta) = std::fs::metadata(path) else {
        // A link to nothing: writing through it would make a file elsewhere, or fail.
        return std::fs::symlink_metadata(path)
            .is_ok_and(|m| m.file_type().is_symlink())
            .then_some("a symbolic link to a file that does not exist");
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_results_may_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        assert!(replaceable(&dir.path().join("missing.csv")));
        assert!(replaceable(&at("empty.csv", "")));
        let header: Vec<&str> = columns().collect();
        assert!(replaceable(&at(
            "ours.csv",
            &format!("{}\n2,1\n", header.join(","))
        )));
        assert!(replaceable(&at(
            "ours-semicolon.csv",
            &format!("\u{feff}{}\r\n", header.join(";"))
        )));
        assert!(!replaceable(&at("report.csv", "month,total\nJune,12\n")));
        assert!(!replaceable(&at(
            "sheet.csv",
            "conversion_id,payout\n1,2\n"
        )));
        assert!(!replaceable(&at(
            "longer.csv",
            &format!("{},extra\n", header.join(","))
        )));
        let dir_path = dir.path().join("a-dir");
        std::fs::create_dir(&dir_path).unwrap();
        assert!(!replaceable(&dir_path));
        assert_eq!(not_regular(&dir_path), Some("a directory"));
        assert_eq!(not_regular(&dir.path().join("ours.csv")), None);
        assert_eq!(not_regular(&dir.path().join("missing.csv")), None);
        #[cfg(unix)]
        {
            let dangling = dir.path().join("dangling.csv");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
            assert_eq!(
                not_regular(&dangling),
                Some("a symbolic link to a file that does not exist")
            );
            let null = Path::new("/dev/null");
            assert!(!replaceable(null), "a device is empty, and never ours");
            assert_eq!(not_regular(null), Some("a character device"));
        }
    }
}

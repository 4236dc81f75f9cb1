//! The files a run reads and writes, checked before anything is sent: none the same as
//! another through a name, a symlink or a hard link; only regular files; a checkpoint only if
//! it is ours; the journal's place.

use super::args::RunArgs;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// The files a run writes: none the same as another (or the sheet), none that is not a
/// regular file, no checkpoint that is not ours, no output cake-recon did not write.
pub(super) fn refuse_unsafe_paths(
    a: &RunArgs,
    output: &Path,
    checkpoint: &Path,
    undo: Option<&Path>,
) -> Result<(), Error> {
    refuse_overlap(
        &a.input,
        output,
        checkpoint,
        undo,
        a.summary_json.as_deref(),
    )?;
    refuse_not_regular("--output", output)?;
    if let Some(summary) = &a.summary_json {
        refuse_not_regular("--summary-json", summary)?;
    }
    refuse_not_regular("--checkpoint", checkpoint)?;
    refuse_foreign_checkpoint(checkpoint, a.restart)?;
    refuse_unwritable("--output", output)?;
    if let Some(undo) = undo {
        refuse_not_regular("--undo", undo)?;
        refuse_unwritable("--undo", undo)?;
    }
    Ok(())
}

/// Results are a CSV or an `.xlsx` workbook; a name that promises another kind is refused
/// rather than filled with CSV text a spreadsheet program would then misread. A file that
/// exists is replaced only when cake-recon wrote it.
pub(super) fn refuse_unwritable(flag: &str, output: &Path) -> Result<(), Error> {
    if !crate::report::files::replaceable(output) {
        return Err(Error::Usage(format!(
            "{flag} {}: that file exists and cake-recon did not write it (its first line is \
             not a header cake-recon writes); nothing was sent. Give another {flag}, or move the \
             file away if it may be replaced",
            output.display()
        )));
    }
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ["xls", "xlsm", "xlsb", "ods", "numbers"].contains(&ext.as_str()) {
        return Err(Error::Usage(format!(
            "{flag} {}: cake-recon writes results as .csv or .xlsx, not .{ext}; give a name \
             ending in .csv or .xlsx",
            output.display()
        )));
    }
    Ok(())
}

/// `path` made absolute with its directory's symlinks resolved, so that two spellings of one
/// file compare equal (the file itself need not exist yet).
pub(super) fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// The sheet, the results, the checkpoint, the undo sheet and the summary must be different files — also
/// through symlinks and hard links: a results file renamed over the sheet destroys it, a
/// checkpoint over either corrupts both, an undo sheet over the checkpoint loses the record of
/// what was applied (and the next run would apply it again).
pub(super) fn refuse_overlap(
    input: &Path,
    output: &Path,
    checkpoint: &Path,
    undo: Option<&Path>,
    summary: Option<&Path>,
) -> Result<(), Error> {
    let mut named: Vec<(&str, &Path, &str)> = vec![
        ("--output", output, "the results file"),
        ("--checkpoint", checkpoint, "the checkpoint"),
    ];
    if let Some(undo) = undo {
        named.push(("--undo", undo, "the undo sheet"));
    }
    if let Some(summary) = summary {
        named.push(("--summary-json", summary, "the summary"));
    }
    let mut earlier: Vec<(&Path, &str)> = vec![(input, "the sheet")];
    for (flag, path, what) in named {
        if let Some((_, other)) = earlier.iter().find(|(p, _)| same_file(p, path)) {
            return Err(Error::Usage(format!(
                "{flag} {} would overwrite {other} (the same file, by name or through a link); \
                 nothing was sent. Give {flag} a path of its own",
                path.display()
            )));
        }
        earlier.push((path, what));
    }
    Ok(())
}

/// The journal is none of the run's other files (by name or through a link).
pub(super) fn refuse_journal_overlap<'a>(
    journal: &Path,
    others: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Result<(), Error> {
    for (what, other) in others {
        if same_file(journal, other) {
            return Err(Error::Usage(format!(
                "the journal {} is the same file as {what} {}; nothing was sent. Give --journal \
                 a path of its own",
                journal.display(),
                other.display()
            )));
        }
    }
    Ok(())
}

/// Do `a` and `b` name one file: the same path once links are resolved, or (both existing) the
/// same device and inode, as two hard links are?
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    if resolved(a) == resolved(b) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Refuses an existing `--checkpoint` whose schema is not exactly a checkpoint's (a trigger, a
/// view, another table, another column type: see `checkpoint::schema`), before the journal,
/// the lock or anything else looks inside — and even with `--restart`, which would delete it.
/// Only a damaged checkpoint of ours may be started over.
pub(super) fn refuse_foreign_checkpoint(checkpoint: &Path, restart: bool) -> Result<(), Error> {
    use crate::checkpoint::CheckpointError;
    match crate::checkpoint::schema::refuse_foreign(checkpoint) {
        Err(CheckpointError::Corrupt { .. }) if restart => Ok(()),
        r => r.map_err(Error::from),
    }
}

/// Refuses a path cake-recon would write (`flag`: `--output`, `--checkpoint`, `--undo`, a
/// journal) that exists and is not a regular file — a directory, FIFO, device or socket is
/// never replaced by a file of ours, nor opened as one. Call it for every file a command
/// writes, before anything is sent.
pub(crate) fn refuse_not_regular(flag: &str, path: &Path) -> Result<(), Error> {
    match crate::report::files::not_regular(path) {
        None => Ok(()),
        Some(kind) => Err(Error::Usage(format!(
            "{flag} {}: that is {kind}, not a regular file; cake-recon writes only regular \
             files and replaces nothing else. Nothing was sent. Give {flag} the path of a \
             regular file (or of one that does not exist yet)",
            path.display()
        ))),
    }
}

/// The journal's settings: `--journal`, `CAKE_RECON_JOURNAL` (clap reads it), or the user's
/// data directory. A sandbox trial drops them later (`app::run`).
pub(super) fn journal(a: &RunArgs) -> Result<Option<crate::engine::JournalSettings>, Error> {
    let path = match a
        .journal
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(journal_from_env)
    {
        Some(p) => p,
        None => match crate::checkpoint::journal::default_path() {
            Some(p) => p,
            None if a.dry_run || a.sandbox || a.sandbox_url.is_some() => return Ok(None),
            None => {
                return Err(Error::Usage(
                    "where should the journal of sent updates live? Neither XDG_DATA_HOME nor \
                     HOME is set: give --journal PATH (or CAKE_RECON_JOURNAL); nothing was sent"
                        .into(),
                ));
            }
        },
    };
    refuse_not_regular("--journal", &path)?;
    Ok(Some(crate::engine::JournalSettings {
        path,
        days: a.journal_days,
        same_sheet_again: a.same_sheet_again,
        same_additions_again: a.same_additions_again,
    }))
}

/// `CAKE_RECON_JOURNAL`, when set and not empty (an empty one means "the default", as an unset
/// one does).
pub(crate) fn journal_from_env() -> Option<PathBuf> {
    std::env::var_os("CAKE_RECON_JOURNAL")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

//! What a sheet would do: read exactly as `cake-recon run --dry-run` reads it (the same
//! arguments, through the same checks), gathered into what the preview page shows.

use super::staged::{Choices, Staged};
use crate::report::preview::default_text;
use crate::sheet::columns::Source;
use crate::sheet::{PrePass, Sheet, SheetOptions, Totals, prepass_visit};
use crate::update::{PARAMS, Param, ParamType};
use std::path::Path;

/// How many invalid rows the page lists (all of them are in the results file).
pub(super) const ROWS_LISTED: usize = 200;

/// Where runs go and how fast: what every argument list shares.
#[derive(Debug, Clone)]
pub(super) struct RunTarget {
    pub url: String,
    /// The server's own sandbox: runs are trials (`--sandbox-url`), kept apart from real ones.
    pub sandbox: bool,
    pub allow_insecure_http: bool,
    pub rate: crate::engine::limiter::Rate,
}

/// The sheet-reading arguments of `run`/`check` for an upload and its choices.
fn sheet_args(staged: &Staged, c: &Choices) -> Vec<String> {
    let mut a = vec![staged.path().display().to_string()];
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
        let map = crate::sheet::columns::ValueMap {
            column: column.clone(),
            pairs: pairs.clone(),
        };
        a.extend(["--values".into(), map.to_string()]);
    }
    a
}

fn target_args(a: &mut Vec<String>, t: &RunTarget) {
    let flag = if t.sandbox {
        "--sandbox-url"
    } else {
        "--base-url"
    };
    a.extend([flag.into(), t.url.clone()]);
    if t.allow_insecure_http {
        a.push("--allow-insecure-http".into());
    }
}

/// `cake-recon run …` for an upload: results beside the sheet's name in the served folder, and
/// with a window, reading CAKE back (an undo sheet, rows already right left unsent).
pub(super) fn run_args(
    staged: &Staged,
    c: &Choices,
    t: &RunTarget,
    files: &super::jobs::JobFiles,
) -> Vec<String> {
    let mut a = sheet_args(staged, c);
    a.extend([
        "--output".into(),
        files.results.display().to_string(),
        "--checkpoint".into(),
        files.checkpoint.display().to_string(),
        "--rate".into(),
        t.rate.to_string(),
    ]);
    target_args(&mut a, t);
    if let Some(window) = &c.window {
        a.extend([
            "--read-back".into(),
            "--undo".into(),
            files.undo.display().to_string(),
        ]);
        window_args(&mut a, window);
    }
    a
}

/// `cake-recon check …` for an upload over `window`.
pub(super) fn check_args(
    staged: &Staged,
    c: &Choices,
    t: &RunTarget,
    out: &Path,
    window: &(String, String),
) -> Vec<String> {
    let mut a = sheet_args(staged, c);
    a.extend(["--output".into(), out.display().to_string()]);
    target_args(&mut a, t);
    window_args(&mut a, window);
    a.push("-q".into());
    a
}

/// `--since`/`--until`, unless the window is left to the sheet's `conversion_date` column
/// (both days empty).
fn window_args(a: &mut Vec<String>, (since, until): &(String, String)) {
    if !since.is_empty() && !until.is_empty() {
        a.extend([
            "--since".into(),
            since.clone(),
            "--until".into(),
            until.clone(),
        ]);
    }
}

/// How `run --dry-run` with the page's choices reads the sheet (the same flags, the same checks).
fn sheet_options(staged: &Staged, c: &Choices) -> Result<SheetOptions, String> {
    let mut args = sheet_args(staged, c);
    args.push("--dry-run".into());
    crate::config::parse_run_args(args)
        .and_then(|a| crate::config::run_config(a, None))
        .map(|cfg| cfg.engine.sheet)
        .map_err(|e| e.to_string())
}

/// The sheet's columns as `c` reads it, leaving out its mappings (they may name columns the
/// sheet, read another way, no longer has); only the rows above the header are read.
pub(super) fn columns_of(staged: &Staged, c: &Choices) -> Vec<String> {
    let plain = Choices {
        maps: Vec::new(),
        ..c.clone()
    };
    let Ok(opts) = sheet_options(staged, &plain) else {
        return Vec::new();
    };
    let path = staged.path();
    match Sheet::open(&path, &opts) {
        Ok(sheet) => sheet.header().iter().map(str::to_string).collect(),
        Err(_) => Sheet::probable_header(&path, &opts),
    }
}

/// A sheet as read, or why it cannot be.
pub(super) struct Preview {
    /// The columns as written (also when the header itself was refused).
    pub header: Vec<String>,
    pub read: Result<Read, String>,
    /// Against an earlier run of the same name: (rows that keep their outcome, changed, new).
    pub standing: Option<(u64, u64, u64)>,
    /// The disposition column, when its cells need saying what they mean (`Yes`, `No`): its
    /// header and its distinct cells, for a dropdown each.
    pub decision: Option<(String, Vec<String>)>,
}

/// How many distinct cells of a decision column the page asks about.
const DECISION_CELLS: usize = 12;

/// The disposition column's header and distinct cells, when one of them is no disposition
/// word (or the page already maps them).
fn decision_cells(
    path: &Path,
    opts: &SheetOptions,
    pre: &PrePass,
    c: &Choices,
) -> Option<(String, Vec<String>)> {
    let Source::Column { index, header } = pre.columns.source(Param::DispositionType) else {
        return None;
    };
    let cells = crate::sheet::distinct::distinct_cells(path, opts, *index, DECISION_CELLS);
    let words = |cell: &str| {
        crate::sheet::cells::disposition_word(&crate::sheet::parse::normalize_token(cell)).is_some()
    };
    let mapped = c.values.iter().any(|(col, _)| col == header);
    (mapped || cells.iter().any(|cell| !words(cell))).then(|| (header.clone(), cells))
}

/// A sheet that could be read.
pub(super) struct Read {
    pub pre: PrePass,
    /// The API version the sheet was read for (which fields exist, their defaults).
    pub api_version: u8,
    pub totals: Totals,
    /// Invalid rows (not total lines, not duplicates): row and message, the first
    /// [`ROWS_LISTED`].
    pub invalid: Vec<(u64, String)>,
    /// Rows that target the same conversion as another row (not sent either), the first
    /// [`ROWS_LISTED`].
    pub duplicates: Vec<(u64, String)>,
}

/// Reads the upload with the page's choices, as a dry run would.
pub(super) fn preview(staged: &Staged, c: &Choices, checkpoint: &Path) -> Preview {
    let opts = match sheet_options(staged, c) {
        Ok(opts) => opts,
        Err(e) => {
            return Preview {
                header: Vec::new(),
                read: Err(e),
                standing: None,
                decision: None,
            };
        }
    };
    let path = staged.path();
    let mut totals = Totals::default();
    let mut invalid = Vec::new();
    let mut idents = Vec::new();
    // Identities only matter beside an earlier run of the same name.
    let beside_a_run = checkpoint.exists();
    let pre = prepass_visit(&path, &opts, |row| match &row.result {
        Ok(u) => {
            totals.add(u);
            if beside_a_run {
                idents.push(u.ident());
            }
        }
        Err(e) if !e.skipped && invalid.len() < ROWS_LISTED => {
            invalid.push((row.row, e.message.clone()));
        }
        Err(_) => {}
    });
    match pre {
        Ok(pre) => {
            // Duplicates are known only at the end: their rows are invalid too.
            let mut dups: Vec<(u64, String)> = pre
                .duplicates
                .iter()
                .map(|(row, d)| (*row, d.message(*row)))
                .collect();
            dups.sort_unstable();
            let dup_rows: std::collections::HashSet<u64> = dups.iter().map(|d| d.0).collect();
            // A duplicate that was also invalid on its own is listed once, as invalid.
            let invalid_rows: std::collections::HashSet<u64> =
                invalid.iter().map(|d| d.0).collect();
            dups.retain(|(r, _)| !invalid_rows.contains(r));
            dups.truncate(ROWS_LISTED);
            let standing = beside_a_run
                .then(|| crate::checkpoint::standing(checkpoint, idents.into_iter()).ok())
                .flatten()
                .map(|st| (st.kept.values().sum(), st.changed, st.new));
            let mut totals = totals;
            if !dup_rows.is_empty() {
                // Rows held back as duplicates are not sent: count only what would be.
                totals = Totals::default();
                let mut sheet = Sheet::open(&path, &opts.pinned(&pre.formats));
                if let Ok(sheet) = &mut sheet {
                    while let Ok(Some(row)) = sheet.next_row(&pre.duplicates) {
                        if let Ok(u) = &row.result {
                            totals.add(u);
                        }
                    }
                }
            }
            let decision = decision_cells(&path, &opts.pinned(&pre.formats), &pre, c);
            Preview {
                decision,
                header: pre.header.clone(),
                read: Ok(Read {
                    api_version: opts.api_version,
                    pre,
                    totals,
                    invalid,
                    duplicates: dups,
                }),
                standing,
            }
        }
        Err(e) => Preview {
            header: Sheet::probable_header(&path, &opts),
            read: Err(e.to_string()),
            standing: None,
            decision: None,
        },
    }
}

/// The last few previews, by what they were read from: a reload, or the Apply that follows the
/// page, does not read a million rows again.
#[derive(Default)]
pub(super) struct Previews(std::sync::Mutex<Vec<(String, std::sync::Arc<Preview>)>>);

/// How many previews are kept.
const KEPT: usize = 4;

impl Previews {
    /// The preview of `staged` with `c`, read again only when the sheet, the choices or the
    /// checkpoint beside it changed.
    pub(super) fn get(
        &self,
        staged: &Staged,
        c: &Choices,
        checkpoint: &Path,
    ) -> std::sync::Arc<Preview> {
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
            .0
            .lock()
            .ok()
            .and_then(|kept| kept.iter().find(|(k, _)| *k == key).map(|(_, p)| p.clone()))
        {
            return p;
        }
        let p = std::sync::Arc::new(preview(staged, c, checkpoint));
        if let Ok(mut kept) = self.0.lock() {
            kept.push((key, std::sync::Arc::clone(&p)));
            if kept.len() > KEPT {
                kept.remove(0);
            }
        }
        p
    }
}

/// The field a column feeds, as detected or chosen (`None`: ignored).
pub(super) fn field_of(pre: &PrePass, index: usize) -> Option<Param> {
    PARAMS
        .iter()
        .find(|s| pre.columns.column(s.param) == Some(index))
        .map(|s| s.param)
}

/// Every value a field with a fixed set of values takes (dispositions, received options,
/// effective-date options, true/false), for the page's suggestions.
pub(super) fn known_values() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = PARAMS
        .iter()
        .flat_map(|s| match s.ty {
            ParamType::Enumeration(values) => values.to_vec(),
            ParamType::Bool => vec!["true", "false"],
            _ => Vec::new(),
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The fields a column may be mapped to (the key is never one).
pub(super) fn mappable() -> impl Iterator<Item = &'static str> {
    PARAMS
        .iter()
        .filter(|s| s.param != Param::ApiKey)
        .map(|s| s.name)
}

/// The fields no column and no value set gives, and the default CAKE gets for each.
pub(super) fn defaults(r: &Read) -> Vec<(&'static str, &'static str)> {
    PARAMS
        .iter()
        .filter(|s| matches!(r.pre.columns.source(s.param), Source::Default))
        .filter_map(|s| Some((s.name, default_text(s.param, r.api_version)?)))
        .collect()
}

/// How the sheet was read, as the page lists it.
pub(super) fn detected(pre: &PrePass) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(book) = &pre.format.workbook {
        out.push(("Workbook", book.clone()));
    } else {
        out.push(("Encoding", pre.format.encoding_label()));
        out.push(("Delimiter", pre.format.delimiter_label()));
    }
    let (decimal, dates) = pre.formats.describe();
    out.push(("Amounts", decimal));
    if pre.columns.column(Param::CustomDate).is_some() || pre.columns.conversion_date.is_some() {
        out.push(("Dates", dates));
    }
    out.push((
        "Header",
        if pre.header_row > 1 {
            format!("row {} (rows above it skipped as titles)", pre.header_row)
        } else {
            "row 1".into()
        },
    ));
    for note in &pre.skipped_notes {
        out.push(("Skipped", note.clone()));
    }
    for line in pre.unseen.preview_lines(true) {
        out.push(("Not seen", line));
    }
    for note in &pre.columns.inferred {
        out.push(("From its cells", note.clone()));
    }
    out
}

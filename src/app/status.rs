//! `cake-recon status CHECKPOINT_OR_SHEET [--json]`: what a checkpoint records, and for each
//! in-doubt row what it adds, read from the sheet it was sent from.
//!
//! The checkpoint keeps a row's conversion, the digest of what it sent and when its request
//! left, not the amounts: those come from the sheet, read with the settings the checkpoint
//! recorded, and are shown only for a row whose digest still matches (an edited row's new
//! amounts are not what was sent).

use crate::checkpoint::status::{Adds, Doubt, Report, checkpoint_hint, read, render};
use crate::error::Error;
use crate::sheet::parse::{DateOrder, DecimalStyle};
use crate::sheet::reader::{ReadOptions, encoding_by_name};
use crate::sheet::{Sheet, SheetOptions, prepass};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `cake-recon status CHECKPOINT_OR_SHEET`.
pub(crate) fn status(target: &Path, json: bool) -> Result<u8, Error> {
    let (checkpoint, sheet) = locate(target);
    let mut r = read(&checkpoint)?;
    if !r.in_doubt.is_empty() {
        let sheet = sheet.unwrap_or_else(|| recorded_sheet(&r, &checkpoint));
        describe(&mut r, &sheet);
    }
    super::stdout::show(&mut std::io::stdout().lock(), &render(&r, json))?;
    Ok(crate::exit::OK)
}

/// The checkpoint to read, and the sheet when `target` is one: a sheet's checkpoint is the
/// one a run of it makes by default (or its sandbox trial's, when only that exists).
fn locate(target: &Path) -> (PathBuf, Option<PathBuf>) {
    if is_sqlite(target) {
        return (target.to_path_buf(), None);
    }
    let real = checkpoint_hint(target);
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sandbox = real.with_file_name(format!(
        "{}.sandbox.ckpt",
        name.strip_suffix(".ckpt").unwrap_or(&name)
    ));
    match [real, sandbox].into_iter().find(|p| is_sqlite(p)) {
        Some(found) => (found, Some(target.to_path_buf())),
        // Not a checkpoint, none beside it: reading it says so, and which file was meant.
        None => (target.to_path_buf(), None),
    }
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0")
}

/// The sheet the checkpoint was made for: its recorded path, as given then (relative to the
/// directory the run started in, or else to the checkpoint's).
fn recorded_sheet(r: &Report, checkpoint: &Path) -> PathBuf {
    let recorded = PathBuf::from(&r.input_path);
    if recorded.is_absolute() || recorded.exists() {
        return recorded;
    }
    checkpoint
        .parent()
        .map_or_else(|| recorded.clone(), |dir| dir.join(&recorded))
}

/// The sheet options the run recorded in the checkpoint (`setting.*`); what it did not record
/// (`--header-row`) is found again, and a row read differently fails the digest check.
fn options(settings: &std::collections::BTreeMap<String, String>) -> SheetOptions {
    let get = |k: &str| settings.get(k).map(String::as_str).filter(|v| *v != "auto");
    let pairs = |k: &str| -> Vec<(String, String)> {
        get(k)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.split('|')
                    .filter_map(|p| p.split_once('='))
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let delimiter = get("delimiter").and_then(|d| match d {
        "\\t" => Some(b'\t'),
        d if d.len() == 1 => d.bytes().next(),
        _ => None,
    });
    SheetOptions {
        read: ReadOptions {
            encoding: get("encoding").and_then(encoding_by_name),
            delimiter,
            fingerprint: false,
            sheet: get("sheet").filter(|s| !s.is_empty()).map(str::to_string),
            // The run read this sheet within its limits; its status is read within the most.
            limits: crate::sheet::limits::Limits {
                cells: u64::MAX,
                unpacked_bytes: u64::MAX,
            },
        },
        decimal: match get("decimal") {
            Some("comma") => Some(DecimalStyle::Comma),
            Some("point") => Some(DecimalStyle::Point),
            _ => None,
        },
        date_order: match get("date_order") {
            Some("mdy") => Some(DateOrder::Mdy),
            Some("dmy") => Some(DateOrder::Dmy),
            _ => None,
        },
        maps: pairs("map"),
        sets: pairs("set"),
        allow_negative: get("allow_negative") == Some("true"),
        hidden_rows: get("hidden_rows").and_then(crate::sheet::shown::HiddenRows::from_name),
        amounts: get("amounts").and_then(crate::sheet::shown::AmountsAs::from_name),
        profiled: None,
        values: get("values")
            .map(|v| v.split('|').filter_map(|m| m.parse().ok()).collect())
            .unwrap_or_default(),
        api_version: get("api_version").and_then(|v| v.parse().ok()).unwrap_or(2),
        header_row: None,
    }
}

/// Fills in what each listed in-doubt row adds, from `sheet`.
fn describe(r: &mut Report, sheet: &Path) {
    let shown = sheet.display().to_string();
    let unknown = |why: String| move |d: &mut Doubt| d.adds_unknown = Some(why.clone());
    let found = match rows_of(sheet, &options(&r.settings), &r.in_doubt) {
        Ok(found) => found,
        Err(e) => {
            let set = unknown(format!(
                "cannot read the sheet {shown}: {e}; give it: cake-recon status SHEET"
            ));
            r.in_doubt.iter_mut().for_each(set);
            return;
        }
    };
    for d in &mut r.in_doubt {
        match found.get(&d.row) {
            Some((content, adds)) if *content == d.content => d.adds = Some(adds.clone()),
            Some(_) => {
                d.adds_unknown = Some(format!(
                    "row {} of {shown} now differs from what was sent",
                    d.row
                ));
            }
            None => {
                d.adds_unknown = Some(format!("{shown} has no valid row {}", d.row));
            }
        }
    }
}

/// The listed rows of the sheet: the digest of what each sends, and what it adds.
fn rows_of(
    sheet: &Path,
    opts: &SheetOptions,
    doubts: &[Doubt],
) -> Result<HashMap<i64, (String, Adds)>, Error> {
    let pre = prepass(sheet, opts)?;
    let mut reader = Sheet::open(sheet, &opts.pinned(&pre.formats))?;
    let wanted: std::collections::HashSet<i64> = doubts.iter().map(|d| d.row).collect();
    let mut found = HashMap::new();
    while let Some(row) = reader.next_row(&pre.duplicates)? {
        let Ok(number) = i64::try_from(row.row) else {
            continue;
        };
        if let (true, Ok(u)) = (wanted.contains(&number), row.result) {
            found.insert(number, (u.ident().content, Adds::of(&u.additions())));
        }
    }
    Ok(found)
}

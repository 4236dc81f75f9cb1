//! Uploaded sheets, kept apart until applied, and the choices the page made for each.
//!
//! An upload lands in `DIR/.cake-recon/uploads/ID/NAME` (ID random): nothing in the served
//! folder changes until the user applies it, and an upload is never served back. Its results,
//! checkpoint, undo sheet and check file are named after the sheet in `DIR` (`june.xlsx` →
//! `june.results.csv`), as the command line names them (`june.sandbox.…` for a `--sandbox`
//! server's trials): a fixed sheet uploaded again, or the command line run in the same folder,
//! continues the same checkpoint.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file types the page accepts (what `sheet` reads).
pub(super) const EXTENSIONS: &[&str] = &["csv", "txt", "tsv", "xlsx", "xlsm", "xls", "ods"];

/// The folder cake-recon's screen keeps its own files in, inside the served folder.
pub(super) fn state_dir(root: &Path) -> PathBuf {
    root.join(".cake-recon")
}

/// What the page chose for a sheet, in the command line's terms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(super) struct Choices {
    /// `--map HEADER=FIELD` (FIELD may be `ignore`).
    pub maps: Vec<(String, String)>,
    /// `--set FIELD=VALUE`.
    pub sets: Vec<(String, String)>,
    /// `--date-order mdy|dmy`.
    pub date_order: Option<String>,
    /// `comma` or `point`.
    pub decimal: Option<String>,
    /// `--since`/`--until` for reading CAKE back.
    pub window: Option<(String, String)>,
    /// `--encoding NAME` (a CSV).
    pub encoding: Option<String>,
    /// `--delimiter comma|semicolon|tab|pipe` (a CSV).
    pub delimiter: Option<String>,
    /// `--sheet NAME` (a workbook).
    pub sheet: Option<String>,
    /// `--header-row N`.
    pub header_row: Option<u64>,
    /// `--hidden-rows send|skip` (a workbook with hidden rows).
    pub hidden_rows: Option<String>,
    /// `--amounts as-shown|as-stored` (a workbook whose cells show fewer decimals).
    pub amounts: Option<String>,
    /// `--values "COLUMN=CELL:VALUE,…"`: what each cell of a decision column means.
    pub values: Vec<(String, Vec<(String, String)>)>,
    /// Not the command line's: how the page came to these choices, said on the page.
    pub came: Came,
}

impl Choices {
    /// The choices alone, without how the page came to them: what an approval binds and what
    /// is remembered for the next sheet with these columns.
    pub(super) fn as_chosen(&self) -> Self {
        Self {
            came: Came::default(),
            ..self.clone()
        }
    }
}

/// How an upload's first choices were made (`remember.rs`), kept so the page can say it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(super) struct Came {
    /// The digest of the header set the choices are remembered by.
    pub header_key: Option<String>,
    /// Taken from an earlier sheet with the same columns: its name and when it was mapped.
    pub remembered: Option<(String, String)>,
    /// Columns the page chose for the field they look like (nothing else gave it).
    pub suggested: Vec<(String, String)>,
}

/// The encodings the page offers (`--encoding`), as the command line names them.
pub(super) const ENCODINGS: &[&str] = &["utf-8", "windows-1252", "utf-16le", "utf-16be"];
/// The delimiters the page offers (`--delimiter`).
pub(super) const DELIMITERS: &[&str] = &["comma", "semicolon", "tab", "pipe"];

/// True for a workbook file name (`.xlsx`, `.xlsm`, `.xls`, `.ods`).
pub(super) fn is_workbook(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["xlsx", "xlsm", "xls", "ods"].contains(&e.to_ascii_lowercase().as_str()))
}

/// One uploaded sheet.
#[derive(Debug, Clone)]
pub(super) struct Staged {
    pub id: String,
    /// The file name as uploaded, made safe.
    pub name: String,
    dir: PathBuf,
    /// The served folder (every file of the upload is read and written inside it: `jail.rs`).
    root: PathBuf,
}

/// A file name from a browser, made safe: no folders, only plain characters, a known extension.
pub(super) fn safe_name(raw: &str) -> Result<String, String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', ' ']).trim().to_string();
    let ext = Path::new(&cleaned)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if cleaned.is_empty() || !EXTENSIONS.contains(&ext.as_str()) {
        return Err(format!(
            "\"{base}\" is not a sheet cake-recon reads: upload a .csv, .xlsx, .xls or .ods file"
        ));
    }
    Ok(cleaned)
}

/// The job name of a sheet: its file name without the extension (`june.xlsx` → `june`).
pub(super) fn stem_of(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("sheet")
        .to_string()
}

/// True for an id this server could have made (hex), so a URL never reaches another folder.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes the upload `id` (its folder inside the served one; a link is removed, never followed).
pub(super) fn remove_upload(root: &Path, id: &str) {
    if !valid_id(id) {
        return;
    }
    let dir = state_dir(root).join("uploads").join(id);
    if super::jail::is_inside(root, &dir)
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!(upload = id, error = %e, "an applied upload could not be removed");
    }
}

/// Removes the uploads older than `days` (`serve --keep-uploads-days`): an upload nobody applied
/// is not kept for ever in a folder others may read.
pub(super) fn prune_uploads(root: &Path, days: u64) {
    let Ok(entries) = std::fs::read_dir(state_dir(root).join("uploads")) else {
        return;
    };
    let keep = std::time::Duration::from_secs(days.saturating_mul(24 * 3600));
    for e in entries.filter_map(Result::ok) {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > keep);
        if let (true, Ok(id)) = (old, e.file_name().into_string()) {
            remove_upload(root, &id);
        }
    }
}

impl Staged {
    /// A new, empty upload folder for `name`.
    pub(super) fn create(root: &Path, name: &str) -> std::io::Result<Self> {
        let id = crate::config::random_token()
            .get(..32)
            .unwrap_or_default()
            .to_string();
        let dir = state_dir(root).join("uploads").join(&id);
        super::jail::create_dir_all(root, &dir)?;
        Ok(Self {
            id,
            name: name.to_string(),
            dir,
            root: root.to_path_buf(),
        })
    }

    /// The upload `id`, if it exists.
    pub(super) fn find(root: &Path, id: &str) -> Option<Self> {
        if !valid_id(id) {
            return None;
        }
        let dir = state_dir(root).join("uploads").join(id);
        // A folder that leads out of the served one, or a sheet that is a link, is no upload.
        if !super::jail::is_inside(root, &dir) {
            return None;
        }
        let name = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .find(|n| !n.starts_with('.'))?;
        Some(Self {
            id: id.to_string(),
            name,
            dir,
            root: root.to_path_buf(),
        })
    }

    /// The newest uploads (at most `n`), newest first, with when they came.
    pub(super) fn recent(root: &Path, n: usize) -> Vec<(Self, std::time::SystemTime)> {
        let mut all: Vec<(Self, std::time::SystemTime)> =
            std::fs::read_dir(state_dir(root).join("uploads"))
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let id = e.file_name().into_string().ok()?;
                    let t = e.metadata().and_then(|m| m.modified()).ok()?;
                    Some((Self::find(root, &id)?, t))
                })
                .collect();
        all.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        all.truncate(n);
        all
    }

    /// Removes an upload that failed half way (too large, cut off).
    pub(super) fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Where the sheet itself is.
    pub(super) fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    pub(super) fn stem(&self) -> String {
        stem_of(&self.name)
    }

    fn choices_path(&self) -> PathBuf {
        self.dir.join(".choices.json")
    }

    /// The page's choices so far (none yet: the sheet as detected).
    pub(super) fn choices(&self) -> Choices {
        super::jail::read(&self.root, &self.choices_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub(super) fn save_choices(&self, c: &Choices) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
        super::jail::write(&self.root, &self.choices_path(), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_browser_are_made_safe() {
        assert_eq!(
            safe_name("C:\\Users\\ann\\June 2026.xlsx").unwrap(),
            "June 2026.xlsx"
        );
        assert_eq!(safe_name("../../etc/x.csv").unwrap(), "x.csv");
        assert_eq!(safe_name("a<b>.CSV").unwrap(), "a_b_.CSV");
        assert!(safe_name("run.sh").unwrap_err().contains(".xlsx"));
        assert!(safe_name(".csv").is_err());
        assert_eq!(stem_of("june.xlsx"), "june");
        assert!(!valid_id("../x") && valid_id(&"a".repeat(32)));
    }
}

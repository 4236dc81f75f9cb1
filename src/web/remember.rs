//! Next month's sheet from the same advertiser opens mapped: the choices a person made for a
//! sheet (mapping, value map, format) are kept by its header set, in the served folder's state
//! (`.cake-recon/mappings/DIGEST.json`, 0600), and given to the next upload with the same
//! columns. A first upload with no such memory gets the page's suggestions instead: a column
//! named like a field no other column gives is chosen for it. Either way the page says so, and
//! nothing is sent before the person has seen the preview the choices make.

use super::staged::{Came, Choices, Staged, state_dir};
use super::state::App;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The digest a header set is remembered by: its columns as written, in order.
fn header_key(headers: &[String]) -> String {
    let mut h = Sha256::new();
    for header in headers {
        h.update(header.as_bytes());
        h.update([0x1f]);
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn path_of(root: &Path, key: &str) -> PathBuf {
    state_dir(root).join("mappings").join(format!("{key}.json"))
}

/// What is remembered: the choices that say how to read the sheet (never the days of a
/// comparison, which are the month's), the sheet they came from and when.
#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    sheet: String,
    at: String,
    choices: Choices,
}

/// The first choices of a new upload, saved with it.
pub(super) fn first_choices(app: &App, staged: &Staged) -> std::io::Result<()> {
    let columns = app
        .previews
        .columns_read(staged, &Choices::default(), &app.target);
    if columns.is_empty() {
        return Ok(());
    }
    let headers: Vec<String> = columns.iter().map(|c| c.header.clone()).collect();
    let key = header_key(&headers);
    let root = app.jobs.root();
    let remembered = super::jail::read(root, &path_of(root, &key))
        .ok()
        .and_then(|b| serde_json::from_slice::<Remembered>(&b).ok());
    let c = if let Some(r) = remembered {
        Choices {
            window: None,
            came: Came {
                header_key: Some(key),
                remembered: Some((r.sheet, r.at)),
                suggested: Vec::new(),
            },
            ..r.choices
        }
    } else {
        let suggested: Vec<(String, String)> = columns
            .iter()
            .filter(|c| c.field.is_none())
            .filter_map(|c| Some((c.header.clone(), c.looks_like.clone()?)))
            .collect();
        Choices {
            maps: suggested.clone(),
            came: Came {
                header_key: Some(key),
                remembered: None,
                suggested,
            },
            ..Choices::default()
        }
    };
    staged.save_choices(&c)
}

/// Keeps `c` as how a sheet with these columns is read (after the person chose).
pub(super) fn keep(app: &App, staged: &Staged, c: &Choices) -> std::io::Result<()> {
    let Some(key) = &c.came.header_key else {
        return Ok(());
    };
    let root = app.jobs.root();
    let path = path_of(root, key);
    if let Some(dir) = path.parent() {
        super::jail::create_dir_all(root, dir)?;
    }
    let r = Remembered {
        sheet: staged.name.clone(),
        at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
        choices: Choices {
            window: None,
            ..c.as_chosen()
        },
    };
    let bytes = serde_json::to_vec_pretty(&r).map_err(std::io::Error::other)?;
    super::jail::write(root, &path, &bytes)
}

/// What the page says about how its choices came.
pub(super) fn said(c: &Choices) -> Option<String> {
    use super::html::esc;
    if let Some((sheet, at)) = &c.came.remembered {
        return Some(format!(
            "<span id=\"remembered\">Mapped as “{}” was on {} (the same columns): check the \
             choices below before applying.</span>",
            esc(sheet),
            esc(at)
        ));
    }
    (!c.came.suggested.is_empty()).then(|| {
        let list: Vec<String> = c
            .came
            .suggested
            .iter()
            .map(|(h, f)| format!("“{}” as {}", esc(h), esc(f)))
            .collect();
        format!(
            "<span id=\"suggested\">Chosen by the page because of their names: {}. Change a \
             column's field below if that is wrong.</span>",
            list.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_set_is_its_columns_in_order() {
        let a = header_key(&["id".into(), "payout".into()]);
        assert_eq!(a, header_key(&["id".into(), "payout".into()]));
        assert_ne!(a, header_key(&["payout".into(), "id".into()]));
        assert_ne!(a, header_key(&["idpayout".into()]));
        assert_eq!(a.len(), 64);
    }
}

//! `--values`: what the cells of one column stand for, when the sheet writes decisions in its
//! own words (`Approved?` of `Yes`/`No`). Without a map such a column is never guessed at: the
//! column profile refuses it before sending (see `profile.rs`).

use super::SheetError;
use super::cells::CellParser;
use super::parse::normalize_token;
use crate::update::Param;

/// `--values "COLUMN=CELL:VALUE,CELL:VALUE"`: what each cell of one column stands for
/// (`Approved?=Yes:approved,No:rejected`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueMap {
    pub column: String,
    /// (cell as written, the value it stands for).
    pub pairs: Vec<(String, String)>,
}

impl std::fmt::Display for ValueMap {
    /// As `--values` takes it: `COLUMN=CELL:VALUE,CELL:VALUE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=", self.column)?;
        for (i, (from, to)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{from}:{to}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ValueMap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let example = "e.g. --values \"Approved?=Yes:approved,No:rejected\"";
        let (column, list) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("\"{s}\": expected COLUMN=CELL:VALUE,…, {example}"))?;
        let mut pairs = Vec::new();
        for pair in list.split(',') {
            let (from, to) = pair.split_once(':').ok_or_else(|| {
                format!("\"{pair}\" in --values \"{s}\": expected CELL:VALUE, {example}")
            })?;
            if from.trim().is_empty() || to.trim().is_empty() {
                return Err(format!(
                    "\"{pair}\" in --values \"{s}\": both the cell and its value are needed, {example}"
                ));
            }
            pairs.push((from.trim().to_string(), to.trim().to_string()));
        }
        if column.trim().is_empty() {
            return Err(format!("--values \"{s}\": which column? {example}"));
        }
        Ok(Self {
            column: column.trim().to_string(),
            pairs,
        })
    }
}

/// One column's value map: its index, and (cell as normalised, the value it stands for).
pub(super) type ColumnValues = (usize, Vec<(String, String)>);

/// The `--values` maps, by column index, each value checked against the field it feeds.
pub(super) fn value_maps(
    values: &[ValueMap],
    normalized: &[String],
    field_of: impl Fn(usize) -> Option<Param>,
    cells: CellParser,
    column_list: impl Fn() -> String,
) -> Result<Vec<ColumnValues>, SheetError> {
    let bad = |problem: String| SheetError::Header { problem };
    let mut out: Vec<ColumnValues> = Vec::new();
    for v in values {
        let key = normalize_token(&v.column);
        let index = normalized.iter().position(|h| *h == key).ok_or_else(|| {
            bad(format!(
                "--values \"{}=…\": the sheet has no column \"{}\"; its columns are: {}",
                v.column,
                v.column,
                column_list()
            ))
        })?;
        let field = field_of(index).ok_or_else(|| {
            bad(format!(
                "--values \"{}=…\": the column is ignored (--map \"{}=ignore\"); drop one \
                     of the two",
                v.column, v.column
            ))
        })?;
        if out.iter().any(|(i, _)| *i == index) {
            return Err(bad(format!(
                "--values names column \"{}\" twice; keep one",
                v.column
            )));
        }
        for (from, to) in &v.pairs {
            cells.parse(field, to).map_err(|problem| {
                bad(format!(
                    "--values \"{}=…\": \"{from}:{to}\" — {to} is not a {} value ({problem})",
                    v.column,
                    field.name()
                ))
            })?;
        }
        out.push((
            index,
            v.pairs
                .iter()
                .map(|(from, to)| (normalize_token(from), to.clone()))
                .collect(),
        ));
    }
    Ok(out)
}

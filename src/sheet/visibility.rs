//! Rows the person could not see and amounts they saw otherwise than stored, as a reading of
//! the sheet meets them (the workbook's side is `layout.rs` and `shown.rs`).
//!
//! Neither is decided here on a guess: without `--hidden-rows` or `--amounts`, the rows are
//! read as stored and listed, and a run stops before sending (`engine::run::sheet_questions`).

use super::columns::{Columns, Source};
use super::parse::normalize_token;
use super::shown::Display;
use super::shown::{AmountsAs, HiddenRows};
use super::workbook::{Seen, column_name, decimal_text};
use crate::update::{PARAMS, ParamType};

/// How many hidden rows and amounts a report lists (all are counted).
const LISTED: usize = 20;

/// What a reading met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unseen {
    /// Data rows hidden in the workbook (first [`LISTED`]), and how many in all.
    pub hidden_rows: Vec<u64>,
    pub hidden_count: u64,
    /// The sheet has a filter (its hidden rows are most likely filtered out).
    pub filtered: bool,
    /// Amounts whose cell shows fewer decimals than it holds (first [`LISTED`]): `B3 (Payout)
    /// shows 1234.57, holds 1234.565`; and how many in all.
    pub amounts: Vec<String>,
    pub amounts_count: u64,
    /// Of those, amounts shown in a form no amount can be sent as (thousands, fractions).
    pub unclear_count: u64,
    /// `--hidden-rows` and `--amounts`, as given.
    pub hidden_choice: Option<HiddenRows>,
    pub amounts_choice: Option<AmountsAs>,
}

impl Unseen {
    /// What is left for the person to choose before a run may send, in words (empty: nothing).
    #[must_use]
    pub fn questions(&self) -> Vec<String> {
        let mut asked = Vec::new();
        if self.hidden_count > 0 && self.hidden_choice.is_none() {
            asked.push(format!(
                "{} row(s) are {} in the workbook ({}{}), so the person approving may not have \
                 seen them: add --hidden-rows skip to leave them out, or --hidden-rows send to \
                 send them like the others",
                self.hidden_count,
                self.hidden_word(),
                rows_list(&self.hidden_rows),
                more(self.hidden_count, self.hidden_rows.len()),
            ));
        }
        if self.unclear_count > 0 && self.amounts_choice == Some(AmountsAs::AsShown) {
            asked.push(format!(
                "{} amount(s) are shown in a form that cannot be sent as shown (thousands, a \
                 fraction, scientific notation or a condition: {}): format them as numbers \
                 with their decimals, or send what they hold with --amounts as-stored",
                self.unclear_count,
                self.amounts.join("; "),
            ));
        }
        if self.amounts_count > 0 && self.amounts_choice.is_none() {
            asked.push(format!(
                "{} amount(s) hold more decimals than their cells show ({}{}): add --amounts \
                 as-shown to send what the cells show, or --amounts as-stored to send every \
                 decimal they hold",
                self.amounts_count,
                self.amounts.join("; "),
                more(self.amounts_count, self.amounts.len()),
            ));
        }
        asked
    }

    /// The preview's lines: what was met and what is done with it (`screen`: the choice is a
    /// dropdown on the page, not a flag).
    #[must_use]
    pub fn preview_lines(&self, screen: bool) -> Vec<String> {
        let mut lines = Vec::new();
        if self.hidden_count > 0 {
            let done = match self.hidden_choice {
                Some(HiddenRows::Send) if screen => "sent like the others, as chosen",
                Some(HiddenRows::Skip) if screen => "left out, not sent, as chosen",
                Some(HiddenRows::Send) => "sent like the others (--hidden-rows send)",
                Some(HiddenRows::Skip) => "left out, not sent (--hidden-rows skip)",
                None if screen => "choose below whether to send them",
                None => "a run stops before sending until --hidden-rows send or skip is given",
            };
            lines.push(format!(
                "{} row(s) {} in the workbook ({}{}): {done}",
                self.hidden_count,
                self.hidden_word(),
                rows_list(&self.hidden_rows),
                more(self.hidden_count, self.hidden_rows.len()),
            ));
        }
        if self.amounts_count > 0 {
            let done = match self.amounts_choice {
                Some(AmountsAs::AsShown) if screen => "what the cells show is sent, as chosen",
                Some(AmountsAs::AsStored) if screen => "every decimal is sent, as chosen",
                Some(AmountsAs::AsShown) => "what the cells show is sent (--amounts as-shown)",
                Some(AmountsAs::AsStored) => "every decimal is sent (--amounts as-stored)",
                None if screen => "choose below which to send",
                None => "a run stops before sending until --amounts as-shown or as-stored is given",
            };
            lines.push(format!(
                "{} amount(s) hold more decimals than their cells show ({}{}): {done}",
                self.amounts_count,
                self.amounts.join("; "),
                more(self.amounts_count, self.amounts.len()),
            ));
        }
        lines
    }

    /// `hidden` or `filtered out`.
    #[must_use]
    pub fn hidden_word(&self) -> &'static str {
        if self.filtered {
            "filtered out (hidden)"
        } else {
            "hidden"
        }
    }

    /// Meets row `row` before it is parsed: an amount cell whose display differs is recorded,
    /// and replaced by what it shows under `--amounts as-shown`. Whether the row is hidden.
    pub(crate) fn meet(
        &mut self,
        row: u64,
        record: &mut csv::StringRecord,
        columns: &Columns,
        seen: &Seen,
    ) -> bool {
        if !seen.shown.is_empty() {
            for spec in PARAMS.iter().filter(|s| s.ty == ParamType::Decimal) {
                let Source::Column { index, header } = columns.source(spec.param) else {
                    continue;
                };
                let Some(display) = seen.shown.get(&(row, *index)) else {
                    continue;
                };
                let shown = match display {
                    Display::Rounded(d) => decimal_text(*d),
                    Display::Blank | Display::Other => String::new(),
                };
                self.amounts_count += 1;
                self.unclear_count += u64::from(*display == Display::Other);
                if self.amounts.len() < LISTED {
                    let stored = record.get(*index).unwrap_or("");
                    let said = match display {
                        Display::Rounded(_) => plain(&shown),
                        Display::Blank => "nothing (a blank cell)".into(),
                        Display::Other => "it in another form (its number format)".into(),
                    };
                    self.amounts.push(format!(
                        "{}{row} ({header}) shows {said}, holds {}",
                        column_name(*index),
                        plain(stored)
                    ));
                }
                if self.amounts_choice == Some(AmountsAs::AsShown) {
                    let mut rebuilt =
                        csv::StringRecord::with_capacity(record.as_slice().len(), record.len());
                    for (i, c) in record.iter().enumerate() {
                        rebuilt.push_field(if i == *index { &shown } else { c });
                    }
                    *record = rebuilt;
                }
            }
        }
        seen.layout.hidden_rows.contains(&row)
    }

    /// Counts a hidden row that is data (not a total or a note).
    pub(crate) fn hidden_data_row(&mut self, row: u64) {
        self.hidden_count += 1;
        if self.hidden_rows.len() < LISTED {
            self.hidden_rows.push(row);
        }
    }

    /// The message of a hidden row left out under `--hidden-rows skip`.
    pub(crate) fn skipped(&self, row: u64) -> Option<String> {
        (self.hidden_choice == Some(HiddenRows::Skip)).then(|| {
            format!(
                "row {row}: {} in the workbook, not sent (--hidden-rows skip)",
                self.hidden_word()
            )
        })
    }
}

/// Hidden columns the person did not name (`--map`, `--values`): ignored, as they were not
/// seen; the `--map "X=ignore"` pairs that say so, and a note for the preview.
pub(crate) fn hidden_columns(
    header: &csv::StringRecord,
    seen: &Seen,
    columns: &Columns,
    (maps, values): (&[(String, String)], &[super::values::ValueMap]),
) -> (Vec<(String, String)>, Vec<String>) {
    // An id only says which conversion a row is (it moves no money): a hidden id column is
    // read, and said, rather than leaving a sheet without ids.
    let ids = columns.id_columns();
    let named = |h: &str| {
        let key = normalize_token(h);
        maps.iter().any(|(from, _)| normalize_token(from) == key)
            || values.iter().any(|v| normalize_token(&v.column) == key)
    };
    let mut add = Vec::new();
    let mut notes = Vec::new();
    for &i in &seen.layout.hidden_columns {
        let Some(h) = header.get(i).filter(|h| !h.trim().is_empty()) else {
            continue;
        };
        if named(h) || add.iter().any(|(a, _): &(String, String)| a == h) {
            continue;
        }
        if ids.contains(&i) {
            notes.push(format!(
                "column {} \"{h}\" is hidden in the workbook: read all the same (it only says \
                 which conversion each row is)",
                column_name(i)
            ));
            continue;
        }
        add.push((h.to_string(), "ignore".to_string()));
        notes.push(format!(
            "column {} \"{h}\" is hidden in the workbook: ignored (--map \"{h}=FIELD\" reads it)",
            column_name(i)
        ));
    }
    (add, notes)
}

/// A workbook number as a person writes it (`1234.5650`, written so to be unambiguous, is
/// `1234.565`).
fn plain(text: &str) -> String {
    text.trim()
        .parse::<rust_decimal::Decimal>()
        .map_or_else(|_| text.trim().to_string(), |d| d.normalize().to_string())
}

/// Refuses cells merged across data rows in a column that is read: the person sees one value
/// for every row of the merge, the sheet holds it for the first row only — which of the two
/// was meant cannot be told.
pub(crate) fn merged_across_rows(
    seen: &Seen,
    header_row: u64,
    columns: &Columns,
) -> Result<(), String> {
    let read: Vec<usize> = PARAMS
        .iter()
        .filter_map(|s| columns.column(s.param))
        .chain(columns.conversion_date)
        .collect();
    let hit = seen.merged.iter().find(|(_, last, first_col, last_col)| {
        *last > header_row && read.iter().any(|c| (*first_col..=*last_col).contains(c))
    });
    match hit {
        None => Ok(()),
        Some((first, last, first_col, last_col)) => Err(format!(
            "has cells {}{first}:{}{last} merged: the sheet shows one value for rows {first} to \
             {last}, but holds it in row {first} only, so what the other rows mean cannot be \
             told and nothing was sent. Unmerge the cells and fill in each row's value, then \
             run again",
            column_name(*first_col),
            column_name(*last_col)
        )),
    }
}

fn rows_list(rows: &[u64]) -> String {
    let mut text = String::from("row");
    if rows.len() > 1 {
        text.push('s');
    }
    for (n, r) in rows.iter().enumerate() {
        text.push_str(if n == 0 { " " } else { ", " });
        text.push_str(&r.to_string());
    }
    text
}

fn more(count: u64, listed: usize) -> &'static str {
    if count > listed as u64 { ", …" } else { "" }
}

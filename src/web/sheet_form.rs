//! The rest of a sheet's mapping form: how its cells are read (dates, decimal mark, encoding,
//! delimiter, header row), what to do with what the person could not see (hidden rows,
//! amounts shown with fewer decimals), and the values set for every row.

use super::html::esc;
use super::staged::{Choices, ENCODINGS};
use crate::app::{AmountsAs, HiddenRows, UnseenCounts};
use crate::report::money::count;
use crate::update::DispositionType;
use crate::update::{PARAMS, Param, ParamType};
use std::fmt::Write as _;

/// The date order, the decimal mark and the values set for every row: the rest of the form.
/// A labelled dropdown; `current` is selected (`None`: the first option).
fn select(name: &str, label: &str, current: Option<&str>, opts: &[(&str, &str)]) -> String {
    let mut s = format!(
        "<p><label for=\"{name}\">{}</label> <select name=\"{name}\" id=\"{name}\">",
        esc(label)
    );
    for (v, l) in opts {
        let sel = if current.unwrap_or("") == *v {
            " selected"
        } else {
            ""
        };
        let _ = write!(s, "<option value=\"{v}\"{sel}>{l}</option>");
    }
    s.push_str("</select></p>");
    s
}

pub(super) fn format_choices(c: &Choices, workbook: bool, unseen: Option<&UnseenCounts>) -> String {
    let mut out = String::new();
    out.push_str("<div class=\"row\">");
    out.push_str(&select(
        "date_order",
        "Dates",
        c.date_order.as_deref(),
        &[
            ("", "as detected"),
            ("mdy", "month first (09/30/2026)"),
            ("dmy", "day first (30/09/2026)"),
        ],
    ));
    out.push_str(&select(
        "decimal",
        "Amounts",
        c.decimal.as_deref(),
        &[
            ("", "as detected"),
            ("point", "decimal point (1,234.56)"),
            ("comma", "decimal comma (1.234,56)"),
        ],
    ));
    if workbook {
        let _ = write!(
            out,
            "<p><label for=\"sheet_name\">Workbook sheet</label> <input id=\"sheet_name\" \
             name=\"sheet_name\" value=\"{}\" placeholder=\"the first\" size=\"16\"></p>",
            esc(c.sheet.as_deref().unwrap_or(""))
        );
    } else {
        let encodings: Vec<(&str, &str)> = std::iter::once(("", "as detected"))
            .chain(ENCODINGS.iter().map(|e| (*e, *e)))
            .collect();
        out.push_str(&select(
            "encoding",
            "Encoding",
            c.encoding.as_deref(),
            &encodings,
        ));
        out.push_str(&select(
            "delimiter",
            "Delimiter",
            c.delimiter.as_deref(),
            &[
                ("", "as detected"),
                ("comma", "comma ,"),
                ("semicolon", "semicolon ;"),
                ("tab", "tab"),
                ("pipe", "pipe |"),
            ],
        ));
    }
    let _ = write!(
        out,
        "<p><label for=\"header_row\">Header row</label> <input id=\"header_row\" \
         name=\"header_row\" type=\"number\" min=\"1\" value=\"{}\" placeholder=\"found\" \
         size=\"4\"></p>",
        c.header_row.map(|h| h.to_string()).unwrap_or_default()
    );
    out.push_str("</div>");
    if let Some(u) = unseen {
        out.push_str(&unseen_choices(c, u));
    }
    out.push_str(&sets_fieldset(c));
    out
}

/// What to do with rows hidden in the workbook and amounts shown with fewer decimals than they
/// hold: offered only when the sheet has them, with nothing chosen until the person chooses
/// (Apply waits for it, as `run` does).
fn unseen_choices(c: &Choices, u: &UnseenCounts) -> String {
    let mut out = String::new();
    if u.hidden_rows == 0 && u.amounts == 0 {
        return out;
    }
    out.push_str("<div class=\"row\">");
    if u.hidden_rows > 0 {
        out.push_str(&select(
            "hidden_rows",
            &format!(
                "{} rows {} in the workbook",
                count(u.hidden_rows),
                u.hidden_word
            ),
            c.hidden_rows.as_deref(),
            &[
                ("", "choose…"),
                (HiddenRows::Skip.as_str(), "leave them out"),
                (HiddenRows::Send.as_str(), "send them too"),
            ],
        ));
    }
    if u.amounts > 0 {
        out.push_str(&select(
            "amounts",
            &format!(
                "{} amounts hold more decimals than their cells show",
                count(u.amounts)
            ),
            c.amounts.as_deref(),
            &[
                ("", "choose…"),
                (AmountsAs::AsShown.as_str(), "send what the cells show"),
                (AmountsAs::AsStored.as_str(), "send every decimal held"),
            ],
        ));
    }
    out.push_str("</div>");
    out
}

/// The values set for every row (`--set`): one line per value, and an empty one to add one.
fn sets_fieldset(c: &Choices) -> String {
    let mut out = String::from("<fieldset><legend>Set for every row</legend>");
    for (i, (f, v)) in c
        .sets
        .iter()
        .chain(std::iter::once(&(String::new(), String::new())))
        .enumerate()
    {
        let _ = write!(
            out,
            "<p class=\"row\"><label for=\"setf{i}\">Field</label><select name=\"setf{i}\" id=\"setf{i}\">\
             <option value=\"\">—</option>"
        );
        for name in mappable() {
            let sel = if f == name { " selected" } else { "" };
            let _ = write!(out, "<option value=\"{name}\"{sel}>{name}</option>");
        }
        let _ = write!(
            out,
            "</select><label for=\"setv{i}\">Value</label><input id=\"setv{i}\" name=\"setv{i}\" \
             value=\"{}\" placeholder=\"e.g. approved\" list=\"known-values\"></p>",
            esc(v)
        );
    }
    out.push_str("<datalist id=\"known-values\">");
    for v in known_values() {
        let _ = write!(out, "<option value=\"{v}\">");
    }
    out.push_str("</datalist>");
    out.push_str(
        "</fieldset><button type=\"submit\" class=\"secondary\">Update the preview</button></form>",
    );
    out
}

/// What each cell of the decision column means: a dropdown per distinct cell (`Yes`, `No`),
/// which the page sends as `--values`. Cells already disposition words may be left as read.
pub(super) fn value_map_fieldset(c: &Choices, decision: Option<&(String, Vec<String>)>) -> String {
    let Some((column, cells)) = decision else {
        return String::new();
    };
    let chosen: &[(String, String)] = c
        .values
        .iter()
        .find(|(col, _)| col == column)
        .map_or(&[], |(_, p)| p.as_slice());
    let mut out = format!(
        "<fieldset id=\"value-map\"><legend>What the values of column “{}” mean</legend>\
         <input type=\"hidden\" name=\"vcol\" value=\"{}\">",
        esc(column),
        esc(column)
    );
    for (i, cell) in cells.iter().enumerate() {
        let current = chosen
            .iter()
            .find(|(from, _)| from == cell)
            .map(|(_, to)| to.as_str());
        let mut opts: Vec<(&str, &str)> = vec![("", "as read")];
        opts.extend(
            DispositionType::ALL
                .iter()
                .map(|d| (d.as_str(), d.as_str())),
        );
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"vcell{i}\" value=\"{}\">{}",
            esc(cell),
            select(
                &format!("vval{i}"),
                &format!("“{cell}” means"),
                current,
                &opts
            )
        );
    }
    out.push_str("</fieldset>");
    out
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

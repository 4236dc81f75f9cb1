//! What the ignored columns hold. A column the header rules do not read is not thereby
//! meaningless: a `Status` of `Approved`/`Rejected` is the decision the sheet exists for, an
//! `Approved?` of `Yes`/`No` is the same decision in other words, a `Payout (USD)` of amounts is
//! money. Sending the sheet while one of those is silently ignored would report success and
//! change nothing (or the wrong thing). So, from the cells:
//!
//! - a column of disposition words, when no column gives the disposition, **is** the
//!   disposition (said in the preview);
//! - a column of yes/no answers under a header that reads as a decision is refused before
//!   sending, naming the `--values` map that would read it;
//! - a column of amounts under a money header is refused before sending, naming the `--map`
//!   that would read it and `--map "X=ignore"` to leave it out on purpose.
//!
//! Only the first [`PROFILE_ROWS`] rows are read: enough to know what a column is for; a later
//! cell that does not fit is the row's own error when the column is read.

use super::SheetError;
use super::cells::disposition_word;
use super::columns::{Columns, IGNORE, Source, looks_like};
pub(crate) use super::decided::Decided;
use super::evidence::amount_shaped;
use super::parse::normalize_token;
use super::reader::{ReadOptions, RecordReader};
use crate::update::Param;
use std::path::Path;

/// How many data rows the profile reads at least, and at most (a column still empty after
/// the first is read on, up to the second).
pub(crate) const PROFILE_ROWS: u64 = 2_000;
const PROFILE_ALL: u64 = 2_000_000;

/// What one ignored column's cells are, so far.
#[derive(Debug, Default)]
struct Profile {
    filled: u64,
    dispositions: u64,
    yes_no: u64,
    amounts: u64,
    /// Some cell had a currency symbol or decimals: money, not a count or an id.
    money_marks: bool,
    /// The first distinct cells, as written (for messages).
    seen: Vec<String>,
}

impl Profile {
    fn add(&mut self, cell: &str) {
        if cell.is_empty() {
            return;
        }
        self.filled += 1;
        let token = normalize_token(cell);
        if disposition_word(&token).is_some() {
            self.dispositions += 1;
        }
        if is_yes_no(&token) {
            self.yes_no += 1;
        }
        if let Some(number) = amount_shaped(cell) {
            self.amounts += 1;
            self.money_marks |= cell.contains(['$', '€', '£'])
                || number
                    .rsplit_once(['.', ','])
                    .is_some_and(|(_, frac)| (1..=2).contains(&frac.len()));
        }
        if self.seen.len() < 4 && !self.seen.iter().any(|s| s == cell) {
            self.seen.push(cell.chars().take(30).collect());
        }
    }

    fn all(&self, n: u64) -> bool {
        self.filled > 0 && n == self.filled
    }

    /// Most of the filled cells: a column of decisions with a typo (`Aproved`) or a word
    /// outside the table is still a column of decisions — read as one, its odd cells become
    /// the rows' own errors, never a reason to ignore the column.
    fn most(&self, n: u64) -> bool {
        self.filled > 0 && n.saturating_mul(2) > self.filled
    }
}

/// `Yes`/`No`, `Y`/`N`, `TRUE`/`FALSE`, `1`/`0`, `✓`/`✗` (normalised).
fn is_yes_no(token: &str) -> bool {
    matches!(
        token,
        "yes" | "no" | "y" | "n" | "true" | "false" | "1" | "0" | "✓" | "✗" | "✔" | "✘" | "x"
    )
}

/// A header that reads as a decision: `Approved?`, `Valid`, `Status`, `Decision`, `OK`, and
/// the negative questions (`Fraud?`, `Declined`, `Chargeback?`).
fn decision_header(header: &str) -> bool {
    let h = normalize_token(header);
    let h = h.trim_end_matches(['?', ':']);
    [
        "approv", "valid", "status", "decision", "accept", "reject", "paid",
    ]
    .iter()
    .any(|w| h.contains(w))
        || negative_header(header)
        || matches!(h, "y/n" | "yes/no")
        || h.split(|c: char| !c.is_alphanumeric()).any(|w| {
            matches!(
                w,
                "ok" | "pay" | "payable" | "keep" | "include" | "included" | "approve" | "reverse"
            )
        })
}

/// A header that asks whether the amount is added (`Add to payout`, `Additive?`, `Top up`,
/// `Increment`): its yes/no says whether a payout is *set* or *added*, which is money.
fn addition_header(header: &str) -> bool {
    let h = normalize_token(header);
    let h = h.trim_end_matches(['?', ':']);
    h.split(|c: char| !c.is_alphanumeric()).any(|w| {
        matches!(
            w,
            "add"
                | "adds"
                | "added"
                | "additive"
                | "addition"
                | "increment"
                | "topup"
                | "cumulative"
        )
    }) || h.contains("top_up")
        || h.contains("on_top")
}

/// A header whose question is the negative one: Yes means the conversion is not paid.
fn negative_header(header: &str) -> bool {
    let h = normalize_token(header);
    [
        "reject",
        "invalid",
        "not_approved",
        "disapprov",
        "unapprov",
        "fraud",
        "declin",
        "deny",
        "denied",
        "hold",
        "chargeback",
        "return",
        "duplicate",
        "dupe",
        "scrub",
        "revers",
        "cancel",
    ]
    .iter()
    .any(|w| h.contains(w))
}

/// A header that names something counted or coded, never money, whatever its other words
/// (`Payout ID`, `Sale ID`, `Payout Batch`, `Cost Center`, `Amount of Leads`, `Lead Score`).
fn not_money_header(header: &str) -> bool {
    let h = normalize_token(header);
    let words: Vec<&str> = h.split('_').collect();
    words.iter().any(|w| {
        matches!(
            *w,
            "id" | "ids"
                | "#"
                | "no"
                | "number"
                | "batch"
                | "tier"
                | "center"
                | "centre"
                | "code"
                | "leads"
                | "count"
                | "score"
                | "rating"
                | "rank"
                | "qty"
                | "quantity"
                | "clicks"
                | "level"
        )
    })
}

/// A header that names money: the payout and revenue words, and the words of a change.
fn money_header(header: &str) -> bool {
    let h = normalize_token(header);
    matches!(looks_like(header), Some(Param::Payout | Param::Received))
        || [
            "amount", "bonus", "adjust", "price", "cost", "value", "total", "usd", "eur", "gbp",
            "sale", "extra", "increase", "delta", "money", "fee",
        ]
        .iter()
        .any(|w| h.contains(w))
        || header.contains("+/-")
}

/// Reads the ignored columns of the sheet at `path` (header on `header_row`) and decides, or
/// refuses the sheet (see the module's rules). `maps` are the `--map` pairs given: a column
/// set aside with `--map "X=ignore"` is the user's choice and never profiled.
pub(crate) fn decide(
    path: &Path,
    read: &ReadOptions,
    header_row: u64,
    header: &csv::StringRecord,
    columns: &Columns,
    maps: &[(String, String)],
) -> Result<Decided, SheetError> {
    let set_aside: Vec<String> = maps
        .iter()
        .filter(|(_, to)| normalize_token(to) == IGNORE)
        .map(|(from, _)| normalize_token(from))
        .collect();
    let fed: Vec<usize> = crate::update::PARAMS
        .iter()
        .filter_map(|s| columns.column(s.param))
        .collect();
    let watched: Vec<usize> = (0..header.len())
        .filter(|i| !fed.contains(i))
        .filter(|i| {
            let h = header.get(*i).unwrap_or("");
            !h.trim().is_empty() && !set_aside.contains(&normalize_token(h))
        })
        .collect();
    let mut out = Decided::default();
    if watched.is_empty() {
        return Ok(out);
    }
    let profiles = read_profiles(path, read, header_row, header, columns, &watched)?;
    let mut problems = Vec::new();
    let disposition_free = matches!(columns.source(Param::DispositionType), Source::Default);
    for (p, i) in profiles.iter().zip(&watched) {
        let h = header.get(*i).unwrap_or("").trim();
        let seen = p.seen.join(", ");
        if p.most(p.dispositions) && disposition_free && out.maps.is_empty() {
            out.maps
                .push((h.to_string(), Param::DispositionType.name().to_string()));
            out.notes.push(format!(
                "column \"{h}\" holds dispositions ({seen}): read as disposition_type"
            ));
        } else if p.most(p.yes_no)
            && addition_header(h)
            && columns.column(Param::AddToExistingPayout).is_none()
        {
            // Ignored, every payout would be *set* to the amount the sheet means to *add*.
            problems.push(format!(
                "column \"{h}\" says whether each payout is added ({seen}) and would be \
                 ignored, so every payout would be set instead: read it with --map \
                 \"{h}=add_to_existing_payout\", or leave it out on purpose with --map \
                 \"{h}=ignore\""
            ));
        } else if p.most(p.yes_no) && decision_header(h) {
            // A header that asks the negative question (`Rejected?`, `Fraud?`) has Yes mean
            // rejected: the example must not approve every rejection when pasted.
            let example = if negative_header(h) {
                "Yes:rejected,No:approved"
            } else {
                "Yes:approved,No:rejected"
            };
            problems.push(format!(
                "column \"{h}\" holds decisions written as {seen}, which CAKE has no word for: \
                 say what each means with --values \"{h}={example}\" (each value as written, \
                 to any of approved, rejected, pending, returned, no_change), or leave the \
                 column out with --map \"{h}=ignore\""
            ));
        } else if p.most(p.dispositions) {
            problems.push(format!(
                "column \"{h}\" holds dispositions ({seen}) but the disposition comes from {}: \
                 --map \"{h}=ignore\" to leave it out, or --map it to disposition_type instead",
                columns.label(Param::DispositionType)
            ));
        } else if p.all(p.amounts) && !not_money_header(h) && (p.money_marks || money_header(h)) {
            problems.push(format!(
                "column \"{h}\" holds amounts ({seen}) and would be ignored: {} — or leave it \
                 out on purpose with --map \"{h}=ignore\"",
                super::hints::amount_hint(h, |p| columns.column(p).map(|_| columns.label(p)))
            ));
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    let more = problems.len().saturating_sub(5);
    problems.truncate(5);
    Err(SheetError::Header {
        problem: format!(
            "{}{}. Nothing was sent",
            problems.join("; "),
            if more > 0 {
                format!(" (and {more} more columns)")
            } else {
                String::new()
            }
        ),
    })
}

/// Reads the data rows of the sheet into one [`Profile`] per watched column (see
/// [`PROFILE_ROWS`] for how far).
fn read_profiles(
    path: &Path,
    read: &ReadOptions,
    header_row: u64,
    header: &csv::StringRecord,
    columns: &Columns,
    watched: &[usize],
) -> Result<Vec<Profile>, SheetError> {
    let mut profiles: Vec<Profile> = watched.iter().map(|_| Profile::default()).collect();
    let mut reader = RecordReader::open(path, read)?;
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    let ids = columns.id_columns();
    while let Some(row) = reader.next_record(&mut record)? {
        if row <= header_row {
            continue;
        }
        // Only data rows speak for a column: a note or a total line under the data ("Rejected
        // rows get 0", "2 approved / 1 rejected") has no id, and says nothing of the column.
        let has_id = ids.iter().any(|i| {
            let c = record.get(*i).unwrap_or("").trim();
            !c.is_empty() && c.bytes().any(|b| b.is_ascii_digit()) && !c.contains(' ')
        });
        // A row with more cells than the header is shifted (its own error says so): its
        // cells say nothing of the columns they landed in.
        let shifted = record
            .iter()
            .skip(header.len())
            .any(|c| !c.trim().is_empty());
        if !has_id || shifted {
            continue;
        }
        rows += 1;
        for (p, i) in profiles.iter_mut().zip(watched) {
            p.add(record.get(*i).unwrap_or("").trim());
        }
        // Enough rows read once every column has shown what it holds (a column still empty
        // is read on: its decisions may start further down).
        if rows >= PROFILE_ROWS
            && profiles
                .iter()
                .all(|p| p.filled >= 50 || rows >= PROFILE_ALL)
        {
            break;
        }
    }
    Ok(profiles)
}

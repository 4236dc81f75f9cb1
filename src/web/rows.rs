//! Every row at a glance: a results file (the preview's dry run, or a run's), joined row by
//! row with the comparison's check file, read once into an index — where each row's lines
//! start, its status, and the sums by status, disposition, offer and affiliate — so a page of
//! a million-row sheet is fifty seeks, and the sums of a filter are added up, not re-read.
//!
//! What a row does to its money is read from the results file's cells
//! ([`AmountCell`]: the one rule the writer used), and what CAKE held from the check file.

use crate::report::output::AmountCell;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows on one page of the table.
pub(super) const PAGE_ROWS: usize = 50;

/// One money field of a row: what CAKE held (once compared) and what the row does to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Change {
    pub now: Option<Decimal>,
    /// `None`: the file's cell is no amount (an invalid row's cell as the sheet had it).
    pub does: Option<AmountCell>,
}

impl Change {
    /// What CAKE will hold after the row, when that can be known.
    pub(super) fn after(self) -> Option<Decimal> {
        match self.does? {
            AmountCell::Leaves => self.now,
            AmountCell::Sets(d) => Some(d),
            AmountCell::Adds(a) => self.now.map(|n| n.saturating_add(a)),
        }
    }

    /// By how much the row changes it, when that can be known.
    pub(super) fn delta(self) -> Option<Decimal> {
        match self.does? {
            AmountCell::Leaves => Some(Decimal::ZERO),
            AmountCell::Sets(d) => self.now.map(|n| d.saturating_sub(n)),
            AmountCell::Adds(a) => Some(a),
        }
    }

    /// The row sets a value CAKE does not hold (a difference a comparison found).
    pub(super) fn differs(self) -> bool {
        matches!((self.does, self.now), (Some(AmountCell::Sets(d)), Some(n)) if d != n)
            || matches!(self.does, Some(AmountCell::Adds(a)) if !a.is_zero())
    }
}

/// One row of the table.
#[derive(Debug, Clone, Default)]
pub(super) struct RowView {
    pub row: u64,
    pub ids: [String; 3],
    /// The offer the row gives, or CAKE's.
    pub offer: String,
    pub offer_name: String,
    pub affiliate: String,
    pub affiliate_name: String,
    pub disposition_now: String,
    pub disposition_new: String,
    pub payout: Change,
    pub received: Change,
    /// The results file's status, made finer by the comparison (`already_correct`,
    /// `differs`, …) and by the preview's duplicates (`duplicate`).
    pub status: String,
    /// The results file's message (invalid rows, CAKE's answer).
    pub message: String,
}

impl RowView {
    /// The row changes the disposition CAKE holds.
    pub(super) fn disposition_differs(&self) -> bool {
        !self.disposition_now.is_empty()
            && !self.disposition_new.is_empty()
            && self.disposition_now != self.disposition_new
    }
}

/// The statuses in the order a person deals with them: what needs doing first, what was done
/// last. A status the list does not know goes in the middle.
const ORDER: [&str; 15] = [
    "rejected",
    "failed",
    "in_doubt",
    "invalid",
    "duplicate",
    "not_found",
    "ambiguous",
    "differs",
    "additive",
    "would_update",
    "already_correct",
    "unchanged",
    "skipped",
    "sent",
    "updated",
];

fn rank(status: &str) -> usize {
    ORDER.iter().position(|s| *s == status).unwrap_or(8)
}

/// Sums over a set of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Sums {
    pub rows: u64,
    pub payout_set: Decimal,
    pub payout_added: Decimal,
    /// Σ Δ over the rows whose change is known (all, once compared).
    pub payout_delta: Decimal,
    pub received_set: Decimal,
    pub received_added: Decimal,
    pub received_delta: Decimal,
}

impl Sums {
    fn add(&mut self, v: &RowView) {
        self.rows += 1;
        let field = |c: Change, set: &mut Decimal, added: &mut Decimal, delta: &mut Decimal| {
            match c.does {
                Some(AmountCell::Sets(d)) => *set = set.saturating_add(d),
                Some(AmountCell::Adds(d)) => *added = added.saturating_add(d),
                _ => {}
            }
            if let Some(d) = c.delta() {
                *delta = delta.saturating_add(d);
            }
        };
        field(
            v.payout,
            &mut self.payout_set,
            &mut self.payout_added,
            &mut self.payout_delta,
        );
        field(
            v.received,
            &mut self.received_set,
            &mut self.received_added,
            &mut self.received_delta,
        );
    }

    fn merge(&mut self, o: &Sums) {
        self.rows += o.rows;
        for (a, b) in [
            (&mut self.payout_set, o.payout_set),
            (&mut self.payout_added, o.payout_added),
            (&mut self.payout_delta, o.payout_delta),
            (&mut self.received_set, o.received_set),
            (&mut self.received_added, o.received_added),
            (&mut self.received_delta, o.received_delta),
        ] {
            *a = a.saturating_add(b);
        }
    }

    /// Σ payout, set and added: where the money goes.
    pub(super) fn payout(&self) -> Decimal {
        self.payout_set.saturating_add(self.payout_added)
    }
}

/// Which rows the totals by disposition, offer and affiliate count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Counted {
    /// A preview's: the rows that would be sent.
    ToSend,
    /// A run's: the rows CAKE took (`updated`).
    Applied,
}

impl Counted {
    fn counts(self, status: &str) -> bool {
        match self {
            Self::ToSend => !matches!(status, "invalid" | "duplicate" | "skipped"),
            Self::Applied => status == "updated",
        }
    }
}

/// A CSV file cake-recon wrote: its delimiter and where each named column is.
struct Layout {
    delimiter: u8,
    columns: Vec<String>,
}

impl Layout {
    fn at(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

fn reader<R: Read>(delimiter: u8, r: R, headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(headers)
        .from_reader(r)
}

/// Opens a file cake-recon wrote (inside `root`, never through a link) and reads its header:
/// its BOM left out, its delimiter found from the header (it starts `row`).
fn open(root: &Path, path: &Path) -> io::Result<(csv::Reader<BufReader<std::fs::File>>, Layout)> {
    let mut file = super::jail::open(root, path)?;
    let mut head = [0u8; 8];
    let n = file.read(&mut head)?;
    let delimiter = super::results::delimiter_of(head.get(..n).unwrap_or_default());
    file.seek(SeekFrom::Start(0))?;
    let mut rdr = reader(delimiter, BufReader::new(file), true);
    let columns = rdr
        .headers()
        .map_err(io::Error::other)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    Ok((rdr, Layout { delimiter, columns }))
}

/// A row's line of the results file, read into a view (the check file's line, when the row
/// was compared, fills what CAKE holds).
fn view(
    r: &csv::StringRecord,
    rl: &Layout,
    c: Option<(&csv::StringRecord, &Layout)>,
    duplicate: bool,
) -> RowView {
    let get = |rec: &csv::StringRecord, l: &Layout, name: &str| {
        l.at(name)
            .and_then(|i| rec.get(i))
            .unwrap_or("")
            .to_string()
    };
    let cell = |name: &str| get(r, rl, name);
    let held = |name: &str| c.map(|(rec, l)| get(rec, l, name)).unwrap_or_default();
    let money = |s: String| Decimal::from_str_exact(s.trim()).ok();
    let mut status = cell("status");
    if status == "invalid" && duplicate {
        status = "duplicate".into();
    }
    let checked = held("status");
    if status == "would_update" && !checked.is_empty() && checked != "invalid" {
        status = checked;
    }
    let mut offer = cell("offer_id");
    let cake_offer = held("cake_offer_id");
    if offer.is_empty() {
        offer.clone_from(&cake_offer);
    }
    // CAKE's name is the offer's only when the row goes to CAKE's offer.
    let offer_name = if offer == cake_offer {
        held("cake_offer_name")
    } else {
        String::new()
    };
    RowView {
        row: cell("row").parse().unwrap_or(0),
        ids: [
            cell("conversion_id"),
            cell("request_session_id"),
            cell("transaction_id"),
        ],
        offer,
        offer_name,
        affiliate: held("cake_affiliate_id"),
        affiliate_name: held("cake_affiliate_name"),
        disposition_now: held("cake_disposition"),
        disposition_new: cell("disposition_type"),
        payout: Change {
            now: money(held("cake_payout")),
            does: AmountCell::read(&cell("payout")),
        },
        received: Change {
            now: money(held("cake_received")),
            does: AmountCell::read(&cell("received")),
        },
        status,
        message: cell("message"),
    }
}

/// Where a row's lines start.
#[derive(Debug, Clone, Copy)]
struct Entry {
    status: u8,
    at: u64,
    /// Its check file line (`u64::MAX`: not compared).
    check_at: u64,
    duplicate: bool,
}

/// What the table is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Source {
    pub results: PathBuf,
    /// The comparison's check file, when it was made with the same choices.
    pub check: Option<PathBuf>,
    /// Rows the preview held back as duplicates.
    pub duplicates: Arc<Vec<u64>>,
    pub counted: Counted,
    /// The "all rows" view lists what needs doing first (a run's results), not row order.
    pub attention_first: bool,
}

impl Source {
    /// A run's results: every row, what needs doing first, totals of what CAKE took.
    pub(super) fn of_run(results: PathBuf) -> Self {
        Self {
            results,
            check: None,
            duplicates: Arc::default(),
            counted: Counted::Applied,
            attention_first: true,
        }
    }
}

/// A table of one source, indexed.
pub(super) struct RowIndex {
    root: PathBuf,
    source: Source,
    results: Layout,
    check: Option<Layout>,
    entries: Vec<Entry>,
    /// The statuses met, in [`ORDER`], with their sums and rows (indexes into `entries`).
    pub statuses: Vec<(String, Sums)>,
    by_status: Vec<Vec<u32>>,
    pub all: Sums,
    pub by_disposition: Vec<(String, Sums)>,
    pub by_offer: Vec<(String, Sums)>,
    pub by_affiliate: Vec<(String, Sums)>,
    /// The check file was joined: the "now" columns are CAKE's.
    pub compared: bool,
}

/// A breakdown's rows, the largest payout first.
fn ranked(m: BTreeMap<String, Sums>) -> Vec<(String, Sums)> {
    let mut v: Vec<(String, Sums)> = m.into_iter().collect();
    v.sort_by(|a, b| {
        b.1.payout()
            .abs()
            .cmp(&a.1.payout().abs())
            .then(a.0.cmp(&b.0))
    });
    v
}

/// A name with its id: `5769 Offer A`.
fn labelled(id: &str, name: &str) -> String {
    match (id.is_empty(), name.is_empty()) {
        (true, _) => "(none)".into(),
        (false, true) => id.to_string(),
        (false, false) => format!("{id} {name}"),
    }
}

impl RowIndex {
    /// Reads `source` once (both files, in row order).
    #[expect(
        clippy::too_many_lines,
        reason = "one pass over two files, in row order"
    )]
    pub(super) fn build(root: &Path, source: Source) -> io::Result<Self> {
        let (mut rr, rl) = open(root, &source.results)?;
        let mut check = match &source.check {
            Some(p) => Some(open(root, p)?),
            None => None,
        };
        let dups: HashSet<u64> = source.duplicates.iter().copied().collect();
        let mut statuses: Vec<String> = Vec::new();
        let mut sums: Vec<Sums> = Vec::new();
        let mut entries = Vec::new();
        let (mut by_d, mut by_o, mut by_a) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut rec = csv::StringRecord::new();
        let mut crec = csv::StringRecord::new();
        // The check file's current line: its row and where it starts.
        let mut chk: Option<(u64, u64)> = None;
        let mut check_done = check.is_none();
        loop {
            let at = rr.position().byte();
            if !rr.read_record(&mut rec).map_err(io::Error::other)? {
                break;
            }
            let row: u64 = rl
                .at("row")
                .and_then(|i| rec.get(i))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            // The check file is in row order too: move it up to this row.
            let mut joined = None;
            if let Some((cr, cl)) = check.as_mut() {
                while !check_done && chk.is_none_or(|(r, _)| r < row) {
                    let cat = cr.position().byte();
                    if !cr.read_record(&mut crec).map_err(io::Error::other)? {
                        check_done = true;
                        chk = None;
                        break;
                    }
                    let r = cl
                        .at("row")
                        .and_then(|i| crec.get(i))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    chk = Some((r, cat));
                }
                if let Some((r, cat)) = chk
                    && r == row
                {
                    joined = Some((cat, &crec, &*cl));
                }
            }
            let duplicate = dups.contains(&row);
            let v = view(&rec, &rl, joined.map(|(_, r, l)| (r, l)), duplicate);
            let s = if let Some(i) = statuses.iter().position(|s| *s == v.status) {
                i
            } else {
                statuses.push(v.status.clone());
                sums.push(Sums::default());
                statuses.len() - 1
            };
            if let Some(x) = sums.get_mut(s) {
                x.add(&v);
            }
            if source.counted.counts(&v.status) {
                let d = if v.disposition_new.is_empty() {
                    "(unchanged)".to_string()
                } else {
                    v.disposition_new.clone()
                };
                by_d.entry(d).or_insert_with(Sums::default).add(&v);
                by_o.entry(labelled(&v.offer, &v.offer_name))
                    .or_insert_with(Sums::default)
                    .add(&v);
                if joined.is_some() {
                    by_a.entry(labelled(&v.affiliate, &v.affiliate_name))
                        .or_insert_with(Sums::default)
                        .add(&v);
                }
            }
            entries.push(Entry {
                status: u8::try_from(s).unwrap_or(u8::MAX),
                at,
                check_at: joined.map_or(u64::MAX, |(c, _, _)| c),
                duplicate,
            });
        }
        // Statuses in the order a person deals with them.
        let mut order: Vec<usize> = (0..statuses.len()).collect();
        order.sort_by_key(|i| statuses.get(*i).map_or(usize::MAX, |s| rank(s)));
        let mut remap = vec![0u8; statuses.len()];
        for (new, old) in order.iter().enumerate() {
            if let Some(slot) = remap.get_mut(*old) {
                *slot = u8::try_from(new).unwrap_or(u8::MAX);
            }
        }
        let mut by_status = vec![Vec::new(); statuses.len()];
        for (i, e) in entries.iter_mut().enumerate() {
            e.status = remap.get(usize::from(e.status)).copied().unwrap_or(u8::MAX);
            if let Some(list) = by_status.get_mut(usize::from(e.status)) {
                list.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let statuses: Vec<(String, Sums)> = order
            .iter()
            .filter_map(|i| Some((statuses.get(*i)?.clone(), sums.get(*i)?.clone())))
            .collect();
        let mut all = Sums::default();
        for (_, s) in &statuses {
            all.merge(s);
        }
        let compared = check.is_some();
        Ok(Self {
            root: root.to_path_buf(),
            results: rl,
            check: check.map(|(_, l)| l),
            entries,
            statuses,
            by_status,
            all,
            by_disposition: ranked(by_d),
            by_offer: ranked(by_o),
            by_affiliate: ranked(by_a),
            compared,
            source,
        })
    }

    /// The sums of the rows `status` selects (`None`: every row).
    pub(super) fn sums(&self, status: Option<&str>) -> Sums {
        match status {
            None => self.all.clone(),
            Some(s) => self
                .statuses
                .iter()
                .find(|(st, _)| st == s)
                .map(|(_, x)| x.clone())
                .unwrap_or_default(),
        }
    }

    /// How many pages the rows `status` selects fill.
    pub(super) fn pages(&self, status: Option<&str>) -> usize {
        usize::try_from(self.sums(status).rows.div_ceil(PAGE_ROWS as u64).max(1))
            .unwrap_or(usize::MAX)
    }

    /// Page `page` (from 1) of the rows `status` selects.
    pub(super) fn page(&self, status: Option<&str>, page: usize) -> io::Result<Vec<RowView>> {
        let skip = page.saturating_sub(1).saturating_mul(PAGE_ROWS);
        let picked: Vec<&Entry> = match status {
            Some(s) => {
                let Some(i) = self.statuses.iter().position(|(st, _)| st == s) else {
                    return Ok(Vec::new());
                };
                self.by_status
                    .get(i)
                    .map(|l| {
                        l.iter()
                            .skip(skip)
                            .take(PAGE_ROWS)
                            .filter_map(|e| self.entries.get(*e as usize))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            None if self.source.attention_first => self
                .by_status
                .iter()
                .flatten()
                .skip(skip)
                .take(PAGE_ROWS)
                .filter_map(|e| self.entries.get(*e as usize))
                .collect(),
            None => self.entries.iter().skip(skip).take(PAGE_ROWS).collect(),
        };
        let mut results = super::jail::open(&self.root, &self.source.results)?;
        let mut check = match &self.source.check {
            Some(p) => Some(super::jail::open(&self.root, p)?),
            None => None,
        };
        let mut out = Vec::with_capacity(picked.len());
        for e in picked {
            let r = record_at(&mut results, self.results.delimiter, e.at)?;
            let c = match (&mut check, &self.check) {
                (Some(f), Some(l)) if e.check_at != u64::MAX => {
                    Some((record_at(f, l.delimiter, e.check_at)?, l))
                }
                _ => None,
            };
            out.push(view(
                &r,
                &self.results,
                c.as_ref().map(|(r, l)| (r, *l)),
                e.duplicate,
            ));
        }
        Ok(out)
    }
}

/// The record that starts at byte `at`.
fn record_at(f: &mut std::fs::File, delimiter: u8, at: u64) -> io::Result<csv::StringRecord> {
    f.seek(SeekFrom::Start(at))?;
    let mut rdr = reader(delimiter, BufReader::new(&mut *f), false);
    let mut rec = csv::StringRecord::new();
    rdr.read_record(&mut rec).map_err(io::Error::other)?;
    Ok(rec)
}

mod tables;
pub(super) use tables::Tables;

#[cfg(test)]
mod tests;

//! The journal in a run: the two questions asked before sending, and the entries written.
//!
//! Asked before anything is sent (see `checkpoint::journal` for why the journal exists):
//! 1. were these very bytes applied to this instance by another job (a copy, `june (1).csv`,
//!    a link, another `--output`)? Then the run is refused (exit 2) unless
//!    `--same-sheet-again`;
//! 2. for each additive row: did another job apply, or may it have applied, the same addition
//!    to the same conversion in the last `--journal-days`? Then the row is `skipped`, with the
//!    earlier job named, unless `--same-additions-again`.
//!
//! A sandbox trial is not journaled: each sandbox start is a fresh month, and a trial must
//! never stand in the way of the real run.

use super::settings::{Destination, Settings};
use crate::checkpoint::journal::{self, EarlierAddition, JobContext, Journal, JournalEntry};
use crate::error::Error;
use crate::report::money::grouped;
use crate::report::output::update_cells;
use crate::sheet::{PrePass, Sheet, SheetOptions};
use crate::update::{ConversionUpdate, Held, Param, keys_naming};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What the journal decided before sending.
#[derive(Debug, Default)]
pub(super) struct Skips {
    /// Sheet row → why it is not sent (its results line's message).
    pub rows: HashMap<u64, String>,
    /// Σ of what those rows would have added.
    pub payout: Decimal,
    pub received: Decimal,
}

impl Skips {
    /// Holds `u` back: another job made the same addition (`e`).
    fn hold(&mut self, u: &ConversionUpdate, e: &EarlierAddition) {
        let a = u.additions();
        self.payout = self.payout.saturating_add(a.payout.unwrap_or_default());
        self.received = self
            .received
            .saturating_add(a.received.map_or(Decimal::ZERO, |(_, d)| d));
        self.rows.insert(u.row, skip_message(u, e));
    }
}

/// What an additive row adds, canonical: equal strings add the same amounts and note.
/// `None` for a row that only sets values.
#[must_use]
pub(super) fn addition_key(u: &ConversionUpdate) -> Option<String> {
    let a = u.additions();
    if !a.is_additive() {
        return None;
    }
    let mut parts: Vec<String> = a
        .amounts()
        .map(|(field, d)| format!("{field}{:+}", d.normalize()))
        .collect();
    if let Some(note) = a.note {
        parts.push(format!("note:{note}"));
    }
    Some(parts.join("|"))
}

/// The row as the journal keeps it.
#[must_use]
pub(super) fn entry_of(u: &ConversionUpdate) -> JournalEntry {
    let cells = update_cells(u);
    let cell = |p: Param| {
        crate::update::ECHOED
            .iter()
            .position(|e| *e == p)
            .and_then(|i| cells.get(i))
            .cloned()
            .unwrap_or_default()
    };
    JournalEntry {
        row: u.row,
        key: u.ident_key(),
        payout: cell(Param::Payout),
        received: cell(Param::Received),
        received_option: u.received_option.as_str().to_string(),
        disposition: u.disposition_type.as_str().to_string(),
        note: u.note_to_append.clone(),
        conversion_id: (u.conversion_id != 0).then_some(u.conversion_id),
        addition: addition_key(u),
    }
}

/// The job id an existing checkpoint holds (read before the checkpoint is opened for the run,
/// so a refusal leaves nothing behind).
fn existing_job(checkpoint: &Path) -> Option<String> {
    if std::fs::metadata(checkpoint).map_or(true, |m| m.len() == 0) {
        return None;
    }
    crate::checkpoint::schema::open(checkpoint, true)
        .ok()
        .and_then(|c| crate::checkpoint::job::stored_job_id(&c))
}

/// The journal's context for this run, before its checkpoint is opened; `None` when the run
/// is not journaled (a sandbox trial).
pub(super) fn context(
    s: &Settings,
    dest: &Destination,
    pre: &PrePass,
) -> Option<(JobContext, Option<String>)> {
    let _ = s.journal.as_ref()?;
    if dest.label == "sandbox" {
        return None;
    }
    let kept = existing_job(&s.checkpoint);
    // The file's own path when it exists, else its folder's and its name (a new checkpoint).
    let canonical = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                std::fs::canonicalize(dir.unwrap_or(Path::new(".")))
                    .map(|d| d.join(p.file_name().unwrap_or_default()))
            })
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let ctx = JobContext {
        instance: journal::instance_key(&dest.url),
        job: kept.clone().unwrap_or_default(),
        checkpoint: canonical(&s.checkpoint),
        sheet_sha256: pre.input_sha256.clone(),
        sheet_name: s
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sheet_path: canonical(&s.input),
    };
    Some((ctx, kept))
}

/// Question 1, before the checkpoint is opened: refuses a sheet whose bytes another job sent.
pub(super) fn refuse_copy(s: &Settings, ctx: &JobContext) -> Result<(), Error> {
    let Some(js) = &s.journal else { return Ok(()) };
    if js.same_sheet_again || !js.path.exists() {
        return Ok(());
    }
    let j = Journal::open(&js.path, ctx.clone())?;
    match j.sheet_sent_by_another_job()? {
        Some(e) => Err(copy_refusal(&e, &j)),
        None => Ok(()),
    }
}

/// The refusal of a sheet another job sent.
fn copy_refusal(e: &journal::EarlierSheet, j: &Journal) -> Error {
    if !Path::new(&e.checkpoint).exists() {
        // Its job cannot be continued: "run the same command" would only meet this again.
        return Error::Usage(format!(
            "this sheet was already applied to {} on {} as {} (checkpoint {}), and that \
             checkpoint is gone (deleted or moved), so the job's record of what it applied is \
             lost. Nothing was sent. Put the checkpoint back (or give its new place with \
             --checkpoint) to continue that job; to send the sheet again as a new job, add \
             --same-sheet-again (the additive rows the journal shows applied are still skipped \
             unless --same-additions-again). `cake-recon history` shows what was applied",
            j.instance(),
            day_of(&e.at),
            e.path,
            e.checkpoint
        ));
    }
    Error::Usage(format!(
        "these very bytes were already applied to {} on {} as {} ({}; checkpoint {}): a \
         copy, a re-download or a link of a sheet applies it again. Nothing was sent. To \
         continue that job, run the same command as then (the sheet {}); to send this copy \
         anyway, add --same-sheet-again (its additive rows already applied are still skipped \
         unless --same-additions-again)",
        j.instance(),
        day_of(&e.at),
        e.name,
        e.path,
        e.checkpoint,
        e.path
    ))
}

/// Opens the journal for the run (the job's id now known) and claims the sheet: in one
/// exclusive transaction, asks question 1 again (a copy started at the same moment has now
/// recorded itself, or waits for this claim), records the sheet, answers question 2 for every
/// additive row, and plans the additive rows this job may send (`done`: rows its checkpoint
/// already finished, which are not sent again), so a job started a moment later sees them.
pub(super) fn open(
    s: &Settings,
    mut ctx: JobContext,
    job: String,
    sheet_opts: &SheetOptions,
    pre: &PrePass,
    done: &HashSet<u64>,
) -> Result<(Journal, Skips), Error> {
    let Some(js) = &s.journal else {
        return Err(Error::Internal("a journaled run without a journal".into()));
    };
    ctx.job = job;
    let j = Journal::open(&js.path, ctx)?;
    j.begin_claim()?;
    let claimed = claim(s, js, &j, sheet_opts, pre, done);
    j.end_claim(claimed.is_ok())?;
    Ok((j, claimed?))
}

/// The body of [`open`]'s claim (inside its transaction).
fn claim(
    s: &Settings,
    js: &super::JournalSettings,
    j: &Journal,
    sheet_opts: &SheetOptions,
    pre: &PrePass,
    done: &HashSet<u64>,
) -> Result<Skips, Error> {
    if !js.same_sheet_again
        && let Some(e) = j.sheet_sent_by_another_job()?
    {
        return Err(copy_refusal(&e, j));
    }
    j.record_sheet()?;
    let mut skips = Skips::default();
    if pre.additive == 0 {
        return Ok(skips);
    }
    let check = !js.same_additions_again && j.others_added_lately(js.days)?;
    let mut sheet = Sheet::open(&s.input, sheet_opts)?;
    while let Some(row) = sheet.next_row(&pre.duplicates)? {
        let Ok(u) = row.result else { continue };
        let Some(addition) = addition_key(&u) else {
            continue;
        };
        if check
            && let Some(e) = j.earlier_addition(&u.ident_key(), given_id(&u), &addition, js.days)?
        {
            skips.hold(&u, &e);
        } else if !done.contains(&u.row) {
            j.plan(&entry_of(&u))?;
        }
    }
    Ok(skips)
}

/// Withdraws the plans a run did not send (best effort: a plan left behind only makes another
/// job hold the same addition back, and this job's next run makes its plans anew).
pub(super) fn forget_unsent(j: &Journal) {
    if let Err(e) = j.forget_unsent_job() {
        tracing::warn!(error = %e, "the journal's record of this refused run could not be withdrawn");
    }
}

/// Withdraws the plans a run did not send (see [`forget_unsent`] for a run that sent nothing).
pub(super) fn release(j: &Journal) {
    if let Err(e) = j.release_plans() {
        tracing::warn!(error = %e, "the journal's unsent plans could not be withdrawn");
    }
}

/// The results line of a row the journal holds back.
fn skip_message(u: &ConversionUpdate, e: &EarlierAddition) -> String {
    let how = match e.outcome.as_deref() {
        Some("updated") => "was applied",
        Some("planned") => "is being applied (or was about to be, before a stop)",
        _ => "may have been applied",
    };
    let who = match e.own_row {
        Some(row) => format!(
            "by this job on {}, from its row {row}, which names this conversion by another id",
            day_of(&e.sent_at)
        ),
        None => format!(
            "by another job on {} (sheet {}, checkpoint {})",
            day_of(&e.sent_at),
            e.sheet_name,
            e.checkpoint
        ),
    };
    format!(
        "not sent: the same addition ({}) to this conversion {how} {who}; sending it would add \
         it again. If it is really meant to be added a second time, run with \
         --same-additions-again",
        u.additions(),
    )
}

/// `2026-12-02` of `2026-12-02T10:00:00.000Z`.
fn day_of(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

/// `Σ payout 12.00, Σ received 0.00` of the skipped rows.
#[must_use]
pub(super) fn skipped_money(s: &Skips) -> String {
    format!(
        "Σ payout {} and Σ received {}",
        grouped(s.payout),
        grouped(s.received)
    )
}

/// What the journal would decide, for the dry run.
#[derive(Debug, Default)]
pub(crate) struct JournalPreview {
    /// What to tell, one line each.
    pub lines: Vec<String>,
    /// A run would be refused (a copy of an applied sheet): the dry run exits as the run would.
    pub refused: bool,
}

/// What the journal would decide for this sheet, for the dry run: read only, nothing recorded.
/// `url` is the instance a run would go to. Empty when the journal has nothing to say.
pub(crate) fn preview(s: &Settings, url: &str, pre: &PrePass) -> Result<JournalPreview, Error> {
    let mut out = JournalPreview::default();
    let Some(js) = &s.journal else {
        return Ok(out);
    };
    if !js.path.exists() {
        return Ok(out);
    }
    let dest = Destination {
        url: url.to_string(),
        label: url.to_string(),
        key: secrecy::SecretString::from(String::new()),
    };
    let Some((mut ctx, _)) = context(s, &dest, pre) else {
        return Ok(out);
    };
    // A dry run's reading does not fingerprint the sheet: digest it here.
    ctx.sheet_sha256 = sha256_of(&s.input)?;
    if let Err(Error::Usage(m)) = refuse_copy(s, &ctx) {
        out.lines.push(format!("A run would be refused: {m}"));
        out.refused = true;
    }
    let j = Journal::open_read_only(&js.path, ctx)?;
    if js.same_additions_again || !j.others_added_lately(js.days)? {
        return Ok(out);
    }
    let mut skips = Skips::default();
    let mut sheet = Sheet::open(&s.input, &s.sheet.pinned(&pre.formats))?;
    while let Some(row) = sheet.next_row(&pre.duplicates)? {
        let Ok(u) = row.result else { continue };
        let Some(addition) = addition_key(&u) else {
            continue;
        };
        if let Some(e) = j.earlier_addition(&u.ident_key(), given_id(&u), &addition, js.days)? {
            skips.hold(&u, &e);
        }
    }
    if !skips.rows.is_empty() {
        let mut rows: Vec<u64> = skips.rows.keys().copied().collect();
        rows.sort_unstable();
        let shown: Vec<String> = rows.iter().take(10).map(u64::to_string).collect();
        out.lines.push(format!(
            "{} additive rows would NOT be sent (rows {}{}): the journal shows another job \
             applied, or may have applied, the same addition to the same conversion ({}); \
             --same-additions-again would add them again",
            rows.len(),
            shown.join(", "),
            if rows.len() > 10 { ", …" } else { "" },
            skipped_money(&skips)
        ));
    }
    Ok(out)
}

/// The SHA-256 of a file's bytes, hex (as the pre-pass computes it for a run).
fn sha256_of(path: &Path) -> Result<String, Error> {
    use sha2::Digest as _;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    Ok(h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// The conversion id a row gives itself (`None`: named by another id).
fn given_id(u: &ConversionUpdate) -> Option<i32> {
    (u.conversion_id != 0).then_some(u.conversion_id)
}

/// After reading CAKE: the conversions the additive rows resolved to (`resolved`: row → what
/// CAKE holds). Each planned row keeps its conversion id, and a planned row whose conversion got
/// the same addition under another name is held back too: from another job (`transaction_id
/// T7` then, `conversion_id 7` now, either way round), or from this job's own earlier run of a
/// sheet that named it otherwise. Only a reading can tell that two names are one conversion.
pub(super) fn recheck(
    s: &Settings,
    j: &Journal,
    sheet_opts: &SheetOptions,
    pre: &PrePass,
    resolved: &HashMap<u64, Held>,
    skips: &mut Skips,
) -> Result<(), Error> {
    let Some(js) = &s.journal else { return Ok(()) };
    j.begin_claim_keeping_plans()?;
    let result = (|| -> Result<(), Error> {
        let mut sheet = Sheet::open(&s.input, sheet_opts)?;
        while let Some(row) = sheet.next_row(&pre.duplicates)? {
            let Ok(u) = row.result else { continue };
            let (Some(addition), Some(held)) = (addition_key(&u), resolved.get(&u.row)) else {
                continue;
            };
            if skips.rows.contains_key(&u.row) {
                continue;
            }
            let planned = j.resolve(u.row, held.conversion_id)?;
            if !planned || js.same_additions_again {
                // Done by an earlier run of this job (its checkpoint answers), or meant again.
                continue;
            }
            let key = u.ident_key();
            if let Some(e) = j.earlier_addition_to(
                &key,
                &keys_naming(held),
                held.conversion_id,
                &addition,
                js.days,
            )? {
                j.withdraw(u.row)?;
                skips.hold(&u, &e);
            }
        }
        Ok(())
    })();
    j.end_claim(result.is_ok())?;
    result
}

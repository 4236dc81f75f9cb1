//! `run --dry-run`: validate, preview, write `would_update`/`invalid` lines; send nothing.

use super::dry_run_model::{
    ColumnRead, DryRun, Money, ROWS_LISTED, Reading, Standing, UnseenCounts,
};
use super::run_config::{RunConfig, Target};
use crate::cake::request::Endpoint;
use crate::error::Error;
use crate::exit;
use crate::report::output::{ResultLine, ResultsWriter};
use crate::report::preview;
use crate::report::preview::invalid_list;
use crate::sheet::columns::Source;
use crate::sheet::{Format, PrePass, Sheet, SheetRow, Totals, format_of, prepass_visit};
use crate::update::ConversionUpdate;
use crate::update::{PARAMS, Param, Status};
use std::fmt::Write as _;
use std::io::Write;

/// Rows per batch handed from the reading thread to the writing thread.
const BATCH: usize = 512;

/// The results file, totals and examples of a dry run, built row by row.
struct Preview {
    writer: ResultsWriter,
    totals: Totals,
    examples: Vec<ConversionUpdate>,
    /// Additive rows by the id that names their conversion: `conversion_id`,
    /// `request_session_id`, `transaction_id`. Two kinds in one sheet cannot be proved different conversions without
    /// reading CAKE.
    additive_by_id: [u64; 3],
    /// Invalid rows (not total lines), the first [`ROWS_LISTED`]: row and message.
    invalid: Vec<(u64, String)>,
    /// The valid rows' identities, when a checkpoint is there to compare them with.
    idents: Option<Vec<crate::update::RowIdent>>,
    error: Option<std::io::Error>,
}

impl Preview {
    fn new(path: &std::path::Path, format: &Format, idents: bool) -> std::io::Result<Self> {
        Ok(Self {
            writer: ResultsWriter::create(path, format)?,
            totals: Totals::default(),
            examples: Vec::with_capacity(3),
            additive_by_id: [0; 3],
            invalid: Vec::new(),
            idents: idents.then(Vec::new),
            error: None,
        })
    }

    fn add(&mut self, row: &SheetRow) {
        let line = match &row.result {
            Ok(update) => {
                self.totals.add(update);
                if update.additions().is_additive() {
                    let kind = if update.conversion_id != 0 {
                        0
                    } else if update.request_session_id != 0 {
                        1
                    } else {
                        2
                    };
                    if let Some(n) = self.additive_by_id.get_mut(kind) {
                        *n += 1;
                    }
                }
                if self.examples.len() < 3 {
                    self.examples.push(update.clone());
                }
                if let Some(idents) = &mut self.idents {
                    idents.push(update.ident());
                }
                ResultLine::for_update(update, Status::WouldUpdate)
            }
            Err(invalid) => {
                if !invalid.skipped && self.invalid.len() < ROWS_LISTED {
                    self.invalid.push((row.row, invalid.message.clone()));
                }
                ResultLine::for_invalid(row.row, invalid)
            }
        };
        if self.error.is_none()
            && let Err(e) = self.writer.write(&line)
        {
            self.error = Some(e);
        }
    }
}

/// What the next run would do beside the run recorded in the checkpoint (read only, so a dry run
/// during a live run is harmless): rows that keep their outcome, and what would be sent; or
/// the refusal it would meet (a run would stop, in its words).
fn against_the_run(
    s: &crate::engine::Settings,
    idents: Vec<crate::update::RowIdent>,
) -> Result<(String, Standing, Option<String>), Error> {
    let st = crate::checkpoint::standing(&s.checkpoint, idents.into_iter())?;
    let kept: u64 = st.kept.values().sum();
    let standing = Standing {
        kept,
        changed: st.changed,
        new: st.new,
    };
    if !s.edited_sheet
        && let Some(refusal) = st.new_sheet(&s.checkpoint)
    {
        // The run would refuse: say so, in its words.
        let refusal = format!("{refusal}");
        return Ok((
            format!("A run would stop before sending anything: {refusal}.\n"),
            standing,
            Some(refusal),
        ));
    }
    let failed = st
        .kept
        .get(&Some("failed".to_string()))
        .copied()
        .unwrap_or(0);
    let statuses: Vec<String> = st
        .kept
        .iter()
        .map(|(status, n)| format!("{} {n}", status.as_deref().unwrap_or("sent, no outcome")))
        .collect();
    Ok((
        format!(
            "Against the run recorded in {}: {kept} rows keep their outcome ({}){}; {} changed and {} \
         new rows would be sent.\n",
            s.checkpoint.display(),
            statuses.join(", "),
            if failed > 0 {
                format!(", of which {failed} failed without being applied and would be sent again")
            } else {
                String::new()
            },
            st.changed,
            st.new
        ),
        standing,
        None,
    ))
}

/// `run --dry-run`: validate, write the results file with `would_update`/`invalid`, print the
/// interpretation, totals and example requests. Sends nothing, needs no key.
///
/// The whole of it is one [`DryRun`] value: printed here as text, written by `--summary-json`
/// as JSON (what the screen reads). A sheet that cannot be read is a `DryRun` too (its
/// columns as far as they were found, and why), so the screen shows the same message.
pub(super) fn dry_run(cfg: &RunConfig, out: &mut dyn Write) -> Result<u8, Error> {
    if cfg.columns_only {
        // The screen's question when its choices change how the sheet is read: which columns
        // it has now (no row is read).
        let shown = DryRun {
            columns: columns_found(cfg),
            read: Err("only the columns were read".into()),
            exit: exit::OK,
        };
        if let Some(path) = &cfg.summary_json {
            super::summary_json::write(path, &shown)?;
        }
        return Ok(exit::OK);
    }
    let result = model(cfg);
    if let Some(path) = &cfg.summary_json {
        let shown = match &result {
            Ok(m) => m.clone(),
            Err(e) => DryRun {
                columns: columns_found(cfg),
                read: Err(e.to_string()),
                exit: e.exit_code(),
            },
        };
        super::summary_json::write(path, &shown)?;
    }
    let m = result?;
    if let Ok(r) = &m.read {
        super::stdout::show(out, &r.text)?;
    }
    Ok(m.exit)
}

/// The columns of a sheet that could not be read whole: its header as read (with what each
/// column would feed), or, when even that fails, the most likely header line.
fn columns_found(cfg: &RunConfig) -> Vec<ColumnRead> {
    let s = &cfg.engine;
    let plain = |header: Vec<String>| {
        header
            .into_iter()
            .map(|h| ColumnRead {
                looks_like: crate::sheet::columns::looks_like(&h).map(|p| p.name().to_string()),
                header: h,
                ..ColumnRead::default()
            })
            .collect()
    };
    match Sheet::open(&s.input, &s.sheet) {
        Ok(sheet) => {
            let pre_columns = sheet.columns();
            sheet
                .header()
                .iter()
                .enumerate()
                .map(|(i, h)| ColumnRead {
                    header: h.to_string(),
                    field: pre_columns.field_at(i).map(|p| p.name().to_string()),
                    looks_like: pre_columns.suggested_field(h).map(|p| p.name().to_string()),
                    ..ColumnRead::default()
                })
                .collect()
        }
        Err(_) => plain(Sheet::probable_header(&s.input, &s.sheet)),
    }
}

/// The dry run's reading, whole: every pass finished, or an error (never partial sums).
#[expect(
    clippy::too_many_lines,
    reason = "the passes of a dry run, then its one value"
)]
fn model(cfg: &RunConfig) -> Result<DryRun, Error> {
    let s = &cfg.engine;
    let out_name = s.output.display().to_string();
    let write_err = |source| Error::Write {
        what: out_name.clone(),
        source,
    };
    // Identities matter only beside an earlier run's checkpoint.
    let beside = s.checkpoint.exists();
    // Two cores: this thread reads and validates, a second one formats and writes the results.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SheetRow>>(8);
    let output = s.output.clone();
    // The results are written as the sheet is (its delimiter, its BOM).
    let format = format_of(&s.input, &s.sheet.read)?;
    let writer = std::thread::spawn(move || -> std::io::Result<Preview> {
        let mut preview = Preview::new(&output, &format, beside)?;
        for batch in rx {
            for row in &batch {
                preview.add(row);
            }
        }
        Ok(preview)
    });
    let mut batch = Vec::with_capacity(BATCH);
    let pre = prepass_visit(&s.input, &s.sheet, |row| {
        batch.push(row);
        if batch.len() == BATCH {
            // A send fails only if the writer died; its error is reported below.
            let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
        }
    });
    let _ = tx.send(batch);
    drop(tx);
    let preview = writer
        .join()
        .map_err(|_| Error::Internal("the results writer stopped unexpectedly".into()))?;
    let pre = pre?;
    let mut preview = preview.map_err(write_err)?;
    if !pre.duplicates.is_empty() {
        // Rare: rows that share a conversion are known only at the end; write again, marked
        // (the rows invalid on their own were listed by the first pass).
        let invalid = std::mem::take(&mut preview.invalid);
        preview = Preview::new(&s.output, &pre.format, beside).map_err(write_err)?;
        let mut sheet = Sheet::open(&s.input, &s.sheet.pinned(&pre.formats))?;
        while let Some(row) = sheet.next_row(&pre.duplicates)? {
            preview.add(&row);
        }
        preview.invalid = invalid;
    }
    if let Some(e) = preview.error.take() {
        return Err(write_err(e));
    }
    let path = preview.writer.finish().map_err(write_err)?;

    let (text, would_stop, standing) = said(
        cfg,
        &pre,
        &preview.totals,
        &preview.examples,
        preview.additive_by_id,
        preview.idents.take(),
        &path,
    )?;
    let code = if !would_stop.is_empty() {
        exit::USAGE
    } else if pre.invalid == 0 {
        exit::OK
    } else {
        exit::SOME_ROWS_NOT_UPDATED
    };
    let decision = cfg
        .summary_json
        .is_some()
        .then(|| decision_cells(s, &pre))
        .flatten();
    Ok(DryRun {
        columns: columns_of(&pre),
        exit: code,
        read: Ok(Reading {
            api_version: s.api_version,
            detected: detected(&pre),
            defaults: defaults(&pre, s.api_version),
            rows: pre.rows,
            valid: pre.valid(),
            invalid: pre.invalid,
            skipped: pre.skipped,
            offerless: pre.offerless,
            offers_wanting: crate::engine::offers_wanting(&pre, s.reports.0.is_some()),
            conversion_date_column: pre.columns.conversion_date.is_some(),
            totals: Money::from(&preview.totals),
            duplicates: duplicates_listed(&pre, &preview.invalid),
            duplicate_rows: {
                let mut rows: Vec<u64> = pre.duplicates.keys().copied().collect();
                rows.sort_unstable();
                rows
            },
            invalid_rows: preview.invalid,
            total_mismatches: pre.total_mismatches.clone(),
            unseen: UnseenCounts {
                hidden_rows: pre.unseen.hidden_count,
                hidden_word: pre.unseen.hidden_word().to_string(),
                amounts: pre.unseen.amounts_count,
                questions: pre.unseen.questions(),
            },
            standing,
            decision,
            would_stop,
            text,
        }),
    })
}

/// The warning for additive rows that name their conversions by different ids: `conversion_id
/// 7` and `transaction_id T7` may be one conversion, which would get both additions.
fn mixed_ids(by_id: [u64; 3], read_back: bool) -> String {
    let names = ["conversion_id", "request_session_id", "transaction_id"];
    let used: Vec<String> = names
        .iter()
        .zip(by_id)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} by {name}"))
        .collect();
    if used.len() < 2 {
        return String::new();
    }
    format!(
        "Warning: the additive rows name their conversions by different ids ({}): without \
         reading CAKE, cake-recon cannot prove they are different conversions, and one \
         conversion named twice would get both additions. {}\n",
        used.join(", "),
        if read_back {
            "The run reads CAKE back first and stops if two rows are one conversion."
        } else {
            "Check with `cake-recon check` (same flags), or run with --read-back: it stops \
             before sending if two rows are one conversion."
        }
    )
}

/// The endpoint the example requests are built for (a placeholder host without a URL).
fn endpoint(cfg: &RunConfig) -> Endpoint {
    let base = match &cfg.target {
        Target::Remote(url) => url.as_str(),
        Target::Sandbox(_) => "http://sandbox.invalid",
        Target::Unset => "https://YOUR-CAKE-INSTANCE",
    };
    Endpoint::new(base, cfg.engine.api_version, cfg.engine.transport)
}

/// What a run of this sheet would meet before sending, told as the run would tell it: the
/// window note, the journal's refusal and skips, the checkpoint's comparison, a total that
/// does not match. Each reason a run would stop goes to `would_stop` (the dry run exits as
/// the run would); the comparison with the checkpoint is returned.
fn what_a_run_would_meet(
    cfg: &RunConfig,
    pre: &crate::sheet::PrePass,
    idents: Option<Vec<crate::update::RowIdent>>,
    text: &mut String,
    would_stop: &mut Vec<String>,
) -> Result<Option<Standing>, Error> {
    let s = &cfg.engine;
    // As the run will say it before sending.
    if pre.additive > 0
        && s.read_back.is_none()
        && !crate::engine::window_known(s, &s.sheet.pinned(&pre.formats))?
    {
        let _ = writeln!(text, "Note: {}.", crate::engine::NO_WINDOW);
    }
    if let Target::Remote(url) = &cfg.target {
        // Only a comparison: a journal it cannot read does not stop the preview.
        match crate::engine::journal_preview(s, url, pre) {
            Ok(p) => {
                for line in &p.lines {
                    let _ = writeln!(text, "{line}");
                }
                if p.refused {
                    would_stop.extend(p.lines);
                }
            }
            Err(e) => {
                let _ = writeln!(text, "(Not compared with the journal: {e})");
            }
        }
    }
    let mut standing = None;
    if let Some(idents) = idents {
        // Only a comparison: a checkpoint it cannot read does not stop the preview.
        match against_the_run(s, idents) {
            Ok((line, st, refusal)) => {
                text.push_str(&line);
                standing = Some(st);
                would_stop.extend(refusal);
            }
            Err(e) => {
                let _ = writeln!(text, "(Not compared with the earlier run: {e})");
            }
        }
    }
    if let Some(asked) = crate::engine::sheet_questions(s, pre) {
        let _ = writeln!(text, "A run would stop before sending anything: {asked}.");
        would_stop.push(asked);
    }
    Ok(standing)
}

/// The dry run in the command line's words, the reasons a run would stop, and the comparison
/// with the checkpoint beside it.
fn said(
    cfg: &RunConfig,
    pre: &PrePass,
    totals: &Totals,
    examples: &[ConversionUpdate],
    additive_by_id: [u64; 3],
    idents: Option<Vec<crate::update::RowIdent>>,
    results: &std::path::Path,
) -> Result<(String, Vec<String>, Option<Standing>), Error> {
    let s = &cfg.engine;
    let mut text = preview::interpretation(pre, &s.input, s.api_version);
    text.push_str(&preview::totals(totals, pre.invalid));
    text.push_str(&invalid_list(pre));
    text.push_str(&preview::examples(&endpoint(cfg), examples));
    text.push_str(&mixed_ids(additive_by_id, s.read_back.is_some()));
    let mut would_stop = Vec::new();
    let standing = what_a_run_would_meet(cfg, pre, idents, &mut text, &mut would_stop)?;
    let _ = writeln!(text, "Results (nothing was sent): {}", results.display());
    if pre.invalid > 0 && !s.skip_invalid {
        let _ = writeln!(
            text,
            "{} invalid rows: a run would stop before sending anything (fix them, or use --skip-invalid).",
            pre.invalid
        );
        would_stop.push(format!(
            "{} invalid rows (fix them, or send the others with --skip-invalid)",
            pre.invalid
        ));
    }
    Ok((text, would_stop, standing))
}

/// The columns as read, and what each feeds.
fn columns_of(pre: &PrePass) -> Vec<ColumnRead> {
    pre.header
        .iter()
        .enumerate()
        .map(|(i, h)| ColumnRead {
            header: h.clone(),
            field: pre.columns.field_at(i).map(|p| p.name().to_string()),
            looks_like: pre.columns.suggested_field(h).map(|p| p.name().to_string()),
            samples: pre.samples.get(i).cloned().unwrap_or_default(),
            values_said: pre.columns.values_said(i),
            conversion_date: pre.columns.conversion_date == Some(i),
        })
        .collect()
}

/// The rows held back as duplicates (a row invalid on its own is listed once, as invalid).
fn duplicates_listed(pre: &PrePass, invalid: &[(u64, String)]) -> Vec<(u64, String)> {
    let mut dups: Vec<(u64, String)> = pre
        .duplicates
        .iter()
        .filter(|(row, _)| !invalid.iter().any(|(r, _)| r == *row))
        .map(|(row, d)| (*row, d.message(*row)))
        .collect();
    dups.sort_unstable();
    dups.truncate(ROWS_LISTED);
    dups
}

/// How many distinct cells of a decision column the screen asks about.
const DECISION_CELLS: usize = 12;

/// The disposition column's header and distinct cells, when one of them is no disposition
/// word (or the sheet's cells are already mapped).
fn decision_cells(s: &crate::engine::Settings, pre: &PrePass) -> Option<(String, Vec<String>)> {
    let Source::Column { index, header } = pre.columns.source(Param::DispositionType) else {
        return None;
    };
    let cells = crate::sheet::distinct::distinct_cells(
        &s.input,
        &s.sheet.pinned(&pre.formats),
        *index,
        DECISION_CELLS,
    );
    let words = |cell: &str| {
        crate::sheet::cells::disposition_word(&crate::sheet::parse::normalize_token(cell)).is_some()
    };
    let mapped = s.sheet.values.iter().any(|v| v.column == *header);
    (mapped || cells.iter().any(|cell| !words(cell))).then(|| (header.clone(), cells))
}

/// The fields no column and no value set gives, and the default CAKE gets for each.
fn defaults(pre: &PrePass, api_version: u8) -> Vec<(String, String)> {
    PARAMS
        .iter()
        .filter(|s| matches!(pre.columns.source(s.param), Source::Default))
        .filter_map(|s| {
            Some((
                s.name.to_string(),
                preview::default_text(s.param, api_version)?.to_string(),
            ))
        })
        .collect()
}

/// How the sheet was read, label and words.
fn detected(pre: &PrePass) -> Vec<(String, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
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
    out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

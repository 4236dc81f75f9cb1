//! `run --dry-run`: validate, preview, write `would_update`/`invalid` lines; send nothing.

use super::run_config::{RunConfig, Target};
use crate::cake::request::Endpoint;
use crate::error::Error;
use crate::exit;
use crate::report::output::{ResultLine, ResultsWriter};
use crate::report::preview;
use crate::report::preview::invalid_list;
use crate::sheet::{Format, Sheet, SheetRow, Totals, format_of, prepass_visit};
use crate::update::ConversionUpdate;
use crate::update::Status;
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
    error: Option<std::io::Error>,
}

impl Preview {
    fn new(path: &std::path::Path, format: &Format) -> std::io::Result<Self> {
        Ok(Self {
            writer: ResultsWriter::create(path, format)?,
            totals: Totals::default(),
            examples: Vec::with_capacity(3),
            additive_by_id: [0; 3],
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
                ResultLine::for_update(update, Status::WouldUpdate)
            }
            Err(invalid) => ResultLine::for_invalid(row.row, invalid),
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
/// the refusal it would meet (`true`: a run would stop).
fn against_the_run(
    s: &crate::engine::Settings,
    pre: &crate::sheet::PrePass,
) -> Result<(String, bool), Error> {
    let mut sheet = Sheet::open(&s.input, &s.sheet.pinned(&pre.formats))?;
    let mut idents = Vec::new();
    while let Some(row) = sheet.next_row(&pre.duplicates)? {
        if let Ok(u) = row.result {
            idents.push(u.ident());
        }
    }
    let st = crate::checkpoint::standing(&s.checkpoint, idents.into_iter())?;
    if !s.edited_sheet
        && let Some(refusal) = st.new_sheet(&s.checkpoint)
    {
        // The run would refuse: say so, in its words.
        return Ok((
            format!("A run would stop before sending anything: {refusal}.\n"),
            true,
        ));
    }
    let kept: u64 = st.kept.values().sum();
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
        false,
    ))
}

/// `run --dry-run`: validate, write the results file with `would_update`/`invalid`, print the
/// interpretation, totals and example requests. Sends nothing, needs no key.
///
/// One pass over the sheet writes the results as it validates; only when two rows target the
/// same conversion (known at the end) is the sheet read a second time to mark them.
pub(super) fn dry_run(cfg: &RunConfig, out: &mut dyn Write) -> Result<u8, Error> {
    let s = &cfg.engine;
    let out_name = s.output.display().to_string();
    let write_err = |source| Error::Write {
        what: out_name.clone(),
        source,
    };
    // Two cores: this thread reads and validates, a second one formats and writes the results.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SheetRow>>(8);
    let output = s.output.clone();
    // The results are written as the sheet is (its delimiter, its BOM).
    let format = format_of(&s.input, &s.sheet.read)?;
    let writer = std::thread::spawn(move || -> std::io::Result<Preview> {
        let mut preview = Preview::new(&output, &format)?;
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
        // Rare: rows that share a conversion are known only at the end; write again, marked.
        preview = Preview::new(&s.output, &pre.format).map_err(write_err)?;
        let mut sheet = Sheet::open(&s.input, &s.sheet.pinned(&pre.formats))?;
        while let Some(row) = sheet.next_row(&pre.duplicates)? {
            preview.add(&row);
        }
    }
    if let Some(e) = preview.error.take() {
        return Err(write_err(e));
    }
    let path = preview.writer.finish().map_err(write_err)?;

    let mut text = preview::interpretation(&pre, &s.input, s.api_version);
    text.push_str(&preview::totals(&preview.totals, pre.invalid));
    text.push_str(&invalid_list(&pre));
    text.push_str(&preview::examples(&endpoint(cfg), &preview.examples));
    text.push_str(&mixed_ids(preview.additive_by_id, s.read_back.is_some()));
    let refused = what_a_run_would_meet(cfg, &pre, &mut text)?;
    let _ = writeln!(text, "Results (nothing was sent): {}", path.display());
    let invalid_stop = pre.invalid > 0 && !s.skip_invalid;
    if invalid_stop {
        let _ = writeln!(
            text,
            "{} invalid rows: a run would stop before sending anything (fix them, or use --skip-invalid).",
            pre.invalid
        );
    }
    let code = if refused || invalid_stop {
        exit::USAGE
    } else if pre.invalid == 0 {
        exit::OK
    } else {
        exit::SOME_ROWS_NOT_UPDATED
    };
    super::stdout::show(out, &text)?;
    Ok(code)
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
/// does not match. `true`: a run would stop (the dry run exits as it would).
fn what_a_run_would_meet(
    cfg: &RunConfig,
    pre: &crate::sheet::PrePass,
    text: &mut String,
) -> Result<bool, Error> {
    let s = &cfg.engine;
    // As the run will say it before sending.
    if pre.additive > 0
        && s.read_back.is_none()
        && !crate::engine::window_known(s, &s.sheet.pinned(&pre.formats))?
    {
        let _ = writeln!(text, "Note: {}.", crate::engine::NO_WINDOW);
    }
    let mut refused = false;
    if let Target::Remote(url) = &cfg.target {
        // Only a comparison: a journal it cannot read does not stop the preview.
        match crate::engine::journal_preview(s, url, pre) {
            Ok(p) => {
                for line in p.lines {
                    let _ = writeln!(text, "{line}");
                }
                refused |= p.refused;
            }
            Err(e) => {
                let _ = writeln!(text, "(Not compared with the journal: {e})");
            }
        }
    }
    if s.checkpoint.exists() {
        // Only a comparison: a checkpoint it cannot read does not stop the preview.
        match against_the_run(s, pre) {
            Ok((line, stop)) => {
                text.push_str(&line);
                refused = stop;
            }
            Err(e) => {
                let _ = writeln!(text, "(Not compared with the earlier run: {e})");
            }
        }
    }
    if let Some(asked) = crate::engine::sheet_questions(s, pre) {
        let _ = writeln!(text, "A run would stop before sending anything: {asked}.");
        refused = true;
    }
    Ok(refused)
}

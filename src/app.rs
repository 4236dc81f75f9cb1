//! The commands, end to end: what `main` calls.

use crate::config::RunConfig;
use crate::error::Error;
use crate::exit;
use crate::report::output::{ResultLine, ResultsWriter, Status};
use crate::report::preview;
use crate::sheet::{PrePass, Sheet, Totals, prepass};
use std::io::Write;

/// `run --dry-run`: validate, write the results file with `would_update`/`invalid`, print the
/// interpretation, totals and example requests. Sends nothing, needs no key.
pub fn dry_run(cfg: &RunConfig, out: &mut dyn Write) -> Result<u8, Error> {
    let pre = prepass(&cfg.input, &cfg.sheet)?;
    let write_err = |what: &str| {
        let what = what.to_string();
        move |source| Error::Write {
            what: what.clone(),
            source,
        }
    };
    let shown = |e: std::io::Error| Error::Write {
        what: "standard output".into(),
        source: e,
    };
    write!(
        out,
        "{}",
        preview::interpretation(&pre, &cfg.input, cfg.api_version)
    )
    .map_err(shown)?;

    let mut sheet = Sheet::open(&cfg.input, &cfg.sheet)?;
    let out_name = cfg.output.display().to_string();
    let mut writer = ResultsWriter::create(&cfg.output).map_err(write_err(&out_name))?;
    let mut totals = Totals::default();
    let mut examples = Vec::with_capacity(3);
    while let Some(row) = sheet.next_row(&pre.duplicates)? {
        let line = match &row.result {
            Ok(update) => {
                totals.add(update);
                if examples.len() < 3 {
                    examples.push(update.clone());
                }
                ResultLine::for_update(update, Status::WouldUpdate)
            }
            Err(invalid) => ResultLine::for_invalid(row.row, invalid),
        };
        writer.write(&line).map_err(write_err(&out_name))?;
    }
    let path = writer.finish().map_err(write_err(&out_name))?;

    write!(out, "{}", preview::totals(&totals, pre.invalid)).map_err(shown)?;
    write!(out, "{}", invalid_list(&pre)).map_err(shown)?;
    write!(out, "{}", preview::examples(&cfg.endpoint(), &examples)).map_err(shown)?;
    writeln!(out, "Results (nothing was sent): {}", path.display()).map_err(shown)?;
    Ok(if pre.invalid == 0 {
        exit::OK
    } else if cfg.skip_invalid {
        exit::SOME_ROWS_NOT_UPDATED
    } else {
        writeln!(
            out,
            "{} invalid rows: a run would stop before sending anything (fix them, or use --skip-invalid).",
            pre.invalid
        )
        .map_err(shown)?;
        exit::USAGE
    })
}

/// The first row errors of a pre-pass, and how many more there are.
#[must_use]
pub fn invalid_list(pre: &PrePass) -> String {
    if pre.invalid == 0 {
        return String::new();
    }
    let mut s = format!("Invalid rows ({}):\n", pre.invalid);
    for e in &pre.errors {
        s.push_str("  ");
        s.push_str(e);
        s.push('\n');
    }
    let more = pre.invalid.saturating_sub(pre.errors.len() as u64);
    if more > 0 {
        s.push_str(&format!(
            "  … and {more} more (every row is listed in the results file)\n"
        ));
    }
    s
}

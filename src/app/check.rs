//! `cake-recon check`: how the sheet stands against what CAKE holds, read through the reports
//! API. Sends no update.

use super::run::destination;
use super::run_config::RunConfig;
use crate::engine::read_back::{sheet_targets, window};
use crate::engine::scan::read_window;
use crate::error::Error;
use crate::exit;
use crate::report::check::{
    CheckLine, CheckStatus, CheckTally, CheckWriter, check_summary, line_for,
};
use crate::sheet::{Sheet, prepass};
use crate::update::{Comparison, ConversionUpdate, compare};

fn ids(u: &ConversionUpdate) -> [String; 3] {
    let id = |v: i32| if v == 0 { String::new() } else { v.to_string() };
    [
        id(u.conversion_id),
        id(u.request_session_id),
        u.transaction_id.clone(),
    ]
}

/// `cake-recon check SHEET`: exit 0 when every valid row already holds its values in CAKE.
pub(crate) fn check(cfg: &RunConfig) -> Result<u8, Error> {
    let s = &cfg.engine;
    let pre = prepass(&s.input, &s.sheet)?;
    let opts = s.sheet.pinned(&pre.formats);
    let (mut targets, span) = sheet_targets(
        &s.input,
        &opts,
        pre.formats.date_order,
        &crate::sheet::Duplicates::new(),
    )?;
    // CAKE-local days, both inclusive; a window from the sheet's dates is padded by a day.
    let (since, until) = window(cfg.read_back.window, span)?;
    let (sandbox, dest) = destination(cfg)?;
    let stats = read_window(
        s,
        &dest,
        cfg.read_back.version,
        (since, until),
        &mut targets,
    );
    drop(sandbox);
    let stats = stats?;
    let write_err = |source| Error::Write {
        what: s.output.display().to_string(),
        source,
    };
    let mut writer = CheckWriter::create(&s.output, &pre.format).map_err(write_err)?;
    let mut tally = CheckTally::default();
    let mut sheet = Sheet::open(&s.input, &opts)?;
    while let Some(row) = sheet.next_row(&pre.duplicates)? {
        let line = match &row.result {
            Err(invalid) => CheckLine {
                row: row.row,
                ids: [
                    invalid.cells[0].clone(),
                    invalid.cells[1].clone(),
                    invalid.cells[2].clone(),
                ],
                status: CheckStatus::Invalid,
                differences: invalid.message.clone(),
                held: None,
            },
            Ok(u) => {
                let found = targets.found(u.row);
                let cmp = (found.len() == 1)
                    .then(|| found.first().map(|h| compare(u, h)))
                    .flatten();
                if let Some(Comparison::Differs(d)) = &cmp {
                    for diff in d {
                        let delta = diff
                            .wanted
                            .parse::<rust_decimal::Decimal>()
                            .ok()
                            .zip(diff.held.parse::<rust_decimal::Decimal>().ok())
                            .map(|(w, h)| w - h);
                        match (diff.field, delta) {
                            ("payout", Some(d)) => tally.payout_delta += d,
                            ("received" | "sale_amount", Some(d)) => tally.received_delta += d,
                            _ => {}
                        }
                    }
                }
                line_for(u.row, ids(u), found, cmp.as_ref())
            }
        };
        *tally.counts.entry(line.status).or_default() += 1;
        writer.write(&line).map_err(write_err)?;
    }
    let path = writer.finish().map_err(write_err)?;
    let text = check_summary(&tally, (since, until), stats.rows, &path);
    if cfg.quiet {
        eprint!("{text}");
    } else {
        super::stdout::show(&mut std::io::stdout().lock(), &text)?;
    }
    let valid_not_correct = tally
        .counts
        .iter()
        .any(|(st, n)| *n > 0 && !matches!(st, CheckStatus::AlreadyCorrect | CheckStatus::Invalid));
    Ok(if valid_not_correct {
        exit::SOME_ROWS_NOT_UPDATED
    } else {
        exit::OK
    })
}

//! `cake-recon check`: how the sheet stands against what CAKE holds, read through the reports
//! API. Sends no update.

use super::run::destination;
use super::run_config::RunConfig;
use crate::engine::scan::{Targets, read_window};
use crate::error::Error;
use crate::exit;
use crate::report::check::{
    CheckLine, CheckStatus, CheckTally, CheckWriter, check_summary, line_for,
};
use crate::sheet::parse::{DateOrder, normalize_token, parse_date};
use crate::sheet::{Sheet, SheetOptions, prepass};
use crate::update::{Comparison, ConversionUpdate, compare};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use std::path::Path;

/// Headers that hold the conversion's date (not an `UpdateConversion` parameter: read only to
/// choose the window).
const DATE_HEADERS: [&str; 5] = [
    "conversion_date",
    "event_conversion_date",
    "conv_date",
    "conversion_date_time",
    "date_of_conversion",
];

/// Reads the sheet once: the targets, and the span of its conversion dates if it has a column
/// of them.
fn targets(
    input: &Path,
    opts: &SheetOptions,
    order: DateOrder,
) -> Result<(Targets, Option<(NaiveDate, NaiveDate)>), Error> {
    let mut sheet = Sheet::open(input, opts)?;
    let date_col = sheet
        .header()
        .iter()
        .position(|h| DATE_HEADERS.contains(&normalize_token(h).as_str()));
    let mut targets = Targets::default();
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    while let Some(row) = sheet.next_row(&crate::sheet::Duplicates::new())? {
        if let Ok(u) = &row.result {
            targets.add(u);
            if let Some(d) = date_col
                .and_then(|c| sheet.record().get(c))
                .and_then(|c| parse_date(c.trim(), order).ok())
            {
                let d = d.date();
                span = Some(span.map_or((d, d), |(a, b)| (a.min(d), b.max(d))));
            }
        }
    }
    Ok((targets, span))
}

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
    let (mut targets, span) = targets(&s.input, &opts, pre.formats.date_order)?;
    // CAKE-local days, both inclusive; a window from the sheet's dates is padded by a day.
    let (since, until) = match (cfg.read_back.window, span) {
        (Some(w), _) => w,
        (None, Some((first, last))) => (first - Duration::days(1), last + Duration::days(1)),
        (None, None) => {
            return Err(Error::Usage(
                "which conversions to read? The sheet has no conversion_date column: give the \
                 window in CAKE's time, e.g. --since 2026-09-01 --until 2026-09-30"
                    .into(),
            ));
        }
    };
    let at = |d: NaiveDate| NaiveDateTime::from(d);
    let (sandbox, dest) = destination(cfg)?;
    let stats = read_window(
        s,
        &dest,
        cfg.read_back.version,
        at(since),
        at(until + Duration::days(1)),
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

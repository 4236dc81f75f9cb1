//! `cake-recon history`: every change cake-recon made, as the journal recorded it — the audit
//! trail (who sent what to which conversion, from which sheet, and how it ended).

use crate::checkpoint::history::{
    HistoryLine, HistoryQuery, history as read_history, key_in_words,
};
use crate::error::Error;
use std::io::Write;
use std::path::PathBuf;

/// What `history` reads and how it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryConfig {
    pub path: PathBuf,
    pub query: HistoryQuery,
    pub csv: bool,
}

/// Prints the journal's lines matching the query; exit 0 (also when there are none).
pub(crate) fn history(cfg: &HistoryConfig) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    if !cfg.path.exists() {
        let _ = writeln!(
            out,
            "No journal at {} yet: nothing was sent from this account with it (another \
             person's or a cron job's journal: give --journal PATH).",
            cfg.path.display()
        );
        return Ok(0);
    }
    let lines = read_history(&cfg.path, &cfg.query)?;
    let text = if cfg.csv { csv(&lines)? } else { text(&lines) };
    super::stdout::show(&mut out, &text)?;
    Ok(0)
}

fn csv(lines: &[HistoryLine]) -> Result<String, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    w.write_record([
        "sent_at",
        "instance",
        "conversion",
        "payout",
        "received",
        "received_option",
        "disposition_type",
        "note",
        "outcome",
        "sheet",
        "row",
        "checkpoint",
    ])
    .map_err(internal)?;
    for l in lines {
        let row = l.row.to_string();
        let cells = [
            l.sent_at.as_str(),
            &l.instance,
            &key_in_words(&l.key),
            &l.payout,
            &l.received,
            &l.received_option,
            &l.disposition,
            &l.note,
            &l.outcome,
            &l.sheet_name,
            &row,
            &l.checkpoint,
        ];
        // Opened in a spreadsheet, no cell may run as a formula.
        w.write_record(
            cells
                .iter()
                .map(|c| crate::report::output::neutralize(c).into_owned()),
        )
        .map_err(internal)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn text(lines: &[HistoryLine]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if lines.is_empty() {
        let _ = writeln!(s, "No update in the journal matches.");
        return s;
    }
    for l in lines {
        let mut change = Vec::new();
        if !l.payout.is_empty() {
            change.push(format!("payout {}", l.payout));
        }
        if !l.received.is_empty() {
            change.push(format!("received {} ({})", l.received, l.received_option));
        }
        if l.disposition != "no_change" && !l.disposition.is_empty() {
            change.push(format!("disposition {}", l.disposition));
        }
        if !l.note.is_empty() {
            change.push(format!("note {:?}", l.note));
        }
        if change.is_empty() {
            change.push("no value changed".into());
        }
        let _ = writeln!(
            s,
            "{}  {}  {}: {} → {}  (sheet {}, row {}; {}; checkpoint {})",
            l.sent_at,
            l.instance,
            key_in_words(&l.key),
            change.join(", "),
            l.outcome,
            l.sheet_name,
            l.row,
            if l.outcome == "updated" {
                "CAKE confirmed it"
            } else {
                "see the outcome"
            },
            l.checkpoint
        );
    }
    let _ = writeln!(s, "{} updates.", lines.len());
    s
}

//! The dry run's printed report: how the sheet was read, what would change, and example requests.

use super::money::grouped;
use crate::cake::request::Endpoint;
use crate::sheet::columns::Source;
use crate::sheet::{PrePass, Totals};
use crate::update::ConversionUpdate;
use crate::update::{PARAMS, Param};
use std::fmt::Write as _;
use std::path::Path;

/// What a missing field becomes, in words (contract defaults).
pub(crate) fn default_text(p: Param, version: u8) -> Option<&'static str> {
    Some(match p {
        Param::ApiKey | Param::DisallowOnBillingStatus if version < 4 => return None,
        Param::ApiKey => return None,
        Param::OfferId => {
            "each conversion's own, read from CAKE's reports (site_offer_id) before sending \
             (FROM_CAKE below); an offer column or --set offer_id=N gives it instead"
        }
        Param::ConversionId | Param::RequestSessionId => "0 (not used)",
        Param::TransactionId => "empty (not used)",
        Param::Payout => "payout left unchanged (payout=0, add_to_existing_payout=true)",
        Param::AddToExistingPayout => {
            "false where a payout is given (it sets the payout), else true (unchanged)"
        }
        Param::Received => "received left unchanged (received_option=no_change)",
        Param::ReceivedOption => "total_revenue where received is given, else no_change",
        Param::DispositionType => "no_change",
        Param::DispositionId => "0",
        Param::UpdateRevsharePayout => "false",
        Param::EffectiveDateOption => "today (custom where a custom_date is given)",
        Param::CustomDate => "01/01/2001 00:00:00 (ignored by CAKE unless the option is custom)",
        Param::NoteToAppend => "empty (nothing appended)",
        Param::DisallowOnBillingStatus => "ignore",
    })
}

/// Which `UpdateConversion` version is used, and why: for the preview and the screen.
#[must_use]
pub(crate) fn api_version_said(version: u8) -> String {
    if version >= 4 {
        format!(
            "version {version}, CAKE's current one (--api-version 2 for an instance that still \
             serves only version 2)"
        )
    } else {
        format!("version {version}, as --api-version asks (CAKE marks it deprecated)")
    }
}

/// Renders the "interpreted as" part: encoding, delimiter, column mapping with samples, defaults.
#[must_use]
pub(crate) fn interpretation(pre: &PrePass, input: &Path, version: u8) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Sheet {} interpreted as:", input.display());
    if let Some(book) = &pre.format.workbook {
        let _ = writeln!(out, "  workbook:  {book}");
    } else {
        let _ = writeln!(out, "  encoding:  {}", pre.format.encoding_label());
        let _ = writeln!(out, "  delimiter: {}", pre.format.delimiter_label());
    }
    let _ = writeln!(out, "  CAKE API:  {}", api_version_said(version));
    let (decimal, dates) = pre.formats.describe();
    if [Param::Payout, Param::Received]
        .iter()
        .any(|p| pre.columns.column(*p).is_some())
    {
        let _ = writeln!(out, "  amounts:   {decimal}");
    }
    if pre.columns.column(Param::CustomDate).is_some() || pre.columns.conversion_date.is_some() {
        let _ = writeln!(out, "  dates:     {dates}");
    }
    if pre.header_row > 1 {
        let _ = writeln!(
            out,
            "  header:    row {} (the rows above it were skipped as titles; --header-row N to choose)",
            pre.header_row
        );
    }
    let _ = writeln!(
        out,
        "  rows:      {} data rows ({} valid, {} invalid)",
        pre.rows,
        pre.valid(),
        pre.invalid
    );
    for note in &pre.skipped_notes {
        let _ = writeln!(out, "  skipped:   {note}");
    }
    for line in pre.unseen.preview_lines(false) {
        let _ = writeln!(out, "  unseen:    {line}");
    }
    let _ = writeln!(out, "Columns:");
    let width = pre
        .header
        .iter()
        .map(|h| h.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    for (i, header) in pre.header.iter().enumerate() {
        column_line(&mut out, pre, i, header, width);
    }
    for note in &pre.columns.inferred {
        let _ = writeln!(out, "  (from its cells) {note}");
    }
    let sets: Vec<String> = PARAMS
        .iter()
        .filter_map(|s| match pre.columns.source(s.param) {
            Source::Set { raw, value: _ } => Some(format!("  --set {}={raw}", s.name)),
            _ => None,
        })
        .collect();
    if !sets.is_empty() {
        let _ = writeln!(out, "Set for every row:");
        for s in sets {
            let _ = writeln!(out, "{s}");
        }
    }
    let _ = writeln!(out, "Defaults applied (no column, no --set):");
    for spec in PARAMS {
        if matches!(pre.columns.source(spec.param), Source::Default)
            && let Some(text) = default_text(spec.param, version)
        {
            let _ = writeln!(out, "  {:<26} {text}", spec.name);
        }
    }
    out
}

/// A sample value on one line: control characters shown escaped.
fn one_line(v: &str) -> String {
    v.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Renders the totals over the rows that would be sent.
#[must_use]
pub(crate) fn totals(t: &Totals, invalid: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Would send {} rows ({} idempotent, {} additive); {} invalid rows would not be sent.",
        t.rows, t.idempotent, t.additive, invalid
    );
    let list = |m: &std::collections::BTreeMap<&str, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "  by disposition_type: {}", list(&t.by_disposition));
    let _ = writeln!(
        out,
        "  by received_option:  {}",
        list(&t.by_received_option)
    );
    let _ = writeln!(
        out,
        "  Σ payout:   {} (set {}, added {})",
        grouped(t.payout()),
        grouped(t.payout_set),
        grouped(t.payout_added)
    );
    let _ = writeln!(out, "  Σ received: {}", grouped(t.received));
    out
}

/// Renders up to three example requests exactly as they would be sent, key hidden.
#[must_use]
pub(crate) fn examples(endpoint: &Endpoint, updates: &[ConversionUpdate]) -> String {
    let mut out = String::new();
    if updates.is_empty() {
        return out;
    }
    let _ = writeln!(out, "Example requests (api_key hidden):");
    for u in updates {
        let _ = writeln!(out, "  row {}: {}", u.row, endpoint.display(u));
    }
    out
}

/// The first row errors of a pre-pass, and how many more there are.
#[must_use]
pub(crate) fn invalid_list(pre: &PrePass) -> String {
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
        let _ = writeln!(
            s,
            "  … and {more} more (every row is listed in the results file)"
        );
    }
    s
}

/// One column of the preview: the field it sends, what else it is for, or why it is ignored.
fn column_line(out: &mut String, pre: &PrePass, i: usize, header: &str, width: usize) {
    let quoted = format!("\"{header}\"");
    let field = PARAMS
        .iter()
        .find(|s| pre.columns.column(s.param) == Some(i));
    let samples = pre
        .samples
        .get(i)
        .map(|s| {
            s.iter()
                .map(|v| one_line(v))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default();
    if let Some(spec) = field {
        let values = pre
            .columns
            .values_said(i)
            .map_or(String::new(), |v| format!(" (values: {v})"));
        let _ = writeln!(
            out,
            "  {quoted:<width$} -> {:<24} e.g. {samples}{values}",
            spec.name
        );
    } else if pre.columns.conversion_date == Some(i) {
        // Not sent, but not ignored: it gives the window CAKE is read in.
        let _ = writeln!(
            out,
            "  {quoted:<width$} -> {:<24} e.g. {samples} (not sent: the read-back window)",
            "conversion date"
        );
    } else {
        let hint = pre
            .columns
            .suggested_map(header)
            .map_or(String::new(), |map| {
                format!(": if it is meant to be sent, {map}")
            });
        let _ = writeln!(out, "  {quoted:<width$}    (ignored{hint})");
    }
}

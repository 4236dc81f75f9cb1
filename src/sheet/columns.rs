//! Header matching: which sheet column (or `--set` value, or default) feeds each CAKE parameter.

use super::SheetError;
use super::cells::{CellParser, Value};
use super::parse::normalize_token;
pub(crate) use super::values::ValueMap;
use super::values::value_maps;
use crate::update::{PARAMS, Param};

/// Where a parameter's value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Neither a column nor `--set`: the contract's default applies.
    Default,
    /// A sheet column (0-based index) and its header as written.
    Column { index: usize, header: String },
    /// `--set FIELD=VALUE`, already parsed.
    Set { raw: String, value: Value },
}

/// The resolved header: one [`Source`] per parameter, plus what was ignored.
#[derive(Debug, Clone)]
pub struct Columns {
    sources: Vec<Source>,
    /// Headers that feed no parameter, as written.
    pub ignored: Vec<String>,
    /// `--values`: column index → (cell as normalised, the value it stands for).
    value_maps: Vec<super::values::ColumnValues>,
    /// What the sheet's cells decided about its columns (a `Status` column of `Approved` and
    /// `Rejected` read as the disposition), for the preview.
    pub inferred: Vec<String>,
    /// The column of the conversions' dates (not sent: it gives the read-back window), by its
    /// header or `--map "X=conversion_date"`.
    pub conversion_date: Option<usize>,
    /// Its header, as written (for its cells' errors).
    conversion_date_header: String,
}

impl Columns {
    /// Where `param` comes from.
    #[must_use]
    pub fn source(&self, param: Param) -> &Source {
        self.sources.get(param as usize).unwrap_or(&Source::Default)
    }

    /// The value `raw` (trimmed) stands for under the column's `--values` map, when it has one
    /// and names `raw`.
    #[must_use]
    pub(crate) fn mapped_value(&self, index: usize, raw: &str) -> Option<&str> {
        if self.value_maps.is_empty() {
            return None;
        }
        let (_, pairs) = self.value_maps.iter().find(|(i, _)| *i == index)?;
        let key = normalize_token(raw);
        pairs
            .iter()
            .find(|(from, _)| *from == key)
            .map(|(_, to)| to.as_str())
    }

    /// The column's `--values` map in words (`yes → approved, no → rejected`), when it has one.
    #[must_use]
    pub fn values_said(&self, index: usize) -> Option<String> {
        let (_, pairs) = self.value_maps.iter().find(|(i, _)| *i == index)?;
        Some(
            pairs
                .iter()
                .map(|(from, to)| format!("{from} → {to}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// The conversion-date column's header, as written (empty without one).
    #[must_use]
    pub(crate) fn conversion_date_header(&self) -> &str {
        &self.conversion_date_header
    }

    /// The columns that give a row's conversion id, request session id or transaction id.
    #[must_use]
    pub(crate) fn id_columns(&self) -> Vec<usize> {
        [
            Param::ConversionId,
            Param::RequestSessionId,
            Param::TransactionId,
        ]
        .iter()
        .filter_map(|p| self.column(*p))
        .collect()
    }

    /// The column index feeding `param`, if a column does.
    #[must_use]
    pub fn column(&self, param: Param) -> Option<usize> {
        match self.source(param) {
            Source::Column { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The field the column at `index` feeds, as detected or chosen (`None`: ignored).
    #[must_use]
    pub(crate) fn field_at(&self, index: usize) -> Option<Param> {
        crate::update::PARAMS
            .iter()
            .find(|s| self.column(s.param) == Some(index))
            .map(|s| s.param)
    }

    /// The `--map` an ignored header probably wants, when it looks like a field no column or
    /// `--set` gives yet.
    #[must_use]
    pub(crate) fn suggested_map(&self, header: &str) -> Option<String> {
        self.suggested_field(header).map(|p| match p {
            // Set or add, and which amount: the header's words decide the advice.
            Param::Payout | Param::Received => super::hints::amount_hint(header.trim(), |_| None),
            _ => format!("add --map \"{}={}\"", header.trim(), p.name()),
        })
    }

    /// The field an ignored header probably is, when no column or `--set` gives it yet.
    #[must_use]
    pub(crate) fn suggested_field(&self, header: &str) -> Option<Param> {
        let p = looks_like(header)?;
        matches!(self.source(p), Source::Default).then_some(p)
    }

    /// Which `--map` to add for the ignored headers that look like fields, in words.
    #[must_use]
    pub(crate) fn map_advice(&self) -> String {
        let maps: Vec<String> = self
            .ignored
            .iter()
            .filter_map(|h| self.suggested_map(h))
            .collect();
        if maps.is_empty() {
            "Add a column for what the row changes, or --set FIELD=VALUE for every row \
             (e.g. --set disposition_type=approved)"
                .to_string()
        } else {
            format!("Ignored columns look like fields: {}", maps.join("; "))
        }
    }

    /// How `param` is named in messages: the sheet header, or `--set name`.
    #[must_use]
    pub fn label(&self, param: Param) -> String {
        match self.source(param) {
            Source::Column { header, .. } => header.clone(),
            Source::Set { .. } => format!("--set {}", param.name()),
            Source::Default => param.name().to_string(),
        }
    }
}

/// Reads a field name as users write it (`Conversion ID`, `request_id`, and the synonyms finance
/// sheets use for the ids and the approved payout) into a parameter.
pub(super) fn field_by_name(name: &str) -> Option<Param> {
    match header_key(name).as_str() {
        "request_id" | "session_id" | "requestsessionid" | "click_id" | "request_session" => {
            Some(Param::RequestSessionId)
        }
        "conv_id" | "conversionid" | "conversion_no" | "conversion_number" | "conversion_#"
        | "conv_#" | "conv_no" | "cake_conversion_id" | "cake_id" | "cake_conv_id"
        | "conversion_num" | "conv_number" => Some(Param::ConversionId),
        "txn_id" | "tx_id" | "transactionid" | "transaction" | "txn" | "order_id" | "order_no"
        | "order_number" | "order_#" | "transaction_no" | "transaction_number"
        | "transaction_#" | "txn_#" | "txn_no" | "order_ref" | "order_reference" => {
            Some(Param::TransactionId)
        }
        // Only names that cannot mean the original amount: a bare `Revenue` or `Commission`
        // column is often what the conversion had, shown for reference.
        "approved_payout"
        | "payout_amount"
        | "final_payout"
        | "new_payout"
        | "adjusted_payout"
        | "payout_approved"
        | "approved_commission" => Some(Param::Payout),
        "approved_revenue" | "approved_received" | "received_amount" | "new_revenue"
        | "adjusted_revenue" | "final_revenue" => Some(Param::Received),
        "disposition" | "disposition_status" => Some(Param::DispositionType),
        "offerid" | "offer_#" => Some(Param::OfferId),
        "api_key" => None,
        other => Param::from_name(other),
    }
}

/// A header as the synonym table reads it: normalised (`Conv. ID` → `conv_id`), its dots
/// dropped, and a currency named after it dropped (`Payout (USD)` → `payout`): the currency a
/// column is in does not change what it is.
fn header_key(name: &str) -> String {
    let mut key: String = normalize_token(name)
        .chars()
        .filter(|c| *c != '.')
        .collect();
    for suffix in [
        "_(usd)", "_(eur)", "_(gbp)", "_($)", "_(€)", "_(£)", "_usd", "_eur", "_gbp", "_in_usd",
        "_in_eur",
    ] {
        if let Some(k) = key.strip_suffix(suffix) {
            key = k.to_string();
            break;
        }
    }
    key
}

/// A `--map` target that says how the amount counts: `payout+` adds to the payout,
/// `revenue+` is additional revenue, `sale_amount`/`sale_amount+` the total or additional sale
/// amount. Returns the field the column feeds, and the option (and its value) implied.
fn adding_target(to: &str) -> Option<(Param, Param, &'static str)> {
    match normalize_token(to).as_str() {
        "payout+" => Some((Param::Payout, Param::AddToExistingPayout, "true")),
        "revenue+" | "received+" => {
            Some((Param::Received, Param::ReceivedOption, "additional_revenue"))
        }
        "sale_amount" => Some((Param::Received, Param::ReceivedOption, "total_sale_amount")),
        "sale_amount+" => Some((
            Param::Received,
            Param::ReceivedOption,
            "additional_sale_amount",
        )),
        _ => None,
    }
}

/// Headers that hold the conversion's date (normalised): not an `UpdateConversion` parameter,
/// read to choose the read-back window, and with the sheet's own evidence of day-first dates.
pub(crate) const CONVERSION_DATE_HEADERS: [&str; 5] = [
    "conversion_date",
    "event_conversion_date",
    "conv_date",
    "conversion_date_time",
    "date_of_conversion",
];

/// The `--map` target that names the conversion-date column.
pub(crate) const CONVERSION_DATE: &str = "conversion_date";

/// How many cells of a row read as field names: a header row has some, a title line none.
pub(crate) fn recognised(record: &csv::StringRecord) -> usize {
    record.iter().filter(|c| field_by_name(c).is_some()).count()
}

/// The field an ignored header probably meant, for a `--map` suggestion (never applied on its
/// own: `Status` or `Revenue` can mean several things).
pub(crate) fn looks_like(header: &str) -> Option<Param> {
    let h = normalize_token(header);
    let has = |w: &str| h.contains(w);
    if has("payout") || has("commission") {
        Some(Param::Payout)
    } else if has("revenue") || has("received") || has("sale_amount") {
        Some(Param::Received)
    } else if has("status") || has("disposition") || has("approval") {
        Some(Param::DispositionType)
    } else if has("note") || has("comment") {
        Some(Param::NoteToAppend)
    } else if (has("conv") && has("id")) || h == "id" {
        Some(Param::ConversionId)
    } else if has("order") || has("transaction") {
        Some(Param::TransactionId)
    } else {
        None
    }
}

/// Parameters that only say *which* conversion a row is about: a sheet with nothing else
/// changes nothing.
const IDENTIFY: [Param; 5] = [
    Param::ApiKey,
    Param::OfferId,
    Param::ConversionId,
    Param::RequestSessionId,
    Param::TransactionId,
];

/// Resolves the header row against `--map` and `--set`.
///
/// `maps` are `(HEADER, FIELD)` pairs and `sets` are `(FIELD, VALUE)` pairs, as given.
#[expect(
    clippy::too_many_lines,
    reason = "the header rules in the order they apply: --map, names, aliases, --set, conflicts"
)]
pub(crate) fn resolve_header(
    header: &csv::StringRecord,
    maps: &[(String, String)],
    sets: &[(String, String)],
    values: &[ValueMap],
    api_version: u8,
    cells: CellParser,
) -> Result<Columns, SheetError> {
    let bad = |problem: String| SheetError::Header { problem };
    let normalized: Vec<String> = header.iter().map(normalize_token).collect();
    // A column with a value map and no field of its own holds decisions: the disposition.
    let mut maps = maps.to_vec();
    for v in values {
        let key = normalize_token(&v.column);
        let named = maps.iter().any(|(from, _)| normalize_token(from) == key);
        let known = normalized
            .iter()
            .position(|h| *h == key)
            .is_some_and(|i| field_by_name(&normalized[i]).is_some());
        if !named && !known {
            maps.push((v.column.clone(), Param::DispositionType.name().to_string()));
        }
    }
    // The adding targets (`payout+`, `revenue+`, `sale_amount`, `sale_amount+`): the column
    // feeds the amount, and the option that says how it counts is implied for every row —
    // unless the sheet or a --set already says it (then theirs stands).
    let mut implied: Vec<(Param, &'static str)> = Vec::new();
    for (_, to) in &mut maps {
        if let Some((field, option, value)) = adding_target(to) {
            *to = field.name().to_string();
            implied.push((option, value));
        }
    }
    // `--map "X=conversion_date"`: not a CAKE field, the column the read-back window comes from.
    let mut conversion_date = None;
    let mut rest = Vec::with_capacity(maps.len());
    for (from, to) in maps {
        if normalize_token(&to) != CONVERSION_DATE {
            rest.push((from, to));
            continue;
        }
        let key = normalize_token(&from);
        let index = normalized.iter().position(|h| *h == key).ok_or_else(|| {
            bad(format!(
                "--map \"{from}={to}\": the sheet has no column \"{from}\"; its columns are: {}",
                column_list(header)
            ))
        })?;
        if conversion_date.replace(index).is_some() {
            return Err(bad(format!(
                "--map names two conversion_date columns; keep one (\"{from}\" is the second)"
            )));
        }
    }
    let maps = &rest[..];

    // --map overrides, keyed by column index; `Some(None)`: `--map "HEADER=ignore"`.
    let mut mapped: Vec<Option<Option<Param>>> = vec![None; normalized.len()];
    for (from, to) in maps {
        let ignore = normalize_token(to) == IGNORE;
        let field = (!ignore).then(|| field_by_name(to));
        let field = field.map(|f| f.ok_or_else(|| {
            bad(format!(
                "--map \"{from}={to}\": \"{to}\" is not a CAKE UpdateConversion field; use one of: {}",
                field_names()
            ))
        })).transpose()?;
        let key = normalize_token(from);
        let index = normalized.iter().position(|h| *h == key).ok_or_else(|| {
            bad(format!(
                "--map \"{from}={to}\": the sheet has no column \"{from}\"; its columns are: {}",
                column_list(header)
            ))
        })?;
        let slot = mapped
            .get_mut(index)
            .ok_or_else(|| bad("internal: column index".into()))?;
        if slot.is_some() {
            return Err(bad(format!(
                "--map names column \"{from}\" twice; keep one"
            )));
        }
        *slot = Some(field);
    }

    // Else a header that names it, and that --map does not send elsewhere.
    let conversion_date = conversion_date.or_else(|| {
        normalized.iter().enumerate().position(|(i, h)| {
            CONVERSION_DATE_HEADERS.contains(&h.as_str())
                && mapped.get(i).is_some_and(Option::is_none)
        })
    });
    let mut sources: Vec<Source> = vec![Source::Default; PARAMS.len()];
    let mut ignored = Vec::new();
    for (index, (raw, norm)) in header.iter().zip(&normalized).enumerate() {
        let field = match mapped.get(index).copied().flatten() {
            Some(choice) => choice,
            None if conversion_date == Some(index) => continue,
            None => field_by_name(norm),
        };
        let Some(field) = field else {
            if !raw.trim().is_empty() {
                ignored.push(raw.to_string());
            }
            continue;
        };
        check_version(field, api_version, &format!("column \"{raw}\""))?;
        let slot = sources
            .get_mut(field as usize)
            .ok_or_else(|| bad("internal: field".into()))?;
        if let Source::Column { header: first, .. } = slot {
            return Err(bad(format!(
                "columns \"{first}\" and \"{raw}\" both give {}; remove one, or --map one of \
                 them to another field",
                field.name()
            )));
        }
        *slot = Source::Column {
            index,
            header: raw.to_string(),
        };
    }

    let mut sets = sets.to_vec();
    for (option, value) in implied {
        let given = matches!(sources.get(option as usize), Some(Source::Column { .. }))
            || sets.iter().any(|(n, _)| field_by_name(n) == Some(option));
        if !given {
            sets.push((option.name().to_string(), value.to_string()));
        }
    }
    for (name, raw) in &sets {
        let field = field_by_name(name).ok_or_else(|| {
            bad(format!(
                "--set {name}={raw}: \"{name}\" is not a CAKE UpdateConversion field; use one of: {}",
                field_names()
            ))
        })?;
        check_version(field, api_version, &format!("--set {name}"))?;
        let slot = sources
            .get_mut(field as usize)
            .ok_or_else(|| bad("internal: field".into()))?;
        match slot {
            Source::Column { header, .. } => {
                return Err(bad(format!(
                    "{} is given both by column \"{header}\" and by --set {name}; drop one",
                    field.name()
                )));
            }
            Source::Set { .. } => {
                return Err(bad(format!("--set {name} is given twice; keep one")));
            }
            Source::Default => {}
        }
        let value = cells
            .parse(field, raw.trim())
            .map_err(|problem| bad(format!("--set {name}={raw}: {problem}")))?;
        *slot = Source::Set {
            raw: raw.clone(),
            value,
        };
    }

    let ids = [
        Param::ConversionId,
        Param::RequestSessionId,
        Param::TransactionId,
    ];
    if ids
        .iter()
        .all(|p| matches!(sources.get(*p as usize), Some(Source::Default)))
    {
        return Err(bad(format!(
            "the sheet has no id column: it needs at least one of conversion_id, \
             request_session_id (or request_id), transaction_id; its columns are: {} \
             (use --map \"YOUR HEADER=conversion_id\" if it is named differently)",
            column_list(header)
        )));
    }
    let field_of = |index: usize| {
        PARAMS.iter().map(|s| s.param).find(|p| {
            matches!(sources.get(*p as usize), Some(Source::Column { index: i, .. }) if *i == index)
        })
    };
    let value_maps = value_maps(values, &normalized, field_of, cells, || column_list(header))?;
    Ok(Columns {
        sources,
        ignored,
        value_maps,
        inferred: Vec::new(),
        conversion_date,
        conversion_date_header: conversion_date
            .and_then(|i| header.get(i))
            .unwrap_or_default()
            .to_string(),
    })
}

/// [`resolve_header`], then [`changes_something`].
#[cfg(test)]
pub(crate) fn resolve(
    header: &csv::StringRecord,
    maps: &[(String, String)],
    sets: &[(String, String)],
    values: &[ValueMap],
    api_version: u8,
    cells: CellParser,
) -> Result<Columns, SheetError> {
    let columns = resolve_header(header, maps, sets, values, api_version, cells)?;
    changes_something(&columns)?;
    Ok(columns)
}

/// Refuses columns that only identify conversions: every row would be sent without a change.
/// Asked after the column profile, which may find the disposition in a column of its own words.
pub(crate) fn changes_something(columns: &Columns) -> Result<(), SheetError> {
    if PARAMS
        .iter()
        .filter(|s| !IDENTIFY.contains(&s.param))
        .all(|s| matches!(columns.source(s.param), Source::Default))
    {
        return Err(SheetError::Header {
            problem: format!(
                "the sheet changes nothing: only its ids were recognised (no column for payout, \
                 received, disposition_type, note_to_append or another field), so every row \
                 would be sent without a change. {}",
                columns.map_advice()
            ),
        });
    }
    Ok(())
}

/// A field newer than the API version in use is an error naming where it came from.
fn check_version(field: Param, api_version: u8, source: &str) -> Result<(), SheetError> {
    let since = field.spec().since_version;
    if since > api_version {
        return Err(SheetError::Header {
            problem: format!(
                "{source} gives {}, which only API version {since} has; add --api-version {since}",
                field.name()
            ),
        });
    }
    Ok(())
}

/// The sheet's headers for a message: at most 12, each at most 40 characters, one line.
fn column_list(header: &csv::StringRecord) -> String {
    let mut names: Vec<String> = header
        .iter()
        .take(12)
        .map(|h| {
            let h: String = h
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            if h.chars().count() > 40 {
                format!("{}…", h.chars().take(40).collect::<String>())
            } else {
                h
            }
        })
        .collect();
    if header.len() > 12 {
        names.push(format!("… ({} columns in all)", header.len()));
    }
    names.join(", ")
}

/// `--map "HEADER=ignore"`: the column feeds nothing, even when its name is a field's.
pub(crate) const IGNORE: &str = "ignore";

fn field_names() -> String {
    PARAMS
        .iter()
        .filter(|s| s.param != Param::ApiKey)
        .map(|s| s.name)
        .chain([CONVERSION_DATE, IGNORE])
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

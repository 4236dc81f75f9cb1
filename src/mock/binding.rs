//! ASP.NET-style strict parameter binding, driven by the parameter table.
//!
//! Over GET/POST an `.asmx` endpoint answers HTTP 500 `Missing parameter: NAME.` when a parameter
//! is absent and `Cannot convert …` when a value does not parse. Over SOAP, missing or misspelled
//! elements are silently given their type's default — the trap that lost a public client every
//! note. The emulator reproduces both so the client's mistakes show up in tests.

use crate::update::{PARAMS, Param, ParamType, params_for};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

/// A fully bound `UpdateConversion` call, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub api_key: String,
    pub offer_id: i32,
    pub conversion_id: i32,
    pub request_session_id: i32,
    pub transaction_id: String,
    pub payout: Decimal,
    pub add_to_existing_payout: bool,
    pub received: Decimal,
    pub received_option: String,
    pub disposition_type: String,
    pub disposition_id: i32,
    pub update_revshare_payout: bool,
    pub effective_date_option: String,
    pub custom_date: NaiveDateTime,
    pub note_to_append: String,
    pub disallow_on_billing_status: Option<String>,
}

/// A bound value.
#[derive(Debug, Clone)]
enum Bound {
    Text(String),
    Int(i32),
    Decimal(Decimal),
    Bool(bool),
    Date(NaiveDateTime),
}

/// Why binding failed: the text an `.asmx` endpoint puts in its HTTP 500 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BindError(pub String);

fn dotnet_type(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Int => "System.Int32",
        ParamType::Decimal => "System.Decimal",
        ParamType::Bool => "System.Boolean",
        ParamType::DateTime => "System.DateTime",
        ParamType::Enumeration(_) | ParamType::Text => "System.String",
    }
}

/// `DateTime.Parse` with the invariant culture, for the forms clients send: month first,
/// 24-hour or AM/PM times, ISO with `T` or a space, fractions of a second (`1/1/2001 12:00:00
/// AM`, `2001-01-01T00:00:00.000`, `2067-10-20 13:31:59.7`).
fn parse_dotnet_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for fmt in [
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %I:%M:%S %p",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    ["%m/%d/%Y", "%Y-%m-%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .map(|d| d.and_time(NaiveTime::MIN))
}

fn bind_one(ty: ParamType, raw: &str) -> Option<Bound> {
    let t = raw.trim();
    Some(match ty {
        ParamType::Text => Bound::Text(raw.to_string()),
        ParamType::Enumeration(values) => {
            Bound::Text(values.iter().find(|v| **v == t)?.to_string())
        }
        ParamType::Int => {
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Bound::Int(i32::from_str(t.strip_prefix('+').unwrap_or(t)).ok()?)
        }
        ParamType::Decimal => {
            // `Decimal.Parse` (NumberStyles.Number, invariant): a sign, thousands commas in the
            // whole part, one decimal point.
            let body = t.strip_prefix(['-', '+']).unwrap_or(t);
            let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
            let whole: String = whole.chars().filter(|c| *c != ',').collect();
            let ok = !(body.starts_with(',') || whole.is_empty() && frac.is_empty())
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return None;
            }
            let sign = if t.starts_with('-') { "-" } else { "" };
            let whole = if whole.is_empty() { "0" } else { &whole };
            let text = if frac.is_empty() {
                format!("{sign}{whole}")
            } else {
                format!("{sign}{whole}.{frac}")
            };
            Bound::Decimal(Decimal::from_str_exact(&text).ok()?)
        }
        ParamType::Bool => match t.to_ascii_lowercase().as_str() {
            "true" => Bound::Bool(true),
            "false" => Bound::Bool(false),
            _ => return None,
        },
        ParamType::DateTime => Bound::Date(parse_dotnet_date(t)?),
    })
}

/// How missing parameters are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strictness {
    /// GET/POST: a missing parameter is an error.
    Form,
    /// SOAP: a missing element takes its type's default.
    Soap,
}

/// Binds the named values of one request for `version`.
pub(super) fn bind(
    values: &HashMap<String, String>,
    version: u8,
    strictness: Strictness,
) -> Result<Call, BindError> {
    // Indexed by parameter: every read below names a `Param`, so a field cannot be read under
    // a misspelled name (which would silently bind its default).
    let mut bound: Vec<Option<Bound>> = vec![None; PARAMS.len()];
    for spec in params_for(version) {
        let value = match values.get(spec.name) {
            Some(raw) => bind_one(spec.ty, raw).ok_or_else(|| {
                BindError(format!(
                    "System.InvalidOperationException: Cannot convert {raw} to {}.\r\nParameter \
                     name: type ---> System.FormatException: Input string was not in a correct \
                     format.",
                    dotnet_type(spec.ty)
                ))
            })?,
            None if strictness == Strictness::Form => {
                return Err(BindError(format!(
                    "System.InvalidOperationException: Missing parameter: {}.",
                    spec.name
                )));
            }
            None => match spec.ty {
                ParamType::Int => Bound::Int(0),
                ParamType::Decimal => Bound::Decimal(Decimal::ZERO),
                ParamType::Bool => Bound::Bool(false),
                ParamType::DateTime => Bound::Date(NaiveDateTime::MIN),
                ParamType::Enumeration(v) => Bound::Text(v.first().copied().unwrap_or("").into()),
                ParamType::Text => Bound::Text(String::new()),
            },
        };
        if let Some(slot) = bound.get_mut(spec.param as usize) {
            *slot = Some(value);
        }
    }
    let get = |p: Param| bound.get(p as usize).and_then(Option::as_ref);
    let int = |p| match get(p) {
        Some(Bound::Int(v)) => *v,
        _ => 0,
    };
    let dec = |p| match get(p) {
        Some(Bound::Decimal(v)) => *v,
        _ => Decimal::ZERO,
    };
    let boolean = |p| matches!(get(p), Some(Bound::Bool(true)));
    let text = |p| match get(p) {
        Some(Bound::Text(v)) => v.clone(),
        _ => String::new(),
    };
    Ok(Call {
        api_key: text(Param::ApiKey),
        offer_id: int(Param::OfferId),
        conversion_id: int(Param::ConversionId),
        request_session_id: int(Param::RequestSessionId),
        transaction_id: text(Param::TransactionId),
        payout: dec(Param::Payout),
        add_to_existing_payout: boolean(Param::AddToExistingPayout),
        received: dec(Param::Received),
        received_option: text(Param::ReceivedOption),
        disposition_type: text(Param::DispositionType),
        disposition_id: int(Param::DispositionId),
        update_revshare_payout: boolean(Param::UpdateRevsharePayout),
        effective_date_option: text(Param::EffectiveDateOption),
        custom_date: match get(Param::CustomDate) {
            Some(Bound::Date(d)) => *d,
            _ => NaiveDateTime::MIN,
        },
        note_to_append: text(Param::NoteToAppend),
        disallow_on_billing_status: (version >= 4).then(|| text(Param::DisallowOnBillingStatus)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(version: u8) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = [
            ("api_key", "k"),
            ("offer_id", "0"),
            ("conversion_id", "0042"),
            ("request_session_id", "0"),
            ("transaction_id", ""),
            ("payout", "20.50"),
            ("add_to_existing_payout", "False"),
            ("received", "-3"),
            ("received_option", "total_revenue"),
            ("disposition_type", "approved"),
            ("disposition_id", "0"),
            ("update_revshare_payout", "true"),
            ("effective_date_option", "custom"),
            ("custom_date", "09/30/2026 14:05:00"),
            ("note_to_append", " a b "),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        if version == 4 {
            m.insert("disallow_on_billing_status".into(), "ignore".into());
        }
        m
    }

    #[test]
    fn binds_every_parameter() {
        let c = bind(&full(4), 4, Strictness::Form).unwrap();
        assert_eq!(c.api_key, "k");
        assert_eq!(c.conversion_id, 42);
        assert_eq!(c.payout.to_string(), "20.50");
        assert!(!c.add_to_existing_payout);
        assert_eq!(c.received.to_string(), "-3");
        assert_eq!(c.disposition_type, "approved");
        assert!(c.update_revshare_payout);
        assert_eq!(c.custom_date.to_string(), "2026-09-30 14:05:00");
        assert_eq!(c.note_to_append, " a b ");
        assert_eq!(c.disallow_on_billing_status.as_deref(), Some("ignore"));
    }

    #[test]
    fn missing_parameter_is_an_error_over_forms() {
        for spec in params_for(4) {
            let mut m = full(4);
            m.remove(spec.name);
            let err = bind(&m, 4, Strictness::Form).unwrap_err();
            assert!(
                err.0
                    .contains(&format!("Missing parameter: {}.", spec.name)),
                "{err:?}"
            );
        }
        // v2 does not know disallow_on_billing_status: not required.
        assert!(bind(&full(2), 2, Strictness::Form).is_ok());
    }

    #[test]
    fn missing_element_takes_a_default_over_soap() {
        let mut m = full(2);
        m.remove("note_to_append");
        m.insert("note_to_apend".into(), "lost".into());
        let c = bind(&m, 2, Strictness::Soap).unwrap();
        assert_eq!(c.note_to_append, "");
    }

    #[test]
    fn unconvertible_values() {
        for (name, bad) in [
            ("conversion_id", "12a"),
            ("conversion_id", "2147483648"),
            ("payout", "$5"),
            ("payout", "1e3"),
            ("add_to_existing_payout", "1"),
            ("add_to_existing_payout", "yes"),
            ("received_option", "Total_Revenue"),
            ("disposition_type", "approve"),
            ("custom_date", ""),
            ("custom_date", "30/09/2026 14:05:00"),
        ] {
            let mut m = full(2);
            m.insert(name.into(), bad.into());
            let err = bind(&m, 2, Strictness::Form).unwrap_err();
            assert!(err.0.contains("Cannot convert"), "{name}={bad}: {err:?}");
        }
    }
}

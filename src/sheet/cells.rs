//! One cell → one typed value, by the parameter it feeds (the string rules live in
//! [`super::parse`]).

use super::parse::{
    DateOrder, DecimalStyle, normalize_token, parse_amount, parse_bool, parse_date, parse_enum,
    parse_id, parse_transaction_id,
};
use crate::update::{DispositionType, EffectiveDateOption, Param, ParamType, ReceivedOption};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// A parsed cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i32),
    Text(String),
    Amount(Decimal),
    Bool(bool),
    Received(ReceivedOption),
    Disposition(DispositionType),
    EffectiveDate(EffectiveDateOption),
    Date(NaiveDateTime),
}

/// The sheet-wide reading rules for cells.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CellParser {
    pub decimal: DecimalStyle,
    pub date_order: DateOrder,
}

impl CellParser {
    /// Parses one non-empty, trimmed cell for `param`.
    pub(crate) fn parse(self, param: Param, s: &str) -> Result<Value, String> {
        Ok(match param {
            Param::TransactionId => Value::Text(parse_transaction_id(s)?),
            Param::ReceivedOption => Value::Received(parse_enum(
                s,
                ReceivedOption::from_wire,
                ReceivedOption::choices,
            )?),
            Param::DispositionType => {
                Value::Disposition(parse_enum(s, disposition_word, DispositionType::choices)?)
            }
            Param::EffectiveDateOption => Value::EffectiveDate(parse_enum(
                s,
                EffectiveDateOption::from_wire,
                EffectiveDateOption::choices,
            )?),
            Param::DisallowOnBillingStatus => {
                let token = normalize_token(s);
                if token.is_empty()
                    || !token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err("expected a billing status such as ignore".into());
                }
                Value::Text(token)
            }
            _ => match param.spec().ty {
                ParamType::Int => Value::Int(parse_id(s)?),
                ParamType::Decimal => Value::Amount(parse_amount(s, self.decimal)?),
                ParamType::Bool => Value::Bool(parse_bool(s)?),
                ParamType::DateTime => Value::Date(parse_date(s, self.date_order)?),
                ParamType::Text | ParamType::Enumeration(_) => Value::Text(s.to_string()),
            },
        })
    }
}

/// A disposition as finance sheets write it: CAKE's own words (`approved`, `rejected`,
/// `pending`, `returned`, `no_change`) and the verbs and synonyms people use for them
/// (`Approve`, `Accepted`, `Reject`, `Declined`, `Denied`, `On hold`, `Reversed`). The one table
/// of them: the cell parser and the column profile both read it. `token` is normalised
/// (`normalize_token`).
#[must_use]
pub(crate) fn disposition_word(token: &str) -> Option<DispositionType> {
    exact_disposition(token).or_else(|| {
        // A decision and its reason in one cell (`Rejected - duplicate`, `Approved (late)`,
        // `On hold: fraud review`): the leading one or two words decide.
        let words: Vec<&str> = token
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.len() < 2 {
            return None;
        }
        let two = format!("{}_{}", words[0], words[1]);
        exact_disposition(&two).or_else(|| exact_disposition(words[0]))
    })
}

/// One of the words [`disposition_word`] reads, exactly.
fn exact_disposition(token: &str) -> Option<DispositionType> {
    DispositionType::from_wire(token).or(match token {
        "approve" | "accept" | "accepted" => Some(DispositionType::Approved),
        "reject" | "declined" | "decline" | "denied" | "deny" => Some(DispositionType::Rejected),
        "on_hold" | "hold" | "in_review" | "under_review" => Some(DispositionType::Pending),
        "return" | "reversed" | "reverse" | "refunded" | "chargeback" => {
            Some(DispositionType::Returned)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_words_as_people_write_them() {
        let p = CellParser::default();
        for (cell, d) in [
            ("Approved", DispositionType::Approved),
            ("APPROVE", DispositionType::Approved),
            ("Reject", DispositionType::Rejected),
            ("Declined", DispositionType::Rejected),
            ("On Hold", DispositionType::Pending),
            ("pending", DispositionType::Pending),
            ("Returned", DispositionType::Returned),
        ] {
            assert_eq!(
                p.parse(Param::DispositionType, cell),
                Ok(Value::Disposition(d)),
                "{cell}"
            );
        }
        assert!(p.parse(Param::DispositionType, "Yes").is_err());
        for (cell, d) in [
            ("Rejected - duplicate", DispositionType::Rejected),
            ("Approved (late)", DispositionType::Approved),
            ("On hold: fraud review", DispositionType::Pending),
        ] {
            assert_eq!(
                p.parse(Param::DispositionType, cell),
                Ok(Value::Disposition(d)),
                "{cell}"
            );
        }
        for junk in ["Not approved", "Unapproved - fraud", "Maybe rejected"] {
            assert!(p.parse(Param::DispositionType, junk).is_err(), "{junk}");
        }
    }
}

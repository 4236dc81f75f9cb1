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
            Param::DispositionType => Value::Disposition(parse_enum(
                s,
                DispositionType::from_wire,
                DispositionType::choices,
            )?),
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

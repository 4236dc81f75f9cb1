//! Row → [`ConversionUpdate`], or the list of everything wrong with the row.

use super::cells::{CellParser, Value};
use super::columns::{Columns, Source};
use crate::update::{
    ConversionUpdate, DispositionType, EffectiveDateOption, Offer, Param, ReceivedOption,
};
use rust_decimal::Decimal;
use std::fmt;

/// One problem with one row: names the row, the column, the value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub row: u64,
    /// The header as written, `--set name`, or the field name for row-level rules.
    pub column: String,
    /// The offending value (shortened), if one cell is to blame.
    pub value: Option<String>,
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, column \"{}\"", self.row, self.column.trim())?;
        if let Some(v) = &self.value {
            write!(f, ", value \"{v}\"")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Shortens a value for a message so a hostile 1 MB cell does not become a 1 MB message.
fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// Turns records into updates using the resolved columns.
#[derive(Debug, Clone)]
pub(crate) struct RowParser {
    pub columns: Columns,
    pub cells: CellParser,
    /// `--allow-negative`: a payout or revenue may be *set* below zero (an addition below
    /// zero is a deduction, always allowed).
    pub allow_negative: bool,
}

/// Values gathered for one row before the cross-field rules run.
#[derive(Default)]
struct Gathered {
    values: [Option<Value>; crate::update::PARAMS.len()],
}

impl Gathered {
    fn int(&self, p: Param) -> Option<i32> {
        match self.values.get(p as usize) {
            Some(Some(Value::Int(v))) => Some(*v),
            _ => None,
        }
    }
    fn amount(&self, p: Param) -> Option<Decimal> {
        match self.values.get(p as usize) {
            Some(Some(Value::Amount(v))) => Some(*v),
            _ => None,
        }
    }
    fn boolean(&self, p: Param) -> Option<bool> {
        match self.values.get(p as usize) {
            Some(Some(Value::Bool(v))) => Some(*v),
            _ => None,
        }
    }
    fn take_text(&mut self, p: Param) -> Option<String> {
        match self.values.get_mut(p as usize).and_then(Option::take) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }
    fn get(&self, p: Param) -> Option<&Value> {
        self.values.get(p as usize).and_then(Option::as_ref)
    }
}

/// The trimmed cell of `param` in `record`, if a column feeds it.
/// A `--values` map of the column stands in for the cell it names.
pub(crate) fn cell<'r>(
    columns: &'r Columns,
    record: &'r csv::StringRecord,
    param: Param,
) -> Option<&'r str> {
    let i = columns.column(param)?;
    let raw = record.get(i).unwrap_or("").trim();
    Some(columns.mapped_value(i, raw).unwrap_or(raw))
}

impl RowParser {
    /// Parses one record. All problems of the row are reported together.
    #[expect(
        clippy::too_many_lines,
        reason = "every rule of a row in one place, so all of its problems are reported together"
    )]
    pub(crate) fn parse(
        &self,
        row: u64,
        record: &csv::StringRecord,
    ) -> Result<ConversionUpdate, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut g = Gathered::default();
        for spec in crate::update::PARAMS {
            let value = match self.columns.source(spec.param) {
                Source::Default => continue,
                Source::Set { value, .. } => value.clone(),
                Source::Column { .. } => {
                    let text = cell(&self.columns, record, spec.param).unwrap_or("");
                    if text.is_empty() {
                        continue;
                    }
                    match self.cells.parse(spec.param, text) {
                        Ok(v) => v,
                        Err(problem) => {
                            errors.push(FieldError {
                                row,
                                column: self.columns.label(spec.param),
                                value: Some(shorten(text)),
                                problem,
                            });
                            continue;
                        }
                    }
                }
            };
            if let Some(slot) = g.values.get_mut(spec.param as usize) {
                *slot = Some(value);
            }
        }
        // The conversion date is sent nowhere, but it chooses the window CAKE is read in: a
        // date that cannot be read would leave its row out of that window.
        if let Some(i) = self.columns.conversion_date
            && let Some(text) = record.get(i).map(str::trim).filter(|t| !t.is_empty())
            && let Err(problem) = super::parse::parse_date(text, self.cells.date_order)
        {
            errors.push(FieldError {
                row,
                column: self.columns.conversion_date_header().to_string(),
                value: Some(shorten(text)),
                problem: format!(
                    "{problem} (this column is the conversion date, which chooses the days CAKE \
                     is read in; --map \"{}=ignore\" leaves it out)",
                    self.columns.conversion_date_header()
                ),
            });
        }
        let row_error = |errors: &mut Vec<FieldError>, p: Param, problem: String| {
            errors.push(FieldError {
                row,
                column: self.columns.label(p),
                value: None,
                problem,
            });
        };

        let conversion_id = g.int(Param::ConversionId).unwrap_or(0);
        let request_session_id = g.int(Param::RequestSessionId).unwrap_or(0);
        let transaction_id = g.take_text(Param::TransactionId).unwrap_or_default();
        let id_failed = errors.iter().any(|e| {
            [
                Param::ConversionId,
                Param::RequestSessionId,
                Param::TransactionId,
            ]
            .iter()
            .any(|p| e.column == self.columns.label(*p))
        });
        if conversion_id == 0 && request_session_id == 0 && transaction_id.is_empty() && !id_failed
        {
            row_error(
                &mut errors,
                Param::ConversionId,
                "no id: give a conversion_id, request_session_id or transaction_id \
                 (ids of 0 do not count)"
                    .into(),
            );
        }

        let add = g.boolean(Param::AddToExistingPayout);
        let (payout, add_to_existing_payout) = match g.amount(Param::Payout) {
            Some(p) => (p, add.unwrap_or(false)),
            None if add == Some(false) && !self.failed(&errors, Param::Payout) => {
                row_error(
                    &mut errors,
                    Param::Payout,
                    "is empty but add_to_existing_payout is false, which would set the payout \
                     to 0; give a payout (0 if that is meant) or leave add_to_existing_payout \
                     empty to keep the payout unchanged"
                        .into(),
                );
                (Decimal::ZERO, true)
            }
            None => (Decimal::ZERO, true),
        };

        let option = match g.get(Param::ReceivedOption) {
            Some(Value::Received(o)) => Some(*o),
            _ => None,
        };
        let (received, received_option) = match (g.amount(Param::Received), option) {
            (Some(r), Some(o)) => (r, o),
            (Some(r), None) => (r, ReceivedOption::TotalRevenue),
            (None, Some(o)) if o != ReceivedOption::NoChange => {
                if !self.failed(&errors, Param::Received) {
                    row_error(
                        &mut errors,
                        Param::Received,
                        format!(
                            "is empty but received_option is {o}; give the amount, or \
                             received_option no_change to leave it as it is"
                        ),
                    );
                }
                (Decimal::ZERO, o)
            }
            (None, _) => (Decimal::ZERO, ReceivedOption::NoChange),
        };

        if !self.allow_negative {
            let total = matches!(
                received_option,
                ReceivedOption::TotalRevenue | ReceivedOption::TotalSaleAmount
            );
            for (p, set, amount) in [
                (Param::Payout, !add_to_existing_payout, payout),
                (Param::Received, total, received),
            ] {
                if set && amount.is_sign_negative() && !amount.is_zero() {
                    row_error(
                        &mut errors,
                        p,
                        format!(
                            "would set the {} to {amount}, below zero; if that is meant, run \
                             with --allow-negative (a deduction is an addition: add_to_existing_\
                             payout yes, or an additional_ received_option)",
                            p.name()
                        ),
                    );
                }
            }
        }

        let date = match g.get(Param::CustomDate) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        };
        let explicit_option = match g.get(Param::EffectiveDateOption) {
            Some(Value::EffectiveDate(o)) => Some(*o),
            _ => None,
        };
        let effective_date_option = match (explicit_option, date) {
            (Some(EffectiveDateOption::Custom), None) => {
                if !self.failed(&errors, Param::CustomDate) {
                    row_error(
                        &mut errors,
                        Param::CustomDate,
                        "is required when effective_date_option is custom; give a date such \
                         as 09/30/2026 14:05:00"
                            .into(),
                    );
                }
                EffectiveDateOption::Custom
            }
            (Some(o), Some(_)) if o != EffectiveDateOption::Custom => {
                row_error(
                    &mut errors,
                    Param::CustomDate,
                    format!(
                        "is given but effective_date_option is {o}, so CAKE would ignore it; \
                         set effective_date_option to custom or clear the date"
                    ),
                );
                o
            }
            (Some(o), _) => o,
            (None, Some(_)) => EffectiveDateOption::Custom,
            (None, None) => EffectiveDateOption::Today,
        };

        if !errors.is_empty() {
            return Err(errors);
        }
        let disposition_type = match g.get(Param::DispositionType) {
            Some(Value::Disposition(d)) => *d,
            _ => DispositionType::NoChange,
        };
        let offer_id = g.int(Param::OfferId).unwrap_or(0);
        let update = ConversionUpdate {
            row,
            offer_id,
            // 0 is sent only when asked for by name (`--set offer_id=0`); a row that gives no
            // offer (no column, or a blank or 0 cell) takes its conversion's own from CAKE.
            offer: if offer_id != 0
                || matches!(self.columns.source(Param::OfferId), Source::Set { .. })
            {
                Offer::Given
            } else {
                Offer::Unknown
            },
            conversion_id,
            request_session_id,
            transaction_id,
            payout,
            add_to_existing_payout,
            received,
            received_option,
            disposition_type,
            disposition_id: g.int(Param::DispositionId).unwrap_or(0),
            update_revshare_payout: g.boolean(Param::UpdateRevsharePayout).unwrap_or(false),
            effective_date_option,
            custom_date: date.filter(|_| effective_date_option == EffectiveDateOption::Custom),
            note_to_append: g.take_text(Param::NoteToAppend).unwrap_or_default(),
            disallow_on_billing_status: g
                .take_text(Param::DisallowOnBillingStatus)
                .unwrap_or_else(|| "ignore".to_string()),
        };
        if update.changes_nothing() {
            return Err(vec![FieldError {
                row,
                column: "(row)".into(),
                value: None,
                problem: format!(
                    "changes nothing: its payout, received, disposition and note cells are \
                     empty or \"no change\", so sending it would report success for nothing. \
                     Fill them in, or remove the row. {}",
                    self.columns.map_advice()
                ),
            }]);
        }
        Ok(update)
    }

    fn failed(&self, errors: &[FieldError], p: Param) -> bool {
        let label = self.columns.label(p);
        errors.iter().any(|e| e.column == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::columns::resolve;

    fn parser(headers: &[&str], sets: &[(&str, &str)]) -> RowParser {
        let cells = CellParser::default();
        let sets: Vec<(String, String)> = sets
            .iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
            .collect();
        let columns = resolve(
            &csv::StringRecord::from(headers.to_vec()),
            &[],
            &sets,
            &[],
            4,
            cells,
        )
        .unwrap();
        RowParser {
            columns,
            cells,
            allow_negative: false,
        }
    }

    fn parse(p: &RowParser, cells: &[&str]) -> Result<ConversionUpdate, Vec<FieldError>> {
        p.parse(7, &csv::StringRecord::from(cells.to_vec()))
    }

    #[test]
    fn defaults_leave_everything_unchanged() {
        let p = parser(&["conversion_id", "disposition_type"], &[]);
        let u = parse(&p, &["42", "approved"]).unwrap();
        assert_eq!(u.conversion_id, 42);
        assert_eq!((u.payout, u.add_to_existing_payout), (Decimal::ZERO, true));
        assert_eq!(
            (u.received, u.received_option),
            (Decimal::ZERO, ReceivedOption::NoChange)
        );
        assert_eq!(u.disposition_type, DispositionType::Approved);
        assert_eq!(u.effective_date_option, EffectiveDateOption::Today);
        assert_eq!(u.transaction_id, "");
        assert_eq!(u.disallow_on_billing_status, "ignore");
        assert_eq!(u.idempotency(), crate::update::Idempotency::Idempotent);
    }

    #[test]
    fn full_row() {
        let p = parser(
            &[
                "Conversion ID",
                "Transaction ID",
                "Offer ID",
                "Payout",
                "Add To Existing Payout",
                "Received",
                "Received Option",
                "Disposition Type",
                "Custom Date",
                "Note To Append",
            ],
            &[],
        );
        let u = parse(
            &p,
            &[
                "0042",
                "00871",
                "55",
                "$1,234.56",
                "yes",
                "(2.50)",
                "Additional Revenue",
                "Approved",
                "9/30/2026 14:05",
                " checked ",
            ],
        )
        .unwrap();
        assert_eq!(u.conversion_id, 42);
        assert_eq!(u.transaction_id, "00871");
        assert_eq!(u.offer_id, 55);
        assert_eq!(u.payout.to_string(), "1234.56");
        assert!(u.add_to_existing_payout);
        assert_eq!(u.received.to_string(), "-2.50");
        assert_eq!(u.received_option, ReceivedOption::AdditionalRevenue);
        assert_eq!(u.disposition_type, DispositionType::Approved);
        assert_eq!(u.effective_date_option, EffectiveDateOption::Custom);
        assert_eq!(u.note_to_append, "checked");
        assert_eq!(u.idempotency(), crate::update::Idempotency::Additive);
    }

    #[test]
    fn payout_alone_sets_it_and_received_alone_is_total_revenue() {
        let p = parser(&["conversion_id", "payout", "received"], &[]);
        let u = parse(&p, &["1", "20", "30"]).unwrap();
        assert!(!u.add_to_existing_payout);
        assert_eq!(u.received_option, ReceivedOption::TotalRevenue);
        assert_eq!(u.idempotency(), crate::update::Idempotency::Idempotent);
        let u = parse(&p, &["1", "", "7"]).unwrap();
        assert!(u.payout_unchanged());
        assert_eq!(u.received_option, ReceivedOption::TotalRevenue);
        // Both empty: the row changes nothing, which is an error naming the row.
        let e = parse(&p, &["1", "", ""]).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].to_string().starts_with("row 7"), "{e:?}");
        assert!(e[0].problem.contains("changes nothing"), "{e:?}");
    }

    #[test]
    fn set_values_apply_to_every_row() {
        let p = parser(
            &["conversion_id"],
            &[("disposition_type", "approved"), ("payout", "5")],
        );
        let u = parse(&p, &["9"]).unwrap();
        assert_eq!(u.disposition_type, DispositionType::Approved);
        assert_eq!(u.payout.to_string(), "5");
    }

    #[test]
    fn row_errors_name_row_column_value() {
        let p = parser(&["conversion_id", "Payout", "received_option"], &[]);
        let errs = parse(&p, &["12x", "1e3", "revenue"]).unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text[0].starts_with("row 7, column \"conversion_id\", value \"12x\": expected"),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("row 7, column \"Payout\", value \"1e3\": is in exponent form"),
            "{}",
            text[1]
        );
        assert!(
            text[2].contains("expected one of: total_sale_amount"),
            "{}",
            text[2]
        );
    }

    #[test]
    fn cross_field_rules() {
        let p = parser(
            &[
                "conversion_id",
                "transaction_id",
                "payout",
                "add_to_existing_payout",
                "received",
                "received_option",
                "effective_date_option",
                "custom_date",
            ],
            &[],
        );
        let err = |cells: &[&str]| {
            parse(&p, cells)
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert!(err(&["", "", "", "", "", "", "", ""]).contains("no id"));
        assert!(err(&["0", "", "", "", "", "", "", ""]).contains("no id"));
        assert!(err(&["1", "", "", "false", "", "", "", ""]).contains("set the payout to 0"));
        assert!(
            err(&["1", "", "", "", "", "total_revenue", "", ""])
                .contains("received_option is total_revenue")
        );
        assert!(
            err(&["1", "", "", "", "", "", "custom", ""])
                .contains("required when effective_date_option is custom")
        );
        assert!(
            err(&["1", "", "", "", "", "", "today", "1/2/2026"]).contains("CAKE would ignore it")
        );
        let ok = parse(
            &p,
            &["", "T-1", "", "", "3", "total_revenue", "", "1/2/2026"],
        )
        .unwrap();
        assert_eq!(ok.effective_date_option, EffectiveDateOption::Custom);
        assert_eq!(ok.transaction_id, "T-1");
    }
}

//! How values are written on the wire (and in the results file): one place for each format.

use super::params::Param;
use super::row::{ConversionUpdate, EffectiveDateOption};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::borrow::Cow;

/// The dummy `custom_date` sent when the date is ignored: CAKE parses it even then.
pub const DUMMY_DATE_GET: &str = "01/01/2001 00:00:00";
/// The same over SOAP (`xs:dateTime`).
pub const DUMMY_DATE_SOAP: &str = "2001-01-01T00:00:00";

/// The parameters a results line echoes, in the contract's column order (between `row` and
/// `status`).
pub const ECHOED: [Param; 7] = [
    Param::ConversionId,
    Param::RequestSessionId,
    Param::TransactionId,
    Param::OfferId,
    Param::Payout,
    Param::Received,
    Param::DispositionType,
];

impl ConversionUpdate {
    /// One parameter's wire text (`soap`: dates as `xs:dateTime`). The API key is not part of
    /// a row: asked for it, this answers an empty string.
    #[must_use]
    pub fn wire_value(&self, p: Param, soap: bool) -> Cow<'_, str> {
        let bool_text = |b: bool| Cow::Borrowed(if b { "true" } else { "false" });
        match p {
            Param::ApiKey => Cow::Borrowed(""),
            Param::OfferId => self.offer_id.to_string().into(),
            Param::ConversionId => self.conversion_id.to_string().into(),
            Param::RequestSessionId => self.request_session_id.to_string().into(),
            Param::TransactionId => Cow::Borrowed(self.transaction_id.as_str()),
            Param::Payout => format_amount(self.payout).into(),
            Param::AddToExistingPayout => bool_text(self.add_to_existing_payout),
            Param::Received => format_amount(self.received).into(),
            Param::ReceivedOption => Cow::Borrowed(self.received_option.as_str()),
            Param::DispositionType => Cow::Borrowed(self.disposition_type.as_str()),
            Param::DispositionId => self.disposition_id.to_string().into(),
            Param::UpdateRevsharePayout => bool_text(self.update_revshare_payout),
            Param::EffectiveDateOption => Cow::Borrowed(self.effective_date_option.as_str()),
            Param::CustomDate => match self
                .custom_date
                .filter(|_| self.effective_date_option == EffectiveDateOption::Custom)
            {
                Some(d) if soap => d.format("%Y-%m-%dT%H:%M:%S").to_string().into(),
                Some(d) => format_cake_date(&d).into(),
                None if soap => Cow::Borrowed(DUMMY_DATE_SOAP),
                None => Cow::Borrowed(DUMMY_DATE_GET),
            },
            Param::NoteToAppend => Cow::Borrowed(self.note_to_append.as_str()),
            Param::DisallowOnBillingStatus => {
                Cow::Borrowed(self.disallow_on_billing_status.as_str())
            }
        }
    }
}

/// The largest amount CAKE can store: its amounts are SQL Server `money`
/// (922,337,203,685,477.5807). Bounding amounts by it also keeps every sum of a sheet's
/// amounts far inside `Decimal`'s range.
pub const MONEY_MAX: Decimal = Decimal::from_parts(u32::MAX, 0x7FFF_FFFF, 0, false, 4);

/// Formats an amount exactly as it is sent and reported: `.` decimal, no grouping, scale kept.
#[must_use]
pub fn format_amount(d: Decimal) -> String {
    d.to_string()
}

/// The `MM/DD/YYYY HH:MM:SS` form CAKE's GET/POST binding parses.
#[must_use]
pub fn format_cake_date(d: &NaiveDateTime) -> String {
    d.format("%m/%d/%Y %H:%M:%S").to_string()
}

//! The bottom layer: what a row *is*. The typed update every layer passes along, its final
//! [`Status`], THE table of CAKE parameters and the wire formats. Everything else imports from
//! here; this imports nothing of the crate.

mod additions;
mod held;
mod ident;
mod params;
mod report_params;
mod row;
mod status;
mod wire;
mod xml;

pub use additions::{Additions, ReceivedField, shown_amount};
pub use held::{Comparison, Difference, Held, compare, held_amount};
pub use ident::{RowIdent, key_of, keys_naming};
pub use params::{API_VERSIONS, PARAMS, Param, ParamSpec, ParamType, params_for};
pub use report_params::{EVENT_CONVERSIONS_PARAMS, REPORT_VERSIONS, ReportParam, ReportParamType};
pub use row::{
    ConversionUpdate, DispositionType, EffectiveDateOption, Idempotency, Offer, ReceivedOption,
    Target,
};
pub use status::Status;
pub use wire::{
    DUMMY_DATE_GET, DUMMY_DATE_SOAP, ECHOED, MONEY_MAX, format_amount, format_cake_date,
};
pub use xml::{Leaf, xml_leaves};

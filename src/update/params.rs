//! THE table of `UpdateConversion` parameters.
//!
//! Every transport (GET query, POST form, SOAP 1.1 and 1.2), the sheet's header matching, the
//! emulator's strict binding and the dry-run preview are built from this one list, so a name
//! cannot be misspelled in one place only (a public client lost every note to a misspelled SOAP
//! element). Order is the order of CAKE's documentation and of its sample call.

/// The CAKE type of a parameter, which decides how it is parsed and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Int,
    Decimal,
    Bool,
    Enumeration(&'static [&'static str]),
    DateTime,
}

/// Every `UpdateConversion` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    ApiKey,
    OfferId,
    ConversionId,
    RequestSessionId,
    TransactionId,
    Payout,
    AddToExistingPayout,
    Received,
    ReceivedOption,
    DispositionType,
    DispositionId,
    UpdateRevsharePayout,
    EffectiveDateOption,
    CustomDate,
    NoteToAppend,
    DisallowOnBillingStatus,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub param: Param,
    /// The exact wire name (query key, form key and SOAP element name).
    pub name: &'static str,
    pub ty: ParamType,
    /// The first API version that has it.
    pub since_version: u8,
}

use super::row::{DispositionType, EffectiveDateOption, ReceivedOption};

const fn spec(param: Param, name: &'static str, ty: ParamType, since_version: u8) -> ParamSpec {
    ParamSpec {
        param,
        name,
        ty,
        since_version,
    }
}

/// The table. Add a parameter here and every transport, the emulator and the sheet know it.
pub const PARAMS: &[ParamSpec] = &[
    spec(Param::ApiKey, "api_key", ParamType::Text, 2),
    spec(Param::OfferId, "offer_id", ParamType::Int, 2),
    spec(Param::ConversionId, "conversion_id", ParamType::Int, 2),
    spec(
        Param::RequestSessionId,
        "request_session_id",
        ParamType::Int,
        2,
    ),
    spec(Param::TransactionId, "transaction_id", ParamType::Text, 2),
    spec(Param::Payout, "payout", ParamType::Decimal, 2),
    spec(
        Param::AddToExistingPayout,
        "add_to_existing_payout",
        ParamType::Bool,
        2,
    ),
    spec(Param::Received, "received", ParamType::Decimal, 2),
    spec(
        Param::ReceivedOption,
        "received_option",
        ParamType::Enumeration(ReceivedOption::WIRE),
        2,
    ),
    spec(
        Param::DispositionType,
        "disposition_type",
        ParamType::Enumeration(DispositionType::WIRE),
        2,
    ),
    spec(Param::DispositionId, "disposition_id", ParamType::Int, 2),
    spec(
        Param::UpdateRevsharePayout,
        "update_revshare_payout",
        ParamType::Bool,
        2,
    ),
    spec(
        Param::EffectiveDateOption,
        "effective_date_option",
        ParamType::Enumeration(EffectiveDateOption::WIRE),
        2,
    ),
    spec(Param::CustomDate, "custom_date", ParamType::DateTime, 2),
    spec(Param::NoteToAppend, "note_to_append", ParamType::Text, 2),
    spec(
        Param::DisallowOnBillingStatus,
        "disallow_on_billing_status",
        ParamType::Text,
        4,
    ),
];

/// The API versions this tool speaks.
pub const API_VERSIONS: &[u8] = &[2, 4];

impl Param {
    /// This parameter's row of the table.
    #[must_use]
    pub fn spec(self) -> &'static ParamSpec {
        // The table lists every variant in declaration order; the test below guards it.
        &PARAMS[self as usize]
    }

    /// The wire name.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Finds a parameter by its exact wire name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Param> {
        PARAMS.iter().find(|s| s.name == name).map(|s| s.param)
    }
}

/// The parameters sent for `version`, in table order.
pub fn params_for(version: u8) -> impl Iterator<Item = &'static ParamSpec> {
    PARAMS.iter().filter(move |s| s.since_version <= version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list in contract §1 (and the seed's type list), typed out independently.
    const SEED_V2: &str = "api_key, offer_id, conversion_id, request_session_id, transaction_id, \
        payout, add_to_existing_payout, received, received_option, disposition_type, \
        disposition_id, update_revshare_payout, effective_date_option, custom_date, note_to_append";

    #[test]
    fn table_matches_the_seed_exactly() {
        let v2: Vec<&str> = params_for(2).map(|s| s.name).collect();
        let seed: Vec<&str> = SEED_V2.split(", ").collect();
        assert_eq!(v2, seed);
        let v4: Vec<&str> = params_for(4).map(|s| s.name).collect();
        let mut seed4 = seed.clone();
        seed4.push("disallow_on_billing_status");
        assert_eq!(v4, seed4);
    }

    #[test]
    fn seed_types() {
        let ty = |n| Param::from_name(n).unwrap().spec().ty;
        for n in [
            "offer_id",
            "conversion_id",
            "request_session_id",
            "disposition_id",
        ] {
            assert_eq!(ty(n), ParamType::Int, "{n}");
        }
        for n in ["payout", "received"] {
            assert_eq!(ty(n), ParamType::Decimal, "{n}");
        }
        for n in ["add_to_existing_payout", "update_revshare_payout"] {
            assert_eq!(ty(n), ParamType::Bool, "{n}");
        }
        assert_eq!(ty("custom_date"), ParamType::DateTime);
        assert_eq!(ty("transaction_id"), ParamType::Text);
        assert_eq!(ty("note_to_append"), ParamType::Text);
    }

    #[test]
    fn enumerations_match_the_typed_enums() {
        let names = |p: Param| match p.spec().ty {
            ParamType::Enumeration(v) => v.to_vec(),
            _ => panic!("{p:?} is not an enumeration"),
        };
        let wire = |all: Vec<&'static str>| all;
        assert_eq!(
            names(Param::ReceivedOption),
            wire(ReceivedOption::ALL.iter().map(|v| v.as_str()).collect())
        );
        assert_eq!(
            names(Param::DispositionType),
            wire(DispositionType::ALL.iter().map(|v| v.as_str()).collect())
        );
        assert_eq!(
            names(Param::EffectiveDateOption),
            wire(
                EffectiveDateOption::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect()
            )
        );
    }

    #[test]
    fn spec_lookup_is_in_declaration_order() {
        for (i, s) in PARAMS.iter().enumerate() {
            assert_eq!(s.param as usize, i);
            assert_eq!(s.param.spec().name, s.name);
            assert_eq!(Param::from_name(s.name), Some(s.param));
        }
    }
}

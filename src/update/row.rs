//! The one typed row the whole program works with.
//!
//! The sheet reader turns each spreadsheet row into a [`ConversionUpdate`]; the request
//! builder, the engine, the checkpoint and the report all read this struct and nothing else,
//! so a value is parsed exactly once and sent exactly as it was shown in the dry run.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// Declares a CAKE enumeration: its wire names are the only spellings CAKE accepts.
macro_rules! cake_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order CAKE's documentation lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spellings, in the same order (the parameter table's enumeration).
            pub const WIRE: &'static [&'static str] = &[$($wire),+];

            /// The exact lower-case spelling CAKE expects on the wire.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses the wire spelling exactly (the sheet layer normalises case and spaces first).
            #[must_use]
            pub fn from_wire(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }

            /// The accepted values, for error messages.
            #[must_use]
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

cake_enum!(
    /// How CAKE treats the `received` amount.
    ReceivedOption {
        TotalSaleAmount = "total_sale_amount",
        AdditionalSaleAmount = "additional_sale_amount",
        TotalRevenue = "total_revenue",
        AdditionalRevenue = "additional_revenue",
        NoChange = "no_change",
    }
);

cake_enum!(
    /// The disposition CAKE assigns to the conversion.
    DispositionType {
        NoChange = "no_change",
        Pending = "pending",
        Rejected = "rejected",
        Approved = "approved",
        Returned = "returned",
    }
);

cake_enum!(
    /// Which day the change is booked on.
    EffectiveDateOption {
        Today = "today",
        ConversionDate = "conversion_date",
        Custom = "custom",
    }
);

/// Whether sending a row twice changes the result (contract §1, "Idempotency").
///
/// This decides what a retry may do: an idempotent row is simply sent again; an additive row
/// is re-sent only when the failure proves CAKE did not apply it, and otherwise ends `in_doubt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Absolute values only: sending it twice leaves the conversion as sending it once.
    Idempotent,
    /// Adds to payout or revenue, or appends a note: a second send is a second change.
    Additive,
}

impl Idempotency {
    /// Lower-case name used in reports and the checkpoint.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Idempotency::Idempotent => "idempotent",
            Idempotency::Additive => "additive",
        }
    }
}

/// Where the `offer_id` a row sends comes from.
///
/// CAKE's v4 page says the offer "must be an existing offer ID", so `0` is sent only when the
/// person asked for it by name (`--set offer_id=0`). A row whose sheet gives no offer takes its
/// conversion's own from CAKE's reports (`site_offer_id`) before it may be sent. An offer is
/// only ever *sent*: no offer is part of the row's identity (the checkpoint's and the
/// journal's key, see `ConversionUpdate::ident_key`), so the same sheet run again is the same
/// rows, whoever gave the offer and whatever CAKE answered the time before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offer {
    /// `offer_id` as the sheet or `--set offer_id` gives it.
    #[default]
    Given,
    /// The sheet gives none: CAKE's reports must say it before the row may be sent.
    Unknown,
    /// The offer CAKE's reports show for the row's conversion.
    FromCake(i32),
}

/// One validated `UpdateConversion` call, built from one sheet row.
///
/// Unused ids are `0` and an unused transaction id is empty, as CAKE wants them on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionUpdate {
    /// Spreadsheet row number (header = 1), the key every report and the checkpoint use.
    pub row: u64,
    /// The offer as the sheet (or `--set offer_id`) gives it, 0 when it gives none. What is sent
    /// is [`ConversionUpdate::sent_offer`]; neither is part of the row's identity.
    pub offer_id: i32,
    /// Where the offer sent comes from.
    pub offer: Offer,
    pub conversion_id: i32,
    pub request_session_id: i32,
    /// Kept exactly as written (`00871` stays `00871`).
    pub transaction_id: String,
    pub payout: Decimal,
    pub add_to_existing_payout: bool,
    pub received: Decimal,
    pub received_option: ReceivedOption,
    pub disposition_type: DispositionType,
    pub disposition_id: i32,
    pub update_revshare_payout: bool,
    pub effective_date_option: EffectiveDateOption,
    /// Only meaningful with `effective_date_option = custom`; a dummy date is sent otherwise.
    pub custom_date: Option<NaiveDateTime>,
    pub note_to_append: String,
    /// API v4 only; `ignore` unless set.
    pub disallow_on_billing_status: String,
}

impl ConversionUpdate {
    /// The offer this row sends: `None` while it must still be read from CAKE (such a row is
    /// never sent).
    #[must_use]
    pub fn sent_offer(&self) -> Option<i32> {
        match self.offer {
            Offer::Given => Some(self.offer_id),
            Offer::Unknown => None,
            Offer::FromCake(o) => Some(o),
        }
    }

    /// A row that changes nothing on conversion 1 (tests start from it).
    #[cfg(test)]
    pub(crate) fn test_default() -> Self {
        Self {
            row: 2,
            offer_id: 0,
            offer: Offer::Given,
            conversion_id: 1,
            request_session_id: 0,
            transaction_id: String::new(),
            payout: Decimal::ZERO,
            add_to_existing_payout: true,
            received: Decimal::ZERO,
            received_option: ReceivedOption::NoChange,
            disposition_type: DispositionType::NoChange,
            disposition_id: 0,
            update_revshare_payout: false,
            effective_date_option: EffectiveDateOption::Today,
            custom_date: None,
            note_to_append: String::new(),
            disallow_on_billing_status: "ignore".into(),
        }
    }

    /// Classifies the row per contract §1: additive exactly when it adds something
    /// ([`ConversionUpdate::additions`]).
    #[must_use]
    pub fn idempotency(&self) -> Idempotency {
        if self.additions().is_additive() {
            Idempotency::Additive
        } else {
            Idempotency::Idempotent
        }
    }

    /// True when the row's cells ask for nothing: payout, received, disposition and notes left
    /// as they are and no effective date given.
    #[must_use]
    pub fn changes_nothing(&self) -> bool {
        self.payout_unchanged()
            && self.received_changes().is_none()
            && self.disposition_type == DispositionType::NoChange
            && self.disposition_id == 0
            && self.additions().note.is_none()
            && self.effective_date_option == EffectiveDateOption::Today
            && self.custom_date.is_none()
    }

    /// True when the row leaves the payout as it is (`payout=0` added).
    #[must_use]
    pub fn payout_unchanged(&self) -> bool {
        self.add_to_existing_payout && self.additions().payout.is_none()
    }

    /// The ids this row targets, for the duplicate check: (kind, value).
    pub fn targets(&self) -> impl Iterator<Item = Target<'_>> {
        let conv = (self.conversion_id != 0).then_some(Target::ConversionId(self.conversion_id));
        let rsid = (self.request_session_id != 0)
            .then_some(Target::RequestSessionId(self.request_session_id));
        let tx = (!self.transaction_id.is_empty())
            .then_some(Target::TransactionId(&self.transaction_id));
        conv.into_iter().chain(rsid).chain(tx)
    }
}

/// One way a row can name its conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    ConversionId(i32),
    RequestSessionId(i32),
    TransactionId(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::ConversionId(v) => write!(f, "conversion_id {v}"),
            Target::RequestSessionId(v) => write!(f, "request_session_id {v}"),
            Target::TransactionId(v) => write!(f, "transaction_id \"{v}\""),
        }
    }
}

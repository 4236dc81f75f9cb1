//! How the command line names the values of its enum flags (`--date-order mdy`, `--method
//! soap12`, …): the parser's view of types that live below, so that `clap` stays in `cli.rs`
//! and `config/` and the types stay plain.

use crate::cake::request::Transport;
use crate::logging::LogFormat;
use crate::sheet::parse::DateOrder;
use crate::sheet::shown::{AmountsAs, HiddenRows};
use clap::builder::PossibleValue;

/// `impl clap::ValueEnum for TYPE`, from its variants, each with its name and help.
macro_rules! named_values {
    ($ty:ty { $($variant:expr => $name:literal: $help:literal),+ $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),+]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                $(if *self == $variant {
                    return Some(PossibleValue::new($name).help($help));
                })+
                None
            }
        }
    };
}

named_values!(DateOrder {
    DateOrder::Mdy => "mdy": "09/30/2026 — CAKE's own order",
    DateOrder::Dmy => "dmy": "30/09/2026",
});

named_values!(HiddenRows {
    HiddenRows::Send => "send": "send them like the visible rows",
    HiddenRows::Skip => "skip": "leave them out (skipped, never sent)",
});

named_values!(AmountsAs {
    AmountsAs::AsShown => "as-shown": "what the cell shows, rounded as the spreadsheet rounds it",
    AmountsAs::AsStored => "as-stored": "what the cell holds, every decimal",
});

named_values!(LogFormat {
    LogFormat::Text => "text": "lines for people",
    LogFormat::Json => "json": "one JSON object per line",
});

named_values!(Transport {
    Transport::Get => "get": "HTTP GET with a query string (CAKE's sample call)",
    Transport::Post => "post": "HTTP POST with a form body",
    Transport::Soap => "soap": "SOAP 1.1",
    Transport::Soap12 => "soap12": "SOAP 1.2",
});

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum as _;

    /// The names the parser takes are the names the types write (`as_str`), for each value.
    #[test]
    fn each_value_is_named_as_its_type_writes_it() {
        for v in HiddenRows::value_variants() {
            assert_eq!(v.to_possible_value().unwrap().get_name(), v.as_str());
        }
        for v in AmountsAs::value_variants() {
            assert_eq!(v.to_possible_value().unwrap().get_name(), v.as_str());
        }
        for v in Transport::value_variants() {
            assert_eq!(v.to_possible_value().unwrap().get_name(), v.as_str());
        }
        assert_eq!(DateOrder::value_variants().len(), 2);
        assert_eq!(LogFormat::value_variants().len(), 2);
    }
}

//! Arbitrary text as amounts, ids and dates: never a panic; whatever parses formats back to
//! something that parses to the same value.
#![no_main]

use cake_recon::internals::{DateOrder, DecimalStyle, parse_amount, parse_date, parse_id};
use cake_recon::update::format_cake_date;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for style in [DecimalStyle::Point, DecimalStyle::Comma] {
        if let Ok(d) = parse_amount(s, style) {
            assert_eq!(parse_amount(&d.to_string(), DecimalStyle::Point), Ok(d));
        }
    }
    if let Ok(id) = parse_id(s) {
        assert_eq!(parse_id(&id.to_string()), Ok(id));
    }
    for order in [DateOrder::Mdy, DateOrder::Dmy] {
        if let Ok(d) = parse_date(s, order) {
            assert_eq!(parse_date(&format_cake_date(&d), DateOrder::Mdy), Ok(d));
        }
    }
});

//! Reading conversions back, in process: parsing `EventConversions` pages as the emulator
//! serves them (the recorded v17 shape, about 1.6 KB a row) and matching each row against a
//! sheet's targets. A window of a million conversions is a hundred such pages; memory holds one
//! page and the sheet's targets, never the window.
//!
//! `cargo bench --bench readback`

use cake_recon::internals::{Targets, parse_page};
use cake_recon::mock::{Ledger, event_conversions_page};
use cake_recon::update::ConversionUpdate;
use chrono::NaiveDate;
use divan::{Bencher, counter::ItemsCount};

fn main() {
    divan::main();
}

/// Rows per page (what the scanner asks for).
const PAGE: usize = 10_000;

fn day(d: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 9, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a day")
}

/// A sheet of `n` rows aimed at conversions spread over the window.
fn targets(n: i32) -> Targets {
    let mut t = Targets::default();
    for i in 0..n {
        let mut u = blank();
        u.row = u64::try_from(i).expect("row") + 2;
        u.conversion_id = 1 + i * (1_000_000 / n);
        t.add(&u);
    }
    t
}

fn blank() -> ConversionUpdate {
    ConversionUpdate {
        row: 2,
        offer_id: 0,
        offer: cake_recon::update::Offer::Given,
        conversion_id: 0,
        request_session_id: 0,
        transaction_id: String::new(),
        payout: rust_decimal::Decimal::ZERO,
        add_to_existing_payout: false,
        received: rust_decimal::Decimal::ZERO,
        received_option: cake_recon::update::ReceivedOption::NoChange,
        disposition_type: cake_recon::update::DispositionType::NoChange,
        disposition_id: 0,
        update_revshare_payout: false,
        effective_date_option: cake_recon::update::EffectiveDateOption::Today,
        custom_date: None,
        note_to_append: String::new(),
        disallow_on_billing_status: "ignore".into(),
    }
}

/// Parse and match one 10,000-row page against sheets of 1,000 and 100,000 rows.
#[divan::bench(args = [1_000, 100_000])]
fn parse_and_match_a_page(b: Bencher, sheet_rows: i32) {
    let ledger = Ledger::generated(1_000_000);
    let page = event_conversions_page(&ledger, day(1), day(30), 1, PAGE);
    let mut t = targets(sheet_rows);
    b.counter(ItemsCount::new(PAGE))
        .bench_local(|| parse_page(page.as_bytes(), &mut t).expect("a page"));
}

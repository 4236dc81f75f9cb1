//! The per-row costs of the pipeline, in process: reading and validating a sheet, building a
//! request per transport, and parsing CAKE's answer.
//!
//! `cargo bench --bench pipeline`

use cake_recon::internals::classify;
use cake_recon::internals::{Endpoint, Transport};
use cake_recon::internals::{SheetOptions, prepass};
use cake_recon::update::{ConversionUpdate, DispositionType, EffectiveDateOption, ReceivedOption};
use divan::{Bencher, black_box, counter::ItemsCount};
use rust_decimal::Decimal;
use std::io::Write;
use std::time::SystemTime;

fn main() {
    divan::main();
}

const ROWS: u64 = 100_000;

fn sheet_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    let mut w = std::io::BufWriter::new(f.as_file_mut());
    writeln!(w, "Conversion ID,Transaction ID,Offer ID,Payout,Received,Received Option,Disposition Type,Note To Append").expect("write");
    for i in 1..=ROWS {
        let note = if i % 10 == 0 { "bonus" } else { "" };
        writeln!(
            w,
            "{i},TX-{i:08},{},\"${},{:03}.{:02}\",{}.{:02},Total Revenue,Approved,{note}",
            100 + i % 50,
            i % 7,
            i % 1000,
            i % 100,
            i % 90,
            i % 100
        )
        .expect("write");
    }
    drop(w);
    f
}

/// Streaming validation of a 100,000-row sheet (the pre-pass every run and dry run does).
#[divan::bench(sample_count = 10)]
fn sheet_prepass(bencher: Bencher) {
    let f = sheet_file();
    let opts = SheetOptions {
        api_version: 2,
        ..SheetOptions::default()
    };
    bencher.counter(ItemsCount::new(ROWS)).bench(|| {
        let pre = prepass(f.path(), &opts).expect("prepass");
        assert_eq!(pre.rows, ROWS);
        pre.rows
    });
}

fn update() -> ConversionUpdate {
    ConversionUpdate {
        row: 2,
        offer_id: 55,
        offer: cake_recon::update::Offer::Given,
        conversion_id: 707_658,
        request_session_id: 0,
        transaction_id: "TX-00000001".into(),
        payout: Decimal::new(123_456, 2),
        add_to_existing_payout: false,
        received: Decimal::new(3000, 2),
        received_option: ReceivedOption::TotalRevenue,
        disposition_type: DispositionType::Approved,
        disposition_id: 0,
        update_revshare_payout: false,
        effective_date_option: EffectiveDateOption::Today,
        custom_date: None,
        note_to_append: "approved in the June sheet".into(),
        disallow_on_billing_status: "ignore".into(),
    }
}

/// One request, built exactly as sent.
#[divan::bench(args = [Transport::Get, Transport::Post, Transport::Soap, Transport::Soap12])]
fn build_request(bencher: Bencher, transport: Transport) {
    let e = Endpoint::new("https://admin.example-network.com", 4, transport);
    let u = update();
    bencher.bench(|| e.build(black_box(&u), black_box("api-key-0123456789")));
}

/// One answer parsed and classified.
#[divan::bench(args = ["get", "soap12"])]
fn parse_answer(bencher: Bencher, kind: &str) {
    let body: &[u8] = match kind {
        "get" => b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<update_conversion_response xmlns=\"http://cakemarketing.com/api/4/\">\r\n  <success>true</success>\r\n  <message>Conversion Updated</message>\r\n</update_conversion_response>",
        _ => b"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body><UpdateConversionResponse xmlns=\"http://cakemarketing.com/api/4/\"><UpdateConversionResult><success>true</success><message>Conversion Updated</message></UpdateConversionResult></UpdateConversionResponse></soap:Body></soap:Envelope>",
    };
    let now = SystemTime::now();
    bencher.bench(|| classify(200, None, black_box(body), now));
}

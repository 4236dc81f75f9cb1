//! The finance screen in a real browser: a 1,000-row sheet seen row by row (pages, a filter
//! whose sums change), compared with CAKE (now, new, Δ), its money charted, applied, its
//! results listed row by row and downloaded as a workbook whose amounts are numbers; no page
//! speaks the command line's flags; next month's sheet with the same columns opens mapped.

use crate::browser::{Browser, base64_decode};
use crate::emu::{Emu, KEY};
use crate::serve::Server;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// No ` --flag` in what a person reads.
fn speaks_the_page(page: &str, text: &str) {
    let bytes = text.as_bytes();
    for (i, w) in bytes.windows(4).enumerate() {
        if w[0] == b' ' && w[1] == b'-' && w[2] == b'-' && w[3].is_ascii_lowercase() {
            let end = (i + 60).min(text.len());
            panic!("{page} speaks the command line: {:?}", &text[i..end]);
        }
    }
}

/// A month's sheet: `n` rows, an amounts column the header rules do not know, a few bad cells.
fn month_sheet(n: u32) -> String {
    let mut s = String::from("conversion_id,offer_id,Approved Amount,disposition_type\n");
    for i in 1..=n {
        let amount = if i % 250 == 0 {
            "abc".to_string()
        } else {
            format!("{}.25", 10 + i % 7)
        };
        let d = if i % 3 == 0 { "rejected" } else { "approved" };
        let _ = writeln!(s, "{i},{},{amount},{d}", 100 + i % 4);
    }
    s
}

fn until_gone(b: &Browser, css: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while b.find(css).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one month on the screen, step by step"
)]
fn a_thousand_row_month_is_seen_row_by_row_compared_applied_and_remembered() {
    let Some(b) = Browser::start() else {
        return;
    };
    let screens = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(1_000), Faults::default());
    let s = Server::start(
        &t,
        &[
            "--base-url",
            emu.url.as_str(),
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "1000",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    let sheet = t.path("june.csv");
    std::fs::write(&sheet, month_sheet(1_000)).unwrap();
    b.goto(&s.url(&format!("/?token={}", s.token)));
    b.wait("#sheet", Duration::from_secs(10));
    b.type_into("#sheet", sheet.to_str().unwrap());
    b.click("#upload-form button[type=submit]");
    b.wait("table.mapping", Duration::from_secs(30));
    speaks_the_page("the first preview", &b.text("main"));
    b.click("select[aria-label='What column Approved Amount sends'] option[value=payout]");
    b.click("form[action*='/choices'] button[type=submit]");

    // Every row, fifty a page.
    b.wait("table.rows", Duration::from_secs(30));
    assert_eq!(b.text("#page-at"), "page 1 of 20");
    let rows = b.script(
        "arguments[arguments.length-1](document.querySelectorAll('table.rows tbody tr').length)",
    );
    assert_eq!(rows, 50);
    assert_eq!(b.text("#filtered-rows"), "1,000");
    let all_set = b.text("#filtered-payout-set");
    b.click("#page-next");
    b.wait_text("#page-at", "page 2 of 20", Duration::from_secs(10));
    assert!(b.text("table.rows tbody tr:first-child td:first-child") == "52");
    // A filter changes the rows and their sums.
    b.click("#status option[value=invalid]");
    b.click("#filter");
    b.wait_text("#filtered-rows", "4", Duration::from_secs(10));
    assert_ne!(b.text("#filtered-payout-set"), all_set);
    assert_eq!(b.text("#page-at"), "page 1 of 1");
    b.click("#status option[value=would_update]");
    b.click("#filter");
    b.wait_text("#filtered-rows", "996", Duration::from_secs(10));
    // The chart: one mark per disposition.
    let marks = b.script(
        "arguments[arguments.length-1]([document.querySelectorAll('svg#money-chart rect.mark').length, \
         document.querySelectorAll('table.by-disposition tbody tr').length])",
    );
    assert_eq!(marks, serde_json::json!([2, 2]), "{marks}");
    b.screenshot(&screens.join("5-rows.png"));
    speaks_the_page("the preview", &b.text("main"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());

    // Compared with CAKE: now, new and Δ, the differences marked, affiliates named.
    b.script(
        "document.getElementById('since').value = '2026-09-01';\
         document.getElementById('until').value = '2026-09-30';\
         arguments[arguments.length-1](0)",
    );
    b.click("form[action*='/check'] button[type=submit]");
    b.wait("#check-outcome", Duration::from_secs(60));
    until_gone(&b, "#checking", Duration::from_secs(60));
    b.wait("#check-outcome", Duration::from_secs(10));
    let head = b.text("table.rows thead");
    for col in ["Payout now", "Payout new", "Δ payout"] {
        assert!(head.contains(col), "{head}");
    }
    assert!(
        b.find("table.rows .differs").is_some(),
        "differences marked"
    );
    assert!(b.find("#filtered-payout-delta").is_some());
    assert!(b.text("table.by-affiliate").contains("Affiliate"));
    b.screenshot(&screens.join("6-compared.png"));
    speaks_the_page("the comparison", &b.text("main"));
    assert_eq!(emu.stats().requests, 0, "nothing is sent before Apply");

    // Applied; the results list updated rows too, what was not updated first.
    b.click("#skip_invalid");
    b.click("#apply");
    b.wait("#outcome", Duration::from_secs(120));
    let outcome = b.text("#outcome");
    assert!(
        outcome.contains("not updated") || outcome.contains("invalid"),
        "{outcome}"
    );
    b.wait("table.rows", Duration::from_secs(10));
    assert_eq!(
        b.text("table.rows tbody tr:first-child .status"),
        "invalid",
        "what was not updated comes first"
    );
    b.click("#status option[value=updated]");
    b.click("#filter");
    b.wait_text("#filtered-rows", "996", Duration::from_secs(10));
    assert_eq!(b.text("table.rows tbody tr:first-child .status"), "updated");
    assert!(b.text("table.by-offer").contains("100"));
    b.screenshot(&screens.join("7-results-rows.png"));
    speaks_the_page("the results", &b.text("main"));

    // The workbook download: amounts are numbers, nothing is a formula.
    let b64 = b.script(
        "const done = arguments[arguments.length - 1];\
         fetch(document.getElementById('dl-results-xlsx').href).then(r => r.arrayBuffer())\
         .then(buf => { let s = ''; new Uint8Array(buf).forEach(x => s += String.fromCharCode(x)); done(btoa(s)); });",
    );
    let xlsx = base64_decode(b64.as_str().unwrap());
    {
        use calamine::{Data, Reader as _};
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let name = book.sheet_names()[0].clone();
        let formulas = book.worksheet_formula(&name).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "no formulas"
        );
        let range = book.worksheet_range(&name).unwrap();
        let head: Vec<String> = range
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        let payout = head.iter().position(|h| h == "payout").unwrap();
        let numbers = range
            .rows()
            .skip(1)
            .filter(|r| matches!(r[payout], Data::Float(_)))
            .count();
        assert_eq!(numbers, 996, "every valid payout is a number");
    }
    let ledger = emu.conversions();
    assert_eq!(ledger[&1].payout.to_string(), "11.25");
    assert_eq!(emu.stats().requests, 996);

    // Next month: the same columns open mapped as June's were.
    let july = t.path("july.csv");
    std::fs::write(&july, month_sheet(30)).unwrap();
    b.goto(&s.url("/"));
    b.wait("#sheet", Duration::from_secs(10));
    b.type_into("#sheet", july.to_str().unwrap());
    b.click("#upload-form button[type=submit]");
    b.wait("#remembered", Duration::from_secs(30));
    assert!(b.text("#remembered").contains("june.csv"));
    let chosen = b.script(
        "arguments[arguments.length-1](document.querySelector(\"select[aria-label='What column \
         Approved Amount sends']\").value)",
    );
    assert_eq!(chosen, "payout");
    assert_eq!(b.text("#payout-set"), "394.50");
    speaks_the_page("next month's preview", &b.text("main"));
}

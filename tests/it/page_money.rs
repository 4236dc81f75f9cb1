//! The screen's rows and money are `run --dry-run`'s (issue 21): the page renders the dry run's
//! own value, computed by the command line in a child process. Each test reads the numbers a
//! person reads on the page and compares them with `run --dry-run --summary-json` of the same
//! sheet, typed at the command line.

use crate::serve::{emu_of, server_at};
use crate::util::TestDir;
use rust_decimal::Decimal;
use std::str::FromStr as _;
use std::time::Duration;

/// The text of the element with `id` on `page` (its first text, tags stripped).
fn by_id(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} on the page: {page}"));
    let rest = &page[start..];
    let text = &rest[rest.find('>').unwrap() + 1..];
    text[..text.find('<').unwrap()].to_string()
}

/// An amount or count as the page groups it (`1,234.50`).
fn number(shown: &str) -> Decimal {
    Decimal::from_str(&shown.replace(',', "")).unwrap_or_else(|e| panic!("{shown}: {e}"))
}

fn json_decimal(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("{v}"))).unwrap()
}

/// `run NAME --dry-run --summary-json` in `t`: the dry run's whole value.
fn dry_run(t: &TestDir, name: &str, url: &str) -> serde_json::Value {
    let out = t.run(&[
        "run",
        name,
        "--dry-run",
        "--base-url",
        url,
        "--summary-json",
        "dry.json",
    ]);
    assert!(matches!(out.code, 0..=2), "{out:?}");
    serde_json::from_str(&t.read("dry.json")).unwrap()
}

/// The page's totals equal the dry run's, and the Apply button states the same money.
fn assert_same_money(page: &str, dry: &serde_json::Value) {
    let r = &dry["read"]["Ok"];
    let t = &r["totals"];
    assert_eq!(
        number(&by_id(page, "total-rows")),
        Decimal::from(t["rows"].as_u64().unwrap())
    );
    assert_eq!(
        number(&by_id(page, "payout-set")),
        json_decimal(&t["payout_set"])
    );
    assert_eq!(
        number(&by_id(page, "payout-added")),
        json_decimal(&t["payout_added"])
    );
    assert_eq!(
        number(&by_id(page, "received")),
        json_decimal(&t["received"])
    );
    assert_eq!(
        number(&by_id(page, "invalid-rows")),
        Decimal::from(r["invalid"].as_u64().unwrap())
    );
}

#[test]
fn the_page_states_the_dry_runs_rows_and_money_with_invalid_rows_duplicates_and_a_total() {
    let t = TestDir::new();
    let emu = emu_of(&t, 10);
    let s = server_at(&t, &emu);
    let sheet = "conversion_id,offer_id,payout,add_to_existing_payout,received\n\
                 1,5769,10.00,false,20.00\n\
                 2,5769,1.50,true,\n\
                 3,5769,oops,false,\n\
                 4,5769,7.25,false,3.00\n\
                 4,5769,8.00,false,3.00\n\
                 5,5769,2.00,true,\n\
                 6,5769,\"1,234.56\",false,\n\
                 Total,,1263.31,,26.00\n";
    t.write("june.csv", sheet);
    let dry = dry_run(&t, "june.csv", emu.url.as_str());
    let r = &dry["read"]["Ok"];
    assert!(r["invalid"].as_u64().unwrap() >= 1, "{dry}");
    assert_eq!(
        r["duplicates"].as_array().unwrap().len(),
        2,
        "both rows of conversion 4: {dry}"
    );
    assert!(r["skipped"].as_u64().unwrap() >= 1, "the total line: {dry}");
    let page = s.get(&s.upload("june.csv", sheet.as_bytes())).body;
    assert_same_money(&page, &dry);
    assert!(page.contains("Duplicates (2 rows)"), "{page}");
    // Duplicates are not counted in what would be sent.
    assert_eq!(r["totals"]["rows"], 4, "{dry}");
    let payout =
        json_decimal(&r["totals"]["payout_set"]) + json_decimal(&r["totals"]["payout_added"]);
    assert_eq!(payout, Decimal::from_str("1248.06").unwrap(), "{dry}");
    assert!(page.contains("Apply 4 rows — Σ payout 1,248.06"), "{page}");
    assert_eq!(emu.stats().requests, 0, "a preview sends nothing");
}

#[test]
fn beside_a_checkpoint_the_page_states_what_the_dry_run_says_an_edited_sheet_would_send() {
    let t = TestDir::new();
    let emu = emu_of(&t, 10);
    let s = server_at(&t, &emu);
    let first = "conversion_id,offer_id,payout\n1,5769,11.00\n2,5769,12.00\n3,5769,13.00\n\
                 4,5769,14.00\n5,5769,15.00\n";
    let page = s.upload("june.csv", first.as_bytes());
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "5")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 5, "{p}");
    // The same sheet, edited: one amount changed, one row added.
    let edited = "conversion_id,offer_id,payout\n1,5769,11.00\n2,5769,22.00\n3,5769,13.00\n\
                  4,5769,14.00\n5,5769,15.00\n6,5769,16.00\n";
    t.write("june.csv", edited);
    let dry = dry_run(&t, "june.csv", emu.url.as_str());
    let st = &dry["read"]["Ok"]["standing"];
    assert_eq!(
        (
            st["kept"].as_u64(),
            st["changed"].as_u64(),
            st["new"].as_u64()
        ),
        (Some(4), Some(1), Some(1)),
        "{dry}"
    );
    let page = s.get(&s.upload("june.csv", edited.as_bytes())).body;
    assert!(
        page.contains("Against that run: 4 rows keep their outcome (never sent twice), 1 changed and 1 new rows would be sent"),
        "{page}"
    );
    assert_same_money(&page, &dry);
}

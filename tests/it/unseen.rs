//! What the person could not see (issue 19): rows hidden or filtered out of a workbook, hidden
//! columns, and amounts whose cells show fewer decimals than they hold. Nothing of it is sent
//! on a guess; each test asserts on what the emulator's ledger received.

use crate::emu::{Emu, run};
use crate::run::results;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, Formula, Workbook};

fn cake() -> Emu {
    Emu::with(Ledger::generated(30_000), Faults::default())
}

/// Four approvals of which rows 3 and 5 are filtered out (as Excel leaves a filtered sheet),
/// under a `SUBTOTAL` total that sums only the rows shown.
fn filtered_book(t: &TestDir, name: &str) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "Conversion ID").unwrap();
    ws.write_string(0, 1, "Payout").unwrap();
    for (r, (id, payout)) in [
        (1201.0, 10.0),
        (1202.0, 20.0),
        (1203.0, 30.0),
        (1204.0, 40.0),
    ]
    .into_iter()
    .enumerate()
    {
        let r = u32::try_from(r).unwrap() + 1;
        ws.write_number(r, 0, id).unwrap();
        ws.write_number(r, 1, payout).unwrap();
    }
    ws.write_string(5, 0, "Total").unwrap();
    ws.write_formula(5, 1, Formula::new("=SUBTOTAL(109,B2:B5)").set_result("40"))
        .unwrap();
    ws.autofilter(0, 0, 4, 1).unwrap();
    ws.set_row_hidden(2).unwrap();
    ws.set_row_hidden(4).unwrap();
    book.save(t.path(name)).unwrap();
}

#[test]
fn filtered_out_rows_stop_the_run_until_the_person_chooses() {
    let t = TestDir::new();
    let emu = cake();
    filtered_book(&t, "june.xlsx");
    let preview = run(&t, &emu, "june.xlsx", &["--dry-run"]);
    assert!(
        preview
            .stdout
            .contains("filtered out (hidden) in the workbook (rows 3, 5)")
            && preview.stdout.contains("A run would stop before sending"),
        "{}",
        preview.stdout
    );
    let out = run(&t, &emu, "june.xlsx", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--hidden-rows skip") && out.stderr.contains("rows 3, 5"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0, "nothing sent before the choice");

    // Skipped: only what the person saw is sent, and the SUBTOTAL of the rows shown matches.
    let before = emu.conversions();
    let out = run(&t, &emu, "june.xlsx", &["--hidden-rows", "skip"]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&1201].payout, Decimal::from(10));
    assert_eq!(ledger[&1203].payout, Decimal::from(30));
    for hidden in [1202, 1204] {
        assert_eq!(
            ledger.get(&hidden),
            before.get(&hidden),
            "hidden row never sent"
        );
    }
    assert_eq!(emu.stats().requests, 2, "hidden rows never sent");
    let lines = results(&t, "june.results.csv");
    let row3 = lines.iter().find(|l| l["row"] == "3").unwrap();
    assert_eq!(row3["status"], "skipped");
    assert!(row3["message"].contains("--hidden-rows skip"), "{row3:?}");
}

#[test]
fn hidden_rows_are_sent_when_the_person_says_so() {
    let t = TestDir::new();
    let emu = cake();
    filtered_book(&t, "june.xlsx");
    let out = run(&t, &emu, "june.xlsx", &["--hidden-rows", "send"]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    for (id, payout) in [(1201, 10), (1202, 20), (1203, 30), (1204, 40)] {
        assert_eq!(ledger[&id].payout, Decimal::from(payout), "{id}");
    }
}

#[test]
fn a_hidden_column_is_ignored_said_and_read_only_when_named() {
    let t = TestDir::new();
    let emu = cake();
    hidden_column_book(&t);
    let preview = run(&t, &emu, "cols.xlsx", &["--dry-run"]);
    assert!(
        preview
            .stdout
            .contains("column C \"Revenue\" is hidden in the workbook: ignored"),
        "{}",
        preview.stdout
    );
    assert_eq!(run(&t, &emu, "cols.xlsx", &[]).code, 0);
    let c = &emu.conversions()[&1301];
    assert_eq!(c.payout, Decimal::from(5));
    assert_ne!(
        c.revenue,
        Decimal::from(99),
        "the hidden column was not sent"
    );

    let t = TestDir::new();
    hidden_column_book(&t);
    let out = run(&t, &emu, "cols.xlsx", &["--map", "Revenue=received"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&1301].revenue, Decimal::from(99));
}

/// A revenue column hidden beside the payout.
fn hidden_column_book(t: &TestDir) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (c, h) in ["Conversion ID", "Payout", "Revenue"].iter().enumerate() {
        ws.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
    }
    ws.write_number(1, 0, 1301.0).unwrap();
    ws.write_number(1, 1, 5.0).unwrap();
    ws.write_number(1, 2, 99.0).unwrap();
    ws.set_column_hidden(2).unwrap();
    book.save(t.path("cols.xlsx")).unwrap();
}

/// `$1,234.57` shown for `1234.565` stored, beside amounts the format shows whole.
fn currency_book(t: &TestDir, name: &str) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let money = Format::new().set_num_format("\"$\"#,##0.00");
    ws.write_string(0, 0, "Conversion ID").unwrap();
    ws.write_string(0, 1, "Payout").unwrap();
    ws.write_string(0, 2, "Rate").unwrap();
    ws.write_number(1, 0, 1401.0).unwrap();
    ws.write_number_with_format(1, 1, 1234.565, &money).unwrap();
    // An ignored column's display is nobody's amount.
    ws.write_number_with_format(1, 2, 0.123_45, &money).unwrap();
    ws.write_number(2, 0, 1402.0).unwrap();
    ws.write_number_with_format(2, 1, 7.5, &money).unwrap();
    book.save(t.path(name)).unwrap();
}

#[test]
fn an_amount_with_more_decimals_than_shown_stops_the_run_until_chosen() {
    let t = TestDir::new();
    let emu = cake();
    currency_book(&t, "money.xlsx");
    let out = run(&t, &emu, "money.xlsx", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("B2 (Payout) shows 1234.57, holds 1234.565")
            && out.stderr.contains("--amounts as-shown")
            && !out.stderr.contains("C2"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0, "nothing sent before the choice");

    assert_eq!(
        run(&t, &emu, "money.xlsx", &["--amounts", "as-shown"]).code,
        0
    );
    let ledger = emu.conversions();
    assert_eq!(ledger[&1401].payout, Decimal::new(123_457, 2));
    assert_eq!(ledger[&1402].payout, Decimal::new(75, 1));

    let t = TestDir::new();
    currency_book(&t, "money.xlsx");
    assert_eq!(
        run(&t, &emu, "money.xlsx", &["--amounts", "as-stored"]).code,
        0
    );
    assert_eq!(emu.conversions()[&1401].payout, Decimal::new(1_234_565, 3));
}

/// The samples as openpyxl wrote them (`samples/make-workbooks.py`): the same rules hold for
/// another writer's XML.
#[test]
fn workbooks_written_by_openpyxl_are_read_as_shown() {
    let t = TestDir::new();
    let emu = cake();
    t.sample("filtered.xlsx");
    t.sample("shown-amounts.xlsx");
    assert_eq!(run(&t, &emu, "filtered.xlsx", &[]).code, 2);
    assert_eq!(run(&t, &emu, "shown-amounts.xlsx", &[]).code, 2);
    assert_eq!(emu.stats().requests, 0, "nothing sent before the choices");
    let out = run(&t, &emu, "filtered.xlsx", &["--hidden-rows", "skip"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run(&t, &emu, "shown-amounts.xlsx", &["--amounts", "as-shown"]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert!(!ledger.contains_key(&5002) && !ledger.contains_key(&5004));
    assert_eq!(ledger[&5005].payout, Decimal::from(30));
    assert_eq!(ledger[&5101].payout, Decimal::new(123_457, 2));
    assert_eq!(ledger[&5102].payout, Decimal::from(20));
    assert_eq!(ledger[&5103].payout, Decimal::new(75, 1));
}

/// From an attack: what else hides a row, a column, a sheet or a value from the person.
#[test]
fn hidden_sheets_flat_rows_narrow_columns_and_invisible_formats_are_never_sent_unasked() {
    let t = TestDir::new();
    let emu = cake();
    let mut book = Workbook::new();
    // Last month's sheet, hidden, first in the book: never the one read by default.
    let old = book.add_worksheet().set_name("Old").unwrap();
    old.write_string(0, 0, "Conversion ID").unwrap();
    old.write_string(0, 1, "Payout").unwrap();
    old.write_number(1, 0, 1501.0).unwrap();
    old.write_number(1, 1, 99.0).unwrap();
    old.set_hidden(true);
    let ws = book.add_worksheet().set_name("June").unwrap();
    ws.set_active(true);
    ws.write_string(0, 0, "Conversion ID").unwrap();
    ws.write_string(0, 1, "Payout").unwrap();
    ws.write_string(0, 2, "Internal").unwrap();
    let invisible = Format::new().set_num_format(";;;");
    let builtin = Format::new().set_num_format_index(7);
    ws.write_number(1, 0, 1501.0).unwrap();
    ws.write_number(1, 1, 10.0).unwrap();
    ws.write_number(2, 0, 1502.0).unwrap();
    ws.write_number_with_format(2, 1, 250.0, &invisible)
        .unwrap();
    ws.write_number(3, 0, 1503.0).unwrap();
    ws.write_number_with_format(3, 1, 1234.565, &builtin)
        .unwrap();
    ws.write_number(4, 0, 1504.0).unwrap();
    ws.write_number(4, 1, 5.0).unwrap();
    ws.set_row_height(4, 0.5).unwrap();
    ws.write_number(1, 2, 77.0).unwrap();
    ws.set_column_width(2, 0.0).unwrap();
    book.save(t.path("june.xlsx")).unwrap();

    let preview = run(&t, &emu, "june.xlsx", &["--dry-run"]);
    let said = &preview.stdout;
    assert!(
        said.contains("sheet \"June\"") && said.contains("hidden sheets left unread: \"Old\""),
        "{said}"
    );
    assert!(
        said.contains("B3 (Payout) shows nothing (a blank cell), holds 250"),
        "{said}"
    );
    assert!(
        said.contains("B4 (Payout) shows 1234.57, holds 1234.565"),
        "{said}"
    );
    assert!(
        said.contains("(rows 5)") || said.contains("(row 5)"),
        "{said}"
    );
    assert!(said.contains("column C \"Internal\" is hidden"), "{said}");
    assert_eq!(run(&t, &emu, "june.xlsx", &[]).code, 2);
    assert_eq!(emu.stats().requests, 0);

    // As shown, B3 is a blank cell: its row changes nothing, which is asked about too.
    let shown = ["--amounts", "as-shown", "--hidden-rows", "skip"];
    let out = run(&t, &emu, "june.xlsx", &shown);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("row 3") && out.stderr.contains("changes nothing"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
    let out = run(
        &t,
        &emu,
        "june.xlsx",
        &[&shown[..], &["--skip-invalid"]].concat(),
    );
    assert_eq!(emu.stats().requests, 2, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(
        ledger[&1501].payout,
        Decimal::from(10),
        "June's value, not Old's"
    );
    assert!(
        !ledger.contains_key(&1502),
        "a blank cell leaves the payout: not sent"
    );
    assert_eq!(ledger[&1503].payout, Decimal::new(123_457, 2));
    assert!(!ledger.contains_key(&1504), "a flat row is a hidden row");
}

#[test]
fn cells_merged_across_rows_in_a_read_column_stop_the_run() {
    let t = TestDir::new();
    let emu = cake();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (c, h) in ["Conversion ID", "Payout", "Status"].iter().enumerate() {
        ws.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
    }
    for r in 1..=4u32 {
        ws.write_number(r, 0, f64::from(1600 + r)).unwrap();
        ws.write_number(r, 1, 0.0).unwrap();
    }
    ws.write_string(4, 2, "Approved").unwrap();
    ws.write_string(1, 2, "Rejected").unwrap();
    ws.merge_range(1, 2, 3, 2, "Rejected", &Format::new())
        .unwrap();
    book.save(t.path("merged.xlsx")).unwrap();
    let out = run(&t, &emu, "merged.xlsx", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("has cells C2:C4 merged"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn a_hidden_id_column_is_read_and_said() {
    let t = TestDir::new();
    let emu = cake();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "Conversion ID").unwrap();
    ws.write_string(0, 1, "Payout").unwrap();
    ws.write_number(1, 0, 1701.0).unwrap();
    ws.write_number(1, 1, 4.0).unwrap();
    ws.set_column_hidden(0).unwrap();
    book.save(t.path("ids.xlsx")).unwrap();
    let preview = run(&t, &emu, "ids.xlsx", &["--dry-run"]);
    assert!(
        preview
            .stdout
            .contains("column A \"Conversion ID\" is hidden in the workbook: read all the same"),
        "{}",
        preview.stdout
    );
    assert_eq!(run(&t, &emu, "ids.xlsx", &[]).code, 0);
    assert_eq!(emu.conversions()[&1701].payout, Decimal::from(4));
}

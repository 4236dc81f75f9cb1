//! The sheet read as the person meant it (issue 19): where a cell could be read two ways, the
//! tool asks instead of guessing. Each test asserts on what the emulator's ledger received.

use crate::emu::{Emu, run};
use crate::run::results;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use rust_decimal::Decimal;

fn cake() -> Emu {
    Emu::with(Ledger::generated(30_000), Faults::default())
}

#[test]
fn one_junk_cell_never_flips_the_decimal_mark() {
    for junk in [
        "n/a,0",
        "abc,5",
        "see note,1",
        "=SUM(A1,2)",
        "12,5 (pending)",
    ] {
        let t = TestDir::new();
        let emu = cake();
        t.write(
            "june.csv",
            format!("conversion_id,payout\n101,1.500\n102,2.250\n103,\"{junk}\"\n"),
        );
        let preview = run(&t, &emu, "june.csv", &["--dry-run", "--skip-invalid"]);
        assert!(
            !preview.stdout.contains("decimal comma (from"),
            "{junk}: {}",
            preview.stdout
        );
        run(&t, &emu, "june.csv", &["--skip-invalid"]);
        let ledger = emu.conversions();
        for id in [101, 102] {
            let paid = ledger.get(&id).map(|c| c.payout);
            assert!(
                paid.is_none_or(|p| p < Decimal::from(100)),
                "{junk}: conversion {id} was paid {paid:?}"
            );
        }
        // `1.500` reads two ways and nothing decides: those rows are asked about, not sent.
        let lines = results(&t, "june.results.csv");
        assert!(
            lines[0]["message"].contains("ambiguous"),
            "{junk}: {:?}",
            lines[0]
        );
    }
}

#[test]
fn spaced_thousands_and_the_accounting_zero_read_as_shown() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "eu.csv",
        "conversion_id;payout\n201;1 234,56\n202;\"1\u{a0}000,00\"\n203;€ -\n",
    );
    let out = run(&t, &emu, "eu.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&201].payout, Decimal::new(123_456, 2));
    assert_eq!(ledger[&202].payout, Decimal::new(100_000, 2));
    assert_eq!(ledger[&203].payout, Decimal::ZERO);
}

#[test]
fn a_status_column_of_decisions_is_the_disposition() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "june.csv",
        "Conv ID,Approved Payout,Status\n301,12.50,Approved\n302,0,Rejected\n303,4.00,declined\n",
    );
    let preview = run(&t, &emu, "june.csv", &["--dry-run"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview.stdout.contains(
            "(from its cells) column \"Status\" holds dispositions (Approved, Rejected, declined): \
             read as disposition_type"
        ),
        "{}",
        preview.stdout
    );
    assert_eq!(run(&t, &emu, "june.csv", &[]).code, 0);
    let ledger = emu.conversions();
    assert_eq!(ledger[&301].disposition_type, "approved");
    assert_eq!(ledger[&302].disposition_type, "rejected");
    assert_eq!(ledger[&303].disposition_type, "rejected");
}

#[test]
fn a_yes_no_decision_column_is_refused_until_its_values_are_said() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "june.csv",
        "Conversion ID,Payout,Approved?\n401,12.50,Yes\n402,0,No\n",
    );
    for args in [&["--dry-run"][..], &[]] {
        let out = run(&t, &emu, "june.csv", args);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr
                .contains("column \"Approved?\" holds decisions written as Yes, No")
                && out
                    .stderr
                    .contains("--values \"Approved?=Yes:approved,No:rejected\""),
            "{}",
            out.stderr
        );
    }
    assert_eq!(emu.stats().requests, 0);
    // Said: each value stands for a disposition.
    let values = ["--values", "Approved?=Yes:approved,No:rejected"];
    let out = run(&t, &emu, "june.csv", &values);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&401].disposition_type, "approved");
    assert_eq!(ledger[&402].disposition_type, "rejected");
    // A value map naming what the field cannot take is refused before sending.
    t.write("july.csv", "Conversion ID,Payout,Approved?\n403,1.00,Yes\n");
    let out = run(&t, &emu, "july.csv", &["--values", "Approved?=Yes:maybe"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("maybe is not a disposition_type value"),
        "{}",
        out.stderr
    );
    // Left out on purpose: sent without it.
    let out = run(&t, &emu, "july.csv", &["--map", "Approved?=ignore"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_column_of_amounts_is_never_ignored_silently_and_its_hint_adds_or_sets_as_its_words_say() {
    let t = TestDir::new();
    let emu = cake();
    for (header, hint) in [
        ("Bonus Payout", "=payout+\" adds it"),
        ("Payout Adjustment", "=payout+\" adds it"),
        ("Payout (+/-)", "=payout+\" adds it"),
        ("Sale Amount", "=sale_amount\""),
        ("Original Payout", "--map \"Original Payout=payout\""),
    ] {
        t.write(
            "s.csv",
            format!("Conversion ID,Disposition,{header}\n501,approved,2.50\n"),
        );
        let out = run(&t, &emu, "s.csv", &[]);
        assert_eq!(out.code, 2, "{header}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("column \"{header}\" holds amounts"))
                && out.stderr.contains(hint)
                && out.stderr.contains(&format!("--map \"{header}=ignore\"")),
            "{header}: {}",
            out.stderr
        );
        // A change never gets the hint that sets the payout to it.
        if hint.contains("payout+") {
            assert!(!out.stderr.contains("=payout\""), "{}", out.stderr);
        }
    }
    assert_eq!(emu.stats().requests, 0, "nothing sent");
    // Counts and ids are not money: a `Clicks` or `Sub ID` column stays ignored.
    t.write(
        "ok.csv",
        "Conversion ID,Disposition,Clicks,Sub ID\n502,approved,3,77123\n",
    );
    assert_eq!(run(&t, &emu, "ok.csv", &[]).code, 0);
}

#[test]
fn a_total_that_does_not_match_its_rows_stops_the_run() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "june.csv",
        "conversion_id,payout\n601,10.00\n602,25.00\nGrand Total,36.00\n",
    );
    for args in [&["--dry-run"][..], &[]] {
        let out = run(&t, &emu, "june.csv", args);
        assert_eq!(out.code, 2, "{out:?}");
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains(
                "payout total 36.00 but the rows above sum to 35.00 (a difference of 1.00)"
            ) && said.contains("--accept-total-mismatch"),
            "{said}"
        );
    }
    assert_eq!(emu.stats().requests, 0, "nothing sent");
    let out = run(&t, &emu, "june.csv", &["--accept-total-mismatch"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&601].payout, Decimal::new(1000, 2));
}

#[test]
fn a_correct_total_with_invalid_rows_present_is_correct() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "june.csv",
        "conversion_id,payout\n701,10.00\nabc,25.00\nTotal,35.00\n",
    );
    let out = run(&t, &emu, "june.csv", &["--skip-invalid"]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = results(&t, "june.results.csv");
    assert!(
        lines[2]["message"].contains("its amounts match the sums of the rows above"),
        "{:?}",
        lines[2]
    );
    assert_eq!(emu.conversions()[&701].payout, Decimal::new(1000, 2));
}

#[test]
fn notes_under_the_data_are_set_aside_and_never_block_the_run() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "june.csv",
        "conversion_id,payout,disposition_type\n801,10.00,approved\n802,0,rejected\n\
         Total,10.00,\n\"Note: rejected rows carry a 0 payout\",,\nQuestions: ap@example.com,,\n",
    );
    let out = run(&t, &emu, "june.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = results(&t, "june.results.csv");
    assert_eq!(lines.len(), 5, "{lines:?}");
    for l in &lines[3..] {
        assert_eq!(l["status"], "skipped", "{l:?}");
        assert!(l["message"].contains("a note below the data"), "{l:?}");
    }
    assert_eq!(emu.conversions()[&801].disposition_type, "approved");
    // A row missing only its id is an error, never a note.
    t.write(
        "july.csv",
        "conversion_id,payout,disposition_type\n803,10.00,approved\n,,approved\n",
    );
    let out = run(&t, &emu, "july.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no id"), "{}", out.stderr);
}

#[test]
fn a_negative_payout_is_set_only_when_asked_and_a_deduction_always_adds() {
    let t = TestDir::new();
    let emu = cake();
    t.write("neg.csv", "conversion_id,payout\n901,-5.00\n");
    let out = run(&t, &emu, "neg.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("would set the payout to -5.00, below zero")
            && out.stderr.contains("--allow-negative"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
    assert_eq!(run(&t, &emu, "neg.csv", &["--allow-negative"]).code, 0);
    assert_eq!(emu.conversions()[&901].payout, Decimal::new(-500, 2));
    // A deduction: added, no flag needed.
    t.write(
        "ded.csv",
        "conversion_id,payout,add_to_existing_payout\n902,-2.00,yes\n",
    );
    assert_eq!(run(&t, &emu, "ded.csv", &[]).code, 0);
    assert_eq!(emu.conversions()[&902].payout, Decimal::new(800, 2));
}

/// A workbook as a script writes one: formulas whose results were never computed.
fn scripted_book(t: &TestDir, name: &str) {
    use rust_xlsxwriter::{Formula, Workbook};
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (c, h) in ["conversion_id", "payout"].iter().enumerate() {
        ws.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
    }
    ws.write_number(1, 0, 1001.0).unwrap();
    ws.write_formula(1, 1, Formula::new("=10*1.25")).unwrap();
    ws.write_number(2, 0, 1002.0).unwrap();
    ws.write_number(2, 1, 3.5).unwrap();
    book.save(t.path(name)).unwrap();
}

#[test]
fn a_formula_without_a_computed_value_stops_the_run() {
    let t = TestDir::new();
    let emu = cake();
    scripted_book(&t, "scripted.xlsx");
    let out = run(&t, &emu, "scripted.xlsx", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("B2") && out.stderr.contains("save it"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0, "nothing sent");
}

/// [`scripted_book`] as openpyxl writes it: the formula with no value at all, and no request
/// to recalculate.
fn valueless_book(t: &TestDir, from: &str, to: &str) {
    use std::io::{Read as _, Write as _};
    let mut zin = zip::ZipArchive::new(std::fs::File::open(t.path(from)).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(t.path(to)).unwrap());
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).unwrap();
        let name = part.name().unwrap().to_string();
        let mut text = Vec::new();
        part.read_to_end(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let text = text
            .replace("<v>0</v>", "")
            .replace(" fullCalcOnLoad=\"1\"", "");
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(text.as_bytes()).unwrap();
    }
    zout.finish().unwrap();
}

#[test]
fn a_formula_with_no_value_at_all_stops_the_run_too() {
    let t = TestDir::new();
    let emu = cake();
    scripted_book(&t, "scripted.xlsx");
    valueless_book(&t, "scripted.xlsx", "openpyxl.xlsx");
    let out = run(&t, &emu, "openpyxl.xlsx", &["--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("(B2)"), "{}", out.stderr);
}

#[test]
fn a_typed_number_in_a_workbook_is_never_ambiguous() {
    use rust_xlsxwriter::Workbook;
    let t = TestDir::new();
    let emu = cake();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "conversion_id").unwrap();
    ws.write_string(0, 1, "payout").unwrap();
    ws.write_number(1, 0, 1101.0).unwrap();
    ws.write_number(1, 1, 3.333).unwrap();
    ws.write_number(2, 0, 1102.0).unwrap();
    ws.write_number(2, 1, 1.5).unwrap();
    book.save(t.path("typed.xlsx")).unwrap();
    let out = run(&t, &emu, "typed.xlsx", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&1101].payout, Decimal::new(3333, 3));
    assert_eq!(ledger[&1102].payout, Decimal::new(15, 1));
}

#[test]
fn day_first_conversion_dates_give_a_september_window_and_a_window_that_misses_stops() {
    let t = TestDir::new();
    let emu = cake();
    // A European sheet: `;`, decimal commas, day-first dates. Generated conversions are in
    // September 2026.
    t.write(
        "eu.csv",
        "conversion_id;payout;Conversion Date\n1201;1,50;01/09/2026\n1202;2,00;13/09/2026\n",
    );
    let preview = run(&t, &emu, "eu.csv", &["--dry-run"]);
    assert!(
        preview.stdout.contains("-> conversion date")
            && !preview.stdout.contains("\"Conversion Date\"    (ignored"),
        "{}",
        preview.stdout
    );
    let out = run(&t, &emu, "eu.csv", &["--read-back"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("2026-08-31") && out.stdout.contains("2026-09-14"),
        "the window read: {}",
        out.stdout
    );
    // Two-digit years, as LibreOffice writes them, read the same.
    t.write(
        "lo.csv",
        "conversion_id;payout;Conversion Date\n1203;1,50;01/09/26\n1204;2,00;13/09/26\n",
    );
    assert_eq!(run(&t, &emu, "lo.csv", &["--read-back"]).code, 0);
    // A window that misses the sheet's conversions stops before sending.
    t.write("far.csv", "conversion_id,payout\n1205,1.00\n1206,2.00\n");
    let before = emu.stats().requests;
    let out = run(
        &t,
        &emu,
        "far.csv",
        &[
            "--read-back",
            "--since",
            "2025-01-01",
            "--until",
            "2025-01-02",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("found 0 of the sheet's 2 conversions"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, before, "nothing sent");
}

#[test]
fn any_column_can_be_mapped_to_the_conversion_date_and_drives_the_window() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "booked.csv",
        "conversion_id;payout;Booked\n1211;1,50;02/09/2026\n1212;2,00;20/09/2026\n",
    );
    let mapped = ["--map", "Booked=conversion_date"];
    let preview = run(
        &t,
        &emu,
        "booked.csv",
        &[&["--dry-run"], &mapped[..]].concat(),
    );
    assert!(
        preview.stdout.lines().any(|l| l.contains("\"Booked\"")
            && l.contains("-> conversion date")
            && l.ends_with("(not sent: the read-back window)")),
        "{}",
        preview.stdout
    );
    assert!(
        preview
            .stdout
            .contains("day first: 30/09/2026 (from row 3 Booked"),
        "{}",
        preview.stdout
    );
    let out = run(
        &t,
        &emu,
        "booked.csv",
        &[&["--read-back"], &mapped[..]].concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("2026-09-01") && out.stdout.contains("2026-09-21"),
        "a day-first September window: {}",
        out.stdout
    );
    // Without the map, the window is asked for.
    let out = run(&t, &emu, "booked.csv", &["--read-back"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--since"), "{}", out.stderr);
}

#[test]
fn the_adding_targets_add_as_they_say() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "bonus.csv",
        "Conversion ID,Bonus Payout,Sale Amount\n1301,2.50,99.00\n",
    );
    let out = run(
        &t,
        &emu,
        "bonus.csv",
        &[
            "--map",
            "Bonus Payout=payout+",
            "--map",
            "Sale Amount=sale_amount",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let c = &emu.conversions()[&1301];
    // 10.00 before: the bonus is added, never set.
    assert_eq!(c.payout, Decimal::new(1250, 2));
    assert_eq!(c.sale_amount, Decimal::new(9900, 2));
}

#[test]
fn attacks_on_the_decision_column_and_the_total_line_are_caught() {
    let t = TestDir::new();
    let emu = cake();
    let dry = |name: &str, text: &str, args: &[&str]| {
        t.write(name, text);
        let mut a = vec!["--dry-run"];
        a.extend(args);
        run(&t, &emu, name, &a)
    };
    // A note under the data in the Status column does not silence it.
    let out = dry(
        "n.csv",
        "Conversion ID,Payout,Status\n1401,10.00,Approved\n1402,0,Rejected\n,,Rejected rows get 0\n",
        &[],
    );
    assert!(
        out.stdout.contains("\"Status\"") && out.stdout.contains("-> disposition_type"),
        "{}",
        out.stdout
    );
    // One typo does not drop the column: it is read, and the typo is the row's error.
    let out = dry(
        "d.csv",
        "Conversion ID,Payout,Status\n1403,10.00,Approved\n1404,0,Aproved\n1405,0,Rejected\n",
        &[],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("value \"Aproved\""), "{}", out.stdout);
    // A negative question's example does not approve the rejections.
    let out = dry(
        "r.csv",
        "Conversion ID,Payout,Fraud?\n1406,10.00,No\n1407,0,Yes\n",
        &[],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("--values \"Fraud?=Yes:rejected,No:approved\""),
        "{}",
        out.stderr
    );
    // An unquoted thousands comma shifts the cells: refused, never read shifted.
    let out = dry(
        "q.csv",
        "Conversion ID,Payout,Status\n1408,1,234.56,Approved\n",
        &[],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stdout.contains("has 4 cells but the header has 3"),
        "{}",
        out.stdout
    );
    // A total line with a count in the id column is a total, never a conversion.
    let out = dry(
        "t.csv",
        "Affiliate,Conversion ID,Payout\nacme,1409,5.00\nacme,1410,10.00\nTotal,2,15.00\n",
        &[],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Would send 2 rows"), "{}", out.stdout);
    // A total line's cells never decide the decimal mark.
    let out = dry(
        "m.csv",
        "conversion_id,payout\n1411,1.500\n1412,2.250\nTotal,\"3,75\"\n",
        &["--accept-total-mismatch"],
    );
    assert!(
        !out.stdout.contains("decimal comma (from"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn ids_counts_and_scores_are_not_refused_as_money() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "ok.csv",
        "Conversion ID,Disposition,Payout ID,Sale ID,Cost Center,Amount of Leads,Lead Score\n\
         1501,approved,98765,555,4410,3,\"7,5\"\n",
    );
    let out = run(&t, &emu, "ok.csv", &["--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    // A real amount column under a money header is still refused.
    t.write(
        "no.csv",
        "Conversion ID,Disposition,Original Payout\n1502,approved,12.50\n",
    );
    assert_eq!(run(&t, &emu, "no.csv", &["--dry-run"]).code, 2);
}

#[test]
fn signs_currencies_and_dates_as_sheets_write_them_are_read_and_a_junk_date_is_refused() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "signs.csv",
        "conversion_id,payout,Conversion Date\n\
         29100,+12.50,30.09.2026\n\
         6100,$ (2.50),Sep 7 2026\n\
         7100,12.50 USD,\"September 8, 2026\"\n",
    );
    // Generated conversion i converted on September 1 + (i - 1) / 1000 days.
    let out = run(&t, &emu, "signs.csv", &["--read-back", "--allow-negative"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("2026-09-06") && out.stdout.contains("2026-10-01"),
        "every row's date is in the window: {}",
        out.stdout
    );
    let ledger = emu.conversions();
    assert_eq!(ledger[&29100].payout, Decimal::new(1250, 2));
    assert_eq!(ledger[&6100].payout, Decimal::new(-250, 2));
    assert_eq!(ledger[&7100].payout, Decimal::new(1250, 2));

    // A conversion date nobody can read would leave its row out of the window: refused.
    t.write(
        "junk.csv",
        "conversion_id,payout,Conversion Date\n1224,1.00,01/09/2026\n1225,2.00,next Tuesday\n",
    );
    let before = emu.stats().requests;
    let out = run(&t, &emu, "junk.csv", &["--read-back"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("\"next Tuesday\"") || out.stdout.contains("\"next Tuesday\""),
        "{out:?}"
    );
    assert_eq!(emu.stats().requests, before, "nothing sent");
}

#[test]
fn decisions_with_reasons_more_decision_headers_and_subtotals_read_as_meant() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "reasons.csv",
        "Conversion ID,Payout,Status\n1231,10,Approved\n1232,0,Rejected - duplicate\n\
         1233,10,Approved (late)\n1234,0,Rejected - fraud\n",
    );
    assert_eq!(run(&t, &emu, "reasons.csv", &[]).code, 0);
    let ledger = emu.conversions();
    assert_eq!(ledger[&1232].disposition_type, "rejected");
    assert_eq!(ledger[&1233].disposition_type, "approved");

    for header in ["Finance OK?", "Include?", "Payable", "Reverse?"] {
        t.write(
            "ok.csv",
            format!(
                "Conversion ID,Payout,{header}\n1241,10,Yes\n1242,0,No\n1243,10,Yes\n1244,0,No\n"
            ),
        );
        let before = emu.stats().requests;
        let out = run(&t, &emu, "ok.csv", &[]);
        assert_eq!(out.code, 2, "{header}: {out:?}");
        assert!(out.stderr.contains("--values"), "{header}: {}", out.stderr);
        assert_eq!(emu.stats().requests, before, "{header}: nothing sent");
    }

    t.write(
        "sub.csv",
        "Conversion ID,Payout\n1251,10\n1252,20\nSubtotal,30\n1253,4\n1254,6\nSubtotal,10\nGrand Total,40\n",
    );
    let out = run(&t, &emu, "sub.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions()[&1254].payout, Decimal::from(6));
}

#[test]
fn a_bonus_column_beside_a_payout_column_is_never_hinted_to_a_map_that_fails() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "both.csv",
        "Conversion ID,Payout,Bonus Payout\n1261,12.50,1.00\n1262,8.25,\n",
    );
    let out = run(&t, &emu, "both.csv", &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("column \"Payout\" already gives payout")
            && !out.stderr.contains("payout+"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().requests, 0);
}

/// A yes/no column that says whether each amount is added, under a header the header rules do
/// not read (`Add to payout`), would leave every payout *set* to what was meant as an addition:
/// refused before sending, naming the map; mapped, the additions land once and the sets land.
#[test]
fn a_yes_no_add_column_the_headers_do_not_read_is_refused_until_mapped() {
    let t = TestDir::new();
    // Conversions 1 to 3 start with payout 10.00.
    let emu = Emu::start(Faults::default());
    for header in ["Add to payout", "Additive?", "Top up"] {
        t.write(
            "june.csv",
            format!("Conversion ID,Payout,{header}\n1,12.50,No\n2,0.75,No\n3,2.00,Yes\n"),
        );
        let out = run(&t, &emu, "june.csv", &["--dry-run"]);
        assert_eq!(out.code, 2, "{header}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("--map \"{header}=add_to_existing_payout\""))
                && out.stderr.contains("would be set instead"),
            "{header}: {}",
            out.stderr
        );
    }
    assert_eq!(emu.stats().requests, 0);
    let out = run(
        &t,
        &emu,
        "june.csv",
        &["--map", "Top up=add_to_existing_payout"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&1].payout.to_string(), "12.50");
    assert_eq!(ledger[&3].payout.to_string(), "12.00", "added once");
}

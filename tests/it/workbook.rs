//! Workbooks as Excel and `LibreOffice` save them, made by a spreadsheet library (not by hand):
//! read directly, numbers and dates exact, titles and totals handled as in a CSV.

use crate::emu::{Emu, run};
use crate::run::results;
use crate::util::TestDir;
use cake_recon::mock::Faults;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

/// id, payout, disposition, (year, month, day, hour, minute).
type Row<'a> = (f64, f64, &'a str, (u16, u8, u8, u16, u8));

/// A finance analyst's workbook: a title, a blank line, the header, Excel numbers and dates,
/// a SUM total line, and a second sheet.
fn approvals(t: &TestDir, name: &str) {
    let mut book = Workbook::new();
    let money = Format::new().set_num_format("#,##0.00");
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let ws = book.add_worksheet();
    ws.set_name("Approvals").unwrap();
    ws.write_string(0, 0, "Advertiser approvals — September 2026")
        .unwrap();
    for (c, h) in ["Conv ID", "Approved Payout", "Disposition", "Custom Date"]
        .iter()
        .enumerate()
    {
        ws.write_string(2, u16::try_from(c).unwrap(), *h).unwrap();
    }
    let rows: [Row; 3] = [
        (11.0, 12.34, "Approved", (2026, 9, 30, 14, 5)),
        (12.0, 0.1 + 0.2, "approved", (2026, 10, 1, 0, 0)),
        (13.0, 1234.5, "Rejected", (2026, 10, 2, 23, 59)),
    ];
    for (i, (id, payout, disposition, (y, mo, d, h, mi))) in rows.iter().enumerate() {
        let r = 3 + u32::try_from(i).unwrap();
        ws.write_number(r, 0, *id).unwrap();
        ws.write_number_with_format(r, 1, *payout, &money).unwrap();
        ws.write_string(r, 2, *disposition).unwrap();
        let at = ExcelDateTime::from_ymd(*y, *mo, *d)
            .unwrap()
            .and_hms(*h, *mi, 0)
            .unwrap();
        ws.write_datetime_with_format(r, 3, &at, &date).unwrap();
    }
    ws.write_string(6, 0, "Total").unwrap();
    ws.write_formula_with_format(
        6,
        1,
        Formula::new("=SUM(B4:B6)").set_result("1247.14"),
        &money,
    )
    .unwrap();
    let notes = book.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write_string(0, 0, "conversion_id").unwrap();
    notes.write_string(0, 1, "payout").unwrap();
    notes.write_number(1, 0, 99.0).unwrap();
    notes.write_number(1, 1, 1.0).unwrap();
    book.save(t.path(name)).unwrap();
}

#[test]
fn an_excel_workbook_is_read_directly_to_the_cent_and_the_second() {
    let t = TestDir::new();
    approvals(&t, "september.xlsx");
    let emu = Emu::start(Faults::default());
    let out = run(
        &t,
        &emu,
        "september.xlsx",
        &["--set", "add_to_existing_payout=false"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let c = emu.conversions();
    assert_eq!(
        c.len(),
        3,
        "the total line and the Notes sheet are not sent: {c:?}"
    );
    assert_eq!(c[&11].payout.to_string(), "12.34");
    assert_eq!(
        c[&12].payout.to_string(),
        "0.3",
        "Excel shows 0.3, not 0.30000000000000004"
    );
    assert_eq!(c[&13].payout.to_string(), "1234.5");
    assert_eq!(c[&11].effective_date, "2026-09-30 14:05:00");
    assert_eq!(c[&13].effective_date, "2026-10-02 23:59:00");
    assert_eq!(c[&13].disposition_type, "rejected");
    let lines = results(&t, "september.results.csv");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[3]["status"], "skipped");
    assert_eq!(lines[3]["row"], "7");
    assert_eq!(
        lines[0]["row"], "4",
        "rows are numbered as the spreadsheet shows them"
    );
    // No temporary file is left beside it.
    let names = t.names();
    assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
}

#[test]
fn another_sheet_is_chosen_by_name_and_a_wrong_name_lists_them() {
    let t = TestDir::new();
    approvals(&t, "book.xlsx");
    let dry = t.run(&[
        "run",
        "book.xlsx",
        "--dry-run",
        "--set",
        "add_to_existing_payout=false",
    ]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "xlsx workbook, sheet \"Approvals\" (the first visible of 2 sheets; --sheet NAME reads another)"
        ) && dry.stdout.contains("header:    row 3"),
        "{}",
        dry.stdout
    );
    let emu = Emu::start(Faults::default());
    let out = run(
        &t,
        &emu,
        "book.xlsx",
        &["--sheet", "Notes", "--output", "notes.results.csv"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.conversions().keys().copied().collect::<Vec<_>>(), [99]);
    let bad = t.run(&["run", "book.xlsx", "--dry-run", "--sheet", "Sheet9"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr
            .contains("no sheet named \"Sheet9\"; its sheets are: \"Approvals\", \"Notes\""),
        "{}",
        bad.stderr
    );
}

/// A `LibreOffice` Calc document as Calc stores it: typed cells (`office:value-type`), the value
/// in `office:value`/`office:date-value`, the display text beside it.
fn calc_document(t: &TestDir, name: &str) {
    use std::io::Write as _;
    let cell = |ty: &str, value: &str, shown: &str| match ty {
        "string" => format!(
            "<table:table-cell office:value-type=\"string\"><text:p>{shown}</text:p></table:table-cell>"
        ),
        "date" => format!(
            "<table:table-cell office:value-type=\"date\" office:date-value=\"{value}\"><text:p>{shown}</text:p></table:table-cell>"
        ),
        _ => format!(
            "<table:table-cell office:value-type=\"{ty}\" office:value=\"{value}\"><text:p>{shown}</text:p></table:table-cell>"
        ),
    };
    let row = |cells: &[String]| format!("<table:table-row>{}</table:table-row>", cells.concat());
    let rows = [
        row(&[
            cell("string", "", "conversion_id"),
            cell("string", "", "payout"),
            cell("string", "", "custom_date"),
        ]),
        row(&[
            cell("float", "21", "21"),
            cell("currency", "1234.56", "1.234,56 €"),
            cell("date", "2026-09-30T14:05:00", "30.09.26 14:05"),
        ]),
        row(&[
            cell("float", "22", "22"),
            cell("float", "0.1", "0,10"),
            cell("date", "2026-10-01", "01.10.26"),
        ]),
    ];
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.3\">\
         <office:body><office:spreadsheet><table:table table:name=\"Tabelle1\">\
         <table:table-column table:number-columns-repeated=\"3\"/>{}</table:table>\
         </office:spreadsheet></office:body></office:document-content>",
        rows.concat()
    );
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.3\">\
        <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
        <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\
        </manifest:manifest>";
    let file = std::fs::File::create(t.path(name)).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default();
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", deflated).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.start_file("META-INF/manifest.xml", deflated).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.finish().unwrap();
}

#[test]
fn a_libreoffice_document_is_read_from_its_typed_values_not_its_display_text() {
    let t = TestDir::new();
    calc_document(&t, "calc.ods");
    let emu = Emu::start(Faults::default());
    let out = run(
        &t,
        &emu,
        "calc.ods",
        &["--set", "add_to_existing_payout=false"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let c = emu.conversions();
    assert_eq!(c[&21].payout.to_string(), "1234.56");
    assert_eq!(c[&22].payout.to_string(), "0.1");
    assert_eq!(c[&21].effective_date, "2026-09-30 14:05:00");
    assert_eq!(c[&22].effective_date, "2026-10-01 00:00:00");
}

//! `run --dry-run` on real-looking sheets: exact results files, report, exit codes.

use crate::util::{HEADER, TestDir};

fn lines(v: &[&str]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for l in v {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// [`lines`] as written for a sheet with `delimiter` (and a BOM when `bom`).
fn lines_as(v: &[&str], delimiter: char, bom: bool) -> String {
    let text = lines(v).replace(',', &delimiter.to_string());
    if bom { format!("\u{feff}{text}") } else { text }
}

#[test]
fn excel_export_with_bom_semicolons_crlf_and_dollar_amounts() {
    let t = TestDir::new();
    t.sample("excel-export.csv");
    let out = t.run(&["run", "excel-export.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        t.read("excel-export.results.csv"),
        lines_as(
            &[
                "2,2001,0,,101,1234.56,2000.00,approved,would_update,0,,",
                "3,2002,0,,101,12.50,20.00,approved,would_update,0,,",
                "4,2003,0,00871,101,,,rejected,would_update,0,,",
                "5,2004,0,,102,+5.00,,approved,would_update,0,,",
                "6,2005,0,,102,+-2.50,+1.25,returned,would_update,0,,",
            ],
            ';',
            true
        ),
        "the results open in Excel as the sheet did: ';' and a BOM"
    );
    let s = &out.stdout;
    assert!(s.contains("encoding:  UTF-8 (with BOM)"), "{s}");
    assert!(s.contains("delimiter: ';' (detected)"), "{s}");
    assert!(s.contains("\"Payout\""), "{s}");
    assert!(s.contains("-> payout"), "{s}");
    assert!(s.contains("e.g. $1,234.56 | $12.50"), "{s}");
    assert!(
        s.contains("\"Advertiser Comment\"") && s.contains("(ignored)"),
        "{s}"
    );
    assert!(
        s.contains("fraud check\\r\\nfailed"),
        "samples stay on one line: {s}"
    );
    assert!(
        s.contains("Would send 5 rows (2 idempotent, 3 additive); 0 invalid"),
        "{s}"
    );
    assert!(
        s.contains("by disposition_type: approved 3, rejected 1, returned 1"),
        "{s}"
    );
    assert!(
        s.contains("Σ payout:   1,249.56 (set 1,247.06, added 2.50)"),
        "{s}"
    );
    assert!(s.contains("Σ received: 2,021.25"), "{s}");
    assert!(s.contains("row 2: GET https://YOUR-CAKE-INSTANCE/api/4/track.asmx/UpdateConversion?api_key=***&offer_id=101&conversion_id=2001&request_session_id=0&transaction_id=&payout=1234.56&add_to_existing_payout=false&received=2000.00&received_option=total_revenue&disposition_type=approved&disposition_id=0&update_revshare_payout=false&effective_date_option=today&custom_date=01%2F01%2F2001%2000%3A00%3A00&note_to_append=&disallow_on_billing_status=ignore"), "{s}");
    assert_eq!(
        s.matches(": GET https://").count(),
        3,
        "three example requests: {s}"
    );
}

#[test]
fn windows_1252_export_is_detected_and_decoded() {
    let t = TestDir::new();
    t.sample("excel-windows-1252.csv");
    let out = t.run(&[
        "run",
        "excel-windows-1252.csv",
        "--dry-run",
        "--base-url",
        "https://cake.example.com",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("windows-1252 (the file is not valid UTF-8)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "note_to_append=Caf%C3%A9%20r%C3%A9sum%C3%A9%20%E2%80%93%20approved%20%E2%82%AC"
        ),
        "cp1252 é, – and € arrive as UTF-8: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("GET https://cake.example.com/api/4/track.asmx/UpdateConversion?")
    );
    assert_eq!(
        t.read("excel-windows-1252.results.csv"),
        lines(&[
            "2,3001,0,,5769,10.00,15.00,approved,would_update,0,,",
            "3,3002,0,,5769,11.00,16.00,approved,would_update,0,,",
            "4,3003,0,,5769,0,0,rejected,would_update,0,,",
        ])
    );
}

#[test]
fn sheet_with_errors_exits_2_and_names_row_column_value() {
    let t = TestDir::new();
    t.sample("errors.csv");
    let out = t.run(&["run", "errors.csv", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    let results = t.read("errors.results.csv");
    let rows: Vec<&str> = results.lines().collect();
    assert_eq!(rows.len(), 11, "{results}");
    assert_eq!(
        rows[1],
        "2,4001,,,5769,20.00,30.00,approved,invalid,0,,\"row 2, column \"\"conversion_id\"\": the same conversion is targeted by row 10; keep one row per conversion (combine the amounts) and run again\""
    );
    assert!(rows[2].starts_with("3,4002,,,5769,1e3,30.00,approved,invalid,0,,\"row 3, column \"\"payout\"\", value \"\"1e3\"\": is in exponent form"), "{}", rows[2]);
    assert!(
        rows[4].starts_with(
            "5,,,,5769,20.00,30.00,approved,invalid,0,,\"row 5, column \"\"conversion_id\"\": no id"
        ),
        "{}",
        rows[4]
    );
    assert!(rows[5].contains("is ambiguous"), "{}", rows[5]);
    assert!(rows[6].contains("Excel has damaged this id"), "{}", rows[6]);
    assert!(rows[8].contains("has a time zone"), "{}", rows[8]);
    assert!(
        rows[10].starts_with("11,4010,,,5769,20.00,30.00,aproved,invalid"),
        "{}",
        rows[10]
    );
    assert!(out.stdout.contains("Invalid rows (10):"), "{}", out.stdout);
    // With --skip-invalid the same preview is a partial success.
    let out = t.run(&["run", "errors.csv", "--dry-run", "--skip-invalid"]);
    assert_eq!(out.code, 1, "{out:?}");
}

#[test]
fn a_valid_row_beside_invalid_ones_is_would_update() {
    let t = TestDir::new();
    t.write(
        "s.csv",
        "conversion_id,payout\n1,5\n2,abc\n3,\"$1,000.10\"\n",
    );
    let out = t.run(&["run", "s.csv", "--dry-run", "--skip-invalid"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        t.read("s.results.csv"),
        lines(&[
            "2,1,0,,5769,5,,no_change,would_update,0,,",
            "3,2,,,5769,abc,,,invalid,0,,\"row 3, column \"\"payout\"\", value \"\"abc\"\": expected an amount such as 1234.56, 1,234.56, $1,234.56 or (12.50)\"",
            "4,3,0,,5769,1000.10,,no_change,would_update,0,,",
        ])
    );
}

#[test]
fn utf16_tab_separated_with_map_and_set() {
    let t = TestDir::new();
    let text = "Conv\tApproved Revenue\tMemo\r\n17\t1.234,50\tok\r\n18\t(2,5)\t\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    t.write("eu.csv", bytes);
    let out = t.run(&[
        "run",
        "eu.csv",
        "--dry-run",
        "--decimal-comma",
        "--map",
        "conv=conversion_id",
        "--map",
        "Approved Revenue=received",
        "--set",
        "received_option=Additional Revenue",
        "--set",
        "disposition_type=approved",
        "--output",
        "out.csv",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("UTF-16LE (with BOM)"), "{}", out.stdout);
    assert!(
        out.stdout.contains("delimiter: tab (detected)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--set received_option=Additional Revenue"),
        "{}",
        out.stdout
    );
    assert_eq!(
        t.read("out.csv"),
        lines_as(
            &[
                "2,17,0,,5769,,+1234.50,approved,would_update,0,,",
                "3,18,0,,5769,,+-2.5,approved,would_update,0,,",
            ],
            '\t',
            true
        )
    );
}

#[test]
fn custom_dates_day_first() {
    let t = TestDir::new();
    t.write(
        "d.csv",
        "transaction_id,custom_date\nA-1,30/09/2026 14:05\nA-2,01/10/2026\n",
    );
    let out = t.run(&["run", "d.csv", "--dry-run", "--date-order", "dmy"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("effective_date_option=custom&custom_date=09%2F30%2F2026%2014%3A05%3A00"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("custom_date=10%2F01%2F2026%2000%3A00%3A00"),
        "{}",
        out.stdout
    );
    // Without the flag, 30/09 proves the order: the same requests, and the report says why.
    let auto = t.run(&["run", "d.csv", "--dry-run"]);
    assert_eq!(auto.code, 0, "{auto:?}");
    assert!(
        auto.stdout
            .contains("custom_date=10%2F01%2F2026%2000%3A00%3A00")
            && auto
                .stdout
                .contains("day first: 30/09/2026 (from row 2 custom_date \"30/09/2026 14:05\")"),
        "{}",
        auto.stdout
    );
    // Forced month first, 30/09 is refused with the flag that reads it.
    let out = t.run(&["run", "d.csv", "--dry-run", "--date-order", "mdy"]);
    assert_eq!(out.code, 2, "month-first reading refuses 30/09: {out:?}");
    assert!(out.stdout.contains("--date-order dmy"), "{}", out.stdout);
    // A date that contradicts the proven order is an error of its row.
    t.write(
        "d.csv",
        "transaction_id,custom_date\nA-1,30/09/2026 14:05\nA-2,09/30/2026\n",
    );
    let out = t.run(&["run", "d.csv", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stdout
            .contains("row 3, column \"custom_date\", value \"09/30/2026\"")
            && out.stdout.contains("read day first"),
        "{}",
        out.stdout
    );
}

#[test]
fn unreadable_sheets_are_clear_errors() {
    let t = TestDir::new();
    t.write("empty.csv", "");
    let out = t.run(&["run", "empty.csv", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is empty"), "{}", out.stderr);

    t.write("header.csv", "conversion_id,payout\r\n\r\n");
    let out = t.run(&["run", "header.csv", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no data rows"), "{}", out.stderr);

    let out = t.run(&["run", "missing.csv", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read missing.csv"),
        "{}",
        out.stderr
    );

    t.write("noid.csv", "amount,status\n1,2\n");
    let out = t.run(&["run", "noid.csv", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no id column"), "{}", out.stderr);

    t.write("dup.csv", "conversion_id,Conversion ID\n1,2\n");
    let out = t.run(&["run", "dup.csv", "--dry-run"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("both give conversion_id"),
        "{}",
        out.stderr
    );

    let out = t.run(&["run", "dup.csv", "--dry-run", "--api-version", "3"]);
    assert_eq!(out.code, 2, "bad flag is a usage error: {out:?}");
}

#[test]
fn formula_cells_are_neutralised_in_results() {
    let t = TestDir::new();
    t.write(
        "f.csv",
        "conversion_id,transaction_id,payout\n1,=HYPERLINK(\"http://x\"),-5\n2,@SUM(A1),abc\n",
    );
    let out = t.run(&[
        "run",
        "f.csv",
        "--dry-run",
        "--skip-invalid",
        "--allow-negative",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    let r = t.read("f.results.csv");
    assert!(
        r.contains("\n2,1,0,\"'=HYPERLINK(\"\"http://x\"\")\",5769,-5,,no_change,would_update"),
        "{r}"
    );
    assert!(r.contains("\n3,2,,'@SUM(A1),5769,abc,"), "{r}");
}

#[test]
fn dry_run_never_shows_the_api_key() {
    let t = TestDir::new();
    t.sample("approvals.csv");
    let key = "SeCrEt-KeY-123";
    for method in ["get", "post", "soap", "soap12"] {
        let out = t.run_env(
            &["run", "approvals.csv", "--dry-run", "--method", method],
            &[("CAKE_API_KEY", key)],
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.stdout.contains(key) && !out.stderr.contains(key));
        assert!(!t.read("approvals.results.csv").contains(key));
        assert!(out.stdout.contains("***"), "{}", out.stdout);
    }
}

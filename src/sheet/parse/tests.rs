//! Unit tests of `parse`.

use super::*;

fn amt(s: &str) -> Result<String, String> {
    parse_amount(s, DecimalStyle::Point).map(|d| d.to_string())
}
fn amt_comma(s: &str) -> Result<String, String> {
    parse_amount(s, DecimalStyle::Comma).map(|d| d.to_string())
}

#[test]
fn ids() {
    assert_eq!(parse_id("707658"), Ok(707_658));
    assert_eq!(parse_id("000123"), Ok(123));
    assert_eq!(parse_id("0"), Ok(0));
    assert_eq!(parse_id("2147483647"), Ok(i32::MAX));
    assert!(parse_id("2147483648").unwrap_err().contains("larger"));
    assert!(
        parse_id("99999999999999999999")
            .unwrap_err()
            .contains("larger")
    );
    assert!(parse_id("-5").is_err());
    assert!(parse_id("12.0").is_err());
    assert!(parse_id("12a").is_err());
    assert!(parse_id("1.23457E+11").unwrap_err().contains("Excel"));
    assert!(parse_id("1E+11").unwrap_err().contains("Excel"));
}

#[test]
fn transaction_ids_are_text() {
    assert_eq!(parse_transaction_id("00871").as_deref(), Ok("00871"));
    assert_eq!(parse_transaction_id("abc-1 e2").as_deref(), Ok("abc-1 e2"));
    assert_eq!(parse_transaction_id("TXE5").as_deref(), Ok("TXE5"));
    assert!(
        parse_transaction_id("1.23457E+11")
            .unwrap_err()
            .contains("Excel")
    );
}

#[test]
fn amounts_beyond_what_cake_stores_are_refused() {
    assert!(parse_amount("922,337,203,685,477.5807", DecimalStyle::Point).is_ok());
    for s in [
        "922337203685477.5808",
        "-1000000000000000",
        "79228162514264337593543950335",
    ] {
        let e = parse_amount(s, DecimalStyle::Point).unwrap_err();
        assert!(e.contains("larger than CAKE can store"), "{s}: {e}");
    }
}

#[test]
fn amounts_point() {
    assert_eq!(amt("1234.56"), Ok("1234.56".into()));
    assert_eq!(amt("1,234.56"), Ok("1234.56".into()));
    assert_eq!(amt("$1,234.56"), Ok("1234.56".into()));
    assert_eq!(amt("$1,234,567.5"), Ok("1234567.5".into()));
    assert_eq!(amt("1,234,567"), Ok("1234567".into()));
    assert_eq!(amt("-12.5"), Ok("-12.5".into()));
    assert_eq!(amt("(12.50)"), Ok("-12.50".into()));
    assert_eq!(amt("($12.50)"), Ok("-12.50".into()));
    assert_eq!(amt("-$5"), Ok("-5".into()));
    assert_eq!(amt("$-5"), Ok("-5".into()));
    assert_eq!(amt("20"), Ok("20".into()));
    assert_eq!(amt("0"), Ok("0".into()));
    assert_eq!(amt(".5"), Ok("0.5".into()));
    assert_eq!(amt("12."), Ok("12".into()));
    assert_eq!(amt("0.123456789"), Ok("0.123456789".into()));
    assert_eq!(amt("12.50 €"), Ok("12.50".into()));
    // As sheets write signs and currencies around an amount.
    assert_eq!(amt("+12.50"), Ok("12.50".into()));
    assert_eq!(amt("$ (12.50)"), Ok("-12.50".into()));
    assert_eq!(amt("$(1.25)"), Ok("-1.25".into()));
    assert_eq!(amt("(+1.25)"), Ok("-1.25".into()));
    assert_eq!(amt("12.50 USD"), Ok("12.50".into()));
    assert_eq!(amt("usd 12.50"), Ok("12.50".into()));
    assert_eq!(amt("US$1,234.50"), Ok("1234.50".into()));
    assert_eq!(amt("\u{2212}3.00"), Ok("-3.00".into()));
    assert_eq!(amt_comma("EUR 12,50"), Ok("12.50".into()));
    assert!(amt("+").is_err());
    assert!(amt("+-5").is_err());
    assert!(amt("12.50 USDX").is_err());
    assert!(amt("$ $5").is_err());
}

#[test]
fn amounts_rejected() {
    assert!(amt("1e3").unwrap_err().contains("exponent"));
    assert!(amt("1.2E+05").unwrap_err().contains("exponent"));
    assert!(amt("1,234").unwrap_err().contains("ambiguous"));
    assert!(amt("12,34.5").is_err());
    assert!(amt("1,2345.5").is_err());
    assert!(amt("abc").is_err());
    assert!(amt("$").is_err());
    assert!(amt(".").is_err());
    assert!(amt("--5").is_err());
    assert!(amt("(-5)").is_err());
    assert!(amt("1.2.3").is_err());
    assert!(amt("12%").is_err());
    assert!(amt("1234,56").unwrap_err().contains("add --decimal-comma"));
    assert!(amt("1.234,56").unwrap_err().contains("add --decimal-comma"));
    assert!(!amt("abc").unwrap_err().contains("decimal-comma"));
    assert!(amt("99999999999999999999999999999999").is_err());
}

#[test]
fn amounts_comma() {
    assert_eq!(amt_comma("1234,56"), Ok("1234.56".into()));
    assert_eq!(amt_comma("1.234,56"), Ok("1234.56".into()));
    assert_eq!(amt_comma("(12,50)"), Ok("-12.50".into()));
    assert_eq!(amt_comma("1.234"), Ok("1234".into()));
    assert_eq!(amt_comma("1.500"), Ok("1500".into()));
    assert_eq!(amt_comma("1 234,56"), Ok("1234.56".into()));
    assert_eq!(amt_comma("1\u{a0}234\u{a0}567,5 €"), Ok("1234567.5".into()));
    assert_eq!(amt("1 234.56"), Ok("1234.56".into()));
    assert_eq!(amt("1 234"), Ok("1234".into()));
    assert!(amt("12 34").is_err());
    assert!(amt_comma("1 234,5 6").is_err());
    // Excel's accounting zero.
    assert_eq!(amt("$ -"), Ok("0".into()));
    assert_eq!(amt("-"), Ok("0".into()));
    assert_eq!(amt_comma("- €"), Ok("0".into()));
    assert!(amt("--").is_err());
    assert!(amt("$").is_err());
    assert!(amt("1.500").unwrap_err().contains("ambiguous"));
    assert!(amt("€12.345").unwrap_err().contains("ambiguous"));
    assert_eq!(amt("0.125"), Ok("0.125".into()));
    assert_eq!(amt("1,234.500"), Ok("1234.500".into()));
    assert!(
        amt_comma("1,234.56")
            .unwrap_err()
            .contains("add --decimal-point")
    );
}

#[test]
fn bools() {
    for t in ["true", "TRUE", "Yes", "y", "1", "True"] {
        assert_eq!(parse_bool(t), Ok(true), "{t}");
    }
    for f in ["false", "FALSE", "no", "N", "0"] {
        assert_eq!(parse_bool(f), Ok(false), "{f}");
    }
    assert!(parse_bool("maybe").is_err());
    assert!(parse_bool("2").is_err());
}

#[test]
fn enums() {
    use crate::update::{DispositionType, ReceivedOption};
    let r = |s| parse_enum(s, ReceivedOption::from_wire, ReceivedOption::choices);
    assert_eq!(r("Total Revenue"), Ok(ReceivedOption::TotalRevenue));
    assert_eq!(
        r("ADDITIONAL-SALE-AMOUNT"),
        Ok(ReceivedOption::AdditionalSaleAmount)
    );
    assert_eq!(r(" no_change "), Ok(ReceivedOption::NoChange));
    assert!(r("revenue").unwrap_err().contains("total_revenue"));
    let d = |s| parse_enum(s, DispositionType::from_wire, DispositionType::choices);
    assert_eq!(d("Approved"), Ok(DispositionType::Approved));
    assert_eq!(d("No Change"), Ok(DispositionType::NoChange));
    assert!(d("approve").is_err());
}

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

#[test]
fn dates_mdy() {
    let p = |s| parse_date(s, DateOrder::Mdy);
    assert_eq!(p("09/30/2026 14:05:00"), Ok(dt("2026-09-30 14:05:00")));
    assert_eq!(p("9/30/2026 14:05"), Ok(dt("2026-09-30 14:05:00")));
    assert_eq!(p("9/30/2026"), Ok(dt("2026-09-30 00:00:00")));
    assert_eq!(p("9/30/2026 2:05 PM"), Ok(dt("2026-09-30 14:05:00")));
    assert_eq!(p("2026-09-30"), Ok(dt("2026-09-30 00:00:00")));
    assert_eq!(p("2026-09-30T14:05:07"), Ok(dt("2026-09-30 14:05:07")));
    assert_eq!(p("2026-09-30 14:05"), Ok(dt("2026-09-30 14:05:00")));
    assert!(p("30/09/2026").unwrap_err().contains("dmy"));
    assert!(p("2026-09-30T14:05:00Z").unwrap_err().contains("zone"));
    assert!(p("2026-09-30T14:05:00+02:00").unwrap_err().contains("zone"));
    assert!(p("2026-09-30 14:05:00 -0500").unwrap_err().contains("zone"));
    // Two-digit years, as LibreOffice writes them: this century's.
    assert_eq!(p("9/30/26"), Ok(dt("2026-09-30 00:00:00")));
    assert_eq!(p("09/01/26 14:05"), Ok(dt("2026-09-01 14:05:00")));
    assert!(p("9/30/+6").is_err());
    assert!(p("2/30/2026").is_err());
    assert!(p("yesterday").is_err());
    assert!(p("9/30/2026 25:00").is_err());
    // Found by fuzzing: chrono's %Y takes a sign, so "-366" passed as a 4-character year.
    assert!(p("9/2/-366").is_err());
    assert!(p("-366-09-02").is_err());
    assert!(p("+366-09-02").is_err());
    assert!(p("1/1/0042").is_err());
    // Found by fuzzing: a fraction of a second was dropped on the way out.
    assert!(p("03/2/2096 1:4:2.564").unwrap_err().contains("fraction"));
    assert_eq!(p("9/30/2026 14:05:00.000"), Ok(dt("2026-09-30 14:05:00")));
}

#[test]
fn dotted_and_named_month_dates_read_in_their_own_order() {
    let day = |s: &str| parse_date(s, DateOrder::Mdy).map(|d| d.date().to_string());
    for s in [
        "30.09.2026",
        "30.09.26",
        "Sep 30 2026",
        "September 30, 2026",
        "30 Sep 2026",
        "30-Sep-2026",
        "30-Sep-26",
    ] {
        assert_eq!(day(s).as_deref(), Ok("2026-09-30"), "{s}");
    }
    assert_eq!(
        parse_date("30.09.2026 14:05", DateOrder::Mdy)
            .map(|d| d.to_string())
            .as_deref(),
        Ok("2026-09-30 14:05:00")
    );
    for bad in ["31.02.2026", "Sept 30 20266", "30.09.0026", "Smarch 3 2026"] {
        assert!(day(bad).is_err(), "{bad}");
    }
}

#[test]
fn dates_dmy() {
    let p = |s| parse_date(s, DateOrder::Dmy);
    assert_eq!(p("30/09/2026 14:05"), Ok(dt("2026-09-30 14:05:00")));
    assert_eq!(p("2026-09-30"), Ok(dt("2026-09-30 00:00:00")));
    assert!(p("09/30/2026").is_err());
}

#[test]
fn ascii_fast_path_agrees_with_normalize_token() {
    for s in [
        "Total Revenue",
        "  a--b__c  ",
        "X",
        "",
        "-lead",
        "trail-",
        "Approved",
    ] {
        let mut buf = [0u8; 48];
        assert_eq!(
            normalize_ascii(s, &mut buf),
            Some(normalize_token(s).as_str()),
            "{s:?}"
        );
    }
    let mut buf = [0u8; 48];
    assert_eq!(normalize_ascii("é", &mut buf), None);
    assert_eq!(normalize_ascii(&"x".repeat(49), &mut buf), None);
}

/// Inputs the fuzzers found (`fuzz/`), replayed with the fuzz target's own checks.
#[test]
fn fuzz_crashers_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cell_parsers")
        {
            continue;
        }
        let s = std::fs::read_to_string(&path).unwrap();
        for order in [DateOrder::Mdy, DateOrder::Dmy] {
            if let Ok(d) = parse_date(&s, order) {
                assert_eq!(
                    parse_date(&crate::update::format_cake_date(&d), DateOrder::Mdy),
                    Ok(d),
                    "{}",
                    path.display()
                );
            }
        }
        if let Ok(a) = parse_amount(&s, DecimalStyle::Point) {
            assert_eq!(parse_amount(&a.to_string(), DecimalStyle::Point), Ok(a));
        }
    }
}

#[test]
fn tokens() {
    assert_eq!(normalize_token("Total Revenue"), "total_revenue");
    assert_eq!(normalize_token("  Conversion  ID "), "conversion_id");
    assert_eq!(normalize_token("request-session-id"), "request_session_id");
}

#[test]
fn cake_date_format() {
    assert_eq!(
        crate::update::format_cake_date(&dt("2026-09-03 04:05:06")),
        "09/03/2026 04:05:06"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn amount_round_trips(mantissa in -922_337_203_685_477_i64..=922_337_203_685_477, scale in 0u32..10) {
            let d = Decimal::new(mantissa, scale);
            let text = d.to_string();
            let (int_part, frac) = text.trim_start_matches('-').split_once('.').unwrap_or((&text, ""));
            if thousands_shaped(int_part, frac) {
                // `1.500`: refused as ambiguous, in every form.
                prop_assert!(parse_amount(&text, DecimalStyle::Point).is_err());
                return Ok(());
            }
            prop_assert_eq!(parse_amount(&text, DecimalStyle::Point), Ok(d));
            // Grouped, dollar-signed and bracketed forms give the same value, except the
            // one ambiguous shape (a single group and no fraction) which must be refused.
            let grouped = group_thousands(&text);
            let dollar = format!("${grouped}");
            if text.contains('.') || grouped.matches(',').count() != 1 {
                prop_assert_eq!(parse_amount(&dollar, DecimalStyle::Point), Ok(d));
                if let Some(pos) = grouped.strip_prefix('-') {
                    prop_assert_eq!(parse_amount(&format!("({pos})"), DecimalStyle::Point), Ok(d));
                }
            } else {
                prop_assert!(parse_amount(&dollar, DecimalStyle::Point).is_err());
            }
        }

        #[test]
        fn amount_parser_never_panics(s in "\\PC{0,30}") {
            let _ = parse_amount(&s, DecimalStyle::Point);
            let _ = parse_amount(&s, DecimalStyle::Comma);
            let _ = parse_id(&s);
            let _ = parse_date(&s, DateOrder::Mdy);
        }

        #[test]
        fn date_round_trips(days in 0i64..60_000, secs in 0u32..86_400) {
            let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap();
            let date = base + chrono::Duration::days(days);
            let d = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap());
            prop_assert_eq!(parse_date(&crate::update::format_cake_date(&d), DateOrder::Mdy), Ok(d));
            let iso = d.format("%Y-%m-%dT%H:%M:%S").to_string();
            prop_assert_eq!(parse_date(&iso, DateOrder::Dmy), Ok(d));
            let dmy = d.format("%d/%m/%Y %H:%M:%S").to_string();
            prop_assert_eq!(parse_date(&dmy, DateOrder::Dmy), Ok(d));
        }
    }

    fn group_thousands(text: &str) -> String {
        let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
        let (int, frac) = rest
            .split_once('.')
            .map_or((rest, None), |(i, f)| (i, Some(f)));
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        format!("{sign}{out}{frac}")
    }
}

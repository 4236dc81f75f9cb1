//! The emulator binds as ASP.NET's `.asmx` does (issue 20): what .NET accepts is applied, what
//! it refuses is refused, one test per rule; and the request real CAKE accepted, as recorded,
//! is accepted.

use crate::emu::{Emu, KEY};
use crate::emulator::{applied, raw, update};
use crate::util::TEST_OFFER;
use cake_recon::internals::{Endpoint, Transport};
use cake_recon::mock::Faults;
use rust_decimal::Decimal;

/// The GET URL the real request builder makes for conversion `id`, v4.
fn get_url(emu: &Emu, id: i32) -> String {
    Endpoint::new(&emu.url, 4, Transport::Get)
        .build(&update(id), KEY)
        .url
}

fn get(url: &str) -> crate::emulator::Answer {
    raw(false, url, None, None, None).unwrap()
}

const SOAP12: &str = "application/soap+xml; charset=utf-8; action=\"http://cakemarketing.com/api/4/UpdateConversion\"";

fn recorded_request() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cake-recorded/soap12-update-conversion-v4-request-accepted.xml");
    std::fs::read_to_string(path)
        .unwrap()
        .replace("cake-api-key", KEY)
}

#[test]
fn the_request_real_cake_accepted_is_accepted_and_applied() {
    let emu = Emu::start(Faults::default());
    let url = format!("{}/api/4/track.asmx", emu.url);
    let a = raw(true, &url, Some(SOAP12), None, Some(recorded_request())).unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<success>true</success>"), "{}", a.body);
    let c = &emu.conversions()[&145_211];
    assert_eq!(
        (c.payout, c.revenue),
        (Decimal::new(75, 2), Decimal::new(175, 2))
    );
    assert!(
        c.notes.is_empty(),
        "notes_to_append is no element of CAKE's: ignored"
    );
}

#[test]
fn a_soap_body_of_another_versions_namespace_is_refused_as_the_senders_fault() {
    let emu = Emu::start(Faults::default());
    let body = recorded_request().replace("/api/4/", "/api/1/");
    let url = format!("{}/api/4/track.asmx", emu.url);
    let a = raw(true, &url, Some(SOAP12), None, Some(body)).unwrap();
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(
        a.body.contains("soap:Sender") && a.body.contains("was not expected"),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 145_211), 0);
}

#[test]
fn an_omitted_soap_date_under_a_custom_option_ends_in_the_recorded_sqldatetime_fault() {
    let emu = Emu::start(Faults::default());
    let body = recorded_request().replace(
        "<cake:effective_date_option>today</cake:effective_date_option>",
        "<cake:effective_date_option>custom</cake:effective_date_option>",
    );
    let url = format!("{}/api/4/track.asmx", emu.url);
    let a = raw(true, &url, Some(SOAP12), None, Some(body)).unwrap();
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(
        a.body.contains("soap:Receiver") && a.body.contains("SqlDateTime overflow"),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 145_211), 0, "SQL Server refused the write");
    // Our own classifier reads it as the recording is read: failed, not applied.
    let o = cake_recon::internals::classify(
        a.status,
        None,
        a.body.as_bytes(),
        std::time::SystemTime::now(),
    );
    assert!(!o.may_have_applied(), "{o:?}");
}

#[test]
fn dates_bind_as_dotnet_parses_them() {
    let emu = Emu::start(Faults::default());
    for (i, (date, stored)) in [
        ("1%2F1%2F2001%2012%3A00%3A00%20AM", "2001-01-01 00:00:00"),
        ("2001-01-01T00%3A00%3A00.000", "2001-01-01 00:00:00"),
        ("2067-10-20%2013%3A31%3A59.7", "2067-10-20 13:31:59"),
        ("9%2F30%2F2026%202%3A05%3A00%20PM", "2026-09-30 14:05:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = 10 + i32::try_from(i).unwrap();
        let url = get_url(&emu, id)
            .replace(
                "effective_date_option=today",
                "effective_date_option=custom",
            )
            .replace(
                "custom_date=01%2F01%2F2001%2000%3A00%3A00",
                &format!("custom_date={date}"),
            );
        let a = get(&url);
        assert!(
            a.body.contains("<success>true</success>"),
            "{date}: {}",
            a.body
        );
        assert_eq!(emu.conversions()[&id].effective_date, stored, "{date}");
    }
}

#[test]
fn decimals_take_thousands_separators_and_names_any_case() {
    let emu = Emu::start(Faults::default());
    let url = get_url(&emu, 20)
        .replace("payout=2.50", "payout=1%2C234.50")
        .replace(
            "add_to_existing_payout=true",
            "add_to_existing_payout=false",
        )
        .replace("conversion_id=", "Conversion_ID=")
        .replace("api_key=", "API_KEY=");
    let a = get(&url);
    assert!(a.body.contains("<success>true</success>"), "{}", a.body);
    assert_eq!(emu.conversions()[&20].payout, Decimal::new(123_450, 2));
}

#[test]
fn a_repeated_name_is_joined_with_a_comma_refused_for_numbers_kept_for_text() {
    let emu = Emu::start(Faults::default());
    let url =
        get_url(&emu, 21).replace(&format!("offer_id={TEST_OFFER}"), "offer_id=77&offer_id=78");
    let a = get(&url);
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(
        a.body.contains("Cannot convert 77,78 to System.Int32"),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 21), 0);
    let url = get_url(&emu, 22).replace("note_to_append=n", "note_to_append=a&note_to_append=b");
    let a = get(&url);
    assert!(a.body.contains("<success>true</success>"), "{}", a.body);
    assert_eq!(emu.conversions()[&22].notes, ["a,b"]);
}

#[test]
fn offer_0_is_refused_on_version_4_as_an_instance_that_checks_the_offer_refuses_it() {
    let zero = |emu: &Emu, version: u8, id: i32| {
        let mut u = update(id);
        u.offer_id = 0;
        Endpoint::new(&emu.url, version, Transport::Get)
            .build(&u, KEY)
            .url
    };
    let emu = Emu::start(Faults::default());
    let a = get(&zero(&emu, 4, 30));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body.contains("<success>false</success>")
            && a.body.contains(cake_recon::mock::OFFER_0_REFUSED),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 30), 0);
    // Version 2 had no such check; a real offer is applied on 4.
    assert!(
        get(&zero(&emu, 2, 31))
            .body
            .contains("<success>true</success>")
    );
    assert!(
        get(&get_url(&emu, 32))
            .body
            .contains("<success>true</success>")
    );
    assert_eq!((applied(&emu, 31), applied(&emu, 32)), (1, 1));
    // `--accept-offer-0`: an instance that does not check.
    let lenient = Emu::accepting_offer_0();
    assert!(
        get(&zero(&lenient, 4, 33))
            .body
            .contains("<success>true</success>")
    );
    assert_eq!(applied(&lenient, 33), 1);
}

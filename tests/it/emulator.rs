//! The emulator's own behaviour, request by request: binding, semantics, each fault, admin.

use crate::emu::{Emu, KEY};
use cake_recon::internals::{Endpoint, Transport};
use cake_recon::mock::Faults;
use cake_recon::update::{ConversionUpdate, DispositionType, EffectiveDateOption, ReceivedOption};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};

pub(crate) fn update(id: i32) -> ConversionUpdate {
    ConversionUpdate {
        row: 2,
        offer_id: crate::util::TEST_OFFER,
        offer: cake_recon::update::Offer::Given,
        conversion_id: id,
        request_session_id: 0,
        transaction_id: String::new(),
        payout: Decimal::new(250, 2),
        add_to_existing_payout: true,
        received: Decimal::ZERO,
        received_option: ReceivedOption::NoChange,
        disposition_type: DispositionType::Approved,
        disposition_id: 0,
        update_revshare_payout: false,
        effective_date_option: EffectiveDateOption::Today,
        custom_date: None,
        note_to_append: "n".into(),
        disallow_on_billing_status: "ignore".into(),
    }
}

pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Sends one request built by the real request builder; `Err` when the connection failed.
fn send(
    emu: &Emu,
    transport: Transport,
    version: u8,
    u: &ConversionUpdate,
    key: &str,
) -> Result<Answer, String> {
    let r = Endpoint::new(&emu.url, version, transport).build(u, key);
    raw(
        r.post,
        &r.url,
        r.content_type.as_deref(),
        r.soap_action.as_deref(),
        r.body,
    )
}

pub(crate) fn raw(
    post: bool,
    url: &str,
    ct: Option<&str>,
    action: Option<&str>,
    body: Option<String>,
) -> Result<Answer, String> {
    cake_recon::internals::install_crypto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut b = if post {
            client.post(url)
        } else {
            client.get(url)
        };
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        if let Some(a) = action {
            b = b.header("SOAPAction", a);
        }
        if let Some(body) = body {
            b = b.body(body);
        }
        let resp = b.send().await.map_err(|e| e.without_url().to_string())?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = resp.text().await.map_err(|e| e.without_url().to_string())?;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    })
}

pub(crate) fn applied(emu: &Emu, id: i32) -> u32 {
    emu.conversions().get(&id).map_or(0, |c| c.applied)
}

#[test]
fn strict_binding_over_get_and_post() {
    let emu = Emu::start(Faults::default());
    let good = Endpoint::new(&emu.url, 2, Transport::Get)
        .build(&update(1), KEY)
        .url;
    let missing = good.replace("&note_to_append=n", "");
    let a = raw(false, &missing, None, None, None).unwrap();
    assert_eq!(a.status, 500);
    assert!(
        a.body.contains("Missing parameter: note_to_append."),
        "{}",
        a.body
    );
    let bad = good.replace("add_to_existing_payout=true", "add_to_existing_payout=1");
    let a = raw(false, &bad, None, None, None).unwrap();
    assert_eq!(a.status, 500);
    assert!(
        a.body.contains("Cannot convert 1 to System.Boolean"),
        "{}",
        a.body
    );
    // v4 requires disallow_on_billing_status.
    let v4 = good.replace("/api/2/", "/api/4/");
    let a = raw(false, &v4, None, None, None).unwrap();
    assert!(
        a.body
            .contains("Missing parameter: disallow_on_billing_status."),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 1), 0);
    let a = send(&emu, Transport::Post, 4, &update(1), KEY).unwrap();
    assert!(
        a.body.contains("<success>true</success>")
            && a.body.contains("http://cakemarketing.com/api/4/"),
        "{}",
        a.body
    );
    assert_eq!(applied(&emu, 1), 1);
}

#[test]
fn soap_ignores_misspelled_elements_and_checks_the_action() {
    let emu = Emu::start(Faults::default());
    let r = Endpoint::new(&emu.url, 2, Transport::Soap).build(&update(2), KEY);
    let misspelled = r
        .body
        .clone()
        .unwrap()
        .replace("note_to_append>", "note_to_apend>");
    let a = raw(
        true,
        &r.url,
        r.content_type.as_deref(),
        r.soap_action.as_deref(),
        Some(misspelled),
    )
    .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body
            .contains("<UpdateConversionResult><success>true</success>"),
        "{}",
        a.body
    );
    assert_eq!(
        emu.conversions()[&2].notes,
        Vec::<String>::new(),
        "the note silently vanished, as on CAKE"
    );
    let a = raw(
        true,
        &r.url,
        r.content_type.as_deref(),
        Some("\"http://cakemarketing.com/api/2/Other\""),
        r.body.clone(),
    )
    .unwrap();
    assert_eq!(a.status, 500);
    assert!(a.body.contains("SOAPAction"), "{}", a.body);
    let a = send(&emu, Transport::Soap12, 2, &update(2), KEY).unwrap();
    assert!(
        a.body.contains("http://www.w3.org/2003/05/soap-envelope")
            && a.body.contains("<success>true</success>"),
        "{}",
        a.body
    );
    let garbage = raw(
        true,
        &r.url,
        r.content_type.as_deref(),
        r.soap_action.as_deref(),
        Some("<soap:Envelope><broken".into()),
    )
    .unwrap();
    assert_eq!(garbage.status, 500);
    assert!(garbage.body.contains("soap:Fault"), "{}", garbage.body);
    assert_eq!(applied(&emu, 2), 2);
}

#[test]
fn wrong_key_and_unknown_conversion() {
    let emu = Emu::start(Faults::default());
    let a = send(&emu, Transport::Get, 2, &update(3), "nope").unwrap();
    assert!(
        a.body.contains("<success>false</success>") && a.body.contains("Invalid API Key"),
        "{}",
        a.body
    );
    let a = send(&emu, Transport::Get, 2, &update(5_000_000), KEY).unwrap();
    assert!(a.body.contains("Conversion Not Found"), "{}", a.body);
    assert!(emu.conversions().is_empty());
}

#[test]
fn refusals_before_work_are_never_applied() {
    for (f, status, needle) in [
        (
            Faults {
                throttle_rate: 1.0,
                retry_after: 7,
                ..Faults::default()
            },
            429,
            "",
        ),
        (
            Faults {
                unavailable_rate: 1.0,
                retry_after: 7,
                ..Faults::default()
            },
            503,
            "",
        ),
        (
            Faults {
                restricted_rate: 1.0,
                ..Faults::default()
            },
            200,
            "<message>Restricted</message>",
        ),
        (
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
            500,
            "Server Error",
        ),
    ] {
        let emu = Emu::start(f);
        let a = send(&emu, Transport::Get, 2, &update(4), KEY).unwrap();
        assert_eq!(a.status, status);
        assert!(a.body.contains(needle), "{}", a.body);
        if status == 429 || status == 503 {
            assert_eq!(a.retry_after.as_deref(), Some("7"));
        }
        assert_eq!(applied(&emu, 4), 0, "{status}");
    }
}

#[test]
fn faults_after_work_are_applied() {
    let emu = Emu::start(Faults {
        error_after_apply_rate: 1.0,
        ..Faults::default()
    });
    let a = send(&emu, Transport::Get, 2, &update(5), KEY).unwrap();
    assert_eq!(a.status, 500);
    assert_eq!(applied(&emu, 5), 1);

    let emu = Emu::start(Faults {
        drop_after_rate: 1.0,
        ..Faults::default()
    });
    assert!(
        send(&emu, Transport::Post, 2, &update(5), KEY).is_err(),
        "no answer"
    );
    assert_eq!(applied(&emu, 5), 1);

    let emu = Emu::start(Faults {
        drop_before_rate: 1.0,
        ..Faults::default()
    });
    assert!(
        send(&emu, Transport::Soap, 2, &update(5), KEY).is_err(),
        "no answer"
    );
    assert_eq!(applied(&emu, 5), 0);

    let emu = Emu::start(Faults {
        slow_after_rate: 1.0,
        slow_ms: 300,
        ..Faults::default()
    });
    let t = Instant::now();
    let a = send(&emu, Transport::Get, 2, &update(5), KEY).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(a.body.contains("<success>true</success>"));
    assert_eq!(applied(&emu, 5), 1);
}

#[test]
fn latency_and_hard_rate_limit() {
    let emu = Emu::start(Faults {
        latency_ms: 120,
        ..Faults::default()
    });
    let t = Instant::now();
    send(&emu, Transport::Get, 2, &update(6), KEY).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(120));

    let emu = Emu::start(Faults {
        max_rps: 5.0,
        ..Faults::default()
    });
    let statuses: Vec<u16> = (0..10)
        .map(|i| {
            send(&emu, Transport::Get, 2, &update(10 + i), KEY)
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    let stats = emu.stats();
    assert_eq!(stats.requests, 10);
    assert_eq!(stats.applied, 5);
    assert_eq!(stats.answers.get("over_max_rps"), Some(&5));
}

#[test]
fn admin_endpoints_show_the_ledger() {
    let emu = Emu::start(Faults::default());
    send(&emu, Transport::Get, 2, &update(9), KEY).unwrap();
    let a = raw(
        false,
        &format!("{}/admin/ledger", emu.url),
        None,
        None,
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["conversions"][0]["conversion_id"], 9);
    assert_eq!(v["conversions"][0]["payout"], "12.50");
    assert_eq!(v["conversions"][0]["applied"], 1);
    assert_eq!(v["conversions"][0]["notes"][0], "n");
    assert_eq!(v["stats"]["requests"], 1);
    let a = raw(false, &format!("{}/admin/stats", emu.url), None, None, None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["applied"], 1);
    assert_eq!(
        raw(false, &format!("{}/nope", emu.url), None, None, None)
            .unwrap()
            .status,
        404
    );
}

#[test]
fn mock_server_command_serves_and_stops() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .args([
            "mock-server",
            "--listen",
            "127.0.0.1:0",
            "--conversions",
            "5",
        ])
        .env_remove("CAKE_API_KEY")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let r = Endpoint::new(&url, 2, Transport::Get).build(&update(5), "sandbox");
    let a = raw(false, &r.url, None, None, None).unwrap();
    assert!(a.body.contains("<success>true</success>"), "{}", a.body);
    let r = Endpoint::new(&url, 2, Transport::Get).build(&update(6), "sandbox");
    assert!(
        raw(false, &r.url, None, None, None)
            .unwrap()
            .body
            .contains("Conversion Not Found")
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drop(stdout);
}

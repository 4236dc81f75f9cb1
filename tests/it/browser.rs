//! The screen in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! over the W3C `WebDriver` protocol: a messy Excel-made sheet uploaded, a mapping fixed in the
//! page, the totals read, the sheet applied against the emulator, the run watched to its end,
//! the results downloaded — asserted on the page *and* on the emulator's ledger. Each step's
//! screenshot is written to `docs/screens/`, so the README's pictures stay current.
//!
//! Without a browser the test says so and passes: `.ci/run` installs one.

use crate::emu::{Emu, KEY};
use crate::serve::Server;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `WebDriver` name of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver and a Chromium session, both ended on drop.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (with the reason printed) when this machine has no Chromium.
    pub(crate) fn start() -> Option<Self> {
        let (Some(driver), Some(chromium)) = (
            which("chromedriver"),
            which("chromium").or_else(|| which("chromium-browser")),
        ) else {
            eprintln!(
                "SKIPPED browser test: no chromium/chromedriver on PATH (apt-get install chromium \
                 chromium-driver; .ci/run installs them)"
            );
            return None;
        };
        let port = crate::util::free_addr()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // chromedriver says when it listens.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("chromedriver did not start");
            if line.contains("started successfully") {
                break;
            }
        }
        cake_recon::internals::install_crypto();
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut b = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            rt,
            http,
            profile,
        };
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", b.profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().unwrap().to_string();
        Some(b)
    }

    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        self.rt.block_on(async {
            let mut r = self.http.request(method.parse().unwrap(), &url);
            if let Some(b) = body {
                r = r
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let text = r.send().await.unwrap().text().await.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(
                v["value"]["error"].is_null(),
                "WebDriver {method} {path}: {}",
                v["value"]
            );
            if v.get("sessionId").is_some() {
                v.clone()
            } else {
                v["value"].clone()
            }
        })
    }

    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn find(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        self.rt.block_on(async {
            let text = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(json!({"using": "css selector", "value": css}).to_string())
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            v["value"][ELEMENT].as_str().map(str::to_string)
        })
    }

    /// Waits (bounded) for an element: pages here change by themselves (the run page reloads
    /// when the run ends).
    pub(crate) fn wait(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} on the page: {}",
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn text(&self, css: &str) -> String {
        let Some(e) = self.find(css) else {
            return String::new();
        };
        self.call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits (bounded) until an element's text is `expected`. After a click that loads a
    /// new page, the old page's element may still answer (or go stale mid-read): waiting for
    /// the element alone races the navigation, waiting for what it says does not.
    pub(crate) fn wait_text(&self, css: &str, expected: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.try_text(css).as_deref() == Some(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never read {expected:?}; it reads {:?}",
                self.try_text(css)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An element's text, or `None` when it is missing or went stale under a navigation.
    fn try_text(&self, css: &str) -> Option<String> {
        let e = self.find(css)?;
        let url = format!("{}/session/{}/element/{e}/text", self.base, self.session);
        self.rt.block_on(async {
            let text = self.http.get(&url).send().await.ok()?.text().await.ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            v["value"].as_str().map(str::to_string)
        })
    }

    pub(crate) fn click(&self, css: &str) {
        let e = self.wait(css, Duration::from_secs(10));
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, Duration::from_secs(10));
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub(crate) fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({ "script": js, "args": [] })),
        )
    }

    /// Form controls a screen reader could not name: every visible input, select and button
    /// needs a label, an `aria-label` or text.
    pub(crate) fn unlabelled(&self) -> Vec<String> {
        let v = self.call(
            "POST",
            "/execute/sync",
            Some(
                json!({"script": "return Array.from(document.querySelectorAll(\
                'input:not([type=hidden]), select, textarea, button')).filter(e => \
                !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && \
                !e.textContent.trim()).map(e => e.outerHTML.slice(0, 120));", "args": []}),
            ),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect()
    }

    /// The whole page as a PNG, written to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": 1280, "height": 700})),
        );
        let h = self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.documentElement.scrollHeight", "args": []})),
        );
        let height = h.as_u64().unwrap_or(1000).clamp(500, 3000);
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": 1280, "height": height + 140})),
        );
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self
                .rt
                .block_on(async { self.http.delete(&url).send().await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub(crate) fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..chunk.len()]);
    }
    out
}

/// An approval sheet as finance exports it from Excel: a title and a blank row above the
/// header, an amount column under a name cake-recon does not know ("Approved Amount"), a status
/// column it only suggests, and a total line at the bottom.
fn messy_workbook(path: &Path) -> Vec<(i32, &'static str)> {
    let rows = [
        (11, "1234.5"),
        (12, "80"),
        (13, "19.99"),
        (14, "2500"),
        (15, "0.01"),
        (16, "410.5"),
    ];
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "Advertiser approvals — June 2026")
        .unwrap();
    let header = ["Conversion ID", "Affiliate", "Approved Amount", "Status"];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(2, u16::try_from(c).unwrap(), *h).unwrap();
    }
    let mut total = 0.0;
    for (i, (id, amount)) in rows.iter().enumerate() {
        let r = u32::try_from(i).unwrap() + 3;
        ws.write_number(r, 0, f64::from(*id)).unwrap();
        ws.write_string(r, 1, "Blue Fox Media").unwrap();
        let a: f64 = amount.parse().unwrap();
        total += a;
        ws.write_number(r, 2, a).unwrap();
        ws.write_string(r, 3, "Approved").unwrap();
    }
    ws.write_string(9, 0, "Total").unwrap();
    ws.write_number(9, 2, total).unwrap();
    book.save(path).unwrap();
    rows.to_vec()
}

/// Sets one offer for every row (the sheets here have no offer column) and updates the
/// preview.
fn give_offer(b: &Browser) {
    b.click("#setf0 option[value=offer_id]");
    b.type_into("#setv0", &crate::util::TEST_OFFER.to_string());
    b.click("form[action*='/choices'] button[type=submit]");
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one analyst's walk through the screen, step by step"
)]
fn a_finance_analyst_applies_a_messy_excel_sheet_from_the_browser() {
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
            "1",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    let sheet = t.path("June approvals.xlsx");
    let rows = messy_workbook(&sheet);

    // 1. Upload: the printed link, then the file picker.
    b.goto(&s.url(&format!("/?token={}", s.token)));
    b.wait("#sheet", Duration::from_secs(10));
    assert!(b.text("h1").contains("Apply an approval sheet"));
    let address = b.call("GET", "/url", None);
    assert!(!address.as_str().unwrap().contains("token="), "{address}");
    b.type_into("#sheet", sheet.to_str().unwrap());
    b.screenshot(&screens.join("1-upload.png"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());
    b.click("#upload-form button[type=submit]");

    // 2. The sheet changes nothing as detected: the page says so and offers the mapping.
    b.wait("table.mapping", Duration::from_secs(30));
    let body = b.text("main");
    // An amounts column the header rules do not know is never ignored silently.
    assert!(
        body.contains("column \"Approved Amount\" holds amounts"),
        "{body}"
    );
    assert!(
        b.find("#apply").is_none(),
        "no Apply before the sheet reads"
    );
    b.click("select[aria-label='What column Approved Amount sends'] option[value=payout]");
    b.click("select[aria-label='What column Status sends'] option[value=disposition_type]");
    b.click("form[action*='/choices'] button[type=submit]");
    // No offer column, no days: Apply waits until the offer is given.
    b.wait("#setf0", Duration::from_secs(30));
    let body = b.text("main");
    assert!(body.contains("6 rows give no offer"), "{body}");
    assert!(b.find("#apply").is_none(), "no Apply without offers");
    give_offer(&b);

    // The totals, with thousands separators; the title and the total line set aside.
    b.wait("#apply", Duration::from_secs(30));
    assert_eq!(b.text("#total-rows"), "6");
    assert_eq!(b.text("#payout-set"), "4,245.00");
    let body = b.text("main");
    assert!(
        body.contains("row 3 (rows above it skipped as titles)"),
        "{body}"
    );
    assert!(body.contains("approved 6"), "{body}");
    let apply = b.text("#apply");
    assert!(
        apply.contains("Apply 6 rows") && apply.contains("4,245.00"),
        "{apply}"
    );
    assert_eq!(emu.stats().requests, 0, "nothing is sent before Apply");
    b.screenshot(&screens.join("2-preview.png"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());

    // 3. Apply, and watch the run.
    b.click("#apply");
    b.wait("#progress", Duration::from_secs(10));
    assert_eq!(b.text("#valid"), "6");
    // A picture once a few rows are done (the page updates itself every second).
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.find("#progress").is_some()
        && b.text("#done").parse::<u32>().unwrap_or(0) < 2
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    if b.find("#progress").is_some() {
        b.screenshot(&screens.join("3-apply.png"));
    }
    // 4. The page reloads itself when the run ends.
    b.wait("#outcome", Duration::from_secs(60));
    assert_eq!(b.text("#outcome"), "finished: every row was updated");
    assert!(b.text("#statuses").contains("updated 6"));
    assert!(
        b.text("#applied").contains("Σ payout set 4,245.00"),
        "{}",
        b.text("#applied")
    );
    b.screenshot(&screens.join("4-results.png"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());

    // The download, fetched by the page itself (its cookie, its link).
    let csv = b.script(
        "const done = arguments[arguments.length - 1];\
         fetch(document.getElementById('dl-results-csv').href).then(r => r.text()).then(done);",
    );
    let csv = csv.as_str().unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.contains(",updated,")).count(),
        6,
        "{csv}"
    );

    // And CAKE holds what the sheet said.
    let ledger = emu.conversions();
    for (id, amount) in rows {
        let want: rust_decimal::Decimal = amount.parse().unwrap();
        assert_eq!(ledger[&id].payout, want, "conversion {id}");
        assert_eq!(ledger[&id].disposition_type, "approved", "conversion {id}");
    }
    assert_eq!(emu.stats().requests, 6);
}

#[test]
fn rows_filtered_out_of_a_workbook_wait_for_the_persons_choice_on_the_screen() {
    let Some(b) = Browser::start() else {
        return;
    };
    let screens = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(10_000), Faults::default());
    let s = Server::start(
        &t,
        &["--base-url", emu.url.as_str(), "--listen", "127.0.0.1:0"],
        &[("CAKE_API_KEY", KEY)],
    );
    // The sample as openpyxl wrote it: two rejected rows filtered out of view.
    let sheet = t.path("filtered.xlsx");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/filtered.xlsx"),
        &sheet,
    )
    .unwrap();
    b.goto(&s.url(&format!("/?token={}", s.token)));
    b.wait("#sheet", Duration::from_secs(10));
    b.type_into("#sheet", sheet.to_str().unwrap());
    b.click("#upload-form button[type=submit]");
    b.wait("table.mapping", Duration::from_secs(30));
    let body = b.text("main");
    assert!(
        body.contains("2 row(s) filtered out (hidden) in the workbook (rows 3, 5)"),
        "{body}"
    );
    assert!(
        body.contains("column \"Status\" holds dispositions"),
        "{body}"
    );
    assert!(b.find("#apply").is_none(), "no Apply before the choice");
    b.screenshot(&screens.join("5-hidden-rows.png"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());

    b.click("#hidden_rows option[value=skip]");
    give_offer(&b);
    b.wait("#apply", Duration::from_secs(30));
    assert!(
        b.text("#apply").contains("Apply 3 rows"),
        "{}",
        b.text("#apply")
    );
    b.click("#apply");
    b.wait("#outcome", Duration::from_secs(60));
    let ledger = emu.conversions();
    assert_eq!(ledger[&5001].payout, rust_decimal::Decimal::new(125, 1));
    assert_eq!(ledger[&5005].disposition_type, "approved");
    for hidden in [5002, 5004] {
        assert!(
            !ledger.contains_key(&hidden),
            "row of {hidden} was filtered out: never sent"
        );
    }
    assert_eq!(emu.stats().requests, 3);
}

#[test]
fn a_yes_no_column_is_given_its_meaning_by_a_dropdown_per_value() {
    let Some(b) = Browser::start() else {
        return;
    };
    let screens = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(1_000_000), Faults::default());
    let s = Server::start(
        &t,
        &["--base-url", emu.url.as_str(), "--listen", "127.0.0.1:0"],
        &[("CAKE_API_KEY", KEY)],
    );
    let sheet = t.path("yes-no.csv");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/yes-no.csv"),
        &sheet,
    )
    .unwrap();
    b.goto(&s.url(&format!("/?token={}", s.token)));
    b.wait("#sheet", Duration::from_secs(10));
    b.type_into("#sheet", sheet.to_str().unwrap());
    b.click("#upload-form button[type=submit]");
    b.wait("table.mapping", Duration::from_secs(30));
    assert!(
        b.text("main")
            .contains("holds decisions written as Yes, No")
    );
    assert!(
        b.find("#apply").is_none(),
        "no Apply while the column is unread"
    );

    // The column sends the disposition; then each of its values is said.
    b.click("select[aria-label='What column Approved? sends'] option[value=disposition_type]");
    b.click("form[action*='/choices'] button[type=submit]");
    b.wait("#value-map", Duration::from_secs(30));
    b.click("#vval0 option[value=approved]");
    b.click("#vval1 option[value=rejected]");
    b.screenshot(&screens.join("6-value-map.png"));
    assert!(b.unlabelled().is_empty(), "{:?}", b.unlabelled());
    give_offer(&b);
    b.wait("#apply", Duration::from_secs(30));
    let body = b.text("main");
    assert!(
        body.contains("values: yes → approved, no → rejected"),
        "{body}"
    );
    assert!(body.contains("approved 1, rejected 1"), "{body}");
    b.click("#apply");
    b.wait("#outcome", Duration::from_secs(60));
    let ledger = emu.conversions();
    assert_eq!(ledger[&707_658].disposition_type, "approved");
    assert_eq!(ledger[&707_659].disposition_type, "rejected");
    assert_eq!(emu.stats().requests, 2);
}

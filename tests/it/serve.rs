//! `cake-recon serve` over HTTP: the token, CSRF, the size limit, loopback, the key never in a
//! response, and a sheet applied from the page landing in the emulator's ledger.

use crate::emu::{Emu, KEY};
use crate::util::{TEST_OFFER, TestDir};
use cake_recon::mock::{Faults, Ledger};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// One answer.
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A `cake-recon serve` process, stopped (SIGTERM, then waited for) on drop.
pub(crate) struct Server {
    child: Child,
    pub addr: String,
    pub token: String,
    /// Everything the server printed so far.
    pub log: Arc<Mutex<String>>,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// With `--users`: the session cookie of the person signed in (else the token's cookie).
    session: Mutex<Option<String>>,
}

impl Server {
    /// Signs `name` in (`--users`); the requests after it are theirs. The HTTP status.
    pub(crate) fn sign_in(&self, name: &str, password: &str) -> u16 {
        let form = self.send("GET", "/signin", &[], Vec::new());
        let at = form.body.find("csrf=").expect("the sign-in form");
        let csrf: String = form.body[at + 5..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        let r = self.send(
            "POST",
            &format!("/signin?csrf={csrf}"),
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            )],
            format!("name={}&password={}", percent(name), percent(password)).into_bytes(),
        );
        if let Some(c) = r.header("set-cookie") {
            *self.session.lock().unwrap() = c.split(';').next().map(str::to_string);
        }
        r.status
    }

    /// The server process's peak resident memory so far, in kB (`VmHWM`).
    pub(crate) fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Starts `serve ARGS` in `t` (port 0: the printed link says which) and waits for its link.
    pub(crate) fn start(t: &TestDir, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cake-recon"));
        cmd.arg("serve")
            .args(args)
            .current_dir(t.dir.path())
            .env("XDG_DATA_HOME", t.data_home())
            .env_remove("CAKE_API_KEY")
            .env_remove("CAKE_BASE_URL")
            .env_remove("CAKE_RECON_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        for (pipe, tx) in [
            (
                Box::new(stderr) as Box<dyn std::io::Read + Send>,
                tx.clone(),
            ),
            (Box::new(stdout), tx),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&line);
                    log.lock().unwrap().push('\n');
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let link = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("open http://") => break line,
                Ok(_) => {}
                Err(e) => panic!("serve printed no link ({e}): {}", log.lock().unwrap()),
            }
        };
        let url = link.split("open ").nth(1).unwrap().trim();
        let rest = url.strip_prefix("http://").unwrap();
        let (addr, query) = rest.split_once("/?token=").unwrap();
        cake_recon::internals::install_crypto();
        Self {
            child,
            addr: addr.to_string(),
            token: query.to_string(),
            log,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            session: Mutex::new(None),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The cookie the token link sets.
    pub(crate) fn cookie(&self) -> String {
        if let Some(c) = self.session.lock().unwrap().clone() {
            return c;
        }
        let port = self.addr.rsplit(':').next().unwrap();
        format!("cake_recon_{port}={}", self.token)
    }

    /// A request; `headers` as given (no cookie unless passed).
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Resp {
        self.rt.block_on(async {
            let mut b = self
                .client
                .request(method.parse().unwrap(), self.url(path))
                .body(body);
            for (k, v) in headers {
                b = b.header(*k, v);
            }
            let resp = b.send().await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let body = resp.text().await.unwrap();
            Resp {
                status,
                headers,
                body,
            }
        })
    }

    /// GET with the cookie.
    pub(crate) fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[("cookie", self.cookie())], Vec::new())
    }

    /// The CSRF token the home page's forms carry.
    pub(crate) fn csrf(&self) -> String {
        let home = self.get("/");
        let at = home.body.find("csrf=").expect("a form with a csrf token");
        home.body[at + 5..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect()
    }

    /// POST a form with the cookie and the CSRF token.
    pub(crate) fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", percent(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if path.contains('?') { '&' } else { '?' };
        self.send(
            "POST",
            &format!("{path}{sep}csrf={}", self.csrf()),
            &[
                ("cookie", self.cookie()),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
            ],
            body.into_bytes(),
        )
    }

    /// Uploads a file as the page's form does; `csrf` and `cookie` as given.
    pub(crate) fn upload_with(
        &self,
        name: &str,
        bytes: &[u8],
        csrf: Option<&str>,
        extra: &[(&str, String)],
    ) -> Resp {
        let boundary = "----cakereconboundary7MA4YWxkTrZu0gW";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"sheet\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = match csrf {
            Some(c) => format!("/upload?csrf={c}"),
            None => "/upload".to_string(),
        };
        let mut headers = vec![(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )];
        headers.extend(extra.iter().cloned());
        self.send("POST", &path, &headers, body)
    }

    /// Uploads with the cookie and the right CSRF token; the upload's page path.
    pub(crate) fn upload(&self, name: &str, bytes: &[u8]) -> String {
        let csrf = self.csrf();
        let r = self.upload_with(name, bytes, Some(&csrf), &[("cookie", self.cookie())]);
        assert_eq!(r.status, 303, "{}", r.body);
        r.header("location").unwrap().to_string()
    }

    /// Polls the sheet's page (bounded) until its comparison with CAKE is done; the page.
    pub(crate) fn wait_for_check(&self, page: &str) -> Resp {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = self.get(page);
            if !r.body.contains("id=\"checking\"") {
                return r;
            }
            assert!(Instant::now() < deadline, "the comparison did not end");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls the job's progress (bounded) until its run has ended; the last progress JSON.
    pub(crate) fn wait_for_job(&self, stem: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let p: serde_json::Value =
                serde_json::from_str(&self.get(&format!("/job/{stem}/progress")).body).unwrap();
            if p["running"] == false && p["outcome"] != "running" {
                return p;
            }
            assert!(Instant::now() < deadline, "the run did not end: {p}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Server {
    /// `kill -9`: the server dies at once, its runs are left running.
    pub(crate) fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A sheet of `n` rows setting payouts on conversions 1..=n.
pub(crate) fn payout_sheet(n: i32) -> String {
    let mut s = String::from("conversion_id,offer_id,payout,disposition_type\n");
    for id in 1..=n {
        writeln!(s, "{id},{TEST_OFFER},{}.25,approved", 1000 + id).unwrap();
    }
    s
}

fn server(t: &TestDir, emu: &Emu, extra: &[&str]) -> Server {
    let mut args = vec![
        "--base-url",
        emu.url.as_str(),
        "--listen",
        "127.0.0.1:0",
        "--rate",
        "200",
    ];
    args.extend_from_slice(extra);
    Server::start(t, &args, &[("CAKE_API_KEY", KEY)])
}

#[test]
fn every_request_needs_the_token_and_the_link_moves_it_into_a_cookie() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let s = server(&t, &emu, &[]);
    for path in [
        "/",
        "/static/app.js",
        "/static/style.css",
        "/job/x/progress",
        "/nope",
    ] {
        let r = s.send("GET", path, &[], Vec::new());
        assert_eq!(r.status, 401, "{path} without the token");
        assert!(r.body.contains("link cake-recon printed"), "{}", r.body);
    }
    let wrong = s.send("GET", "/?token=0000", &[], Vec::new());
    assert_eq!(wrong.status, 401);
    let wrong_cookie = s.send(
        "GET",
        "/",
        &[("cookie", s.cookie().replace(&s.token, &"f".repeat(64)))],
        Vec::new(),
    );
    assert_eq!(wrong_cookie.status, 401);
    // The link opens the page and leaves a cookie (HttpOnly, SameSite=Strict).
    let link = s.send("GET", &format!("/?token={}", s.token), &[], Vec::new());
    assert_eq!(link.status, 200);
    assert!(link.body.contains("Upload and preview"));
    let set = link.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let home = s.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Upload and preview"));
    let bearer = s.send(
        "GET",
        "/",
        &[("authorization", format!("Bearer {}", s.token))],
        Vec::new(),
    );
    assert_eq!(bearer.status, 200);
    // Pages forbid scripts from anywhere else and framing.
    let csp = home.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    // A rebound DNS name is not this server.
    let rebound = s.send(
        "GET",
        "/",
        &[("cookie", s.cookie()), ("host", "evil.example:80".into())],
        Vec::new(),
    );
    assert_eq!(rebound.status, 403);
}

#[test]
fn every_state_changing_request_needs_the_csrf_token_and_a_same_origin() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let s = server(&t, &emu, &[]);
    let sheet = payout_sheet(3);
    let cookie = [("cookie", s.cookie())];
    let no_csrf = s.upload_with("june.csv", sheet.as_bytes(), None, &cookie);
    assert_eq!(no_csrf.status, 403);
    assert!(no_csrf.body.contains("CSRF"), "{}", no_csrf.body);
    let wrong = s.upload_with("june.csv", sheet.as_bytes(), Some(&"0".repeat(64)), &cookie);
    assert_eq!(wrong.status, 403);
    let csrf = s.csrf();
    let cross = s.upload_with(
        "june.csv",
        sheet.as_bytes(),
        Some(&csrf),
        &[
            ("cookie", s.cookie()),
            ("origin", "http://evil.example".into()),
        ],
    );
    assert_eq!(cross.status, 403);
    let cross_site = s.upload_with(
        "june.csv",
        sheet.as_bytes(),
        Some(&csrf),
        &[
            ("cookie", s.cookie()),
            ("sec-fetch-site", "cross-site".into()),
        ],
    );
    assert_eq!(cross_site.status, 403);
    assert!(
        t.names().iter().all(|n| !n.contains("june")),
        "{:?}",
        t.names()
    );
    // The same upload from the page itself is taken.
    let page = s.upload("june.csv", sheet.as_bytes());
    assert!(page.starts_with("/sheet/"), "{page}");
    // Apply without the token sends nothing.
    let apply = s.send(
        "POST",
        &format!("{page}/apply"),
        &[
            ("cookie", s.cookie()),
            ("content-type", "application/x-www-form-urlencoded".into()),
        ],
        b"rows=3".to_vec(),
    );
    assert_eq!(apply.status, 403);
    // A multipart body elsewhere than the upload carries no token the guard accepts.
    let stop = s.send(
        "POST",
        "/job/june/stop",
        &[
            ("cookie", s.cookie()),
            ("content-type", "multipart/form-data; boundary=x".into()),
        ],
        b"--x--\r\n".to_vec(),
    );
    assert_eq!(stop.status, 403);
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn the_csrf_token_is_taken_from_the_forms_field_its_url_or_a_header() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let s = server(&t, &emu, &[]);
    let sheet = payout_sheet(3);
    let csrf = s.csrf();
    // The token in the form's first field (the file field may have any name)…
    let boundary = "----b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"june.csv\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(sheet.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let in_body = s.send(
        "POST",
        "/upload",
        &[("cookie", s.cookie()), ("content-type", ctype.clone())],
        body.clone(),
    );
    assert_eq!(in_body.status, 303, "{}", in_body.body);
    let forged = String::from_utf8(body)
        .unwrap()
        .replace(&csrf, &"0".repeat(64));
    let refused = s.send(
        "POST",
        "/upload",
        &[("cookie", s.cookie()), ("content-type", ctype)],
        forged.into_bytes(),
    );
    assert_eq!(refused.status, 403);
    // …or in the URL, or in a header.
    let page = s.upload("june.csv", sheet.as_bytes());
    let header = s.send(
        "POST",
        &format!("{page}/choices"),
        &[
            ("cookie", s.cookie()),
            ("x-csrf-token", csrf.clone()),
            ("content-type", "application/x-www-form-urlencoded".into()),
        ],
        Vec::new(),
    );
    assert_eq!(header.status, 303, "{}", header.body);
    let field = s.send(
        "POST",
        &format!("{page}/choices"),
        &[
            ("cookie", s.cookie()),
            ("content-type", "application/x-www-form-urlencoded".into()),
        ],
        format!("csrf_token={csrf}").into_bytes(),
    );
    assert_eq!(field.status, 303, "{}", field.body);
}

#[test]
fn an_upload_past_the_limit_is_refused_with_the_limit_and_leaves_nothing() {
    let t = TestDir::new();
    let emu = Emu::start(Faults::default());
    let s = server(&t, &emu, &["--max-upload-mb", "1"]);
    let csrf = s.csrf();
    let mut big = payout_sheet(10).into_bytes();
    big.resize(1024 * 1024 + 4096, b'\n');
    let r = s.upload_with("big.csv", &big, Some(&csrf), &[("cookie", s.cookie())]);
    assert_eq!(r.status, 413);
    assert!(
        r.body.contains("limit of 1 MB") && r.body.contains("--max-upload-mb"),
        "{}",
        r.body
    );
    let uploads = t.path(".cake-recon/uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    // Under the limit, the same server takes it.
    assert!(
        s.upload("small.csv", payout_sheet(3).as_bytes())
            .starts_with("/sheet/")
    );
    // Not a sheet: refused by name, never stored.
    let exe = s.upload_with(
        "run.sh",
        b"#!/bin/sh\n",
        Some(&csrf),
        &[("cookie", s.cookie())],
    );
    assert_eq!(exe.status, 400);
    assert!(exe.body.contains(".xlsx"), "{}", exe.body);
}

#[test]
fn it_listens_on_loopback_unless_given_a_token_and_warns_about_tls() {
    let t = TestDir::new();
    let help = t.run(&["serve", "--help"]);
    assert!(
        help.stdout.contains("[default: 127.0.0.1:8080]"),
        "{}",
        help.stdout
    );
    let off = t.run_env(
        &["serve", "--sandbox", "--listen", "0.0.0.0:0"],
        &[("CAKE_RECON_TOKEN", "")],
    );
    assert_eq!(off.code, 2, "{}", off.stderr);
    assert!(
        off.stderr.contains("--token") && off.stderr.contains("TLS"),
        "{}",
        off.stderr
    );
    let s = Server::start(
        &t,
        &[
            "--sandbox",
            "--listen",
            "0.0.0.0:0",
            "--token",
            "a-long-shared-secret-0123",
        ],
        &[],
    );
    let log = s.log.lock().unwrap().clone();
    assert!(log.contains("without TLS"), "{log}");
    assert!(
        !log.contains("a-long-shared-secret"),
        "a given token is not printed: {log}"
    );
}

#[test]
fn a_sheet_applied_from_the_page_lands_in_the_ledger_and_the_key_is_in_no_response() {
    let t = TestDir::new();
    // A small month: reading it back is quick in a debug build.
    let emu = Emu::with(Ledger::generated(1_000), Faults::default());
    let s = server(&t, &emu, &[]);
    let mut seen = Vec::new();
    let page = s.upload("june.csv", payout_sheet(20).as_bytes());
    let preview = s.get(&page);
    assert!(preview.body.contains("Apply 20 rows"), "{}", preview.body);
    assert!(
        preview.body.contains("20,215.00"),
        "Σ payout with separators"
    );
    seen.push(preview.body.clone());
    let checked = s.post_form(
        &format!("{page}/check"),
        &[("since", "2026-09-01"), ("until", "2026-09-30")],
    );
    assert_eq!(checked.status, 303);
    let after_check = s.wait_for_check(&page);
    assert!(after_check.body.contains("differs"), "{}", after_check.body);
    seen.push(after_check.body.clone());
    // A stale button (the preview said another number, or other money) sends nothing.
    let stale = s.post_form(&format!("{page}/apply"), &[("rows", "19")]);
    assert_eq!(stale.status, 409);
    let other_money = s.post_form(
        &format!("{page}/apply"),
        &[("rows", "20"), ("totals", "20|1.00|0|0")],
    );
    assert_eq!(other_money.status, 409);
    assert!(
        after_check
            .body
            .contains("name=\"totals\" value=\"20|20215.00|0|0\""),
        "{}",
        after_check.body
    );
    assert_eq!(emu.stats().requests, 0);
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    assert_eq!(applied.header("location"), Some("/job/june"));
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    let ledger = emu.conversions();
    for id in 1..=20 {
        assert_eq!(ledger[&id].payout.to_string(), format!("{}.25", 1000 + id));
    }
    let results = s.get("/job/june");
    assert!(
        results.body.contains("every row was updated"),
        "{}",
        results.body
    );
    seen.push(results.body);
    for kind in [
        "results.csv",
        "results.xlsx",
        "undo.csv",
        "check.csv",
        "log.txt",
    ] {
        let r = s.get(&format!("/job/june/file/{kind}"));
        assert_eq!(r.status, 200, "{kind}");
        assert!(
            r.header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );
        seen.push(r.body);
    }
    seen.push(s.get("/").body);
    seen.push(s.get("/job/june/progress").body);
    seen.push(s.log.lock().unwrap().clone());
    let part = &KEY[..10];
    for body in &seen {
        assert!(!body.contains(part), "the key in a response: {body}");
    }
    for entry in walk(t.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(part),
            "the key in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A sheet that *adds* 1.00 to the payout of conversions 1..=n: applied twice, it shows.
fn additive_sheet(n: i32) -> String {
    let mut s = String::from("conversion_id,offer_id,payout,add_to_existing_payout\n");
    for id in 1..=n {
        writeln!(s, "{id},{TEST_OFFER},1.00,true").unwrap();
    }
    s
}

/// An emulator holding conversions 1..=n, each with a payout of 10.00.
pub(crate) fn emu_of(t: &TestDir, n: i32) -> Emu {
    let mut csv = String::from("conversion_id,payout\n");
    for id in 1..=n {
        writeln!(csv, "{id},10.00").unwrap();
    }
    let path = t.write("ledger.csv", csv);
    Emu::with(Ledger::load(&path).unwrap(), Faults::default())
}

/// Every conversion 1..=n holds 10.00 + 1.00: the sheet applied exactly once.
fn assert_added_once(emu: &Emu, n: i32) {
    let after = emu.conversions();
    for id in 1..=n {
        assert_eq!(after[&id].payout.to_string(), "11.00", "conversion {id}");
    }
    assert_eq!(
        emu.stats().requests,
        u64::try_from(n).unwrap(),
        "each row sent once"
    );
}

pub(crate) fn server_at(t: &TestDir, emu: &Emu) -> Server {
    Server::start(
        t,
        &[
            "--base-url",
            emu.url.as_str(),
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "100",
        ],
        &[("CAKE_API_KEY", KEY)],
    )
}

/// Presses Resume on `june` and waits: every row updated, each applied once.
fn resume_to_the_end(s: &Server, emu: &Emu, n: i32) {
    let resume = s.post_form("/job/june/resume", &[]);
    assert_eq!(resume.status, 303, "{}", resume.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], n, "{p}");
    assert_added_once(emu, n);
    let page = s.get("/job/june").body;
    let added = format!("Σ payout added <strong>{n}.00</strong>");
    assert!(page.contains(&added), "{page}");
}

/// A server's arguments against `emu` at 10 rows a second: slow enough to stop a run midway.
fn slow_args(emu: &Emu) -> [&str; 6] {
    [
        "--base-url",
        emu.url.as_str(),
        "--listen",
        "127.0.0.1:0",
        "--rate",
        "10",
    ]
}

/// Uploads the additive sheet as `june.csv` and presses Apply.
fn job_page_after_run(s: &Server, n: i32) {
    let page = s.upload("june.csv", additive_sheet(n).as_bytes());
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", &n.to_string())]);
    assert_eq!(applied.status, 303, "{}", applied.body);
}

#[test]
fn the_stop_button_stops_like_sigterm_and_resume_finishes_without_a_row_twice() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let s = Server::start(&t, &slow_args(&emu), &[("CAKE_API_KEY", KEY)]);
    job_page_after_run(&s, 40);
    assert!(emu.wait_for(Duration::from_secs(30), |st| st.applied >= 3));
    let running = s.get("/job/june");
    assert!(running.body.contains("Stop the run"), "{}", running.body);
    let stop = s.post_form("/job/june/stop", &[]);
    assert_eq!(stop.status, 303, "{}", stop.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert!(
        p["outcome"]
            .as_str()
            .unwrap()
            .contains("stopped before the end"),
        "{p}"
    );
    assert!(p["remaining"].as_u64().unwrap() > 0, "{p}");
    let stopped = s.get("/job/june");
    assert!(stopped.body.contains("id=\"resume\""), "{}", stopped.body);
    resume_to_the_end(&s, &emu, 40);
}

#[test]
fn a_server_restart_finds_the_run_where_it_stopped() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let args = slow_args(&emu);
    {
        let s = Server::start(&t, &args, &[("CAKE_API_KEY", KEY)]);
        job_page_after_run(&s, 40);
        assert!(emu.wait_for(Duration::from_secs(30), |st| st.applied >= 3));
        // Dropped: SIGTERM to the server, which stops its run as SIGTERM would.
    }
    let sent = emu.stats().requests;
    assert!(
        sent < 40,
        "the run went on after the server stopped: {sent}"
    );
    let s = Server::start(&t, &args, &[("CAKE_API_KEY", KEY)]);
    let home = s.get("/");
    assert!(
        home.body.contains("june.csv"),
        "the history lists it: {}",
        home.body
    );
    let page = s.get("/job/june");
    assert!(
        page.body.contains("stopped before the end"),
        "{}",
        page.body
    );
    resume_to_the_end(&s, &emu, 40);
}

#[test]
fn next_months_sheet_under_the_same_name_is_refused_and_the_page_says_why() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let s = server_at(&t, &emu);
    job_page_after_run(&s, 20);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    // July's sheet, saved under June's name: other conversions, the same bonus.
    let mut july = String::from("conversion_id,offer_id,payout,add_to_existing_payout\n");
    for id in 21..=40 {
        writeln!(july, "{id},{TEST_OFFER},1.00,true").unwrap();
    }
    let page = s.upload("june.csv", july.as_bytes());
    let preview = s.get(&page);
    assert!(
        preview.body.contains("was applied in this folder before"),
        "{}",
        preview.body
    );
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert!(
        p["outcome"].as_str().unwrap().contains("nothing was sent"),
        "{p}"
    );
    let job = s.get("/job/june");
    assert!(
        job.body.contains("id=\"why\""),
        "the refusal is on the page: {}",
        job.body
    );
    assert_eq!(emu.stats().requests, 20, "July's rows were not sent");
    assert!(
        !job.body.contains("id=\"resume\""),
        "the same refusal is not offered again"
    );
    assert!(job.body.contains("Upload the fixed sheet"), "{}", job.body);
    // Renamed, July's sheet is a job of its own and is applied.
    let page = s.upload("july.csv", july.as_bytes());
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("july", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    assert_added_once(&emu, 40);
    // June cut down to five of its rows is refused the same way… unless the page is told it is
    // the same sheet, edited: then its rows keep their outcome and nothing is sent again.
    let page = s.upload("june.csv", additive_sheet(5).as_bytes());
    let preview = s.get(&page).body;
    assert!(preview.contains("id=\"edited_sheet\""), "{preview}");
    let applied = s.post_form(
        &format!("{page}/apply"),
        &[("rows", "5"), ("edited_sheet", "1")],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert!(p["outcome"].as_str().unwrap().contains("every row"), "{p}");
    assert_added_once(&emu, 40);
}

#[test]
fn the_page_sets_what_the_command_line_flags_set_and_keeps_unapplied_uploads() {
    let t = TestDir::new();
    let emu = emu_of(&t, 5);
    let s = server_at(&t, &emu);
    // A European export: semicolons, decimal commas, a column named as no field is.
    let sheet = "Conv;Montant;Statut\n1;1.234,50;approved\n2;12,00;approved\n";
    let page = s.upload("juin.csv", sheet.as_bytes());
    let first = s.get(&page);
    assert!(
        first.body.contains("cannot be read this way"),
        "{}",
        first.body
    );
    let home = s.get("/");
    assert!(home.body.contains("Uploaded, not applied yet") && home.body.contains("juin.csv"));
    // Read as commas, the sheet has one column: the page says so, nothing breaks.
    // (A mapping chosen in the same form names a column the new reading does not have: it is
    // dropped, not turned into a --map that cannot work.)
    let commas = s.post_form(
        &format!("{page}/choices"),
        &[
            ("delimiter", "comma"),
            ("col0", "Conv"),
            ("map0", "conversion_id"),
        ],
    );
    assert_eq!(commas.status, 303);
    let one_column = s.get(&page).body;
    assert!(
        one_column.contains("cannot be read this way"),
        "{one_column}"
    );
    assert!(one_column.contains("Conv;Montant;Statut"), "{one_column}");
    // The delimiter fixed, then the mapping: the preview reads it.
    let fixed = s.post_form(
        &format!("{page}/choices"),
        &[
            ("delimiter", "semicolon"),
            ("decimal", "comma"),
            ("header_row", "1"),
        ],
    );
    assert_eq!(fixed.status, 303);
    let mapped = s.post_form(
        &format!("{page}/choices"),
        &[
            ("delimiter", "semicolon"),
            ("decimal", "comma"),
            ("header_row", "1"),
            ("col0", "Conv"),
            ("map0", "conversion_id"),
            ("col1", "Montant"),
            ("map1", "payout"),
            ("col2", "Statut"),
            ("map2", "disposition_type"),
        ],
    );
    assert_eq!(mapped.status, 303);
    // The sheet gives no offer and no days: Apply waits until one of the two is given.
    let preview = s.get(&page);
    assert!(
        preview.body.contains("2 rows give no offer") && !preview.body.contains("Apply 2 rows"),
        "{}",
        preview.body
    );
    let offer = TEST_OFFER.to_string();
    let mapped = s.post_form(
        &format!("{page}/choices"),
        &[
            ("delimiter", "semicolon"),
            ("decimal", "comma"),
            ("header_row", "1"),
            ("col0", "Conv"),
            ("map0", "conversion_id"),
            ("col1", "Montant"),
            ("map1", "payout"),
            ("col2", "Statut"),
            ("map2", "disposition_type"),
            ("setf0", "offer_id"),
            ("setv0", &offer),
        ],
    );
    assert_eq!(mapped.status, 303);
    let preview = s.get(&page);
    assert!(preview.body.contains("Apply 2 rows"), "{}", preview.body);
    assert!(preview.body.contains("1,246.50"), "{}", preview.body);
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "2")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("juin", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 2, "{p}");
    assert_eq!(emu.conversions()[&1].payout.to_string(), "1234.50");
    let record = t.read(".cake-recon/jobs/juin.json");
    for flag in [
        "--delimiter",
        "semicolon",
        "--decimal-comma",
        "--header-row",
        "Montant=payout",
        "offer_id=5769",
    ] {
        assert!(record.contains(flag), "{flag} in {record}");
    }
    assert!(
        !s.get("/").body.contains("Uploaded, not applied yet"),
        "applied now"
    );
}

#[test]
fn a_hostile_sheet_is_shown_as_text_and_downloaded_without_formulas() {
    use calamine::{Data, Reader as _};
    let t = TestDir::new();
    let emu = emu_of(&t, 3);
    let s = server_at(&t, &emu);
    let sheet = "conversion_id,offer_id,payout,note_to_append\n\
                 1,5769,1.00,<script>alert('x')</script>\n\
                 2,5769,\"=HYPERLINK(\"\"http://evil.example\"\")\",ok\n\
                 3,5769,@SUM(A1),ok\n";
    let page = s.upload("<b>june</b>.csv", sheet.as_bytes());
    let preview = s.get(&page);
    assert!(!preview.body.contains("<script>alert"), "{}", preview.body);
    assert!(
        preview.body.contains("&lt;script&gt;alert"),
        "{}",
        preview.body
    );
    assert!(
        !preview.body.contains("<b>june"),
        "the file name is text too"
    );
    assert!(
        preview.body.contains("<code>@SUM(A1)</code>"),
        "{}",
        preview.body
    );
    let applied = s.post_form(
        &format!("{page}/apply"),
        &[("rows", "1"), ("skip_invalid", "1")],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let job = applied
        .header("location")
        .unwrap()
        .trim_start_matches("/job/")
        .to_string();
    let p = s.wait_for_job(&job, Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 1, "{p}");
    let results = s.get(&format!("/job/{job}"));
    assert!(
        results.body.contains("invalid 2 · updated 1"),
        "{}",
        results.body
    );
    // The CSV neutralises what a spreadsheet would run; the workbook holds only text cells.
    let csv = s.get(&format!("/job/{job}/file/results.csv"));
    assert!(
        csv.body.contains("'=HYPERLINK") && csv.body.contains("'@SUM"),
        "{}",
        csv.body
    );
    let xlsx = s.rt.block_on(async {
        s.client
            .get(s.url(&format!("/job/{job}/file/results.xlsx")))
            .header("cookie", s.cookie())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    assert!(!xml.contains("<f>"), "no formula cell: {xml}");
    // Amounts are numbers, so SUM works; ids and what the sheet wrote stay text.
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let range = book.worksheet_range("Results").unwrap();
    let head: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let by_row = |row: f64| {
        range
            .rows()
            .find(|r| r[0] == Data::Float(row))
            .unwrap_or_else(|| panic!("row {row}: {head:?}"))
            .to_vec()
    };
    assert_eq!(by_row(2.0)[col("payout")], Data::Float(1.0));
    assert_eq!(by_row(2.0)[col("conversion_id")], Data::String("1".into()));
    assert!(
        matches!(&by_row(3.0)[col("payout")], Data::String(s) if s.contains("HYPERLINK")),
        "what the sheet wrote stays text"
    );
    let ledger = emu.conversions();
    assert_eq!(ledger[&1].payout.to_string(), "1.00");
}

#[test]
fn a_fixed_sheet_uploaded_again_sends_only_what_changed() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let s = server_at(&t, &emu);
    job_page_after_run(&s, 20);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    // The same sheet, fixed: rows in another order, one more row. The additive rows already
    // applied keep their outcome; only the new row is sent.
    let mut fixed = String::from("conversion_id,offer_id,payout,add_to_existing_payout\n");
    for id in (1..=21).rev() {
        writeln!(fixed, "{id},{TEST_OFFER},1.00,true").unwrap();
    }
    let page = s.upload("june.csv", fixed.as_bytes());
    let preview = s.get(&page);
    assert!(
        preview.body.contains("20 rows keep their outcome") && preview.body.contains("1 new rows"),
        "{}",
        preview.body
    );
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "21")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 21, "{p}");
    assert_eq!(emu.stats().requests, 21, "one request more, not 21");
    let ledger = emu.conversions();
    for id in 1..=21 {
        assert_eq!(ledger[&id].payout.to_string(), "11.00", "conversion {id}");
    }
}

#[test]
fn a_sandbox_trial_never_stands_in_the_way_of_the_real_run() {
    let t = TestDir::new();
    let sheet = payout_sheet(5);
    {
        let trial = Server::start(&t, &["--sandbox", "--listen", "127.0.0.1:0"], &[]);
        let page = trial.upload("june.csv", sheet.as_bytes());
        let applied = trial.post_form(&format!("{page}/apply"), &[("rows", "5")]);
        assert_eq!(applied.status, 303, "{}", applied.body);
        let p = trial.wait_for_job("june", Duration::from_secs(60));
        assert_eq!(p["by_status"]["updated"], 5, "{p}");
    }
    assert!(
        t.names().iter().any(|n| n == "june.sandbox.results.csv"),
        "{:?}",
        t.names()
    );
    let emu = emu_of(&t, 5);
    let real = server_at(&t, &emu);
    let home = real.get("/").body;
    let history = home.split("Runs in this folder").nth(1).unwrap();
    assert!(
        !history.contains("june"),
        "a trial is not in the real history: {history}"
    );
    let page = real.upload("june.csv", sheet.as_bytes());
    let preview = real.get(&page);
    assert!(
        !preview.body.contains("applied in this folder before"),
        "{}",
        preview.body
    );
    let applied = real.post_form(&format!("{page}/apply"), &[("rows", "5")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = real.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 5, "{p}");
    assert_eq!(emu.conversions()[&5].payout.to_string(), "1005.25");
}

#[test]
fn duplicates_are_listed_apart_and_never_sent() {
    let t = TestDir::new();
    let emu = emu_of(&t, 5);
    let s = server_at(&t, &emu);
    let sheet =
        "conversion_id,offer_id,payout\n1,5769,5.00\n2,5769,6.00\n2,5769,7.00\n3,5769,oops\n";
    let page = s.upload("dups.csv", sheet.as_bytes());
    let preview = s.get(&page).body;
    assert!(preview.contains("Duplicates (2 rows)"), "{preview}");
    assert!(preview.contains("Invalid rows (1)"), "{preview}");
    assert!(preview.contains("Apply 1 rows"), "{preview}");
    assert!(
        preview.contains("list=\"known-values\""),
        "values are suggested"
    );
    let applied = s.post_form(
        &format!("{page}/apply"),
        &[("rows", "1"), ("skip_invalid", "1")],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let p = s.wait_for_job("dups", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 1, "{p}");
    assert_eq!(emu.stats().requests, 1);
    assert_eq!(emu.conversions()[&1].payout.to_string(), "5.00");
}

#[test]
fn a_run_outlives_a_killed_server_and_the_next_server_watches_and_stops_it() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let args = slow_args(&emu);
    let first = Server::start(&t, &args, &[("CAKE_API_KEY", KEY)]);
    job_page_after_run(&first, 40);
    assert!(emu.wait_for(Duration::from_secs(30), |st| st.applied >= 3));
    first.kill_hard();
    // The run goes on without the server that started it; the next server finds it live.
    let s = Server::start(&t, &args, &[("CAKE_API_KEY", KEY)]);
    let p: serde_json::Value = serde_json::from_str(&s.get("/job/june/progress").body).unwrap();
    assert_eq!(p["running"], true, "{p}");
    assert!(s.get("/job/june").body.contains("Stop the run"));
    let stop = s.post_form("/job/june/stop", &[]);
    assert_eq!(stop.status, 303, "{}", stop.body);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert!(
        p["remaining"].as_u64().unwrap() > 0,
        "stopped before the end: {p}"
    );
    assert!(
        p["outcome"].as_str().unwrap().contains("not watching"),
        "{p}"
    );
    resume_to_the_end(&s, &emu, 40);
}

#[test]
fn compare_reads_the_window_from_the_sheets_conversion_dates_when_no_day_is_given() {
    let t = TestDir::new();
    let emu = emu_of(&t, 40);
    let s = server_at(&t, &emu);
    let sheet = "conversion_id,payout,conversion_date\n1,12.00,2026-09-01\n40,10.00,2026-09-30\n";
    let page = s.upload("sept.csv", sheet.as_bytes());
    let checked = s.post_form(&format!("{page}/check"), &[("since", ""), ("until", "")]);
    assert_eq!(checked.status, 303, "{}", checked.body);
    let body = s.wait_for_check(&page).body;
    assert!(
        body.contains("2026-08-31 to 2026-10-01"),
        "the sheet's days, padded: {body}"
    );
    // The rows carry CAKE's values: now 10.00, new 12.00 (marked), and one already correct.
    assert!(
        body.contains("<td>10.00</td><td><span class=\"differs\">12.00</span></td>"),
        "{body}"
    );
    assert!(body.contains("already correct (1)"), "{body}");
    let half = s.post_form(
        &format!("{page}/check"),
        &[("since", "2026-09-01"), ("until", "")],
    );
    assert_eq!(half.status, 400);
    assert_eq!(emu.stats().requests, 0, "comparing sends nothing");
}

#[test]
fn the_command_line_in_the_same_folder_continues_the_pages_checkpoint() {
    let t = TestDir::new();
    let emu = emu_of(&t, 20);
    let s = server_at(&t, &emu);
    job_page_after_run(&s, 20);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    // The same sheet, run from the command line in the served folder: nothing is added twice.
    t.write("june.csv", additive_sheet(20));
    let out = crate::emu::run(&t, &emu, "june.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(emu.stats().requests, 20, "no request more: {}", out.stdout);
    assert_added_once(&emu, 20);
}

#[test]
fn a_copy_of_an_applied_sheet_uploaded_under_another_name_is_refused_and_the_page_says_why() {
    let t = TestDir::new();
    let emu = emu_of(&t, 20);
    let s = server_at(&t, &emu);
    job_page_after_run(&s, 20);
    let p = s.wait_for_job("june", Duration::from_secs(60));
    assert_eq!(p["by_status"]["updated"], 20, "{p}");
    // The browser's re-download of the same file: `june (1).csv`, the same bytes.
    let page = s.upload("june (1).csv", additive_sheet(20).as_bytes());
    let preview = s.get(&page).body;
    let applied = s.post_form(&format!("{page}/apply"), &[("rows", "20")]);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let job = applied.header("location").unwrap().to_string();
    let stem = job.trim_start_matches("/job/").to_string();
    let p = s.wait_for_job(&stem, Duration::from_secs(60));
    assert!(
        p["outcome"].as_str().unwrap().contains("nothing was sent"),
        "{p} {preview}"
    );
    let body = s.get(&job).body;
    assert!(body.contains("id=\"why\""), "{body}");
    assert!(
        body.contains("already applied"),
        "the reason is on the page: {body}"
    );
    assert_added_once(&emu, 20);
}

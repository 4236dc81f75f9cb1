//! An in-process emulator for tests: started on port 0, stopped on drop, its ledger inspected
//! directly.

use crate::util::{Output, TestDir};
use cake_recon::mock::{Conversion, Faults, Ledger, MockConfig, MockServer, Stats};
use std::collections::BTreeMap;

pub(crate) const KEY: &str = "test-key-5f3a";

pub(crate) struct Emu {
    rt: tokio::runtime::Runtime,
    server: Option<MockServer>,
    pub url: String,
}

impl Emu {
    pub(crate) fn start(faults: Faults) -> Self {
        Self::with(Ledger::generated(1_000_000), faults)
    }

    pub(crate) fn with(ledger: Ledger, faults: Faults) -> Self {
        Self::at("127.0.0.1:0", ledger, faults)
    }

    /// An emulator on a given address (a port a test reserved earlier).
    pub(crate) fn at(addr: &str, ledger: Ledger, faults: Faults) -> Self {
        Self::serving(addr, ledger, faults, false)
    }

    /// An emulator that applies version 4 calls with `offer_id=0` (`--accept-offer-0`).
    pub(crate) fn accepting_offer_0() -> Self {
        Self::serving(
            "127.0.0.1:0",
            Ledger::generated(1000),
            Faults::default(),
            true,
        )
    }

    fn serving(addr: &str, ledger: Ledger, faults: Faults, accept_offer_0: bool) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
            MockServer::start(
                listener,
                MockConfig {
                    api_key: KEY.into(),
                    ledger,
                    faults,
                    accept_offer_0,
                },
            )
            .expect("start")
        });
        let url = server.url();
        Self {
            rt,
            server: Some(server),
            url,
        }
    }

    pub(crate) fn conversions(&self) -> BTreeMap<i32, Conversion> {
        self.server
            .as_ref()
            .map(MockServer::conversions)
            .unwrap_or_default()
    }

    /// Waits (at most `timeout`) until the emulator's counters satisfy `done`; woken by the
    /// emulator on every change, never by polling.
    pub(crate) fn wait_for(
        &self,
        timeout: std::time::Duration,
        done: impl Fn(&Stats) -> bool,
    ) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.wait_for(timeout, done))
    }

    pub(crate) fn stats(&self) -> Stats {
        self.server
            .as_ref()
            .map(MockServer::stats)
            .unwrap_or_default()
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.stop());
        }
    }
}

/// `run SHEET` against `emu`, fast by default; `extra` may override `--rate`/`--concurrency`.
pub(crate) fn args<'a>(emu: &'a Emu, sheet: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        sheet,
        "--base-url",
        &emu.url,
        "--retry-base-ms",
        "5",
        "--retry-cap-ms",
        "50",
        "--no-progress",
    ];
    for (flag, default) in [("--rate", "0"), ("--concurrency", "8")] {
        if !extra.contains(&flag) {
            a.extend([flag, default]);
        }
    }
    a.extend_from_slice(extra);
    a
}

/// `check SHEET` against `emu`, fast retries.
pub(crate) fn check(t: &TestDir, emu: &Emu, sheet: &str, extra: &[&str]) -> Output {
    let mut a = args(emu, sheet, extra);
    if let Some(first) = a.first_mut() {
        *first = "check";
    }
    t.run_env(&a, &[("CAKE_API_KEY", KEY)])
}

pub(crate) fn run(t: &TestDir, emu: &Emu, sheet: &str, extra: &[&str]) -> Output {
    t.run_env(&args(emu, sheet, extra), &[("CAKE_API_KEY", KEY)])
}

/// `run SHEET` against `emu` as a child process (stderr piped), for tests that stop it midway.
pub(crate) fn spawn(t: &TestDir, emu: &Emu, sheet: &str, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_cake-recon"))
        .args(t.with_offer(&args(emu, sheet, extra)))
        .current_dir(t.dir.path())
        .env("XDG_DATA_HOME", t.data_home())
        .env("CAKE_API_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

//! Helpers: run the real binary in a temp directory and capture what it did.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The offer [`TestDir::with_offer`] gives a sheet that gives none (the emulator's generated
/// conversions take any existing offer).
pub(crate) const TEST_OFFER: i32 = 5769;

/// A temp directory to put sheets in and run the binary from.
pub(crate) struct TestDir {
    pub dir: tempfile::TempDir,
    /// The user's data directory for this test alone (`XDG_DATA_HOME`): the journal of sent
    /// updates lives there, so no test sees another's history.
    pub data: tempfile::TempDir,
}

impl TestDir {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            data: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// This test's `XDG_DATA_HOME`.
    pub(crate) fn data_home(&self) -> &Path {
        self.data.path()
    }

    /// The journal a run in this test writes (under [`Self::data_home`]).
    pub(crate) fn journal(&self) -> PathBuf {
        self.data.path().join("cake-recon").join("journal.sqlite")
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }

    /// Copies a sample from `samples/`.
    pub(crate) fn sample(&self, name: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name);
        let dst = self.path(name);
        std::fs::copy(src, &dst).expect("copy sample");
        dst
    }

    /// The names of the files in this directory.
    pub(crate) fn names(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .expect("list the test directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Runs `cake-recon ARGS` in this directory with a clean environment for our variables.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let args = self.with_offer(args);
        self.run_exact(&args, env)
    }

    /// Most tests' sheets give no offer (their subject is elsewhere), and a run of such a
    /// sheet needs each conversion's offer from CAKE, read in a window (`tests/it/offers.rs`
    /// tests that). So a `run` whose sheet gives no offer, and whose test gives none either (no
    /// `offer_id` in its flags), is given one for every row, as a person with a
    /// one-offer sheet would: `--set offer_id=TEST_OFFER` (with `--since` too: the same rows
    /// on every run of a test). [`Self::run_exact`] does not.
    pub(crate) fn with_offer(&self, args: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        let gives_offer = args.iter().any(|a| a.contains("offer_id"));
        if args.first() != Some(&"run") || gives_offer {
            return out;
        }
        let Some(sheet) = args.get(1).filter(|a| !a.starts_with('-')) else {
            return out;
        };
        let path = self.dir.path().join(sheet);
        let opts = cake_recon::internals::SheetOptions {
            api_version: 4,
            ..Default::default()
        };
        // A sheet this cannot read (one that needs the test's own flags) gives an offer when it
        // names one anywhere.
        let offerless = match cake_recon::internals::prepass(&path, &opts) {
            // No offer column: a column with a blank cell is the test's to give.
            Ok(p) => matches!(
                p.columns.source(cake_recon::update::Param::OfferId),
                cake_recon::internals::Source::Default
            ),
            Err(_) => std::fs::read(&path).is_ok_and(|b| {
                !String::from_utf8_lossy(&b)
                    .to_ascii_lowercase()
                    .contains("offer")
            }),
        };
        if offerless {
            out.extend(["--set".to_string(), format!("offer_id={TEST_OFFER}")]);
        }
        out
    }

    /// Runs `cake-recon ARGS` as a person would type them: no offer added (see
    /// [`Self::with_offer`]).
    pub(crate) fn run_as_is(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        self.run_exact(&args, &[])
    }

    /// Runs exactly `args` (no offer added: see [`Self::with_offer`]).
    pub(crate) fn run_exact(&self, args: &[String], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cake-recon"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("CAKE_API_KEY")
            .env_remove("CAKE_BASE_URL")
            .env_remove("RUST_LOG")
            .env_remove("CAKE_RECON_JOURNAL")
            .env("XDG_DATA_HOME", self.data_home());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run cake-recon");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The results file's header line.
pub(crate) const HEADER: &str = "row,conversion_id,request_session_id,transaction_id,offer_id,payout,received,disposition_type,status,attempts,http_status,message";

/// A loopback address nobody listens on (a port just released): connections to it are refused.
pub(crate) fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

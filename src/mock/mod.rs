//! The CAKE emulator behind `--sandbox` and `mock-server`: strict ASP.NET-style binding, a
//! ledger with CAKE's semantics, fault injection, and admin endpoints that show what really
//! happened.

pub mod binding;
pub mod faults;
pub mod ledger;
pub mod server;

pub use faults::Faults;
pub use ledger::{Conversion, Ledger};
pub use server::{MockConfig, MockServer, Stats};

use crate::cli::MockArgs;
use crate::config::load_api_key;
use crate::error::Error;
use secrecy::ExposeSecret;
use std::io::Write as _;

/// The key the emulator accepts when none is configured.
pub const SANDBOX_KEY: &str = "sandbox";

/// Runs `cake-recon mock-server` until SIGINT/SIGTERM.
pub fn serve_blocking(args: &MockArgs) -> Result<u8, Error> {
    args.faults.validate().map_err(Error::Usage)?;
    let api_key = load_api_key(args.api_key_file.as_deref())?.map_or_else(
        || SANDBOX_KEY.to_string(),
        |k| k.expose_secret().to_string(),
    );
    let ledger = match &args.ledger {
        Some(path) => Ledger::load(path).map_err(|e| Error::Usage(format!("--ledger: {e}")))?,
        None => Ledger::generated(args.conversions),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let server = MockServer::start(
            listener,
            MockConfig {
                api_key,
                ledger,
                faults: args.faults.clone(),
            },
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        // A closed stdout (the caller stopped reading) is not a reason to stop serving.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "cake-recon mock-server listening on {}", server.url());
        let _ = writeln!(
            out,
            "ledger: {0}/admin/ledger  stats: {0}/admin/stats",
            server.url()
        );
        let _ = out.flush();
        crate::shutdown_signal().await;
        server.stop().await;
        Ok(crate::exit::OK)
    })
}

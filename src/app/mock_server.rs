//! `cake-recon mock-server`: the emulator as a standalone server, until SIGINT/SIGTERM.

use crate::engine::shutdown::Signals;
use crate::error::Error;
use crate::mock::{MockConfig, MockServer};
use std::io::Write as _;

/// Serves the emulator on `listen` until a stop signal.
pub(crate) fn mock_server(listen: &str, config: MockConfig) -> Result<u8, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut signals = Signals::watch().map_err(|e| Error::Internal(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
        let server =
            MockServer::start(listener, config).map_err(|e| Error::Internal(e.to_string()))?;
        // A closed stdout (the caller stopped reading) is not a reason to stop serving.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "cake-recon mock-server listening on {}", server.url());
        let _ = writeln!(
            out,
            "ledger: {0}/admin/ledger  stats: {0}/admin/stats",
            server.url()
        );
        let _ = out.flush();
        signals.recv().await;
        server.stop().await;
        Ok(crate::exit::OK)
    })
}

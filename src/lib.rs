//! cake-recon: apply a finance team's approval sheet to a CAKE instance through
//! `track.asmx/UpdateConversion`, safely.
//!
//! Data flows one way: [`sheet`] → validated [`update::ConversionUpdate`]s → [`engine`]
//! (dispatcher, rate limit, workers) → one writer ([`report`]).

pub mod app;
pub mod cake;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod engine;
pub mod error;
pub mod exit;
pub mod logging;
pub mod mock;
pub mod report;
pub mod sheet;
pub mod update;

/// Resolves on SIGINT or SIGTERM (or never, if signals cannot be watched).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

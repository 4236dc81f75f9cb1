//! cake-recon: apply a finance team's approval sheet to a CAKE instance through
//! `track.asmx/UpdateConversion`, safely.
//!
//! Data flows one way: [`sheet`] → validated [`update::ConversionUpdate`]s → [`engine`]
//! (dispatcher, rate limit, workers) → one writer ([`report`]).

pub mod app;
pub mod cake;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod mock;
pub mod report;
pub mod sheet;
pub mod update;

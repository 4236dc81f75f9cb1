//! The run: pre-pass → dispatcher (rate gate) → workers (HTTP) → one result writer.

pub mod breaker;
pub mod dispatcher;
pub mod limiter;
pub mod retry;
pub mod run;
pub mod shutdown;
pub mod worker;

pub use run::run;

//! The CAKE emulator behind `--sandbox` and `mock-server`.

use crate::cli::MockArgs;
use crate::error::Error;

/// Fault injection settings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Faults {}

/// Runs the standalone mock server until interrupted.
pub fn serve_blocking(_args: &MockArgs) -> Result<u8, Error> {
    Err(Error::Usage("mock-server is not built yet".into()))
}

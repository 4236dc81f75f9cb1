//! What the commands print for a person.

use crate::error::Error;
use std::io::Write;

/// Writes what a person reads to standard output. A reader that stopped reading (`| head`) is
/// not an error: the job is done and the results file is written.
pub(super) fn show(out: &mut dyn Write, text: &str) -> Result<(), Error> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Internal(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

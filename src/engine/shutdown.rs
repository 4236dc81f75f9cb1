//! SIGINT and SIGTERM, watched for the whole run.
//!
//! Registration happens before anything is sent and its failure stops the run from starting:
//! a run that could not be stopped cleanly would be killed instead, leaving additive rows in
//! doubt. The first signal stops dispatching and gives in-flight requests a grace period; a
//! second one abandons them at once (the person at the keyboard means it).

use std::io;

/// Catches SIGXFSZ for the rest of the process, at its start: a file-size limit (`ulimit -f`)
/// then makes the write that crosses it fail with `EFBIG` — reported like a full disk, exit 3,
/// resumable — instead of killing the process without a word. (tokio's handler stays installed
/// for the process's life once a signal is watched; the runtime here only registers it.)
pub(crate) fn catch_file_size_limit() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        if let Err(e) = rt.block_on(async { signal(xfsz) }) {
            eprintln!(
                "warning: cannot catch SIGXFSZ ({e}): a file-size limit would end this process without a message"
            );
        }
    }
}

/// The process's stop signals, registered.
pub(crate) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers SIGINT and SIGTERM (must run inside the tokio runtime).
    pub(crate) fn watch() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self::watch_with(
                |kind| signal(kind),
                SignalKind::interrupt(),
                SignalKind::terminate(),
            )
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    #[cfg(unix)]
    fn watch_with<K>(
        register: impl Fn(K) -> io::Result<tokio::signal::unix::Signal>,
        int: K,
        term: K,
    ) -> io::Result<Self> {
        let describe = |what: &str, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot watch {what} ({e}); a run that cannot be interrupted cleanly is not \
                     started: check the process's signal limits and run again"
                ),
            )
        };
        Ok(Self {
            int: register(int).map_err(|e| describe("SIGINT", e))?,
            term: register(term).map_err(|e| describe("SIGTERM", e))?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM (each call waits for a new one).
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_registration_failure_is_an_error_that_names_the_signal() {
        let failing = |_: u8| Err(io::Error::other("no more signal slots"));
        let Err(e) = Signals::watch_with(failing, 2, 15) else {
            panic!("registration failure was ignored");
        };
        let text = e.to_string();
        assert!(
            text.contains("SIGINT") && text.contains("no more signal slots"),
            "{text}"
        );
        assert!(Signals::watch().is_ok());
    }
}

//! The emulator behind `--sandbox`: a [`MockServer`] on a loopback port, on a thread and
//! runtime of its own, so the run talks to it over real HTTP exactly as to CAKE.

use super::server::{MockConfig, MockServer};

/// The key the emulator accepts when none is configured.
pub const SANDBOX_KEY: &str = "sandbox";

/// A running sandbox; stopped when dropped.
pub struct Sandbox {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts the emulator on `127.0.0.1` and a free port.
    pub fn start(config: MockConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sandbox".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let started = tokio::net::TcpListener::from_std(std_listener)
                        .and_then(|l| MockServer::start(l, config));
                    match started {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.url()));
                            let _ = stopped.await;
                            server.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let url = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the sandbox thread stopped before it started"))??;
        Ok(Self {
            url,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

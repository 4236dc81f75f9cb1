//! The server: its state, its routes, how it starts (printing the link with the token) and
//! how it stops (stopping the runs it started, as SIGTERM would).

use super::guard::guard;
use super::job_spec::RunTarget;
use super::jobs::Jobs;
use super::preview::{Previewer, Previews};
use super::state::App;
use super::{
    approval, audit_page, close, home, job_page, pages, sheet_apply, sheet_check, sheet_page,
    signin,
};
use crate::app::Target;
use crate::config::ServeConfig;
use crate::error::Error;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn router(app: Arc<App>) -> Router {
    // Room for the multipart framing around the largest sheet; the upload handler enforces the
    // limit itself, with the message.
    let body_limit = usize::try_from(app.max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    Router::new()
        .route("/", get(home::home))
        .route("/upload", post(home::upload))
        .route("/signin", get(signin::signin_form).post(signin::signin))
        .route("/signout", post(signin::signout))
        .route("/audit", get(audit_page::audit_page))
        .route("/sheet/{id}/approve", post(approval::approve))
        .route("/job/{stem}/close", get(close::close_page))
        .route("/sheet/{id}", get(sheet_page::sheet))
        .route("/sheet/{id}/choices", post(sheet_page::choices))
        .route("/sheet/{id}/check", post(sheet_check::check))
        .route("/sheet/{id}/apply", post(sheet_apply::apply))
        .route("/job/{stem}", get(job_page::job))
        .route("/job/{stem}/progress", get(job_page::progress))
        .route("/job/{stem}/stop", post(job_page::stop))
        .route("/job/{stem}/resume", post(job_page::resume))
        .route("/job/{stem}/file/{kind}", get(job_page::download))
        .route("/static/style.css", get(pages::style))
        .route("/static/app.js", get(pages::script))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            guard,
        ))
        .with_state(app)
}

/// `cake-recon serve`: runs until Ctrl-C or SIGTERM, then stops the runs it started.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the configuration is the server's for its whole life"
)]
pub(crate) fn serve(cfg: ServeConfig) -> Result<u8, Error> {
    let (sandbox, url, key, label) = match &cfg.target {
        Target::Sandbox(_) => {
            let (sandbox, key) = crate::app::start_sandbox(cfg.key.clone())?;
            let url = sandbox.url().to_string();
            (
                Some(sandbox),
                url,
                key,
                "the sandbox (built-in emulator)".to_string(),
            )
        }
        Target::Remote(url) => (
            None,
            url.clone(),
            cfg.key
                .clone()
                .ok_or_else(|| Error::Internal("a remote target without a key".into()))?,
            url.clone(),
        ),
        Target::Unset => return Err(Error::Internal("serve without a target".into())),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot listen on {}: {e}; give another --listen address or port",
                    cfg.listen
                ))
            })?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("no local address: {e}")))?;
        let jobs = Jobs::new(cfg.dir.clone(), key, sandbox.is_some())
            .map_err(|e| Error::Usage(format!("--dir {}: {e}", cfg.dir.display())))?
            .with_stop_grace(cfg.stop_grace);
        super::staged::prune_uploads(&cfg.dir, cfg.keep_uploads_days);
        let app = Arc::new(App {
            listen: local,
            token: cfg.token.clone(),
            csrf: crate::config::random_token(),
            cookie_name: format!("cake_recon_{}", local.port()),
            jobs,
            target: RunTarget {
                url,
                sandbox: sandbox.is_some(),
                allow_insecure_http: cfg.allow_insecure_http,
                rate: cfg.rate,
            },
            label: label.clone(),
            max_upload: cfg.max_upload,
            previews: Previews::new(Previewer {
                exe: std::env::current_exe()
                    .map_err(|e| Error::Internal(format!("this program's path: {e}")))?,
                memory_mb: cfg.preview_memory_mb,
                timeout: cfg.preview_timeout,
            }),
            tables: super::rows::Tables::default(),
            people: super::people::People::new(cfg.users.clone(), cfg.approval_over),
            audit: std::sync::Mutex::default(),
        });
        announce(&cfg, local, &label);
        axum::serve(listener, router(Arc::clone(&app)))
            .with_graceful_shutdown(stop_signal())
            .await
            .map_err(|e| Error::Internal(format!("the server failed: {e}")))?;
        eprintln!("cake-recon serve: stopping; runs started here stop as with SIGTERM");
        let app2 = Arc::clone(&app);
        let _ =
            tokio::task::spawn_blocking(move || app2.jobs.stop_all(Duration::from_secs(60))).await;
        Ok(crate::exit::OK)
    });
    drop(sandbox);
    result
}

/// The start-up lines: where to open the screen (with the token, like a notebook server).
fn announce(cfg: &ServeConfig, local: SocketAddr, label: &str) {
    let host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match local {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    eprintln!(
        "cake-recon serve: sheets, results and history in {}",
        cfg.dir.display()
    );
    eprintln!("cake-recon serve: runs go to {label}");
    if let Some(users) = &cfg.users {
        eprintln!(
            "cake-recon serve: {} people may sign in (--users); sheets above {} need an \
             approval by another person; the link's token below is not used",
            users.len(),
            crate::report::money::grouped(cfg.approval_over)
        );
    }
    if cfg.token_given {
        eprintln!(
            "cake-recon serve: open http://{host}:{}/?token=<the --token you gave>",
            local.port()
        );
    } else {
        let link = format!(
            "http://{host}:{}/?token={}",
            local.port(),
            cfg.token.expose_secret()
        );
        eprintln!("cake-recon serve: open {link}");
        // Also alone on stdout, for a script that starts the server and opens the page.
        println!("{link}");
    }
    if !local.ip().is_loopback() {
        eprintln!(
            "warning: listening off loopback on {local} without TLS: put a TLS proxy in front, \
             or the token and the sheets cross the network in clear text"
        );
    }
}

/// Ctrl-C, or (on Unix) SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        #[cfg(unix)]
        if let Some(t) = term.as_mut() {
            t.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = terminate => {},
    }
}

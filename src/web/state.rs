//! What every handler shares: the server's secrets, its jobs and where runs go.

use super::job_spec::RunTarget;
use super::jobs::Jobs;
use super::preview::Previews;
use secrecy::SecretString;
use std::net::SocketAddr;

/// What every handler shares.
pub(super) struct App {
    pub(super) listen: SocketAddr,
    pub(super) token: SecretString,
    /// Carried by every form's action and checked on every POST.
    pub(super) csrf: String,
    /// `cake_recon_PORT`: two servers on one machine keep their own cookies.
    pub(super) cookie_name: String,
    pub(super) jobs: Jobs,
    pub(super) target: RunTarget,
    /// How the page names where runs go.
    pub(super) label: String,
    pub(super) max_upload: u64,
    pub(super) previews: Previews,
    /// The row tables' indexes (`rows.rs`), kept while their files stay as they are.
    pub(super) tables: super::rows::Tables,
    /// Who may use the screen, and the open sessions (`people.rs`).
    pub(super) people: super::people::People,
    /// One append to the audit log at a time (`audit_log.rs`).
    pub(super) audit: std::sync::Mutex<()>,
}

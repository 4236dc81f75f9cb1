//! What the engine runs with: validated settings and a plain target. It never sees flags,
//! files or the emulator — only a URL and a key.

use crate::cake::request::Transport;
use crate::sheet::SheetOptions;
use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// Everything about a run but where it goes.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches of the run"
)]
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `--read-back`: read CAKE before and after sending.
    pub read_back: Option<super::read_back::ReadBackSettings>,
    pub input: PathBuf,
    pub output: PathBuf,
    pub checkpoint: PathBuf,
    pub sheet: SheetOptions,
    pub transport: Transport,
    pub api_version: u8,
    /// Requests per second (validated once, in configuration), or unlimited.
    pub rate: super::limiter::Rate,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub timeout: Duration,
    pub skip_invalid: bool,
    /// `--accept-total-mismatch`: send although a total line differs from the rows' sums.
    pub accept_total_mismatch: bool,
    /// `--resend-in-doubt`: which in-doubt rows to send again.
    pub resend_in_doubt: super::resend::ResendInDoubt,
    pub restart: bool,
    /// `--restart-resend-additive`: the user accepts adding applied additive rows again.
    pub restart_resend_additive: bool,
    /// `--edited-sheet`: carry the checkpoint over even to a sheet that looks like a new one.
    pub edited_sheet: bool,
    /// A bar on a terminal (or a log line every few seconds elsewhere); off with -q.
    pub show_progress: bool,
    /// The journal shared by every job on the instance; `None` for a sandbox trial.
    pub journal: Option<JournalSettings>,
    /// How long after its request left an unknown outcome may be settled "not applied".
    pub settle_after: Duration,
    /// Reading CAKE (also without `--read-back`: the snapshot an additive sheet takes first):
    /// `--since`/`--until` (`None`: from the sheet) and the reports version.
    pub reports: (Option<(chrono::NaiveDate, chrono::NaiveDate)>, u8),
}

/// The journal (see `checkpoint::journal`) and what the user allowed despite it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalSettings {
    pub path: PathBuf,
    /// How far back the same addition counts.
    pub days: u32,
    /// `--same-sheet-again`.
    pub same_sheet_again: bool,
    /// `--same-additions-again`.
    pub same_additions_again: bool,
}

/// Where the requests go.
pub(crate) struct Destination {
    /// Base URL, e.g. `https://admin.example-network.com` (no trailing slash).
    pub url: String,
    /// How the checkpoint names it (`sandbox` for the emulator, whose port changes every run).
    pub label: String,
    pub key: SecretString,
}

impl Settings {
    /// Every setting that changes a request or how the sheet is read, for the checkpoint's
    /// fingerprint (resuming with different settings would mix two different runs).
    #[must_use]
    pub(crate) fn fingerprint(&self, target_label: &str) -> Vec<(String, String)> {
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(a, b)| format!("{a}={b}"))
                .collect::<Vec<_>>()
                .join("|")
        };
        let r = &self.sheet.read;
        let mut values = Vec::new();
        if self.sheet.allow_negative {
            // Only when given, as `values`.
            values.push(("allow_negative".to_string(), "true".to_string()));
        }
        // Only when given, as `values`.
        if let Some(h) = self.sheet.hidden_rows {
            values.push(("hidden_rows".to_string(), h.as_str().to_string()));
        }
        if let Some(a) = self.sheet.amounts {
            values.push(("amounts".to_string(), a.as_str().to_string()));
        }
        if !self.sheet.values.is_empty() {
            // Only when given: checkpoints written before `--values` existed still match.
            values.push((
                "values".to_string(),
                self.sheet
                    .values
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("|"),
            ));
        }
        let mut all = vec![
            ("base_url".into(), target_label.to_string()),
            ("api_version".into(), self.api_version.to_string()),
            ("method".into(), self.transport.as_str().into()),
            ("map".into(), pairs(&self.sheet.maps)),
            ("set".into(), pairs(&self.sheet.sets)),
            (
                "encoding".into(),
                r.encoding.map_or("auto", |e| e.name()).into(),
            ),
            (
                "delimiter".into(),
                r.delimiter
                    .map_or("auto".into(), |d| (d as char).escape_default().to_string()),
            ),
            ("sheet".into(), r.sheet.clone().unwrap_or_default()),
            (
                "decimal".into(),
                self.sheet
                    .decimal
                    .map_or("auto".into(), |d| format!("{d:?}").to_lowercase()),
            ),
            (
                "date_order".into(),
                self.sheet
                    .date_order
                    .map_or("auto".into(), |d| format!("{d:?}").to_lowercase()),
            ),
        ];
        all.extend(values);
        all
    }
}

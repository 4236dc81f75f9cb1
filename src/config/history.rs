//! `cake-recon history`: its flags, checked into the journal's query.

use super::paths::journal_from_env;
use crate::app::HistoryConfig;
use crate::checkpoint::history::HistoryQuery;
use crate::checkpoint::journal::{default_path, instance_key};
use crate::error::Error;
use clap::Args;
use std::path::PathBuf;

/// `cake-recon history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The journal to read [default: `$CAKE_RECON_JOURNAL`, else
    /// `$XDG_DATA_HOME/cake-recon/journal.sqlite`, else
    /// `~/.local/share/cake-recon/journal.sqlite`].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Only this CAKE instance (its base URL) [default: every instance in the journal].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Only this conversion: a conversion id, request session id or transaction id, as the
    /// sheet named it.
    #[arg(long, value_name = "ID")]
    pub conversion: Option<String>,
    /// Only updates sent on or after this day (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_day)]
    pub since: Option<chrono::NaiveDate>,
    /// Only updates sent on or before this day (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_day)]
    pub until: Option<chrono::NaiveDate>,
    /// Print CSV (for a spreadsheet or an auditor) instead of text.
    #[arg(long)]
    pub csv: bool,
}

/// The flags, checked.
pub(crate) fn history_config(a: HistoryArgs) -> Result<HistoryConfig, Error> {
    let path = match a
        .journal
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(journal_from_env)
    {
        Some(p) => p,
        None => default_path().ok_or_else(|| {
            Error::Usage(
                "which journal? Neither XDG_DATA_HOME nor HOME is set: give --journal PATH".into(),
            )
        })?,
    };
    if let (Some(since), Some(until)) = (a.since, a.until)
        && since > until
    {
        return Err(Error::Usage(format!(
            "--since {since} is after --until {until}: give the earlier day first"
        )));
    }
    Ok(HistoryConfig {
        path,
        query: HistoryQuery {
            instance: a.base_url.as_deref().map(instance_key),
            conversion: a.conversion.map(|c| c.trim().to_string()),
            since: a.since,
            until: a.until,
        },
        csv: a.csv,
    })
}

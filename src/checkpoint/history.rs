//! `cake-recon history`: reading the journal back — every change cake-recon made to a
//! conversion, an instance or a span of days, oldest first.

use super::CheckpointError;
use super::journal::open_db;
use rusqlite::params;
use std::path::Path;

/// One line of `cake-recon history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct HistoryLine {
    pub sent_at: String,
    pub instance: String,
    pub key: String,
    pub payout: String,
    pub received: String,
    pub received_option: String,
    pub disposition: String,
    pub note: String,
    pub outcome: String,
    pub sheet_name: String,
    pub row: u64,
    pub checkpoint: String,
}

/// What `history` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    pub instance: Option<String>,
    /// A conversion id, request session id or transaction id, as a row names it.
    pub conversion: Option<String>,
    /// UTC days, both inclusive, of `sent_at`.
    pub since: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
}

/// Every journaled update matching `q`, oldest first.
pub(crate) fn history(path: &Path, q: &HistoryQuery) -> Result<Vec<HistoryLine>, CheckpointError> {
    let conn = open_db(path, false)?;
    let sql = |e: rusqlite::Error| CheckpointError::journal(path, &e);
    let mut stmt = conn
        .prepare(
            "SELECT sent_at, instance, key, payout, received, received_option, disposition,
                    note, coalesce(outcome, 'unknown (no answer recorded)'), sheet_name, row,
                    checkpoint
               FROM sent
              WHERE (outcome IS NULL OR outcome <> 'planned')
                AND (?1 IS NULL OR instance = ?1)
                AND (?2 IS NULL OR sent_at >= ?2)
                AND (?3 IS NULL OR sent_at < ?3)
              ORDER BY id",
        )
        .map_err(sql)?;
    let since = q.since.map(|d| format!("{d}T00:00:00"));
    let until = q
        .until
        .and_then(|d| d.succ_opt())
        .map(|d| format!("{d}T00:00:00"));
    let rows = stmt
        .query_map(params![q.instance, since, until], |r| {
            Ok(HistoryLine {
                sent_at: r.get(0)?,
                instance: r.get(1)?,
                key: r.get(2)?,
                payout: r.get(3)?,
                received: r.get(4)?,
                received_option: r.get(5)?,
                disposition: r.get(6)?,
                note: r.get(7)?,
                outcome: r.get(8)?,
                sheet_name: r.get(9)?,
                row: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
                checkpoint: r.get(11)?,
            })
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for line in rows {
        let line = line.map_err(sql)?;
        if q.conversion
            .as_deref()
            .is_none_or(|c| names_conversion(&line.key, c))
        {
            out.push(line);
        }
    }
    Ok(out)
}

/// True when the key `offer|conversion_id|request_session_id|transaction_id` names `id` by
/// any of its ids (the transaction id is everything after the third `|`).
fn names_conversion(key: &str, id: &str) -> bool {
    let mut parts = key.splitn(4, '|');
    let _offer = parts.next();
    parts.any(|p| !p.is_empty() && p != "0" && p == id)
}

/// The ids of a key, in words (`conversion 7`, `transaction T7`).
#[must_use]
pub(crate) fn key_in_words(key: &str) -> String {
    let mut parts = key.splitn(4, '|');
    let _offer = parts.next();
    let names = ["conversion", "request session", "transaction"];
    let words: Vec<String> = names
        .iter()
        .zip(parts)
        .filter(|(_, v)| !v.is_empty() && *v != "0")
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    if words.is_empty() {
        key.to_string()
    } else {
        words.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::journal::Journal;
    use crate::checkpoint::journal::tests::{ctx, entry};

    #[test]
    fn history_finds_a_conversion_by_any_of_its_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let mut a = Journal::open(&path, ctx("a", "s1")).unwrap();
        let e = entry(2, "0|7||T|7", Some("payout+2"));
        let idem = entry(3, "0|0||T7", None);
        a.write_group(
            &[&e],
            &[(2, "updated", None), (3, "updated", Some(&idem))],
            &[],
        )
        .unwrap();
        let all = history(&path, &HistoryQuery::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all.first().map(|l| l.outcome.as_str()), Some("updated"));
        let seven = HistoryQuery {
            conversion: Some("7".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(history(&path, &seven).unwrap().len(), 1);
        let t7 = HistoryQuery {
            conversion: Some("T7".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(history(&path, &t7).unwrap().len(), 1);
        assert_eq!(key_in_words("0|7|0|"), "conversion 7");
        assert_eq!(key_in_words("0|0|0|T|7"), "transaction T|7");
    }
}

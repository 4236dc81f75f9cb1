//! Carrying a checkpoint over to an edited sheet.
//!
//! Records are keyed by row number, which is only an address: fix a cell, insert a row, sort the
//! sheet, and the numbers no longer name the same rows. So every record also holds what its row
//! *is* ([`RowIdent`]): when the sheet changed, each record finds its row again — first the row
//! with the same conversion and the same values (it moved, or nothing happened to it), then the
//! row with the same conversion and other values (it was changed) — and is renumbered to it.
//! Records whose conversion left the sheet are kept aside (`retired`), so a row put back later is
//! still known. Done in one transaction: a crash leaves the checkpoint as it was.

use super::CheckpointError;
use super::schema::now;
use crate::update::RowIdent;
use rusqlite::{Connection, params};
use std::path::Path;

/// Feeds the edited sheet's valid rows, `(row, identity)`, to the sink it is given.
pub(crate) type SheetRows<'a> =
    &'a mut dyn FnMut(&mut dyn FnMut(u64, RowIdent)) -> Result<(), String>;

/// How the records met the edited sheet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rekeyed {
    /// Records whose row is still in the sheet with the same values (perhaps elsewhere).
    pub(crate) same: u64,
    /// Records whose conversion is still in the sheet with other values.
    pub(crate) changed: u64,
    /// Records whose conversion is no longer in the sheet.
    pub(crate) gone: u64,
}

const COLUMNS: &str =
    "kind, intent_at, status, attempts, http_status, message, finished_at, key, content";

/// Renumbers the records of `conn` to the rows `sheet` feeds. Unless `edited`, a sheet in
/// which fewer than half of the recorded rows' conversions are found is taken for a new sheet
/// (next month's, saved over last month's) and refused, the checkpoint left as it was: a row
/// that recurs with the same values in a new sheet must not pass for one already sent.
pub(super) fn rekey(
    conn: &mut Connection,
    path: &Path,
    sheet: SheetRows<'_>,
    edited: bool,
) -> Result<Rekeyed, CheckpointError> {
    let sql = |e: rusqlite::Error| CheckpointError::sql(path, &e);
    // Sorting and joining a million identities wants memory, not SQLite's 2 MB default.
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -131072;")
        .map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.sheet; DROP TABLE IF EXISTS temp.pairs;
         CREATE TEMP TABLE sheet(row INTEGER PRIMARY KEY, key TEXT NOT NULL, content TEXT NOT NULL);
         CREATE TEMP TABLE pairs(id INTEGER PRIMARY KEY, new INTEGER NOT NULL UNIQUE);",
    )
    .map_err(sql)?;
    load_sheet(&tx, path, sheet)?;
    let at = now();
    tx.execute(
        &format!(
            "INSERT INTO retired(row, {COLUMNS}, retired_at) SELECT row, {COLUMNS}, ?1 FROM rows"
        ),
        [&at],
    )
    .map_err(sql)?;
    let moved = tx.execute("DELETE FROM rows", []).map_err(sql)?;
    // Same conversion, same values: the n-th such record goes to the n-th such row. The
    // numbered records are materialised with an index, so the join is a lookup per row.
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.numbered;
         CREATE TEMP TABLE numbered AS
           SELECT id, key, content,
                  ROW_NUMBER() OVER (PARTITION BY key, content ORDER BY row, id) AS n
           FROM retired;
         CREATE INDEX temp.numbered_at ON numbered(key, content, n);",
    )
    .map_err(sql)?;
    let same = tx
        .execute(
            "INSERT INTO temp.pairs(id, new)
             SELECT o.id, s.row FROM
               (SELECT row, key, content,
                       ROW_NUMBER() OVER (PARTITION BY key, content ORDER BY row) AS n
                FROM temp.sheet) AS s
             JOIN temp.numbered AS o
               ON o.key = s.key AND o.content = s.content AND o.n = s.n",
            [],
        )
        .map_err(sql)?;
    // Same conversion, other values: the row was changed.
    tx.execute_batch(
        "DROP TABLE temp.numbered;
         CREATE TEMP TABLE numbered AS
           SELECT id, key, ROW_NUMBER() OVER (PARTITION BY key ORDER BY row, id) AS n
           FROM retired WHERE id NOT IN (SELECT id FROM temp.pairs);
         CREATE INDEX temp.numbered_at ON numbered(key, n);",
    )
    .map_err(sql)?;
    let changed = tx
        .execute(
            "INSERT INTO temp.pairs(id, new)
             SELECT o.id, s.row FROM
               (SELECT row, key, ROW_NUMBER() OVER (PARTITION BY key ORDER BY row) AS n
                FROM temp.sheet WHERE row NOT IN (SELECT new FROM temp.pairs)) AS s
             JOIN temp.numbered AS o ON o.key = s.key AND o.n = s.n",
            [],
        )
        .map_err(sql)?;
    tx.execute(
        &format!(
            "INSERT INTO rows(row, {COLUMNS}) SELECT p.new, {} FROM temp.pairs p
             JOIN retired r ON r.id = p.id",
            COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [],
    )
    .map_err(sql)?;
    tx.execute(
        "DELETE FROM retired WHERE id IN (SELECT id FROM temp.pairs)",
        [],
    )
    .map_err(sql)?;
    tx.execute_batch("DROP TABLE temp.sheet; DROP TABLE temp.pairs; DROP TABLE temp.numbered;")
        .map_err(sql)?;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    let found = same + changed;
    if !edited && looks_new(n(moved), n(found)) {
        // Dropping the transaction rolls every step back.
        return Err(CheckpointError::NewSheet {
            path: path.to_path_buf(),
            recorded: n(moved),
            found: n(found),
        });
    }
    tx.commit().map_err(sql)?;
    Ok(Rekeyed {
        same: n(same),
        changed: n(changed),
        gone: n(moved.saturating_sub(found)),
    })
}

/// Streams the sheet's rows into the temporary table `sheet`.
fn load_sheet(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    sheet: SheetRows<'_>,
) -> Result<(), CheckpointError> {
    let sql = |e: rusqlite::Error| CheckpointError::sql(path, &e);
    let mut insert = tx
        .prepare("INSERT OR REPLACE INTO temp.sheet(row, key, content) VALUES (?1, ?2, ?3)")
        .map_err(sql)?;
    let mut failed = None;
    sheet(&mut |row, ident| {
        if failed.is_none()
            && let Err(e) = insert.execute(params![
                i64::try_from(row).unwrap_or(i64::MAX),
                ident.key,
                ident.content
            ])
        {
            failed = Some(e);
        }
    })
    .map_err(|why| CheckpointError::Rekey {
        path: path.to_path_buf(),
        why,
    })?;
    if let Some(e) = failed {
        return Err(sql(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::schema;

    fn ident(key: &str, content: &str) -> RowIdent {
        RowIdent {
            key: key.into(),
            content: content.into(),
        }
    }

    fn records(conn: &Connection, table: &str) -> Vec<(i64, String, String, String)> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT row, key, content, status FROM {table} ORDER BY row, key"
            ))
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn moved_rows_keep_their_record_changed_rows_are_paired_and_removed_ones_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let mut conn = schema::create(&path, &[]).unwrap();
        for (row, key, content, status) in [
            (2, "a", "1", "updated"),
            (3, "b", "1", "updated"),
            (4, "c", "1", "failed"),
            (5, "d", "1", "updated"),
            (6, "d", "1", "rejected"),
        ] {
            conn.execute(
                "INSERT INTO rows(row, kind, status, key, content) VALUES (?1, 'additive', ?2, ?3, ?4)",
                params![row, status, key, content],
            )
            .unwrap();
        }
        // Sorted the other way round, `b` fixed, `c` removed, one `d` gone, `e` new.
        let sheet = [
            (2, ident("e", "1")),
            (3, ident("d", "1")),
            (4, ident("b", "2")),
            (5, ident("a", "1")),
        ];
        let got = rekey(
            &mut conn,
            &path,
            &mut |sink| {
                for (row, id) in &sheet {
                    sink(*row, id.clone());
                }
                Ok(())
            },
            true,
        )
        .unwrap();
        assert_eq!(
            got,
            Rekeyed {
                same: 2,
                changed: 1,
                gone: 2
            }
        );
        assert_eq!(
            records(&conn, "rows"),
            vec![
                (3, "d".into(), "1".into(), "updated".into()),
                (4, "b".into(), "1".into(), "updated".into()),
                (5, "a".into(), "1".into(), "updated".into()),
            ]
        );
        assert_eq!(
            records(&conn, "retired"),
            vec![
                (4, "c".into(), "1".into(), "failed".into()),
                (6, "d".into(), "1".into(), "rejected".into()),
            ]
        );
        // Putting `c` back finds its record again.
        let back = rekey(
            &mut conn,
            &path,
            &mut |sink| {
                sink(2, ident("c", "1"));
                Ok(())
            },
            true,
        )
        .unwrap();
        assert_eq!(back.same, 1);
        assert_eq!(
            records(&conn, "rows"),
            vec![(2, "c".into(), "1".into(), "failed".into())]
        );
    }

    #[test]
    fn a_sheet_holding_few_of_the_recorded_rows_is_taken_for_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let mut conn = schema::create(&path, &[]).unwrap();
        for (row, key) in [(2, "a"), (3, "b"), (4, "c")] {
            conn.execute(
                "INSERT INTO rows(row, kind, status, key, content) VALUES (?1, 'additive', 'updated', ?2, '1')",
                params![row, key],
            )
            .unwrap();
        }
        let next_month = |sink: &mut dyn FnMut(u64, RowIdent)| {
            sink(2, ident("a", "1"));
            sink(3, ident("x", "1"));
            sink(4, ident("y", "1"));
            Ok(())
        };
        let err = rekey(&mut conn, &path, &mut { next_month }, false).unwrap_err();
        assert!(
            err.to_string().contains("only 1 are in it") && err.to_string().contains("--output"),
            "{err}"
        );
        assert_eq!(records(&conn, "rows").len(), 3, "left as it was");
        assert!(records(&conn, "retired").is_empty());
        let got = rekey(&mut conn, &path, &mut { next_month }, true).unwrap();
        assert_eq!(got.gone, 2);
    }

    #[test]
    fn a_failing_sheet_leaves_the_checkpoint_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let mut conn = schema::create(&path, &[]).unwrap();
        conn.execute(
            "INSERT INTO rows(row, kind, status, key, content) VALUES (2, 'idempotent', 'updated', 'a', '1')",
            [],
        )
        .unwrap();
        let err = rekey(&mut conn, &path, &mut |_| Err("row 7 is gone".into()), true).unwrap_err();
        assert!(err.to_string().contains("row 7 is gone"), "{err}");
        assert_eq!(records(&conn, "rows").len(), 1);
        assert!(records(&conn, "retired").is_empty());
    }
}

/// How a sheet stands against a checkpoint's records, read only (for a dry run beside a run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Rows the checkpoint records.
    pub recorded: u64,
    /// Rows whose record has the same values, by recorded status (`None`: sent, no outcome).
    pub kept: std::collections::BTreeMap<Option<String>, u64>,
    /// Rows whose conversion has a record with other values.
    pub changed: u64,
    /// Rows without a record.
    pub new: u64,
}

impl Standing {
    /// The sheet's rows found among the records (same conversion, same or other values).
    #[must_use]
    pub(crate) fn found(&self) -> u64 {
        self.kept.values().sum::<u64>().saturating_add(self.changed)
    }

    /// The refusal a run would meet (unless `--edited-sheet`): the sheet looks like a new one.
    #[must_use]
    pub(crate) fn new_sheet(&self, path: &Path) -> Option<CheckpointError> {
        looks_new(self.recorded, self.found()).then(|| CheckpointError::NewSheet {
            path: path.to_path_buf(),
            recorded: self.recorded,
            found: self.found(),
        })
    }
}

/// A sheet "looks like a new one" beside a checkpoint when fewer than half of the rows the
/// checkpoint recorded are in it (same conversion): most likely next month's sheet run with
/// this month's results, whose rows would all be sent as new.
fn looks_new(recorded: u64, found: u64) -> bool {
    found.saturating_mul(2) < recorded
}

/// Matches `rows` against the records of the checkpoint at `path` without changing it.
pub(crate) fn standing(
    path: &Path,
    rows: impl Iterator<Item = RowIdent>,
) -> Result<Standing, CheckpointError> {
    use std::collections::HashMap;
    let conn = super::schema::open_checked(path, true, super::schema::Check::AlreadyChecked)?;
    let sql = |e: rusqlite::Error| CheckpointError::sql(path, &e);
    let mut exact: HashMap<(String, String), Vec<Option<String>>> = HashMap::new();
    let mut by_key: HashMap<String, u64> = HashMap::new();
    let mut out = Standing::default();
    {
        let mut stmt = conn
            .prepare("SELECT key, content, status FROM rows")
            .map_err(sql)?;
        let records = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .map_err(sql)?;
        for rec in records {
            let (key, content, status) = rec.map_err(sql)?;
            *by_key.entry(key.clone()).or_default() += 1;
            out.recorded += 1;
            exact.entry((key, content)).or_default().push(status);
        }
    }
    for id in rows {
        if let Some(status) = exact
            .get_mut(&(id.key.clone(), id.content.clone()))
            .and_then(Vec::pop)
        {
            *out.kept.entry(status).or_default() += 1;
            if let Some(n) = by_key.get_mut(&id.key) {
                *n = n.saturating_sub(1);
            }
        } else if by_key.get(&id.key).is_some_and(|n| *n > 0) {
            out.changed += 1;
        } else {
            out.new += 1;
        }
    }
    Ok(out)
}

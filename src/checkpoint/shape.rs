//! A database's schema as a value: what the checkpoint's and the journal's "only if exactly
//! ours" checks compare, read from `sqlite_schema` and pragmas only (no statement that could
//! fire a trigger or run a view).

use rusqlite::Connection;
use std::collections::BTreeMap;

/// Every object of a database's schema by name: its kind (`table`, `index`, …), the table it
/// belongs to, and all that declares it — the `CREATE` text without comments or spacing, each
/// column's name, declared type, `NOT NULL`, default and key (`PRAGMA table_xinfo`), each
/// indexed column and collation (`PRAGMA index_xinfo`). Reads only `sqlite_schema` and pragmas:
/// no statement that could fire a trigger or run a view.
pub(super) fn shape(conn: &Connection) -> rusqlite::Result<BTreeMap<String, Object>> {
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema")?;
    let objects = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = BTreeMap::new();
    for (kind, name, table, sql) in objects {
        let columns = match kind.as_str() {
            "table" => pragma_rows(conn, "pragma_table_xinfo", &name)?,
            "index" => pragma_rows(conn, "pragma_index_xinfo", &name)?,
            _ => Vec::new(),
        };
        let sql = sql.as_deref().map(normalized).unwrap_or_default();
        out.insert(
            name,
            Object {
                kind,
                table,
                sql,
                columns,
            },
        );
    }
    Ok(out)
}

/// One schema object, as [`shape`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Object {
    kind: String,
    table: String,
    sql: String,
    /// One line per column: for a table `name type notnull default pk hidden`.
    columns: Vec<Vec<String>>,
}

/// The rows of a table-valued pragma for `name`, every value as text (`NULL` as `NULL`).
pub(super) fn pragma_rows(
    conn: &Connection,
    pragma: &str,
    name: &str,
) -> rusqlite::Result<Vec<Vec<String>>> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {pragma}(?1)"))?;
    let n = stmt.column_count();
    let rows = stmt.query_map([name], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                })
            })
            .collect()
    })?;
    rows.collect()
}

/// A `CREATE` statement without its comments and with spacing reduced to single spaces between
/// words, lower case: two declarations compare equal exactly when only those differ.
pub(super) fn normalized(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                space = true;
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                space = true;
            }
            '\'' | '"' | '`' => {
                // A quoted name or literal is kept as written.
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => space = true,
            c => {
                let punct = matches!(c, '(' | ')' | ',' | ';' | '=');
                let after_punct = out.ends_with(['(', ')', ',', ';', '=']);
                if space && !out.is_empty() && !punct && !after_punct {
                    out.push(' ');
                }
                space = false;
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

/// How `theirs` differs from `ours` (schemas as [`shape`] reads them), in words; `None` when
/// only tables named in `lazy` (and their indexes) are missing.
pub(super) fn difference(
    theirs: &BTreeMap<String, Object>,
    ours: &BTreeMap<String, Object>,
    lazy: &[&str],
) -> Option<String> {
    for (name, o) in theirs {
        let Some(want) = ours.get(name) else {
            return Some(match o.kind.as_str() {
                "table" | "index" => {
                    format!("it has a {} \"{name}\" cake-recon does not make", o.kind)
                }
                kind => format!("it has a {kind} \"{name}\"; cake-recon makes no {kind}s"),
            });
        };
        if o == want {
            continue;
        }
        if o.kind != want.kind {
            return Some(format!(
                "\"{name}\" is a {}, where cake-recon makes a {}",
                o.kind, want.kind
            ));
        }
        // Name the first column that differs (name, declared type, NOT NULL, default, key).
        let column = |c: &[String]| {
            format!(
                "{} {}{}",
                c.get(1).map_or("?", String::as_str),
                c.get(2).map_or("?", String::as_str),
                if c.get(3).is_some_and(|n| n == "1") {
                    " NOT NULL"
                } else {
                    ""
                }
            )
        };
        let detail = o
            .columns
            .iter()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(want.columns.iter().map(Some).chain(std::iter::repeat(None)))
            .take(o.columns.len().max(want.columns.len()))
            .find(|(a, b)| a != b)
            .map_or_else(
                || "another declaration".into(),
                |(a, b)| match (a, b) {
                    (Some(a), Some(b)) => {
                        format!("column {}, where cake-recon has {}", column(a), column(b))
                    }
                    (Some(a), None) => format!("an extra column {}", column(a)),
                    (None, Some(b)) => format!("no column {}", column(b)),
                    (None, None) => String::new(),
                },
            );
        return Some(format!("its {} \"{name}\" has {detail}", o.kind));
    }
    for (name, want) in ours {
        if !theirs.contains_key(name) && !lazy.contains(&want.table.as_str()) {
            return Some(format!("it has no {} \"{name}\"", want.kind));
        }
    }
    None
}

/// For another database of cake-recon's (the journal's): how the schema of `conn` differs from
/// the one `schema` (`CREATE` statements) makes, in words, or `None` when it is exactly that but
/// for the tables named in `lazy`. Reads only `sqlite_schema` and pragmas; run it right after
/// [`defend`], before any other statement.
pub(crate) fn schema_difference(
    conn: &Connection,
    schema: &[&str],
    lazy: &[&str],
) -> rusqlite::Result<Option<String>> {
    let made = Connection::open_in_memory()?;
    for sql in schema {
        made.execute_batch(sql)?;
    }
    Ok(difference(&shape(conn)?, &shape(&made)?, lazy))
}

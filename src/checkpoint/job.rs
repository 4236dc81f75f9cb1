//! A job's identity, kept in its checkpoint: what the journal tells jobs apart by.

use rusqlite::{Connection, OptionalExtension};

/// A job's id, kept in its checkpoint's `meta`: made when first asked for (`keep` carries
/// one over a `--restart`, which is the same job started over).
pub(crate) fn job_id(conn: &Connection, keep: Option<String>) -> rusqlite::Result<String> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'job_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = stored {
        return Ok(id);
    }
    let id = keep.unwrap_or_else(|| {
        use rand::{Rng as _, SeedableRng as _};
        let n: u128 = rand::rngs::StdRng::from_os_rng().random();
        format!("{n:032x}")
    });
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('job_id', ?1)",
        [&id],
    )?;
    Ok(id)
}

/// The rows a job's checkpoint has finished and will not send again (every outcome but
/// `failed`, which the same command sends again): no plan is made for them.
pub(crate) fn finished_rows(conn: &Connection) -> rusqlite::Result<std::collections::HashSet<u64>> {
    let mut stmt =
        conn.prepare("SELECT row FROM rows WHERE status IS NOT NULL AND status <> 'failed'")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
        .collect()
}

/// Reads a job id from an existing checkpoint, if it has one (best effort: used only to carry
/// it over a `--restart`).
pub(crate) fn stored_job_id(conn: &Connection) -> Option<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'job_id'", [], |r| {
        r.get(0)
    })
    .optional()
    .ok()
    .flatten()
}

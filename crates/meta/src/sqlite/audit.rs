//! [`AuditTrail`] on SQLite: one append-only table pruned from the bottom, so it holds the
//! newest `keep` entries. Ids come from `AUTOINCREMENT` and only the oldest rows are ever
//! deleted, so "the newest N" is the id range above `max(id) - N`.

use super::SqliteMeta;
use crate::{AuditQuery, AuditRecord, AuditTrail, MetaResult};
use rusqlite::params;

fn audit_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.get(0)?,
        time_ns: r.get(1)?,
        user: r.get(2)?,
        door: r.get(3)?,
        kind: r.get(4)?,
        client: r.get(5)?,
        method: r.get(6)?,
        path: r.get(7)?,
        status: r.get::<_, i64>(8)?.clamp(0, u16::MAX as i64) as u16,
        destination: r.get(9)?,
        access_key: r.get(10)?,
    })
}

impl AuditTrail for SqliteMeta {
    fn append_audit(&self, entries: &[AuditRecord], keep: u64) -> MetaResult<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO audit (time_ns, user, door, kind, client, method, path, status, destination, access_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for e in entries {
                    st.execute(params![
                        e.time_ns,
                        e.user,
                        e.door,
                        e.kind,
                        e.client,
                        e.method,
                        e.path,
                        e.status as i64,
                        e.destination,
                        e.access_key
                    ])?;
                }
            }
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let pruned = tx.execute(
                "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1",
                [keep],
            )?;
            Ok(pruned as u64)
        })
    }

    fn audit(&self, q: &AuditQuery) -> MetaResult<Vec<AuditRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, time_ns, user, door, kind, client, method, path, status, destination, access_key
                 FROM audit
                 WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR door = ?2)
                   AND (?3 IS NULL OR time_ns >= ?3) AND (?4 IS NULL OR time_ns < ?4)
                   AND (?5 IS NULL OR id < ?5)
                 ORDER BY id DESC LIMIT ?6",
            )?;
            let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
            Ok(st
                .query_map(
                    params![q.user, q.door, q.since_ns, q.until_ns, q.before_id, limit],
                    audit_from,
                )?
                .collect::<Result<Vec<_>, _>>()?)
        })
    }
}

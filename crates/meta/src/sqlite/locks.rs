//! [`Locks`] on SQLite.

use super::SqliteMeta;
use crate::{LockRecord, Locks, MetaResult};
use rusqlite::params;

const LOCK_SELECT: &str = "SELECT token, space, path, href, principal, owner, shared, deep, timeout_ns, expires_ns, created_ns FROM locks";

fn lock_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<LockRecord> {
    Ok(LockRecord {
        token: r.get(0)?,
        space: r.get(1)?,
        path: r.get(2)?,
        href: r.get(3)?,
        principal: r.get(4)?,
        owner: r.get(5)?,
        shared: r.get::<_, i64>(6)? != 0,
        deep: r.get::<_, i64>(7)? != 0,
        timeout_ns: r.get(8)?,
        expires_ns: r.get(9)?,
        created_ns: r.get(10)?,
    })
}

impl Locks for SqliteMeta {
    fn locks(&self, space: Option<&str>, now_ns: i64) -> MetaResult<Vec<LockRecord>> {
        let all = self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{LOCK_SELECT} WHERE (?1 IS NULL OR space = ?1) ORDER BY created_ns, token"
            ))?;
            Ok(st
                .query_map([space], lock_from)?
                .collect::<Result<Vec<_>, _>>()?)
        })?;
        let (live, dead): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|l| l.expires_ns.is_none_or(|e| e > now_ns));
        if !dead.is_empty() {
            self.write(|tx| {
                for l in &dead {
                    tx.execute(
                        "DELETE FROM locks WHERE token = ?1 AND expires_ns <= ?2",
                        params![l.token, now_ns],
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(live)
    }

    fn insert_lock(&self, l: &LockRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO locks (token, space, path, href, principal, owner, shared, deep, timeout_ns, expires_ns, created_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![l.token, l.space, l.path, l.href, l.principal, l.owner, l.shared as i64, l.deep as i64, l.timeout_ns, l.expires_ns, l.created_ns],
            )?;
            Ok(())
        })
    }

    fn delete_lock(&self, token: &str) -> MetaResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM locks WHERE token = ?1", [token])? > 0))
    }

    fn refresh_lock(
        &self,
        token: &str,
        timeout_ns: Option<i64>,
        expires_ns: Option<i64>,
    ) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE locks SET timeout_ns = ?1, expires_ns = ?2 WHERE token = ?3",
                params![timeout_ns, expires_ns, token],
            )? > 0)
        })
    }

    fn delete_locks_below(&self, space: &str, path: &str) -> MetaResult<()> {
        let below = format!("{}/", path.trim_end_matches('/'));
        self.write(|tx| {
            tx.execute(
                "DELETE FROM locks WHERE space = ?1 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3)",
                params![space, path, below],
            )?;
            Ok(())
        })
    }
}

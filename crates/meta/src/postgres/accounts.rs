//! [`AppPasswords`], [`Shares`], [`AuditTrail`] and [`Locks`] on PostgreSQL: one table
//! each, as on SQLite.

use super::PgMeta;
use crate::{
    AppPasswordRecord, AppPasswords, AuditQuery, AuditRecord, AuditTrail, LockRecord, Locks,
    MetaError, MetaResult, ShareKind, ShareRecord, Shares,
};
use nas_types::NodeId;
use tokio_postgres::Row;

const APP_SELECT: &str =
    "SELECT id, user_name, name, hash, read_only, created_ns, last_used_ns FROM app_passwords";

fn app_from(r: &Row) -> MetaResult<AppPasswordRecord> {
    let hash: Vec<u8> = r.try_get(3)?;
    Ok(AppPasswordRecord {
        id: r.try_get(0)?,
        user: r.try_get(1)?,
        name: r.try_get(2)?,
        hash: super::rows::hash_from(hash)?,
        read_only: r.try_get(4)?,
        created_ns: r.try_get(5)?,
        last_used_ns: r.try_get(6)?,
    })
}

impl AppPasswords for PgMeta {
    fn create_app_password(&self, a: &AppPasswordRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO app_passwords (id, user_name, name, hash, read_only, created_ns, last_used_ns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&a.id, &a.user, &a.name, &&a.hash[..], &a.read_only, &a.created_ns, &a.last_used_ns],
            )?;
            Ok(())
        })
    }

    fn app_password_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<AppPasswordRecord>> {
        self.auto(|c| {
            c.opt(&format!("{APP_SELECT} WHERE hash = $1"), &[&&hash[..]])?
                .as_ref()
                .map(app_from)
                .transpose()
        })
    }

    fn app_passwords(&self, user: &str) -> MetaResult<Vec<AppPasswordRecord>> {
        self.auto(|c| {
            c.rows(
                &format!("{APP_SELECT} WHERE user_name = $1 ORDER BY created_ns, id COLLATE \"C\""),
                &[&user],
            )?
            .iter()
            .map(app_from)
            .collect()
        })
    }

    fn delete_app_password(&self, user: &str, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.exec(
                "DELETE FROM app_passwords WHERE user_name = $1 AND id = $2",
                &[&user, &id],
            )? > 0)
        })
    }

    fn touch_app_password(&self, id: &str, now_ns: i64) -> MetaResult<()> {
        self.write(|tx| {
            tx.exec(
                "UPDATE app_passwords SET last_used_ns = $2 WHERE id = $1",
                &[&id, &now_ns],
            )?;
            Ok(())
        })
    }
}

const SHARE_SELECT: &str = "SELECT id, owner, node, kind, token_hash, password, expires_ns, \
    max_downloads, downloads, created_ns FROM shares";

fn share_from(r: &Row) -> MetaResult<ShareRecord> {
    let hash: Vec<u8> = r.try_get(4)?;
    let kind: String = r.try_get(3)?;
    Ok(ShareRecord {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        node: NodeId(r.try_get(2)?),
        // an unknown kind is never written; read as the narrower right
        kind: ShareKind::parse(&kind).unwrap_or(ShareKind::Drop),
        token_hash: super::rows::hash_from(hash)?,
        password: r.try_get(5)?,
        expires_ns: r.try_get(6)?,
        max_downloads: r.try_get::<_, Option<i64>>(7)?.map(|n| n.max(0) as u64),
        downloads: r.try_get::<_, i64>(8)?.max(0) as u64,
        created_ns: r.try_get(9)?,
    })
}

impl Shares for PgMeta {
    fn create_share(&self, s: &ShareRecord) -> MetaResult<()> {
        self.write(|tx| {
            if tx.exists(
                "SELECT 1 FROM shares WHERE id = $1 OR token_hash = $2",
                &[&s.id, &&s.token_hash[..]],
            )? {
                return Err(MetaError::Exists(format!("share {}", s.id)));
            }
            tx.exec(
                "INSERT INTO shares (id, owner, node, kind, token_hash, password, expires_ns,
                    max_downloads, downloads, created_ns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &s.id,
                    &s.owner,
                    &s.node.0,
                    &s.kind.as_str(),
                    &&s.token_hash[..],
                    &s.password,
                    &s.expires_ns,
                    &s.max_downloads.map(|n| n.min(i64::MAX as u64) as i64),
                    &(s.downloads.min(i64::MAX as u64) as i64),
                    &s.created_ns,
                ],
            )?;
            Ok(())
        })
    }

    fn share_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<ShareRecord>> {
        self.auto(|c| {
            c.opt(
                &format!("{SHARE_SELECT} WHERE token_hash = $1"),
                &[&&hash[..]],
            )?
            .as_ref()
            .map(share_from)
            .transpose()
        })
    }

    fn shares(&self, owner: &str) -> MetaResult<Vec<ShareRecord>> {
        self.auto(|c| {
            c.rows(
                &format!("{SHARE_SELECT} WHERE owner = $1 ORDER BY created_ns, id COLLATE \"C\""),
                &[&owner],
            )?
            .iter()
            .map(share_from)
            .collect()
        })
    }

    fn delete_share(&self, owner: &str, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.exec(
                "DELETE FROM shares WHERE owner = $1 AND id = $2",
                &[&owner, &id],
            )? > 0)
        })
    }

    fn take_share_download(&self, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.exec(
                "UPDATE shares SET downloads = downloads + 1
                 WHERE id = $1 AND (max_downloads IS NULL OR downloads < max_downloads)",
                &[&id],
            )? > 0)
        })
    }
}

fn audit_from(r: &Row) -> MetaResult<AuditRecord> {
    Ok(AuditRecord {
        id: r.try_get(0)?,
        time_ns: r.try_get(1)?,
        user: r.try_get(2)?,
        door: r.try_get(3)?,
        kind: r.try_get(4)?,
        client: r.try_get(5)?,
        method: r.try_get(6)?,
        path: r.try_get(7)?,
        status: r.try_get::<_, i64>(8)?.clamp(0, i64::from(u16::MAX)) as u16,
        destination: r.try_get(9)?,
        access_key: r.try_get(10)?,
    })
}

impl AuditTrail for PgMeta {
    /// Ids come from an identity column and only the oldest rows are deleted, so "the
    /// newest N" is the id range above `max(id) - N` (as on SQLite).
    fn append_audit(&self, entries: &[AuditRecord], keep: u64) -> MetaResult<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.write(|tx| {
            for e in entries {
                tx.exec(
                    "INSERT INTO audit (time_ns, user_name, door, kind, client, method, path, status, destination, access_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &e.time_ns,
                        &e.user,
                        &e.door,
                        &e.kind,
                        &e.client,
                        &e.method,
                        &e.path,
                        &i64::from(e.status),
                        &e.destination,
                        &e.access_key,
                    ],
                )?;
            }
            tx.exec(
                "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - $1",
                &[&keep],
            )
        })
    }

    fn audit(&self, q: &AuditQuery) -> MetaResult<Vec<AuditRecord>> {
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        self.auto(|c| {
            c.rows(
                "SELECT id, time_ns, user_name, door, kind, client, method, path, status, destination, access_key
                 FROM audit
                 WHERE ($1::TEXT IS NULL OR user_name = $1) AND ($2::TEXT IS NULL OR door = $2)
                   AND ($3::BIGINT IS NULL OR time_ns >= $3) AND ($4::BIGINT IS NULL OR time_ns < $4)
                   AND ($5::BIGINT IS NULL OR id < $5)
                 ORDER BY id DESC LIMIT $6",
                &[&q.user, &q.door, &q.since_ns, &q.until_ns, &q.before_id, &limit],
            )?
            .iter()
            .map(audit_from)
            .collect()
        })
    }
}

const LOCK_SELECT: &str = "SELECT token, space, path, href, principal, owner, shared, deep, timeout_ns, expires_ns, created_ns FROM locks";

fn lock_from(r: &Row) -> MetaResult<LockRecord> {
    Ok(LockRecord {
        token: r.try_get(0)?,
        space: r.try_get(1)?,
        path: r.try_get(2)?,
        href: r.try_get(3)?,
        principal: r.try_get(4)?,
        owner: r.try_get(5)?,
        shared: r.try_get(6)?,
        deep: r.try_get(7)?,
        timeout_ns: r.try_get(8)?,
        expires_ns: r.try_get(9)?,
        created_ns: r.try_get(10)?,
    })
}

impl Locks for PgMeta {
    fn locks(&self, space: Option<&str>, now_ns: i64) -> MetaResult<Vec<LockRecord>> {
        let all = self.auto(|c| {
            c.rows(
                &format!(
                    "{LOCK_SELECT} WHERE ($1::TEXT IS NULL OR space = $1) ORDER BY created_ns, token COLLATE \"C\""
                ),
                &[&space],
            )?
            .iter()
            .map(lock_from)
            .collect::<MetaResult<Vec<_>>>()
        })?;
        let (live, dead): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|l| l.expires_ns.is_none_or(|e| e > now_ns));
        if !dead.is_empty() {
            let tokens: Vec<&str> = dead.iter().map(|l| l.token.as_str()).collect();
            self.write(|tx| {
                tx.exec(
                    "DELETE FROM locks WHERE token = ANY($1) AND expires_ns <= $2",
                    &[&tokens, &now_ns],
                )
            })?;
        }
        Ok(live)
    }

    fn insert_lock(&self, l: &LockRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO locks (token, space, path, href, principal, owner, shared, deep, timeout_ns, expires_ns, created_ns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[&l.token, &l.space, &l.path, &l.href, &l.principal, &l.owner, &l.shared, &l.deep, &l.timeout_ns, &l.expires_ns, &l.created_ns],
            )?;
            Ok(())
        })
    }

    fn delete_lock(&self, token: &str) -> MetaResult<bool> {
        self.write(|tx| Ok(tx.exec("DELETE FROM locks WHERE token = $1", &[&token])? > 0))
    }

    fn refresh_lock(
        &self,
        token: &str,
        timeout_ns: Option<i64>,
        expires_ns: Option<i64>,
    ) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.exec(
                "UPDATE locks SET timeout_ns = $1, expires_ns = $2 WHERE token = $3",
                &[&timeout_ns, &expires_ns, &token],
            )? > 0)
        })
    }

    fn delete_locks_below(&self, space: &str, path: &str) -> MetaResult<()> {
        let below = format!("{}/", path.trim_end_matches('/'));
        self.write(|tx| {
            tx.exec(
                "DELETE FROM locks WHERE space = $1 AND (path = $2 OR starts_with(path, $3))",
                &[&space, &path, &below],
            )?;
            Ok(())
        })
    }
}

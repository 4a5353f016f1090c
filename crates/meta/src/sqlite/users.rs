//! [`Users`] and [`Props`] on SQLite.

use super::SqliteMeta;
use crate::{DeadProp, KeyRecord, MetaError, MetaResult, PropOp, Props, UserRecord, Users};
use nas_types::NodeId;
use rusqlite::{OptionalExtension, params};

const USER_SELECT: &str = "SELECT name, password, role, quota, disabled, created_ns, keep_versions, keep_days, sessions_epoch FROM users";

fn user_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: r.get(0)?,
        password: r.get(1)?,
        role: r.get(2)?,
        quota: r.get::<_, Option<i64>>(3)?.map(|q| q as u64),
        disabled: r.get::<_, i64>(4)? != 0,
        created_ns: r.get(5)?,
        keep_versions: r.get(6)?,
        keep_days: r.get(7)?,
        sessions_epoch: r.get::<_, i64>(8)? as u64,
    })
}

impl Users for SqliteMeta {
    fn create_user(&self, u: &UserRecord) -> MetaResult<()> {
        self.write(|tx| {
            let taken: bool = tx.query_row("SELECT count(*) FROM users WHERE name = ?1", [&u.name], |r| r.get::<_, i64>(0))? > 0;
            if taken {
                return Err(MetaError::Exists(format!("user {}", u.name)));
            }
            tx.execute(
                "INSERT INTO users (name, password, role, quota, disabled, created_ns, keep_versions, keep_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![u.name, u.password, u.role, u.quota.map(|q| q as i64), u.disabled as i64, u.created_ns, u.keep_versions, u.keep_days],
            )?;
            Ok(())
        })
    }

    fn user(&self, name: &str) -> MetaResult<Option<UserRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!("{USER_SELECT} WHERE name = ?1"))?
                .query_row([name], user_from)
                .optional()?)
        })
    }

    fn users(&self) -> MetaResult<Vec<UserRecord>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("{USER_SELECT} ORDER BY name"))?;
            Ok(st.query_map([], user_from)?.collect::<Result<_, _>>()?)
        })
    }

    fn update_user(&self, u: &UserRecord) -> MetaResult<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE users SET password = ?1, role = ?2, quota = ?3, disabled = ?4, keep_versions = ?5, keep_days = ?6 WHERE name = ?7",
                params![u.password, u.role, u.quota.map(|q| q as i64), u.disabled as i64, u.keep_versions, u.keep_days, u.name],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("user {}", u.name)));
            }
            Ok(())
        })
    }

    fn delete_user(&self, name: &str) -> MetaResult<()> {
        self.write(|tx| {
            if tx.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
                return Err(MetaError::NotFound(format!("user {name}")));
            }
            tx.execute("DELETE FROM app_passwords WHERE user = ?1", [name])?;
            tx.execute("UPDATE access_keys SET revoked = 1 WHERE user = ?1", [name])?;
            tx.execute("DELETE FROM shares WHERE owner = ?1", [name])?;
            Ok(())
        })
    }

    fn create_key(&self, k: &KeyRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO access_keys (access_key, secret, user, created_ns, revoked, name, read_only) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![k.access_key, k.secret, k.user, k.created_ns, k.revoked as i64, k.name, k.read_only as i64],
            )?;
            Ok(())
        })
    }

    fn key(&self, access_key: &str) -> MetaResult<Option<KeyRecord>> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("{KEY_SELECT} WHERE access_key = ?1"))?
                    .query_row([access_key], key_from)
                    .optional()?,
            )
        })
    }

    fn keys(&self, user: Option<&str>) -> MetaResult<Vec<KeyRecord>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "{KEY_SELECT} WHERE (?1 IS NULL OR user = ?1) ORDER BY user, created_ns"
            ))?;
            Ok(st.query_map([user], key_from)?.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_key(&self, access_key: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE access_keys SET revoked = 1 WHERE access_key = ?1",
                [access_key],
            )? > 0)
        })
    }
}

const KEY_SELECT: &str =
    "SELECT access_key, secret, user, created_ns, revoked, name, read_only FROM access_keys";

fn key_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        access_key: r.get(0)?,
        secret: r.get(1)?,
        user: r.get(2)?,
        created_ns: r.get(3)?,
        revoked: r.get::<_, i64>(4)? != 0,
        name: r.get(5)?,
        read_only: r.get::<_, i64>(6)? != 0,
    })
}

impl Props for SqliteMeta {
    fn any_props(&self) -> MetaResult<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM props LIMIT 1")?
                .exists([])?)
        })
    }

    fn props(&self, node: NodeId) -> MetaResult<Vec<DeadProp>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT ns, name, prefix, value FROM props WHERE node = ?1 ORDER BY ns, name",
            )?;
            let rows = st.query_map([node.0], |r| {
                Ok(DeadProp {
                    ns: r.get(0)?,
                    name: r.get(1)?,
                    prefix: r.get(2)?,
                    value: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn child_props(&self, parent: NodeId, nodes: &[NodeId]) -> MetaResult<Vec<(NodeId, DeadProp)>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        // the ids as one JSON array parameter: one statement, prepared once, any count
        let mut ids = String::with_capacity(nodes.len() * 8 + 2);
        ids.push('[');
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                ids.push(',');
            }
            ids.push_str(&n.0.to_string());
        }
        ids.push(']');
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.node, p.ns, p.name, p.prefix, p.value FROM props p
                 JOIN nodes n ON n.id = p.node
                 WHERE p.node IN (SELECT value FROM json_each(?2)) AND n.parent = ?1
                 ORDER BY p.node, p.ns, p.name",
            )?;
            let rows = st.query_map(params![parent.0, ids], |r| {
                Ok((
                    NodeId(r.get(0)?),
                    DeadProp {
                        ns: r.get(1)?,
                        name: r.get(2)?,
                        prefix: r.get(3)?,
                        value: r.get(4)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn patch_props(&self, node: NodeId, ops: &[PropOp]) -> MetaResult<()> {
        self.write(|tx| {
            for op in ops {
                match op {
                    PropOp::Set(p) => {
                        tx.prepare_cached(
                            "INSERT INTO props (node, ns, name, prefix, value) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT(node, ns, name) DO UPDATE SET prefix = excluded.prefix, value = excluded.value",
                        )?
                        .execute(params![node.0, p.ns, p.name, p.prefix, p.value])?;
                    }
                    PropOp::Remove(ns, name) => {
                        tx.prepare_cached("DELETE FROM props WHERE node = ?1 AND ns = ?2 AND name = ?3")?
                            .execute(params![node.0, ns, name])?;
                    }
                }
            }
            Ok(())
        })
    }
}

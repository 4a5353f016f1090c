//! [`Users`] and [`Props`] on PostgreSQL.

use super::PgMeta;
use crate::{DeadProp, KeyRecord, MetaError, MetaResult, PropOp, Props, UserRecord, Users};
use nas_types::NodeId;
use tokio_postgres::Row;

const USER_SELECT: &str = "SELECT name, password, role, quota, disabled, created_ns, keep_versions, keep_days, sessions_epoch FROM users";

fn user_from(r: &Row) -> MetaResult<UserRecord> {
    let small = |v: Option<i64>| v.map(|v| v.clamp(0, i64::from(u32::MAX)) as u32);
    Ok(UserRecord {
        name: r.try_get(0)?,
        password: r.try_get(1)?,
        role: r.try_get(2)?,
        quota: r.try_get::<_, Option<i64>>(3)?.map(|q| q as u64),
        disabled: r.try_get(4)?,
        created_ns: r.try_get(5)?,
        keep_versions: small(r.try_get(6)?),
        keep_days: small(r.try_get(7)?),
        sessions_epoch: r.try_get::<_, i64>(8)? as u64,
    })
}

const KEY_SELECT: &str =
    "SELECT access_key, secret, user_name, created_ns, revoked, name, read_only FROM access_keys";

fn key_from(r: &Row) -> MetaResult<KeyRecord> {
    Ok(KeyRecord {
        access_key: r.try_get(0)?,
        secret: r.try_get(1)?,
        user: r.try_get(2)?,
        created_ns: r.try_get(3)?,
        revoked: r.try_get(4)?,
        name: r.try_get(5)?,
        read_only: r.try_get(6)?,
    })
}

impl Users for PgMeta {
    fn create_user(&self, u: &UserRecord) -> MetaResult<()> {
        self.write(|tx| {
            if tx.exists("SELECT 1 FROM users WHERE name = $1", &[&u.name])? {
                return Err(MetaError::Exists(format!("user {}", u.name)));
            }
            tx.exec(
                "INSERT INTO users (name, password, role, quota, disabled, created_ns, keep_versions, keep_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &u.name,
                    &u.password,
                    &u.role,
                    &u.quota.map(|q| q as i64),
                    &u.disabled,
                    &u.created_ns,
                    &u.keep_versions.map(i64::from),
                    &u.keep_days.map(i64::from),
                ],
            )?;
            Ok(())
        })
    }

    fn user(&self, name: &str) -> MetaResult<Option<UserRecord>> {
        self.auto(|c| {
            c.opt(&format!("{USER_SELECT} WHERE name = $1"), &[&name])?
                .as_ref()
                .map(user_from)
                .transpose()
        })
    }

    fn users(&self) -> MetaResult<Vec<UserRecord>> {
        self.auto(|c| {
            c.rows(&format!("{USER_SELECT} ORDER BY name COLLATE \"C\""), &[])?
                .iter()
                .map(user_from)
                .collect()
        })
    }

    fn update_user(&self, u: &UserRecord) -> MetaResult<()> {
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE users SET password = $1, role = $2, quota = $3, disabled = $4, keep_versions = $5, keep_days = $6 WHERE name = $7",
                &[
                    &u.password,
                    &u.role,
                    &u.quota.map(|q| q as i64),
                    &u.disabled,
                    &u.keep_versions.map(i64::from),
                    &u.keep_days.map(i64::from),
                    &u.name,
                ],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("user {}", u.name)));
            }
            Ok(())
        })
    }

    fn delete_user(&self, name: &str) -> MetaResult<()> {
        self.write(|tx| {
            if tx.exec("DELETE FROM users WHERE name = $1", &[&name])? == 0 {
                return Err(MetaError::NotFound(format!("user {name}")));
            }
            tx.exec("DELETE FROM app_passwords WHERE user_name = $1", &[&name])?;
            tx.exec(
                "UPDATE access_keys SET revoked = true WHERE user_name = $1",
                &[&name],
            )?;
            tx.exec("DELETE FROM shares WHERE owner = $1", &[&name])?;
            Ok(())
        })
    }

    fn create_key(&self, k: &KeyRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO access_keys (access_key, secret, user_name, created_ns, revoked, name, read_only) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&k.access_key, &k.secret, &k.user, &k.created_ns, &k.revoked, &k.name, &k.read_only],
            )?;
            Ok(())
        })
    }

    fn key(&self, access_key: &str) -> MetaResult<Option<KeyRecord>> {
        self.auto(|c| {
            c.opt(
                &format!("{KEY_SELECT} WHERE access_key = $1"),
                &[&access_key],
            )?
            .as_ref()
            .map(key_from)
            .transpose()
        })
    }

    fn keys(&self, user: Option<&str>) -> MetaResult<Vec<KeyRecord>> {
        self.auto(|c| {
            c.rows(
                &format!(
                    "{KEY_SELECT} WHERE ($1::TEXT IS NULL OR user_name = $1)
                     ORDER BY user_name COLLATE \"C\", created_ns"
                ),
                &[&user],
            )?
            .iter()
            .map(key_from)
            .collect()
        })
    }

    fn revoke_key(&self, access_key: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.exec(
                "UPDATE access_keys SET revoked = true WHERE access_key = $1",
                &[&access_key],
            )? > 0)
        })
    }
}

impl Props for PgMeta {
    fn any_props(&self) -> MetaResult<bool> {
        self.auto(|c| c.exists("SELECT 1 FROM props LIMIT 1", &[]))
    }

    fn props(&self, node: NodeId) -> MetaResult<Vec<DeadProp>> {
        self.auto(|c| {
            c.rows(
                "SELECT ns, name, prefix, value FROM props WHERE node = $1
                 ORDER BY ns COLLATE \"C\", name COLLATE \"C\"",
                &[&node.0],
            )?
            .iter()
            .map(|r| {
                Ok(DeadProp {
                    ns: r.try_get(0)?,
                    name: r.try_get(1)?,
                    prefix: r.try_get(2)?,
                    value: r.try_get(3)?,
                })
            })
            .collect()
        })
    }

    fn child_props(&self, parent: NodeId, nodes: &[NodeId]) -> MetaResult<Vec<(NodeId, DeadProp)>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = nodes.iter().map(|n| n.0).collect();
        self.auto(|c| {
            c.rows(
                "SELECT p.node, p.ns, p.name, p.prefix, p.value FROM props p
                 JOIN nodes n ON n.id = p.node
                 WHERE p.node = ANY($2) AND n.parent = $1
                 ORDER BY p.node, p.ns COLLATE \"C\", p.name COLLATE \"C\"",
                &[&parent.0, &ids],
            )?
            .iter()
            .map(|r| {
                Ok((
                    NodeId(r.try_get(0)?),
                    DeadProp {
                        ns: r.try_get(1)?,
                        name: r.try_get(2)?,
                        prefix: r.try_get(3)?,
                        value: r.try_get(4)?,
                    },
                ))
            })
            .collect()
        })
    }

    fn patch_props(&self, node: NodeId, ops: &[PropOp]) -> MetaResult<()> {
        self.write(|tx| {
            for op in ops {
                match op {
                    PropOp::Set(p) => {
                        tx.exec(
                            "INSERT INTO props (node, ns, name, prefix, value) VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (node, ns, name) DO UPDATE SET prefix = excluded.prefix, value = excluded.value",
                            &[&node.0, &p.ns, &p.name, &p.prefix, &p.value],
                        )?;
                    }
                    PropOp::Remove(ns, name) => {
                        tx.exec(
                            "DELETE FROM props WHERE node = $1 AND ns = $2 AND name = $3",
                            &[&node.0, ns, name],
                        )?;
                    }
                }
            }
            Ok(())
        })
    }
}

//! [`NodeRegistry`] on PostgreSQL: each node's heartbeat is one statement, timed by the
//! database's clock (`now_ns()`), so nodes whose clocks differ agree on who is late.

use super::PgMeta;
use crate::{ClusterNode, MetaResult, NodeRegistry};

impl NodeRegistry for PgMeta {
    fn heartbeat(&self, n: &ClusterNode, forget_ns: i64) -> MetaResult<Option<(String, i64)>> {
        let row = self.auto(|db| {
            db.opt(
                "WITH old AS (SELECT instance, now_ns() - seen_ns AS age FROM cluster_nodes
                              WHERE name = $1),
                 gone AS (DELETE FROM cluster_nodes WHERE seen_ns < now_ns() - $6 AND name <> $1),
                 up AS (INSERT INTO cluster_nodes (name, instance, version, address, started_ns, seen_ns)
                        VALUES ($1, $2, $3, $4, $5, now_ns())
                        ON CONFLICT (name) DO UPDATE SET instance = excluded.instance,
                          version = excluded.version, address = excluded.address,
                          started_ns = excluded.started_ns, seen_ns = excluded.seen_ns)
                 SELECT instance, age FROM old WHERE instance <> $2",
                &[
                    &n.name,
                    &n.instance,
                    &n.version,
                    &n.address,
                    &n.started_ns,
                    &forget_ns,
                ],
            )
        })?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    fn nodes(&self) -> MetaResult<Vec<ClusterNode>> {
        let rows = self.auto(|db| {
            db.rows(
                "SELECT name, instance, version, address, started_ns, now_ns() - seen_ns
                 FROM cluster_nodes ORDER BY name",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(ClusterNode {
                    name: r.try_get(0)?,
                    instance: r.try_get(1)?,
                    version: r.try_get(2)?,
                    address: r.try_get(3)?,
                    started_ns: r.try_get(4)?,
                    age_ns: r.try_get(5)?,
                })
            })
            .collect()
    }

    fn leave(&self, name: &str, instance: &str) -> MetaResult<bool> {
        let n = self.auto(|db| {
            db.exec(
                "DELETE FROM cluster_nodes WHERE name = $1 AND instance = $2",
                &[&name, &instance],
            )
        })?;
        Ok(n > 0)
    }
}

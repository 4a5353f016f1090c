//! [`NodeRegistry`] on SQLite (`cluster_nodes`, schema step 25). A single SQLite server does not
//! announce itself; this is here so that both backends keep one schema and one contract
//! (the conformance suite runs it on both). The clock is this process's.

use super::{SqliteMeta, now_ns};
use crate::{ClusterNode, MetaResult, NodeRegistry};
use rusqlite::OptionalExtension;

impl NodeRegistry for SqliteMeta {
    fn heartbeat(&self, n: &ClusterNode, forget_ns: i64) -> MetaResult<Option<(String, i64)>> {
        let now = now_ns();
        self.write(|tx| {
            let old: Option<(String, i64)> = tx
                .query_row(
                    "SELECT instance, ?2 - seen_ns FROM cluster_nodes WHERE name = ?1",
                    rusqlite::params![n.name, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            tx.execute(
                "DELETE FROM cluster_nodes WHERE seen_ns < ?1 AND name <> ?2",
                rusqlite::params![now - forget_ns, n.name],
            )?;
            tx.execute(
                "INSERT INTO cluster_nodes (name, instance, version, address, started_ns, seen_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET instance = excluded.instance,
                   version = excluded.version, address = excluded.address,
                   started_ns = excluded.started_ns, seen_ns = excluded.seen_ns",
                rusqlite::params![n.name, n.instance, n.version, n.address, n.started_ns, now],
            )?;
            Ok(old.filter(|(i, _)| *i != n.instance))
        })
    }

    fn nodes(&self) -> MetaResult<Vec<ClusterNode>> {
        let now = now_ns();
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT name, instance, version, address, started_ns, ?1 - seen_ns
                 FROM cluster_nodes ORDER BY name",
            )?;
            let rows = st.query_map([now], |r| {
                Ok(ClusterNode {
                    name: r.get(0)?,
                    instance: r.get(1)?,
                    version: r.get(2)?,
                    address: r.get(3)?,
                    started_ns: r.get(4)?,
                    age_ns: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn leave(&self, name: &str, instance: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM cluster_nodes WHERE name = ?1 AND instance = ?2",
                [name, instance],
            )? > 0)
        })
    }
}

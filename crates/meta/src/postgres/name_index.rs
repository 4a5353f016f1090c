//! [`NameIndex`] on PostgreSQL: the indexer's side of the name index.
//!
//! `name_index` holds one row per indexed node (its ASCII-lowercased name) under a
//! `pg_trgm` GIN index. The commit path never writes to it: the triggers `nodes_created`
//! and `nodes_renamed` queue the node in `name_index_pending`, in the writing transaction.
//! Each indexer step takes up to a batch of queued nodes and (re)writes their rows from
//! the nodes as they are now, in one serializable transaction. There is no watermark as on
//! SQLite: identity values are handed out in insert order, not commit order, so a node
//! with a lower id may commit after one with a higher id was indexed; the queue row commits
//! with its node instead. Rows of purged nodes stay until a pruning step drops them.

use super::PgMeta;
use super::search::LOWER_NAME;
use crate::{IndexStep, MetaResult, NameIndex, NameIndexStatus, PruneStep};
use nas_types::NodeId;

impl NameIndex for PgMeta {
    /// `indexed_to` is the highest node id in the index; `unindexed` counts queued nodes
    /// not in it yet (new ones), `pending` queued nodes that are (renamed ones).
    fn name_index_status(&self) -> MetaResult<NameIndexStatus> {
        self.auto(|c| {
            let r = c.one(
                "SELECT (SELECT coalesce(max(node), 0) FROM name_index),
                        count(*) FILTER (WHERE f.node IS NULL),
                        count(*) FILTER (WHERE f.node IS NOT NULL)
                 FROM name_index_pending p LEFT JOIN name_index f ON f.node = p.node",
                &[],
            )?;
            Ok(NameIndexStatus {
                indexed_to: NodeId(r.try_get(0)?),
                unindexed: r.try_get::<_, i64>(1)? as u64,
                pending: r.try_get::<_, i64>(2)? as u64,
            })
        })
    }

    fn index_names(&self, batch: usize) -> MetaResult<IndexStep> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        self.write(|tx| {
            let queued = tx.rows(
                "SELECT p.node, EXISTS (SELECT 1 FROM name_index f WHERE f.node = p.node)
                 FROM name_index_pending p ORDER BY p.node LIMIT $1",
                &[&batch],
            )?;
            let mut nodes = Vec::with_capacity(queued.len());
            let mut reindexed = 0u64;
            for r in &queued {
                nodes.push(r.try_get::<_, i64>(0)?);
                reindexed += u64::from(r.try_get::<_, bool>(1)?);
            }
            if nodes.is_empty() {
                return Ok(IndexStep::default());
            }
            tx.exec("DELETE FROM name_index WHERE node = ANY($1)", &[&nodes])?;
            tx.exec(
                &format!(
                    "INSERT INTO name_index (node, name) SELECT n.id, {LOWER_NAME} FROM nodes n
                     WHERE n.id = ANY($1)"
                ),
                &[&nodes],
            )?;
            tx.exec(
                "DELETE FROM name_index_pending WHERE node = ANY($1)",
                &[&nodes],
            )?;
            Ok(IndexStep {
                indexed: nodes.len() as u64 - reindexed,
                reindexed,
                more: nodes.len() as i64 == batch,
            })
        })
    }

    fn prune_name_index(&self, after: NodeId, limit: usize) -> MetaResult<PruneStep> {
        let limit = limit.max(1);
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        // look first (no write while nothing needs dropping)
        let rows = self.auto(|c| {
            c.rows(
                "SELECT f.node, NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = f.node)
                 FROM name_index f WHERE f.node > $1 ORDER BY f.node LIMIT $2",
                &[&after.0, &lim],
            )
        })?;
        let mut orphans = Vec::new();
        let mut last = None;
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            if r.try_get::<_, bool>(1)? {
                orphans.push(id);
            }
            last = Some(id);
        }
        let dropped = if orphans.is_empty() {
            0
        } else {
            // ids are never reused: a node gone now stays gone
            self.write(|tx| tx.exec("DELETE FROM name_index WHERE node = ANY($1)", &[&orphans]))?
        };
        Ok(PruneStep {
            checked: rows.len() as u64,
            dropped,
            next: if rows.len() == limit {
                last.map(NodeId)
            } else {
                None
            },
        })
    }
}

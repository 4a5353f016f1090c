//! [`NameIndex`] on SQLite: the indexer's side of the name index (schema 9).
//!
//! `name_index` is an ordinary FTS5 table (`tokenize='trigram'`, it keeps its own copy of
//! each name), rowid = node id. Nothing on the commit path writes to it; instead:
//! - the watermark `name_index_state.indexed_to` says every node up to that id was added
//!   (node ids come from `AUTOINCREMENT`: never reused, and a node committed after a step
//!   always gets a higher id than any the step saw, since writes are serialized);
//! - the trigger `nodes_renamed` queues a renamed node in `name_index_pending`;
//! - rows of purged nodes stay until a pruning step drops them (a search joins every hit
//!   to `nodes`, so they are never returned meanwhile).
//!
//! Each step is one short write transaction on the store's single writer connection, the
//! same path every other write takes, so it never conflicts with request writes; it only
//! waits for them (and they for it, a few milliseconds).

use super::SqliteMeta;
use crate::{IndexStep, MetaResult, NameIndex, NameIndexStatus, PruneStep};
use nas_types::NodeId;
use rusqlite::{Connection, OptionalExtension, params};

/// The watermark: every node with an id up to it is in the index (or pending).
pub(super) fn indexed_to(c: &Connection) -> MetaResult<i64> {
    Ok(
        c.prepare_cached("SELECT indexed_to FROM name_index_state WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

/// Re-indexes up to `limit` queued renames; returns how many were handled.
fn reindex_pending(c: &Connection, watermark: i64, limit: usize) -> MetaResult<u64> {
    let queued: Vec<(i64, Option<String>)> = c
        .prepare_cached(
            "SELECT p.node, n.name FROM name_index_pending p LEFT JOIN nodes n ON n.id = p.node
             ORDER BY p.node LIMIT ?1",
        )?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut drop_row = c.prepare_cached("DELETE FROM name_index WHERE rowid = ?1")?;
    let mut insert = c.prepare_cached("INSERT INTO name_index (rowid, name) VALUES (?1, ?2)")?;
    let mut dequeue = c.prepare_cached("DELETE FROM name_index_pending WHERE node = ?1")?;
    for (node, name) in &queued {
        drop_row.execute([node])?;
        // a node above the watermark is added with its current name by the tail pass
        if let (Some(name), true) = (name, *node <= watermark) {
            insert.execute(params![node, name])?;
        }
        dequeue.execute([node])?;
    }
    Ok(queued.len() as u64)
}

/// Adds up to `limit` nodes above the watermark and moves it; returns how many.
fn index_tail(c: &Connection, watermark: i64, limit: usize) -> MetaResult<u64> {
    if limit == 0 {
        return Ok(0);
    }
    let rows: Vec<(i64, String)> = c
        .prepare_cached("SELECT id, name FROM nodes WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![watermark, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let Some(&(last, _)) = rows.last() else {
        return Ok(0);
    };
    let mut insert = c.prepare_cached("INSERT INTO name_index (rowid, name) VALUES (?1, ?2)")?;
    for (id, name) in &rows {
        insert.execute(params![id, name])?;
    }
    c.prepare_cached("UPDATE name_index_state SET indexed_to = ?1 WHERE id = 1")?
        .execute([last])?;
    Ok(rows.len() as u64)
}

impl NameIndex for SqliteMeta {
    fn name_index_status(&self) -> MetaResult<NameIndexStatus> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?; // one snapshot for the three figures
            let w = indexed_to(&tx)?;
            let unindexed: i64 = tx
                .prepare_cached("SELECT count(*) FROM nodes WHERE id > ?1")?
                .query_row([w], |r| r.get(0))?;
            let pending: i64 = tx
                .prepare_cached("SELECT count(*) FROM name_index_pending")?
                .query_row([], |r| r.get(0))?;
            Ok(NameIndexStatus {
                indexed_to: NodeId(w),
                unindexed: unindexed as u64,
                pending: pending as u64,
            })
        })
    }

    fn index_names(&self, batch: usize) -> MetaResult<IndexStep> {
        let batch = batch.max(1);
        self.write(|tx| {
            let w = indexed_to(tx)?;
            let reindexed = reindex_pending(tx, w, batch)?;
            let room = batch - reindexed as usize;
            let indexed = index_tail(tx, w, room)?;
            Ok(IndexStep {
                indexed,
                reindexed,
                more: reindexed as usize == batch || indexed as usize == room,
            })
        })
    }

    fn prune_name_index(&self, after: NodeId, limit: usize) -> MetaResult<PruneStep> {
        let limit = limit.max(1);
        // look on a reader (no write lock while nothing needs dropping)
        let (checked, last, orphans) = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT f.rowid, NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = f.rowid)
                 FROM name_index f WHERE f.rowid > ?1 ORDER BY f.rowid LIMIT ?2",
            )?;
            let rows: Vec<(i64, bool)> = st
                .query_map(params![after.0, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let orphans: Vec<i64> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
            Ok((rows.len(), rows.last().map(|r| r.0), orphans))
        })?;
        let dropped = if orphans.is_empty() {
            0
        } else {
            // ids are never reused: a node gone on the reader's snapshot stays gone
            self.write(|tx| {
                let mut st = tx.prepare_cached("DELETE FROM name_index WHERE rowid = ?1")?;
                let mut n = 0u64;
                for id in &orphans {
                    n += st.execute([id])? as u64;
                }
                Ok(n)
            })?
        };
        Ok(PruneStep {
            checked: checked as u64,
            dropped,
            next: if checked == limit {
                last.map(NodeId)
            } else {
                None
            },
        })
    }
}

//! [`TrashStore`] on SQLite: detached subtrees with their original path.

use super::SqliteMeta;
use super::rows::{add_refs, charge, get_child, need_live_dir, need_node, trash_node, tree_bytes};
use crate::{MetaError, MetaResult, NodeKind, NodeRecord, TrashRecord, TrashStore};
use nas_types::{HomeId, NodeId, TrashId};
use rusqlite::{OptionalExtension, params};

const TRASH_SELECT: &str = "SELECT t.id, t.home, t.node, t.path, t.deleted_ns, n.kind FROM trash t JOIN nodes n ON n.id = t.node";

fn trash_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrashRecord> {
    Ok(TrashRecord {
        id: TrashId(r.get(0)?),
        home: HomeId(r.get(1)?),
        node: NodeId(r.get(2)?),
        path: r.get(3)?,
        deleted_ns: r.get(4)?,
        kind: if r.get::<_, i64>(5)? == 0 {
            NodeKind::Dir
        } else {
            NodeKind::File
        },
    })
}

impl TrashStore for SqliteMeta {
    fn trash(&self, node: NodeId, path: &str, now_ns: i64) -> MetaResult<TrashRecord> {
        self.write(|tx| {
            let n = need_node(tx, node)?;
            let id = trash_node(tx, &n, path, now_ns)?;
            Ok(tx.query_row(&format!("{TRASH_SELECT} WHERE t.id = ?1"), [id], trash_from)?)
        })
    }

    fn trash_list(&self, home: HomeId) -> MetaResult<Vec<TrashRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{TRASH_SELECT} WHERE t.home = ?1 ORDER BY t.deleted_ns DESC, t.id DESC"
            ))?;
            Ok(st
                .query_map([home.0], trash_from)?
                .collect::<Result<_, _>>()?)
        })
    }

    fn trash_entry(&self, id: TrashId) -> MetaResult<Option<TrashRecord>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("{TRASH_SELECT} WHERE t.id = ?1"),
                [id.0],
                trash_from,
            )
            .optional()?)
        })
    }

    fn trash_restore(&self, id: TrashId, parent: NodeId, name: &str) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let t = tx
                .query_row(
                    &format!("{TRASH_SELECT} WHERE t.id = ?1"),
                    [id.0],
                    trash_from,
                )
                .optional()?
                .ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?;
            let dest = need_live_dir(tx, parent)?;
            if dest.home != t.home {
                return Err(MetaError::Invalid(
                    "cannot restore into another home".into(),
                ));
            }
            if t.kind == NodeKind::File && need_node(tx, t.node)?.head.is_none() {
                return Err(MetaError::Invalid(format!(
                    "trash entry {id} holds no version any more (only its delete marker): \
                     nothing to restore; purge it"
                )));
            }
            if get_child(tx, parent, name)?.is_some() {
                return Err(MetaError::Exists(name.to_owned()));
            }
            tx.execute(
                "UPDATE nodes SET parent = ?1, name = ?2, trash = NULL WHERE id = ?3",
                params![parent.0, name, t.node.0],
            )?;
            tx.execute("DELETE FROM trash WHERE id = ?1", [id.0])?;
            let bytes = tree_bytes(tx, t.node)?;
            charge(tx, t.home, bytes as i64, 0)?;
            need_node(tx, t.node)
        })
    }

    fn trash_purge(&self, id: TrashId) -> MetaResult<()> {
        self.write(|tx| purge(tx, id))
    }

    fn trash_merge(&self, id: TrashId, into: NodeId) -> MetaResult<()> {
        self.write(|tx| {
            let t = tx
                .query_row(
                    &format!("{TRASH_SELECT} WHERE t.id = ?1"),
                    [id.0],
                    trash_from,
                )
                .optional()?
                .ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?;
            let dest = need_node(tx, into)?;
            if t.kind != NodeKind::File || dest.kind != NodeKind::File || dest.home != t.home {
                return Err(MetaError::Invalid(
                    "only a trashed file merges, into a file of its home".into(),
                ));
            }
            let span = |n: NodeId| -> MetaResult<(Option<i64>, Option<i64>)> {
                Ok(tx
                    .prepare_cached("SELECT MIN(num), MAX(num) FROM versions WHERE node = ?1")?
                    .query_row([n.0], |r| Ok((r.get(0)?, r.get(1)?)))?)
            };
            let ((_, top), (low, _)) = (span(t.node)?, span(into)?);
            if let (Some(top), Some(low)) = (top, low)
                && top >= low
            {
                return Err(MetaError::Invalid(format!(
                    "trash entry {id}: its version numbers overlap those of the file after it"
                )));
            }
            tx.execute(
                "UPDATE versions SET node = ?1 WHERE node = ?2",
                params![into.0, t.node.0],
            )?;
            purge(tx, id)
        })
    }

    fn trash_older_than(&self, before_ns: i64) -> MetaResult<Vec<TrashRecord>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "{TRASH_SELECT} WHERE t.deleted_ns < ?1 ORDER BY t.deleted_ns"
            ))?;
            Ok(st
                .query_map([before_ns], trash_from)?
                .collect::<Result<_, _>>()?)
        })
    }
}

/// Deletes entry `id`'s subtree for good in transaction `tx`, releasing chunk references.
fn purge(tx: &rusqlite::Connection, id: TrashId) -> MetaResult<()> {
    let node: i64 = tx
        .query_row("SELECT node FROM trash WHERE id = ?1", [id.0], |r| r.get(0))
        .optional()?
        .ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?;
    let nodes: Vec<i64> = {
        let mut st = tx.prepare(
            "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id)
             SELECT id FROM sub",
        )?;
        st.query_map([node], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut versions = tx.prepare_cached("SELECT extents FROM versions WHERE node = ?1")?;
    for n in &nodes {
        let lists: Vec<Vec<u8>> = versions
            .query_map([n], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for blob in lists {
            add_refs(tx, &blob, -1)?;
        }
        tx.execute("DELETE FROM versions WHERE node = ?1", [n])?;
        tx.execute("DELETE FROM props WHERE node = ?1", [n])?;
        tx.execute("DELETE FROM implicit_folders WHERE node = ?1", [n])?;
        tx.execute("DELETE FROM nodes WHERE id = ?1", [n])?;
    }
    tx.execute("DELETE FROM trash WHERE id = ?1", [id.0])?;
    Ok(())
}

//! [`TrashStore`] on PostgreSQL: detached subtrees with their original path.

use super::PgMeta;
use super::conn::Db;
use super::rows::{
    add_refs, charge, get_child, kind_of, need_live_dir, need_node, trash_node, tree_bytes,
};
use crate::{MetaError, MetaResult, NodeKind, NodeRecord, TrashRecord, TrashStore};
use nas_types::{HomeId, NodeId, TrashId};
use tokio_postgres::Row;

const TRASH_SELECT: &str = "SELECT t.id, t.home, t.node, t.path, t.deleted_ns, n.kind FROM trash t JOIN nodes n ON n.id = t.node";

fn trash_from(r: &Row) -> MetaResult<TrashRecord> {
    Ok(TrashRecord {
        id: TrashId(r.try_get(0)?),
        home: HomeId(r.try_get(1)?),
        node: NodeId(r.try_get(2)?),
        path: r.try_get(3)?,
        deleted_ns: r.try_get(4)?,
        kind: kind_of(r.try_get(5)?),
    })
}

fn entry(c: &Db<'_>, id: i64) -> MetaResult<Option<TrashRecord>> {
    c.opt(&format!("{TRASH_SELECT} WHERE t.id = $1"), &[&id])?
        .as_ref()
        .map(trash_from)
        .transpose()
}

impl TrashStore for PgMeta {
    fn trash(&self, node: NodeId, path: &str, now_ns: i64) -> MetaResult<TrashRecord> {
        self.write(|tx| {
            let n = need_node(tx, node)?;
            let id = trash_node(tx, &n, path, now_ns)?;
            entry(tx, id)?.ok_or_else(|| MetaError::Corrupt(format!("trash entry {id} vanished")))
        })
    }

    fn trash_list(&self, home: HomeId) -> MetaResult<Vec<TrashRecord>> {
        self.auto(|c| {
            c.rows(
                &format!("{TRASH_SELECT} WHERE t.home = $1 ORDER BY t.deleted_ns DESC, t.id DESC"),
                &[&home.0],
            )?
            .iter()
            .map(trash_from)
            .collect()
        })
    }

    fn trash_entry(&self, id: TrashId) -> MetaResult<Option<TrashRecord>> {
        self.auto(|c| entry(c, id.0))
    }

    fn trash_restore(&self, id: TrashId, parent: NodeId, name: &str) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let t =
                entry(tx, id.0)?.ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?;
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
            tx.exec(
                "UPDATE nodes SET parent = $1, name = $2, trash = NULL WHERE id = $3",
                &[&parent.0, &name, &t.node.0],
            )?;
            tx.exec("DELETE FROM trash WHERE id = $1", &[&id.0])?;
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
            let t =
                entry(tx, id.0)?.ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?;
            let dest = need_node(tx, into)?;
            if t.kind != NodeKind::File || dest.kind != NodeKind::File || dest.home != t.home {
                return Err(MetaError::Invalid(
                    "only a trashed file merges, into a file of its home".into(),
                ));
            }
            let span = |n: NodeId| -> MetaResult<(Option<i64>, Option<i64>)> {
                let r = tx.one(
                    "SELECT MIN(num), MAX(num) FROM versions WHERE node = $1",
                    &[&n.0],
                )?;
                Ok((r.try_get(0)?, r.try_get(1)?))
            };
            let ((_, top), (low, _)) = (span(t.node)?, span(into)?);
            if let (Some(top), Some(low)) = (top, low)
                && top >= low
            {
                return Err(MetaError::Invalid(format!(
                    "trash entry {id}: its version numbers overlap those of the file after it"
                )));
            }
            tx.exec(
                "UPDATE versions SET node = $1 WHERE node = $2",
                &[&into.0, &t.node.0],
            )?;
            purge(tx, id)
        })
    }

    fn trash_older_than(&self, before_ns: i64) -> MetaResult<Vec<TrashRecord>> {
        self.auto(|c| {
            c.rows(
                &format!("{TRASH_SELECT} WHERE t.deleted_ns < $1 ORDER BY t.deleted_ns"),
                &[&before_ns],
            )?
            .iter()
            .map(trash_from)
            .collect()
        })
    }
}

/// Deletes entry `id`'s subtree for good in transaction `tx`, releasing chunk references.
fn purge(tx: &Db<'_>, id: TrashId) -> MetaResult<()> {
    let node: i64 = tx
        .opt("SELECT node FROM trash WHERE id = $1", &[&id.0])?
        .ok_or_else(|| MetaError::NotFound(format!("trash entry {id}")))?
        .try_get(0)?;
    let nodes: Vec<i64> = tx
        .rows(
            "WITH RECURSIVE sub(id) AS (SELECT $1::BIGINT UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id)
             SELECT id FROM sub",
            &[&node],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for blob in tx.rows(
        "SELECT extents FROM versions WHERE node = ANY($1)",
        &[&nodes],
    )? {
        add_refs(tx, &blob.try_get::<_, Vec<u8>>(0)?, -1)?;
    }
    tx.exec("DELETE FROM versions WHERE node = ANY($1)", &[&nodes])?;
    tx.exec("DELETE FROM props WHERE node = ANY($1)", &[&nodes])?;
    tx.exec(
        "DELETE FROM implicit_folders WHERE node = ANY($1)",
        &[&nodes],
    )?;
    tx.exec("DELETE FROM nodes WHERE id = ANY($1)", &[&nodes])?;
    tx.exec("DELETE FROM trash WHERE id = $1", &[&id.0])?;
    Ok(())
}

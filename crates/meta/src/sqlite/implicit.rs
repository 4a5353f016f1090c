//! [`ImplicitFolders`] on SQLite: the ids of implicit folders in a table of their own
//! (`implicit_folders`, schema step 13); a purge removes a folder's row with it.

use super::SqliteMeta;
use super::namespace::make_dir;
use super::rows::{get_node, is_live, need_live_dir};
use crate::{ImplicitFolders, MetaResult, NodeKind, NodeRecord};
use nas_types::NodeId;
use rusqlite::Connection;

fn implicit(c: &Connection, node: NodeId) -> MetaResult<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM implicit_folders WHERE node = ?1")?
            .exists([node.0])?,
    )
}

impl ImplicitFolders for SqliteMeta {
    fn mkdir_implicit(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let n = make_dir(tx, parent, name, now_ns)?;
            tx.execute("INSERT INTO implicit_folders (node) VALUES (?1)", [n.id.0])?;
            Ok(n)
        })
    }

    fn is_implicit(&self, node: NodeId) -> MetaResult<bool> {
        self.read(|c| implicit(c, node))
    }

    fn set_implicit(&self, node: NodeId, implicit: bool) -> MetaResult<()> {
        if self.is_implicit(node)? == implicit {
            return Ok(()); // the common case costs no write
        }
        self.write(|tx| {
            if implicit {
                need_live_dir(tx, node)?;
                tx.execute(
                    "INSERT OR IGNORE INTO implicit_folders (node) VALUES (?1)",
                    [node.0],
                )?;
            } else {
                tx.execute("DELETE FROM implicit_folders WHERE node = ?1", [node.0])?;
            }
            Ok(())
        })
    }

    fn prune_implicit(&self, node: NodeId) -> MetaResult<usize> {
        if !self.is_implicit(node)? {
            return Ok(0); // the common case costs no write
        }
        self.write(|tx| {
            let mut removed = 0;
            let mut cur = Some(node);
            while let Some(id) = cur {
                let Some(n) = get_node(tx, id)? else { break };
                let empty = !tx
                    .prepare_cached("SELECT 1 FROM nodes WHERE parent = ?1 LIMIT 1")?
                    .exists([id.0])?;
                if n.kind != NodeKind::Dir || !empty || !implicit(tx, id)? || !is_live(tx, id)? {
                    break;
                }
                tx.execute("DELETE FROM implicit_folders WHERE node = ?1", [id.0])?;
                tx.execute("DELETE FROM props WHERE node = ?1", [id.0])?;
                tx.execute("DELETE FROM nodes WHERE id = ?1", [id.0])?;
                removed += 1;
                cur = n.parent;
            }
            Ok(removed)
        })
    }
}

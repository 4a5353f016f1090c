//! [`ImplicitFolders`] on PostgreSQL: the ids of implicit folders in `implicit_folders`;
//! a purge removes a folder's row with it.

use super::PgMeta;
use super::conn::Db;
use super::namespace::make_dir;
use super::rows::{get_node, is_live, need_live_dir};
use crate::{ImplicitFolders, MetaResult, NodeKind, NodeRecord};
use nas_types::NodeId;

fn implicit(c: &Db<'_>, node: NodeId) -> MetaResult<bool> {
    c.exists("SELECT 1 FROM implicit_folders WHERE node = $1", &[&node.0])
}

impl ImplicitFolders for PgMeta {
    fn mkdir_implicit(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let n = make_dir(tx, parent, name, now_ns)?;
            tx.exec(
                "INSERT INTO implicit_folders (node) VALUES ($1)",
                &[&n.id.0],
            )?;
            Ok(n)
        })
    }

    fn is_implicit(&self, node: NodeId) -> MetaResult<bool> {
        self.auto(|c| implicit(c, node))
    }

    fn set_implicit(&self, node: NodeId, implicit: bool) -> MetaResult<()> {
        if self.is_implicit(node)? == implicit {
            return Ok(()); // the common case costs no write
        }
        self.write(|tx| {
            if implicit {
                need_live_dir(tx, node)?;
                tx.exec(
                    "INSERT INTO implicit_folders (node) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&node.0],
                )?;
            } else {
                tx.exec("DELETE FROM implicit_folders WHERE node = $1", &[&node.0])?;
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
                let empty =
                    !tx.exists("SELECT 1 FROM nodes WHERE parent = $1 LIMIT 1", &[&id.0])?;
                if n.kind != NodeKind::Dir || !empty || !implicit(tx, id)? || !is_live(tx, id)? {
                    break;
                }
                tx.exec("DELETE FROM implicit_folders WHERE node = $1", &[&id.0])?;
                tx.exec("DELETE FROM props WHERE node = $1", &[&id.0])?;
                tx.exec("DELETE FROM nodes WHERE id = $1", &[&id.0])?;
                removed += 1;
                cur = n.parent;
            }
            Ok(removed)
        })
    }
}

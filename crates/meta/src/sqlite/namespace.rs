//! [`Namespace`] on SQLite: homes, folders, rename/move (one row update) and copy.

use super::SqliteMeta;
use super::rows::{
    NODE_SELECT, add_refs, charge, get_child, get_node, is_live, kind_code, need_live_dir,
    need_node, node_from, trash_node, tree_bytes, usage, user_meta_json,
};
use crate::{
    Displace, FileAttrs, HomeRecord, HomeUsage, ListKey, MetaError, MetaResult, Namespace,
    NodeKind, NodeRecord, ObjectLock, walk_names,
};
use nas_types::{HomeId, NodeId};
use rusqlite::{Connection, OptionalExtension, params};

fn home_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<HomeRecord> {
    Ok(HomeRecord {
        id: HomeId(r.get(0)?),
        name: r.get(1)?,
        root: NodeId(r.get(2)?),
    })
}

/// Fails when `moving` is `dest` or one of its ancestors (a folder moved into itself).
fn refuse_cycle(c: &Connection, moving: NodeId, dest: NodeId) -> MetaResult<()> {
    let mut st = c.prepare_cached("SELECT parent FROM nodes WHERE id = ?1")?;
    let mut cur = Some(dest.0);
    while let Some(id) = cur {
        if id == moving.0 {
            return Err(MetaError::Invalid(
                "cannot move or copy a folder into itself".into(),
            ));
        }
        cur = st
            .query_row([id], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten();
    }
    Ok(())
}

/// Clears the way for `parent/name`: trashes what is there when allowed, else `Exists`.
fn make_room(
    c: &Connection,
    parent: NodeId,
    name: &str,
    except: Option<NodeId>,
    displace: Option<&Displace>,
) -> MetaResult<()> {
    if let Some(existing) = get_child(c, parent, name)? {
        if Some(existing.id) == except {
            return Ok(());
        }
        match displace {
            Some(d) => {
                trash_node(c, &existing, &d.path, d.now_ns)?;
            }
            None => return Err(MetaError::Exists(name.to_owned())),
        }
    }
    Ok(())
}

fn insert_node(
    c: &Connection,
    home: HomeId,
    parent: Option<NodeId>,
    name: &str,
    kind: NodeKind,
    mtime_ns: i64,
) -> MetaResult<NodeId> {
    c.prepare_cached(
        "INSERT INTO nodes (home, parent, name, kind, mtime_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        home.0,
        parent.map(|p| p.0),
        name,
        kind_code(kind),
        mtime_ns
    ])?;
    Ok(NodeId(c.last_insert_rowid()))
}

/// Copies `src` (recursively) under `parent` as `name`; chunk references are shared.
/// Each file's new version starts with `lock`.
fn copy_tree(
    c: &Connection,
    src: &NodeRecord,
    parent: NodeId,
    name: &str,
    now_ns: i64,
    lock: ObjectLock,
) -> MetaResult<NodeId> {
    let id = insert_node(
        c,
        src.home,
        Some(parent),
        name,
        src.kind,
        src.mtime_ns.max(0),
    )?;
    // dead properties travel with a copy (WebDAV COPY copies them)
    c.prepare_cached(
        "INSERT INTO props (node, ns, name, prefix, value) SELECT ?1, ns, name, prefix, value FROM props WHERE node = ?2",
    )?
    .execute(params![id.0, src.id.0])?;
    match src.kind {
        NodeKind::File => {
            let extents: Vec<u8> = c
                .prepare_cached("SELECT v.extents FROM versions v JOIN nodes n ON v.id = n.head WHERE n.id = ?1")?
                .query_row([src.id.0], |r| r.get(0))?;
            c.prepare_cached(
                "INSERT INTO versions (node, num, size, mtime_ns, created_ns, hash, content_type, user_meta, extents, author, lock_mode, lock_until_ns, legal_hold)
                 SELECT ?1, 1, size, mtime_ns, ?2, hash, content_type, user_meta, extents, author, ?4, ?5, ?6
                 FROM versions WHERE id = (SELECT head FROM nodes WHERE id = ?3)",
            )?
            .execute(params![
                id.0,
                now_ns,
                src.id.0,
                lock.retention.map(|r| r.mode.code()),
                lock.retention.map(|r| r.until_ns),
                lock.legal_hold as i64
            ])?;
            let vid = c.last_insert_rowid();
            c.prepare_cached("UPDATE nodes SET head = ?1, next_num = 2 WHERE id = ?2")?
                .execute(params![vid, id.0])?;
            add_refs(c, &extents, 1)?;
        }
        NodeKind::Dir => {
            let children: Vec<NodeRecord> = {
                let mut st = c.prepare_cached(&format!("{NODE_SELECT} WHERE n.parent = ?1"))?;
                st.query_map([src.id.0], node_from)?
                    .collect::<Result<_, _>>()?
            };
            for child in &children {
                copy_tree(c, child, id, &child.name, now_ns, lock)?;
            }
        }
    }
    Ok(id)
}

impl Namespace for SqliteMeta {
    fn create_home(&self, name: &str, account: &str, now_ns: i64) -> MetaResult<HomeRecord> {
        if let Some(h) = self.home(name)? {
            return Ok(h);
        }
        self.write(|tx| {
            if let Some(h) = tx
                .query_row(
                    "SELECT id, name, root FROM homes WHERE name = ?1",
                    [name],
                    home_from,
                )
                .optional()?
            {
                return Ok(h);
            }
            tx.execute(
                "INSERT INTO homes (name, root, created_ns, account) VALUES (?1, 0, ?2, ?3)",
                params![name, now_ns, account],
            )?;
            let home = HomeId(tx.last_insert_rowid());
            let root = insert_node(tx, home, None, "", NodeKind::Dir, now_ns)?;
            tx.execute(
                "UPDATE homes SET root = ?1 WHERE id = ?2",
                params![root.0, home.0],
            )?;
            Ok(HomeRecord {
                id: home,
                name: name.to_owned(),
                root,
            })
        })
    }

    fn home(&self, name: &str) -> MetaResult<Option<HomeRecord>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT id, name, root FROM homes WHERE name = ?1")?
                    .query_row([name], home_from)
                    .optional()?,
            )
        })
    }

    fn homes(&self) -> MetaResult<Vec<HomeRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id, name, root FROM homes ORDER BY name")?;
            Ok(st.query_map([], home_from)?.collect::<Result<_, _>>()?)
        })
    }

    fn node(&self, id: NodeId) -> MetaResult<Option<NodeRecord>> {
        self.read(|c| get_node(c, id))
    }

    fn child(&self, parent: NodeId, name: &str) -> MetaResult<Option<NodeRecord>> {
        self.read(|c| get_child(c, parent, name))
    }

    fn walk(&self, from: NodeId, names: &[&str]) -> MetaResult<Option<NodeRecord>> {
        if names.is_empty() {
            return self.node(from);
        }
        self.read(|c| {
            // one read transaction: one snapshot and one lock for the whole walk
            let tx = c.unchecked_transaction()?;
            walk_names(from, names, |parent, name| get_child(&tx, parent, name))
        })
    }

    fn list(
        &self,
        parent: NodeId,
        after: Option<&str>,
        limit: usize,
    ) -> MetaResult<Vec<NodeRecord>> {
        self.list_sorted(parent, ListKey::Name, false, after.map(|a| (0, a)), limit)
    }

    fn list_sorted(
        &self,
        parent: NodeId,
        key: ListKey,
        desc: bool,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> MetaResult<Vec<NodeRecord>> {
        // Name order walks the (parent, name) index; size and mtime have no index of their
        // own, so each page reads the folder's rows once and keeps the best `limit` (SQLite's
        // bounded sorter): O(folder) per page, any folder size.
        let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
        let k = match key {
            ListKey::Name => None,
            ListKey::Size => Some("COALESCE(v.size, 0)"),
            ListKey::Mtime => Some("COALESCE(v.mtime_ns, n.mtime_ns)"),
        };
        let (filter, order) = match k {
            None => (format!("n.name {cmp} ?3"), format!("n.name {dir}")),
            Some(k) => (
                format!("({k}, n.name) {cmp} (?2, ?3)"),
                format!("{k} {dir}, n.name {dir}"),
            ),
        };
        self.read(|c| {
            let rows = match after {
                Some((av, an)) => {
                    // (name order has no key value: ?2 is bound but unused)
                    let mut st = c.prepare_cached(&format!(
                        "{NODE_SELECT} WHERE n.parent = ?1 AND {filter} ORDER BY {order} LIMIT ?4"
                    ))?;
                    st.query_map(params![parent.0, av, an, limit as i64], node_from)?
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => {
                    let mut st = c.prepare_cached(&format!(
                        "{NODE_SELECT} WHERE n.parent = ?1 ORDER BY {order} LIMIT ?2"
                    ))?;
                    st.query_map(params![parent.0, limit as i64], node_from)?
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            Ok(rows)
        })
    }

    fn mkdir(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.write(|tx| make_dir(tx, parent, name, now_ns))
    }

    fn mkdir_deferred(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.write_deferred(|tx| make_dir(tx, parent, name, now_ns))
    }

    fn sync_deferred(&self) -> MetaResult<()> {
        self.sync_wal()
    }

    fn rename(
        &self,
        node: NodeId,
        new_parent: NodeId,
        new_name: &str,
        displace: Option<&Displace>,
    ) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let n = need_node(tx, node)?;
            if n.parent.is_none() {
                let is_root: bool = tx
                    .prepare_cached("SELECT 1 FROM homes WHERE root = ?1")?
                    .exists([n.id.0])?;
                return Err(if is_root {
                    MetaError::Invalid("a root cannot be moved".into())
                } else {
                    MetaError::NotFound(n.name) // moved to the trash meanwhile
                });
            }
            let dest = need_live_dir(tx, new_parent)?;
            if dest.home != n.home {
                return Err(MetaError::Invalid("cannot move between homes".into()));
            }
            refuse_cycle(tx, node, new_parent)?;
            make_room(tx, new_parent, new_name, Some(node), displace)?;
            let was_live = is_live(tx, node)?;
            tx.prepare_cached("UPDATE nodes SET parent = ?1, name = ?2 WHERE id = ?3")?
                .execute(params![new_parent.0, new_name, node.0])?;
            if !was_live {
                // out of a trashed folder into a live one
                charge(tx, n.home, tree_bytes(tx, node)? as i64, 0)?;
            }
            need_node(tx, node)
        })
    }

    fn copy(
        &self,
        node: NodeId,
        new_parent: NodeId,
        new_name: &str,
        displace: Option<&Displace>,
        now_ns: i64,
        lock: ObjectLock,
    ) -> MetaResult<NodeRecord> {
        self.write(|tx| {
            let src = need_node(tx, node)?;
            let dest = need_live_dir(tx, new_parent)?;
            if dest.home != src.home {
                return Err(MetaError::Invalid("cannot copy between homes".into()));
            }
            refuse_cycle(tx, node, new_parent)?;
            if get_child(tx, new_parent, new_name)?.map(|e| e.id) == Some(node) {
                return Err(MetaError::Invalid(
                    "source and destination are the same".into(),
                ));
            }
            make_room(tx, new_parent, new_name, None, displace)?;
            let id = copy_tree(tx, &src, new_parent, new_name, now_ns, lock)?;
            let bytes = tree_bytes(tx, id)?;
            charge(tx, dest.home, bytes as i64, bytes)?;
            need_node(tx, id)
        })
    }

    fn set_mtime(&self, node: NodeId, mtime_ns: i64) -> MetaResult<()> {
        self.write(|tx| {
            let n = need_node(tx, node)?;
            match n.kind {
                NodeKind::Dir => tx.execute("UPDATE nodes SET mtime_ns = ?1 WHERE id = ?2", params![mtime_ns, node.0])?,
                NodeKind::File => tx.execute(
                    "UPDATE versions SET mtime_ns = ?1 WHERE id = (SELECT head FROM nodes WHERE id = ?2)",
                    params![mtime_ns, node.0],
                )?,
            };
            Ok(())
        })
    }

    fn set_attrs(&self, node: NodeId, attrs: &FileAttrs) -> MetaResult<()> {
        self.write(|tx| {
            let n = need_node(tx, node)?;
            if n.kind != NodeKind::File {
                return Err(MetaError::IsADirectory(n.name));
            }
            tx.execute(
                "UPDATE versions SET content_type = ?1, user_meta = ?2 WHERE id = (SELECT head FROM nodes WHERE id = ?3)",
                params![attrs.content_type, user_meta_json(attrs), node.0],
            )?;
            Ok(())
        })
    }

    fn node_path(&self, node: NodeId) -> MetaResult<Option<String>> {
        self.read(|c| {
            let mut names = Vec::new();
            let mut st = c.prepare_cached("SELECT parent, name, trash FROM nodes WHERE id = ?1")?;
            let mut cur = node.0;
            for _ in 0..10_000 {
                let Some((parent, name, trash)) = st
                    .query_row([cur], |r| {
                        Ok((
                            r.get::<_, Option<i64>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                        ))
                    })
                    .optional()?
                else {
                    return Ok(None);
                };
                match parent {
                    Some(p) => {
                        names.push(name);
                        cur = p;
                    }
                    None => {
                        names.reverse();
                        let below = names.iter().fold(String::new(), |acc, n| acc + "/" + n);
                        if let Some(t) = trash {
                            let orig: String =
                                c.query_row("SELECT path FROM trash WHERE id = ?1", [t], |r| {
                                    r.get(0)
                                })?;
                            return Ok(Some(format!("[trash #{t}]{orig}{below}")));
                        }
                        return Ok(Some(if below.is_empty() { "/".into() } else { below }));
                    }
                }
            }
            Err(MetaError::Corrupt(format!("cycle above node {node}")))
        })
    }

    fn usage(&self, home: HomeId) -> MetaResult<HomeUsage> {
        self.read(|c| usage(c, home))
    }

    fn check_usage(&self) -> MetaResult<Vec<String>> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?; // one snapshot for counters and recount
            let homes: Vec<(i64, String, NodeId, i64, i64)> = tx
                .prepare("SELECT id, name, root, current_bytes, all_bytes FROM homes ORDER BY id")?
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, NodeId(r.get(2)?), r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut all_of = tx.prepare(
                "SELECT coalesce(sum(v.size), 0) FROM versions v JOIN nodes n ON n.id = v.node WHERE n.home = ?1",
            )?;
            let mut found = Vec::new();
            for (id, name, root, current, all) in homes {
                let real = tree_bytes(&tx, root)? as i64;
                let real_all: i64 = all_of.query_row([id], |r| r.get(0))?;
                if (current, all) != (real, real_all) {
                    found.push(format!(
                        "home {name}: usage counters say {current} current / {all} kept bytes, \
                         a recount finds {real} / {real_all}"
                    ));
                }
            }
            Ok(found)
        })
    }

    fn tree_bytes(&self, node: NodeId) -> MetaResult<u64> {
        self.read(|c| tree_bytes(c, node))
    }

    fn is_live(&self, node: NodeId) -> MetaResult<bool> {
        self.read(|c| is_live(c, node))
    }

    fn search(
        &self,
        home: HomeId,
        filter: &crate::SearchFilter,
        after: Option<NodeId>,
        limit: usize,
    ) -> MetaResult<Vec<NodeId>> {
        self.read(|c| super::search::search(c, home, filter, after, limit))
    }
}

pub(super) fn make_dir(
    tx: &Connection,
    parent: NodeId,
    name: &str,
    now_ns: i64,
) -> MetaResult<NodeRecord> {
    let p = need_live_dir(tx, parent)?;
    if get_child(tx, parent, name)?.is_some() {
        return Err(MetaError::Exists(name.to_owned()));
    }
    let id = insert_node(tx, p.home, Some(parent), name, NodeKind::Dir, now_ns)?;
    need_node(tx, id)
}

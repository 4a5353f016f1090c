//! [`Namespace`] on PostgreSQL: homes, folders, rename/move (one row update) and copy.

use super::PgMeta;
use super::conn::Db;
use super::rows::{
    NODE_SELECT, add_refs, charge, get_child, get_node, is_live, is_root, kind_code, need_live_dir,
    need_node, nodes_from, trash_node, tree_bytes, usage, user_meta_json, walk_parent_path,
    walk_path,
};
use crate::{
    Displace, FileAttrs, HomeRecord, HomeUsage, ListKey, MetaError, MetaResult, Namespace,
    NodeKind, NodeRecord, ObjectLock,
};
use nas_types::{HomeId, NodeId};
use tokio_postgres::Row;

fn home_from(r: &Row) -> MetaResult<HomeRecord> {
    Ok(HomeRecord {
        id: HomeId(r.try_get(0)?),
        name: r.try_get(1)?,
        root: NodeId(r.try_get(2)?),
    })
}

/// Fails when `moving` is `dest` or one of its ancestors (a folder moved into itself).
fn refuse_cycle(c: &Db<'_>, moving: NodeId, dest: NodeId) -> MetaResult<()> {
    let inside = c.exists(
        "WITH RECURSIVE up(id, depth) AS (
             SELECT $1::BIGINT, 0
             UNION ALL SELECT n.parent, up.depth + 1 FROM nodes n JOIN up ON n.id = up.id
             WHERE n.parent IS NOT NULL AND up.depth < 10000
         )
         SELECT 1 FROM up WHERE id = $2",
        &[&dest.0, &moving.0],
    )?;
    if inside {
        return Err(MetaError::Invalid(
            "cannot move or copy a folder into itself".into(),
        ));
    }
    Ok(())
}

/// Clears the way for `parent/name`: trashes what is there when allowed, else `Exists`.
fn make_room(
    c: &Db<'_>,
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
    c: &Db<'_>,
    home: HomeId,
    parent: Option<NodeId>,
    name: &str,
    kind: NodeKind,
    mtime_ns: i64,
) -> MetaResult<NodeId> {
    let r = c.one(
        "INSERT INTO nodes (home, parent, name, kind, mtime_ns) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&home.0, &parent.map(|p| p.0), &name, &kind_code(kind), &mtime_ns],
    )?;
    Ok(NodeId(r.try_get(0)?))
}

/// Copies `src` (recursively) under `parent` as `name`; chunk references are shared.
/// Each file's new version starts with `lock`.
fn copy_tree(
    c: &Db<'_>,
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
    c.exec(
        "INSERT INTO props (node, ns, name, prefix, value) SELECT $1, ns, name, prefix, value FROM props WHERE node = $2",
        &[&id.0, &src.id.0],
    )?;
    match src.kind {
        NodeKind::File => {
            let r = c.one(
                "INSERT INTO versions (node, num, size, mtime_ns, created_ns, hash, content_type, user_meta, extents, author, lock_mode, lock_until_ns, legal_hold)
                 SELECT $1, 1, size, mtime_ns, $2, hash, content_type, user_meta, extents, author, $4, $5, $6
                 FROM versions WHERE id = (SELECT head FROM nodes WHERE id = $3)
                 RETURNING id, extents",
                &[
                    &id.0,
                    &now_ns,
                    &src.id.0,
                    &lock.retention.map(|r| r.mode.code()),
                    &lock.retention.map(|r| r.until_ns),
                    &lock.legal_hold,
                ],
            )?;
            let vid: i64 = r.try_get(0)?;
            let extents: Vec<u8> = r.try_get(1)?;
            c.exec(
                "UPDATE nodes SET head = $1, next_num = 2 WHERE id = $2",
                &[&vid, &id.0],
            )?;
            add_refs(c, &extents, 1)?;
        }
        NodeKind::Dir => {
            let children =
                nodes_from(c.rows(&format!("{NODE_SELECT} WHERE n.parent = $1"), &[&src.id.0])?)?;
            for child in &children {
                copy_tree(c, child, id, &child.name, now_ns, lock)?;
            }
        }
    }
    Ok(id)
}

const HOME_BY_NAME: &str = "SELECT id, name, root FROM homes WHERE name = $1";

impl Namespace for PgMeta {
    fn create_home(&self, name: &str, account: &str, now_ns: i64) -> MetaResult<HomeRecord> {
        if let Some(h) = self.home(name)? {
            return Ok(h);
        }
        self.write(|tx| {
            if let Some(r) = tx.opt(HOME_BY_NAME, &[&name])? {
                return home_from(&r);
            }
            let home = HomeId(
                tx.one(
                    "INSERT INTO homes (name, root, created_ns, account) VALUES ($1, 0, $2, $3) RETURNING id",
                    &[&name, &now_ns, &account],
                )?
                .try_get(0)?,
            );
            let root = insert_node(tx, home, None, "", NodeKind::Dir, now_ns)?;
            tx.exec(
                "UPDATE homes SET root = $1 WHERE id = $2",
                &[&root.0, &home.0],
            )?;
            Ok(HomeRecord {
                id: home,
                name: name.to_owned(),
                root,
            })
        })
    }

    fn home(&self, name: &str) -> MetaResult<Option<HomeRecord>> {
        self.auto(|c| {
            c.opt(HOME_BY_NAME, &[&name])?
                .as_ref()
                .map(home_from)
                .transpose()
        })
    }

    fn homes(&self) -> MetaResult<Vec<HomeRecord>> {
        self.auto(|c| {
            c.rows(
                "SELECT id, name, root FROM homes ORDER BY name COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(home_from)
            .collect()
        })
    }

    fn node(&self, id: NodeId) -> MetaResult<Option<NodeRecord>> {
        self.auto(|c| get_node(c, id))
    }

    fn child(&self, parent: NodeId, name: &str) -> MetaResult<Option<NodeRecord>> {
        self.auto(|c| get_child(c, parent, name))
    }

    fn walk(&self, from: NodeId, names: &[&str]) -> MetaResult<Option<NodeRecord>> {
        if names.is_empty() {
            return self.node(from);
        }
        // one statement for the whole walk: one round trip, one snapshot
        self.auto(|c| walk_path(c, from, names))
    }

    fn walk_parent(
        &self,
        from: NodeId,
        names: &[&str],
    ) -> MetaResult<Option<(NodeRecord, Option<NodeRecord>)>> {
        self.auto(|c| walk_parent_path(c, from, names))
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
        let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
        let k = match key {
            ListKey::Name => None,
            ListKey::Size => Some("COALESCE(v.size, 0)"),
            ListKey::Mtime => Some("COALESCE(v.mtime_ns, n.mtime_ns)"),
        };
        let (filter, order) = match k {
            None => (format!("n.name {cmp} $3"), format!("n.name {dir}")),
            Some(k) => (
                format!("({k}, n.name) {cmp} ($2, $3)"),
                format!("{k} {dir}, n.name {dir}"),
            ),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.auto(|c| {
            let rows = match after {
                Some((av, an)) => {
                    // (name order has no key value: $2 is bound but only cast)
                    let sql = format!(
                        "{NODE_SELECT} WHERE n.parent = $1 AND $2::BIGINT IS NOT NULL AND {filter} ORDER BY {order} LIMIT $4"
                    );
                    c.rows(&sql, &[&parent.0, &av, &an, &limit])?
                }
                None => c.rows(
                    &format!("{NODE_SELECT} WHERE n.parent = $1 ORDER BY {order} LIMIT $2"),
                    &[&parent.0, &limit],
                )?,
            };
            nodes_from(rows)
        })
    }

    fn mkdir(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.write(|tx| make_dir(tx, parent, name, now_ns))
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
                return Err(if is_root(tx, n.id)? {
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
            tx.exec(
                "UPDATE nodes SET parent = $1, name = $2 WHERE id = $3",
                &[&new_parent.0, &new_name, &node.0],
            )?;
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
                NodeKind::Dir => tx.exec(
                    "UPDATE nodes SET mtime_ns = $1 WHERE id = $2",
                    &[&mtime_ns, &node.0],
                )?,
                NodeKind::File => tx.exec(
                    "UPDATE versions SET mtime_ns = $1 WHERE id = (SELECT head FROM nodes WHERE id = $2)",
                    &[&mtime_ns, &node.0],
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
            tx.exec(
                "UPDATE versions SET content_type = $1, user_meta = $2 WHERE id = (SELECT head FROM nodes WHERE id = $3)",
                &[&attrs.content_type, &user_meta_json(attrs), &node.0],
            )?;
            Ok(())
        })
    }

    fn node_path(&self, node: NodeId) -> MetaResult<Option<String>> {
        // one statement: the names up to the top, and the trash entry holding the top
        let rows = self.auto(|c| {
            c.rows(
                "WITH RECURSIVE up(id, parent, name, trash, depth) AS (
                     SELECT id, parent, name, trash, 0 FROM nodes WHERE id = $1
                     UNION ALL SELECT n.id, n.parent, n.name, n.trash, up.depth + 1
                     FROM nodes n JOIN up ON n.id = up.parent WHERE up.depth < 10000
                 )
                 SELECT up.parent, up.name, up.trash, t.path, up.depth
                 FROM up LEFT JOIN trash t ON t.id = up.trash ORDER BY up.depth",
                &[&node.0],
            )
        })?;
        let mut names = Vec::new();
        for r in &rows {
            let parent: Option<i64> = r.try_get(0)?;
            if parent.is_some() {
                names.push(r.try_get::<_, String>(1)?);
                continue;
            }
            names.reverse();
            let below = names.iter().fold(String::new(), |acc, n| acc + "/" + n);
            let trash: Option<i64> = r.try_get(2)?;
            if let Some(t) = trash {
                let orig: Option<String> = r.try_get(3)?;
                let orig = orig.ok_or_else(|| {
                    MetaError::Corrupt(format!("node {node}: trash entry {t} is missing"))
                })?;
                return Ok(Some(format!("[trash #{t}]{orig}{below}")));
            }
            return Ok(Some(if below.is_empty() { "/".into() } else { below }));
        }
        if rows.is_empty() {
            Ok(None) // no such node
        } else if rows.len() > 10_000 {
            Err(MetaError::Corrupt(format!("cycle above node {node}")))
        } else {
            Ok(None) // a parent on the way is gone
        }
    }

    fn usage(&self, home: HomeId) -> MetaResult<HomeUsage> {
        // no transaction: one statement for a user's home (a staging home's account sum
        // is a second, and an early answer needs no snapshot — the commit checks again)
        self.auto(|c| usage(c, home))
    }

    fn check_usage(&self) -> MetaResult<Vec<String>> {
        self.read(|c| {
            // one snapshot for counters and recount
            let homes = c.rows(
                "SELECT id, name, root, current_bytes, all_bytes FROM homes ORDER BY id",
                &[],
            )?;
            let mut found = Vec::new();
            for h in &homes {
                let (id, name, root): (i64, String, i64) =
                    (h.try_get(0)?, h.try_get(1)?, h.try_get(2)?);
                let (current, all): (i64, i64) = (h.try_get(3)?, h.try_get(4)?);
                let real = tree_bytes(c, NodeId(root))? as i64;
                let real_all: i64 = c
                    .one(
                        "SELECT coalesce(sum(v.size), 0)::BIGINT FROM versions v JOIN nodes n ON n.id = v.node WHERE n.home = $1",
                        &[&id],
                    )?
                    .try_get(0)?;
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
        self.auto(|c| tree_bytes(c, node))
    }

    fn is_live(&self, node: NodeId) -> MetaResult<bool> {
        self.auto(|c| is_live(c, node))
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
    tx: &Db<'_>,
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

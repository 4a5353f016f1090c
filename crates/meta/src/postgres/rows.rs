//! Mapping PostgreSQL rows to records, and the helpers shared by the trait
//! implementations (the same as SQLite's `rows.rs`, statement for statement, but for
//! [`live_dir_and_child`]: a commit's three folder and name checks in one round trip).

use super::conn::Db;
pub use crate::columns::{
    NODE_SELECT, VERSION_COLS, VERSION_NCOLS, attrs_from, kind_code, kind_of, user_meta_json,
};
use crate::{
    ChunkRecord, ChunkRow, HomeUsage, MetaError, MetaResult, NodeKind, NodeRecord, ObjectLock,
    QuotaCounts, Retention, RetentionMode, VersionRecord, decode_extents,
};
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, HomeId, NodeId, PackId, VersionNum};
use std::collections::HashMap;
use tokio_postgres::Row;

pub const CHUNK_SELECT: &str =
    "SELECT id, hash, raw_len, stored_len, codec, pack, pack_offset, refs, base FROM chunks";

pub fn hash_from(b: Vec<u8>) -> MetaResult<[u8; 32]> {
    <[u8; 32]>::try_from(b.as_slice())
        .map_err(|_| MetaError::Corrupt(format!("a stored hash is {} bytes, not 32", b.len())))
}

/// A version from columns starting at `i` (see [`VERSION_COLS`]).
pub fn version_at(r: &Row, i: usize) -> MetaResult<VersionRecord> {
    Ok(VersionRecord {
        node: NodeId(r.try_get(i)?),
        num: VersionNum(r.try_get::<_, i64>(i + 1)? as u64),
        size: r.try_get::<_, i64>(i + 2)? as u64,
        mtime_ns: r.try_get(i + 3)?,
        created_ns: r.try_get(i + 4)?,
        hash: ContentHash(hash_from(r.try_get(i + 5)?)?),
        attrs: attrs_from(r.try_get(i + 6)?, r.try_get(i + 7)?),
        author: r.try_get(i + 8)?,
        lock: lock_at(r, i + 9)?,
    })
}

/// An object lock from `lock_mode, lock_until_ns, legal_hold` starting at `i`.
fn lock_at(r: &Row, i: usize) -> MetaResult<ObjectLock> {
    let mode = r
        .try_get::<_, Option<i64>>(i)?
        .and_then(RetentionMode::from_code);
    let until = r.try_get::<_, Option<i64>>(i + 1)?;
    Ok(ObjectLock {
        retention: match (mode, until) {
            (Some(mode), Some(until_ns)) => Some(Retention { mode, until_ns }),
            _ => None,
        },
        legal_hold: r.try_get::<_, Option<bool>>(i + 2)?.unwrap_or(false),
    })
}

pub fn node_from(r: &Row) -> MetaResult<NodeRecord> {
    let head = match r.try_get::<_, Option<i64>>(6)? {
        Some(_) => Some(version_at(r, 6)?),
        None => None,
    };
    Ok(NodeRecord {
        id: NodeId(r.try_get(0)?),
        home: HomeId(r.try_get(1)?),
        parent: r.try_get::<_, Option<i64>>(2)?.map(NodeId),
        name: r.try_get(3)?,
        kind: kind_of(r.try_get(4)?),
        mtime_ns: r.try_get(5)?,
        head,
    })
}

pub fn nodes_from(rows: Vec<Row>) -> MetaResult<Vec<NodeRecord>> {
    rows.iter().map(node_from).collect()
}

pub fn chunk_from(r: &Row) -> MetaResult<ChunkRecord> {
    Ok(ChunkRecord {
        row: ChunkRow(r.try_get(0)?),
        id: ChunkId(hash_from(r.try_get(1)?)?),
        raw_len: r.try_get::<_, i64>(2)? as u32,
        loc: BlobLocation {
            pack: PackId(r.try_get::<_, i64>(5)? as u64),
            offset: r.try_get::<_, i64>(6)? as u64,
            len: r.try_get::<_, i64>(3)? as u32,
        },
        codec: r.try_get::<_, i64>(4)? as u8,
        refs: r.try_get(7)?,
        base: r.try_get::<_, Option<i64>>(8)?.map(ChunkRow),
    })
}

pub fn chunks_from(rows: Vec<Row>) -> MetaResult<Vec<ChunkRecord>> {
    rows.iter().map(chunk_from).collect()
}

pub fn get_node(c: &Db<'_>, id: NodeId) -> MetaResult<Option<NodeRecord>> {
    c.opt(&format!("{NODE_SELECT} WHERE n.id = $1"), &[&id.0])?
        .as_ref()
        .map(node_from)
        .transpose()
}

pub fn get_child(c: &Db<'_>, parent: NodeId, name: &str) -> MetaResult<Option<NodeRecord>> {
    c.opt(
        &format!("{NODE_SELECT} WHERE n.parent = $1 AND n.name = $2"),
        &[&parent.0, &name],
    )?
    .as_ref()
    .map(node_from)
    .transpose()
}

/// The node reached from folder `from` through the (non-empty) `names`, each a child of
/// the one before and every one but the last a folder; `None` when one is missing. One
/// statement (a recursive query down the `(parent, name)` index), so one round trip and
/// one snapshot — no transaction around it (`Namespace::walk`'s contract).
pub fn walk_path(c: &Db<'_>, from: NodeId, names: &[&str]) -> MetaResult<Option<NodeRecord>> {
    let depth = i32::try_from(names.len())
        .map_err(|_| MetaError::Invalid(format!("a path of {} names", names.len())))?;
    c.opt(
        &format!(
            "WITH RECURSIVE walk(id, depth) AS (
                 SELECT $1::BIGINT, 0
                 UNION ALL
                 SELECT m.id, walk.depth + 1 FROM walk
                 JOIN nodes m ON m.parent = walk.id AND m.name = ($2::TEXT[])[walk.depth + 1]
                 WHERE walk.depth < $3::INT AND (walk.depth + 1 = $3::INT OR m.kind = {dir})
             )
             {NODE_SELECT} WHERE n.id = (SELECT id FROM walk WHERE depth = $3::INT)",
            dir = kind_code(NodeKind::Dir)
        ),
        &[&from.0, &names, &depth],
    )?
    .as_ref()
    .map(node_from)
    .transpose()
}

/// [`walk_path`] to the parent of the last name (the last folder of any kind) and its
/// child of that name: `Namespace::walk_parent` in one statement.
pub fn walk_parent_path(
    c: &Db<'_>,
    from: NodeId,
    names: &[&str],
) -> MetaResult<Option<(NodeRecord, Option<NodeRecord>)>> {
    let depth = i32::try_from(names.len())
        .map_err(|_| MetaError::Invalid(format!("a path of {} names", names.len())))?;
    if depth == 0 {
        return Err(MetaError::Invalid("a walk to the parent of no name".into()));
    }
    let rows = c.rows(
        &format!(
            "WITH RECURSIVE walk(id, depth) AS (
                 SELECT $1::BIGINT, 0
                 UNION ALL
                 SELECT m.id, walk.depth + 1 FROM walk
                 JOIN nodes m ON m.parent = walk.id AND m.name = ($2::TEXT[])[walk.depth + 1]
                 WHERE walk.depth < $3::INT AND (walk.depth + 2 >= $3::INT OR m.kind = {dir})
             )
             {NODE_SELECT} JOIN walk ON walk.id = n.id
             WHERE walk.depth >= $3::INT - 1 ORDER BY walk.depth",
            dir = kind_code(NodeKind::Dir)
        ),
        &[&from.0, &names, &depth],
    )?;
    let mut nodes = rows.iter().map(node_from);
    let Some(parent) = nodes.next().transpose()? else {
        return Ok(None);
    };
    Ok(Some((parent, nodes.next().transpose()?)))
}

pub fn need_node(c: &Db<'_>, id: NodeId) -> MetaResult<NodeRecord> {
    get_node(c, id)?.ok_or_else(|| MetaError::NotFound(format!("node {id}")))
}

/// The live folder `id`, or the matching error.
pub fn need_live_dir(c: &Db<'_>, id: NodeId) -> MetaResult<NodeRecord> {
    let n = need_node(c, id)?;
    if n.kind != NodeKind::Dir {
        return Err(MetaError::NotADirectory(n.name));
    }
    if !is_live(c, id)? {
        return Err(MetaError::NotFound(format!(
            "folder {} was deleted",
            n.name
        )));
    }
    Ok(n)
}

/// The live folder `parent` (or the matching error, as [`need_live_dir`]) and what is
/// named `name` in it, in one statement (one round trip instead of three): a commit's
/// folder and name checks.
pub fn live_dir_and_child(
    c: &Db<'_>,
    parent: NodeId,
    name: &str,
) -> MetaResult<(NodeRecord, Option<NodeRecord>)> {
    // the folder's row (with how far up its tree goes and whether a home root tops it),
    // then the child's; told apart by the last column
    let rows = c.rows(
        &format!(
            "WITH RECURSIVE up(id, parent, depth) AS (
                 SELECT id, parent, 0 FROM nodes WHERE id = $1
                 UNION ALL SELECT n.id, n.parent, up.depth + 1 FROM nodes n JOIN up ON n.id = up.parent
                 WHERE up.depth < 10000
             )
             SELECT d.*, (SELECT max(depth) FROM up),
                    EXISTS (SELECT 1 FROM up JOIN homes h ON h.root = up.id WHERE up.parent IS NULL),
                    0 AS which
             FROM ({NODE_SELECT} WHERE n.id = $1) d
             UNION ALL
             SELECT f.*, NULL, NULL, 1 FROM ({NODE_SELECT} WHERE n.parent = $1 AND n.name = $2) f
             ORDER BY which"
        ),
        &[&parent.0, &name],
    )?;
    const EXTRA: usize = 6 + VERSION_NCOLS; // the columns after NODE_SELECT's
    let mut dir = None;
    let mut child = None;
    for r in &rows {
        match r.try_get::<_, i32>(EXTRA + 2)? {
            0 => {
                let depth: Option<i32> = r.try_get(EXTRA)?;
                let live: bool = r.try_get(EXTRA + 1)?;
                dir = Some((node_from(r)?, depth, live));
            }
            _ => child = Some(node_from(r)?),
        }
    }
    let Some((n, depth, live)) = dir else {
        return Err(MetaError::NotFound(format!("node {parent}")));
    };
    if n.kind != NodeKind::Dir {
        return Err(MetaError::NotADirectory(n.name));
    }
    if depth.is_some_and(|d| d >= 10_000) {
        return Err(MetaError::Corrupt(format!("cycle above node {parent}")));
    }
    if !live {
        return Err(MetaError::NotFound(format!(
            "folder {} was deleted",
            n.name
        )));
    }
    Ok((n, child))
}

/// Walks up to the top of `id`'s tree (one statement): live iff the top is a home root.
pub fn is_live(c: &Db<'_>, id: NodeId) -> MetaResult<bool> {
    let r = c.one(
        "WITH RECURSIVE up(id, parent, depth) AS (
             SELECT id, parent, 0 FROM nodes WHERE id = $1
             UNION ALL SELECT n.id, n.parent, up.depth + 1 FROM nodes n JOIN up ON n.id = up.parent
             WHERE up.depth < 10000
         )
         SELECT (SELECT max(depth) FROM up),
                EXISTS (SELECT 1 FROM up JOIN homes h ON h.root = up.id WHERE up.parent IS NULL)",
        &[&id.0],
    )?;
    let depth: Option<i32> = r.try_get(0)?;
    if depth.is_some_and(|d| d >= 10_000) {
        return Err(MetaError::Corrupt(format!("cycle above node {id}")));
    }
    Ok(r.try_get(1)?)
}

/// Sum of the head sizes of the files at and below `node`.
pub fn tree_bytes(c: &Db<'_>, node: NodeId) -> MetaResult<u64> {
    let n: i64 = c
        .one(
            "WITH RECURSIVE sub(id) AS (SELECT $1::BIGINT UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id)
             SELECT coalesce(sum(v.size), 0)::BIGINT FROM sub JOIN nodes n ON n.id = sub.id JOIN versions v ON v.id = n.head",
            &[&node.0],
        )?
        .try_get(0)?;
    Ok(n as u64)
}

/// The usage counters that `home`'s quota checks, and the quota (see SQLite's `usage`).
pub fn usage(c: &Db<'_>, home: HomeId) -> MetaResult<HomeUsage> {
    let r = c
        .opt(
            "SELECT account IS NOT NULL AND account != name, coalesce(account, name),
                    current_bytes, all_bytes,
                    (SELECT quota FROM users WHERE name = coalesce(h.account, h.name)),
                    (SELECT value FROM settings WHERE key = $2)
             FROM homes h WHERE id = $1",
            &[&home.0, &QuotaCounts::SETTING],
        )?
        .ok_or_else(|| MetaError::NotFound(format!("home {}", home.0)))?;
    let staging: bool = r.try_get(0)?;
    let account: String = r.try_get(1)?;
    let (mut current, mut all): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
    let quota: Option<i64> = r.try_get(4)?;
    let counts: Option<String> = r.try_get(5)?;
    if staging {
        let s = c.one(
            "SELECT coalesce(sum(current_bytes), 0)::BIGINT, coalesce(sum(all_bytes), 0)::BIGINT
             FROM homes WHERE account = $1",
            &[&account],
        )?;
        (current, all) = (s.try_get(0)?, s.try_get(1)?);
    }
    Ok(HomeUsage {
        current_bytes: current.max(0) as u64,
        all_bytes: all.max(0) as u64,
        quota: quota.map(|q| q.max(0) as u64),
        counts: counts
            .as_deref()
            .and_then(QuotaCounts::parse)
            .unwrap_or_default(),
    })
}

/// Records a change of `home`'s usage inside the caller's (serializable) transaction and
/// enforces the quota, as SQLite's `charge`: the transaction's reads of the counters make
/// two concurrent raises of one account conflict, so one of them runs again and sees the
/// other's.
pub fn charge(c: &Db<'_>, home: HomeId, current: i64, added: u64) -> MetaResult<()> {
    if current != 0 {
        c.exec(
            "UPDATE homes SET current_bytes = current_bytes + $1 WHERE id = $2",
            &[&current, &home.0],
        )?;
    }
    if current <= 0 && added == 0 {
        return Ok(());
    }
    let u = usage(c, home)?;
    let Some(quota) = u.quota else {
        return Ok(());
    };
    let grew = match u.counts {
        QuotaCounts::Current => current.max(0) as u64,
        QuotaCounts::All => added,
    };
    if grew > 0 && u.used() > quota {
        return Err(MetaError::QuotaExceeded {
            quota,
            used: u.used().saturating_sub(grew),
            adding: grew,
        });
    }
    Ok(())
}

/// Adds `delta` references to every chunk an encoded extent list names.
pub fn add_refs(c: &Db<'_>, extents: &[u8], delta: i64) -> MetaResult<()> {
    let list = decode_extents(extents).map_err(MetaError::Corrupt)?;
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for e in list {
        *counts.entry(e.chunk.0).or_default() += 1;
    }
    let (rows, by): (Vec<i64>, Vec<i64>) = counts.into_iter().map(|(r, n)| (r, n * delta)).unzip();
    // one statement for the whole list
    let changed = c.exec(
        "UPDATE chunks SET refs = refs + d.by FROM unnest($1::BIGINT[], $2::BIGINT[]) AS d(row, by)
         WHERE chunks.id = d.row",
        &[&rows, &by],
    )?;
    if changed != rows.len() as u64 {
        return Err(MetaError::Corrupt(format!(
            "an extent list names {} missing chunk rows",
            rows.len() as u64 - changed
        )));
    }
    Ok(())
}

/// Whether `id` is the root of a home.
pub fn is_root(c: &Db<'_>, id: NodeId) -> MetaResult<bool> {
    c.exists("SELECT 1 FROM homes WHERE root = $1", &[&id.0])
}

/// Trashes `victim` (inside an open transaction).
pub fn trash_node(c: &Db<'_>, victim: &NodeRecord, path: &str, now_ns: i64) -> MetaResult<i64> {
    if victim.parent.is_none() {
        return Err(if is_root(c, victim.id)? {
            MetaError::Invalid("a root cannot be deleted".into())
        } else {
            MetaError::NotFound(victim.name.clone()) // already in the trash
        });
    }
    if is_live(c, victim.id)? {
        let bytes = tree_bytes(c, victim.id)?;
        charge(c, victim.home, -(bytes as i64), 0)?;
    }
    let id: i64 = c
        .one(
            "INSERT INTO trash (home, node, path, deleted_ns) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&victim.home.0, &victim.id.0, &path, &now_ns],
        )?
        .try_get(0)?;
    c.exec(
        "UPDATE nodes SET parent = NULL, trash = $1 WHERE id = $2",
        &[&id, &victim.id.0],
    )?;
    Ok(id)
}

//! Mapping SQL rows to records, and helpers shared by the trait implementations.

pub use crate::columns::{
    NODE_SELECT, VERSION_COLS, VERSION_NCOLS, attrs_from, kind_code, kind_of, user_meta_json,
};
use crate::{
    ChunkRecord, ChunkRow, HomeUsage, MetaError, MetaResult, NodeKind, NodeRecord, ObjectLock,
    QuotaCounts, Retention, RetentionMode, VersionRecord, decode_extents,
};
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, HomeId, NodeId, PackId, VersionNum};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

pub const CHUNK_SELECT: &str =
    "SELECT id, hash, raw_len, stored_len, codec, pack, offset, refs, base FROM chunks";

pub(super) fn hash_from(b: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            b.len(),
            rusqlite::types::Type::Blob,
            "hash is not 32 bytes".into(),
        )
    })
}

/// A version from columns starting at `i` (see [`VERSION_COLS`]).
pub fn version_at(r: &Row<'_>, i: usize) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        node: NodeId(r.get(i)?),
        num: VersionNum(r.get::<_, i64>(i + 1)? as u64),
        size: r.get::<_, i64>(i + 2)? as u64,
        mtime_ns: r.get(i + 3)?,
        created_ns: r.get(i + 4)?,
        hash: ContentHash(hash_from(r.get(i + 5)?)?),
        attrs: attrs_from(r.get(i + 6)?, r.get(i + 7)?),
        author: r.get(i + 8)?,
        lock: lock_at(r, i + 9)?,
    })
}

/// An object lock from `lock_mode, lock_until_ns, legal_hold` starting at `i`.
fn lock_at(r: &Row<'_>, i: usize) -> rusqlite::Result<ObjectLock> {
    let mode = r
        .get::<_, Option<i64>>(i)?
        .and_then(RetentionMode::from_code);
    let until = r.get::<_, Option<i64>>(i + 1)?;
    Ok(ObjectLock {
        retention: match (mode, until) {
            (Some(mode), Some(until_ns)) => Some(Retention { mode, until_ns }),
            _ => None,
        },
        legal_hold: r.get::<_, Option<i64>>(i + 2)?.unwrap_or(0) != 0,
    })
}

pub fn node_from(r: &Row<'_>) -> rusqlite::Result<NodeRecord> {
    let head = match r.get::<_, Option<i64>>(6)? {
        Some(_) => Some(version_at(r, 6)?),
        None => None,
    };
    Ok(NodeRecord {
        id: NodeId(r.get(0)?),
        home: HomeId(r.get(1)?),
        parent: r.get::<_, Option<i64>>(2)?.map(NodeId),
        name: r.get(3)?,
        kind: kind_of(r.get(4)?),
        mtime_ns: r.get(5)?,
        head,
    })
}

pub fn chunk_from(r: &Row<'_>) -> rusqlite::Result<ChunkRecord> {
    Ok(ChunkRecord {
        row: ChunkRow(r.get(0)?),
        id: ChunkId(hash_from(r.get(1)?)?),
        raw_len: r.get::<_, i64>(2)? as u32,
        loc: BlobLocation {
            pack: PackId(r.get::<_, i64>(5)? as u64),
            offset: r.get::<_, i64>(6)? as u64,
            len: r.get::<_, i64>(3)? as u32,
        },
        codec: r.get::<_, i64>(4)? as u8,
        refs: r.get(7)?,
        base: r.get::<_, Option<i64>>(8)?.map(ChunkRow),
    })
}

pub fn get_node(c: &Connection, id: NodeId) -> MetaResult<Option<NodeRecord>> {
    let mut st = c.prepare_cached(&format!("{NODE_SELECT} WHERE n.id = ?1"))?;
    Ok(st.query_row([id.0], node_from).optional()?)
}

pub fn get_child(c: &Connection, parent: NodeId, name: &str) -> MetaResult<Option<NodeRecord>> {
    let mut st = c.prepare_cached(&format!(
        "{NODE_SELECT} WHERE n.parent = ?1 AND n.name = ?2"
    ))?;
    Ok(st
        .query_row(params![parent.0, name], node_from)
        .optional()?)
}

pub fn need_node(c: &Connection, id: NodeId) -> MetaResult<NodeRecord> {
    get_node(c, id)?.ok_or_else(|| MetaError::NotFound(format!("node {id}")))
}

/// The live folder `id`, or the matching error.
pub fn need_live_dir(c: &Connection, id: NodeId) -> MetaResult<NodeRecord> {
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

/// Walks up to the top of `id`'s tree: live iff the top is a home root.
pub fn is_live(c: &Connection, id: NodeId) -> MetaResult<bool> {
    let mut st = c.prepare_cached("SELECT parent FROM nodes WHERE id = ?1")?;
    let mut cur = id.0;
    for _ in 0..10_000 {
        let parent: Option<Option<i64>> = st.query_row([cur], |r| r.get(0)).optional()?;
        match parent {
            None => return Ok(false),
            Some(Some(p)) => cur = p,
            Some(None) => {
                let mut hs = c.prepare_cached("SELECT 1 FROM homes WHERE root = ?1")?;
                return Ok(hs.exists([cur])?);
            }
        }
    }
    Err(MetaError::Corrupt(format!("cycle above node {id}")))
}

/// Sum of the head sizes of the files at and below `node`.
pub fn tree_bytes(c: &Connection, node: NodeId) -> MetaResult<u64> {
    let n: i64 = c
        .prepare_cached(
            "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id)
             SELECT coalesce(sum(v.size), 0) FROM sub JOIN nodes n ON n.id = sub.id JOIN versions v ON v.id = n.head",
        )?
        .query_row([node.0], |r| r.get(0))?;
    Ok(n as u64)
}

/// The usage counters that `home`'s quota checks, and the quota, in the caller's
/// transaction. A home of its own account (a user's home) counts alone; a staging home
/// (uploads in progress, account ≠ name) counts with every home of its account, so that
/// staged pieces cannot exceed what the account may hold, while the completion of an
/// upload (its pieces still staged until it is committed) needs room in the home only.
pub fn usage(c: &Connection, home: HomeId) -> MetaResult<HomeUsage> {
    // one statement for the home's own counters, its account's quota and the setting (a
    // user's home, the common case, needs nothing more)
    let (staging, account, mut current, mut all, quota, counts) = c
        .prepare_cached(
            "SELECT account IS NOT NULL AND account != name, coalesce(account, name),
                    current_bytes, all_bytes,
                    (SELECT quota FROM users WHERE name = coalesce(h.account, h.name)),
                    (SELECT value FROM settings WHERE key = ?2)
             FROM homes h WHERE id = ?1",
        )?
        .query_row(params![home.0, QuotaCounts::SETTING], |r| {
            Ok((
                r.get::<_, bool>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?
        .ok_or_else(|| MetaError::NotFound(format!("home {}", home.0)))?;
    if staging {
        (current, all) = c
            .prepare_cached(
                "SELECT coalesce(sum(current_bytes), 0), coalesce(sum(all_bytes), 0) FROM homes WHERE account = ?1",
            )?
            .query_row([&account], |r| Ok((r.get(0)?, r.get(1)?)))?;
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

/// Records a change of `home`'s usage inside the caller's transaction and enforces the
/// quota: `current` is the change of the live files' current bytes, `added` the bytes of
/// the version rows this change inserted (the `all_bytes` counter itself is kept by
/// triggers). If the counter the quota counts went up and is now over the quota, fails
/// with `QuotaExceeded` (the caller's transaction then rolls back).
pub fn charge(c: &Connection, home: HomeId, current: i64, added: u64) -> MetaResult<()> {
    if current != 0 {
        c.prepare_cached("UPDATE homes SET current_bytes = current_bytes + ?1 WHERE id = ?2")?
            .execute(params![current, home.0])?;
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
pub fn add_refs(c: &Connection, extents: &[u8], delta: i64) -> MetaResult<()> {
    let list = decode_extents(extents).map_err(MetaError::Corrupt)?;
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for e in list {
        *counts.entry(e.chunk.0).or_default() += 1;
    }
    let mut st = c.prepare_cached("UPDATE chunks SET refs = refs + ?1 WHERE id = ?2")?;
    for (row, n) in counts {
        if st.execute(params![n * delta, row])? != 1 {
            return Err(MetaError::Corrupt(format!(
                "extent names missing chunk row {row}"
            )));
        }
    }
    Ok(())
}

/// Trashes `victim` (inside an open transaction).
pub fn trash_node(c: &Connection, victim: &NodeRecord, path: &str, now_ns: i64) -> MetaResult<i64> {
    if victim.parent.is_none() {
        let is_root: bool = c
            .prepare_cached("SELECT 1 FROM homes WHERE root = ?1")?
            .exists([victim.id.0])?;
        return Err(if is_root {
            MetaError::Invalid("a root cannot be deleted".into())
        } else {
            MetaError::NotFound(victim.name.clone()) // already in the trash
        });
    }
    if is_live(c, victim.id)? {
        let bytes = tree_bytes(c, victim.id)?;
        charge(c, victim.home, -(bytes as i64), 0)?;
    }
    c.prepare_cached("INSERT INTO trash (home, node, path, deleted_ns) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![victim.home.0, victim.id.0, path, now_ns])?;
    let id = c.last_insert_rowid();
    c.prepare_cached("UPDATE nodes SET parent = NULL, trash = ?1 WHERE id = ?2")?
        .execute(params![id, victim.id.0])?;
    Ok(id)
}

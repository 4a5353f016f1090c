//! [`Versions`] on PostgreSQL: commit (the write pipeline's single transaction), list,
//! restore, delete.

use super::PgMeta;
use super::conn::Db;
use super::rows::{
    VERSION_COLS, VERSION_NCOLS, add_refs, charge, get_child, is_live, kind_code,
    live_dir_and_child, need_node, user_meta_json, version_at,
};
use crate::{
    ChunkRow, CommitRequest, Expect, Extent, FileAttrs, LockChange, MetaError, MetaResult,
    NodeKind, NodeRecord, ObjectLock, VersionRecord, VersionScan, Versions, decode_extents,
    encode_extents,
};
use nas_types::{ContentHash, HomeId, NodeId, VersionNum};
use std::collections::HashMap;

fn insert_version(
    c: &Db<'_>,
    node: NodeId,
    v: &VersionRecord,
    extents: &[u8],
) -> MetaResult<VersionRecord> {
    // the number and the head in one statement each way
    let r = c.one(
        "WITH n AS (SELECT next_num FROM nodes WHERE id = $1)
         INSERT INTO versions (node, num, size, mtime_ns, created_ns, hash, content_type, user_meta, extents, author, lock_mode, lock_until_ns, legal_hold)
         SELECT $1, n.next_num, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM n
         RETURNING id, num",
        &[
            &node.0,
            &(v.size as i64),
            &v.mtime_ns,
            &v.created_ns,
            &&v.hash.0[..],
            &v.attrs.content_type,
            &user_meta_json(&v.attrs),
            &extents,
            &v.author,
            &v.lock.retention.map(|r| r.mode.code()),
            &v.lock.retention.map(|r| r.until_ns),
            &v.lock.legal_hold,
        ],
    )?;
    let (vid, num): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
    c.exec(
        "UPDATE nodes SET head = $1, next_num = $2 WHERE id = $3",
        &[&vid, &(num + 1), &node.0],
    )?;
    add_refs(c, extents, 1)?;
    Ok(VersionRecord {
        node,
        num: VersionNum(num as u64),
        ..v.clone()
    })
}

fn version_row(
    c: &Db<'_>,
    node: NodeId,
    num: Option<VersionNum>,
) -> MetaResult<Option<(i64, VersionRecord, Vec<u8>)>> {
    let row = match num {
        None => c.opt(
            &format!(
                "SELECT id, {VERSION_COLS}, extents FROM versions WHERE id = (SELECT head FROM nodes WHERE id = $1)"
            ),
            &[&node.0],
        )?,
        Some(n) => c.opt(
            &format!(
                "SELECT id, {VERSION_COLS}, extents FROM versions WHERE node = $1 AND num = $2"
            ),
            &[&node.0, &(n.0 as i64)],
        )?,
    };
    row.map(|r| {
        Ok((
            r.try_get(0)?,
            version_at(&r, 1)?,
            r.try_get(1 + VERSION_NCOLS)?,
        ))
    })
    .transpose()
}

/// Live folders already checked in this transaction (nothing in a commit moves or deletes
/// one): a group of files in one folder checks it once, not once per file.
type LiveDirs = HashMap<NodeId, NodeRecord>;

fn commit_one(
    tx: &Db<'_>,
    req: &CommitRequest<'_>,
    live: &mut LiveDirs,
) -> MetaResult<VersionRecord> {
    // the folder and the name in one statement; a folder already checked in this
    // transaction, only the name
    let (parent, existing) = match live.get(&req.parent) {
        Some(p) => (p.clone(), get_child(tx, req.parent, req.name)?),
        None => {
            let (p, existing) = live_dir_and_child(tx, req.parent, req.name)?;
            live.insert(req.parent, p.clone());
            (p, existing)
        }
    };
    if let Some(expect) = req.expect {
        let head = existing
            .as_ref()
            .and_then(|n| n.head.as_ref())
            .map(|h| h.num);
        let holds = match expect {
            Expect::Absent => existing.is_none(),
            Expect::Head(v) => head == Some(v),
        };
        if !holds {
            return Err(MetaError::Precondition(req.name.to_owned()));
        }
    }
    let old_size = existing
        .as_ref()
        .and_then(|n| n.head.as_ref())
        .map_or(0, |h| h.size);
    let node = match existing {
        Some(n) if n.kind == NodeKind::Dir => {
            return Err(MetaError::IsADirectory(req.name.to_owned()));
        }
        Some(n) => {
            // an empty, unlocked head is replaced, not kept (see SQLite's commit)
            if n.head.as_ref().is_some_and(|h| h.size == 0) {
                tx.exec(
                    "DELETE FROM versions WHERE id = (SELECT head FROM nodes WHERE id = $1)
                       AND NOT legal_hold AND (lock_mode IS NULL OR lock_until_ns <= now_ns())",
                    &[&n.id.0],
                )?;
            }
            n.id
        }
        None => {
            // the history of the path: number on from the files deleted from it
            let r = tx.one(
                "INSERT INTO nodes (home, parent, name, kind, mtime_ns, next_num)
                 SELECT $1, $2, $3, $4, $5, coalesce((
                     SELECT MAX(n.next_num) - 1 FROM trash t JOIN nodes n ON n.id = t.node
                     WHERE t.home = $1 AND t.path = $6 AND n.kind = $4), 0) + 1
                 RETURNING id",
                &[
                    &parent.home.0,
                    &req.parent.0,
                    &req.name,
                    &kind_code(NodeKind::File),
                    &req.mtime_ns,
                    &req.path,
                ],
            )?;
            NodeId(r.try_get(0)?)
        }
    };
    // rows of the chunks inserted here are known without a lookup
    let mut rows: HashMap<[u8; 32], i64> = super::chunks::insert_new(tx, req.new_chunks)?;
    let missing: Vec<&[u8]> = req
        .extents
        .iter()
        .filter(|(id, _)| !rows.contains_key(&id.0))
        .map(|(id, _)| &id.0[..])
        .collect();
    if !missing.is_empty() {
        for r in tx.rows(
            "SELECT hash, id FROM chunks WHERE hash = ANY($1)",
            &[&missing],
        )? {
            let hash = super::rows::hash_from(r.try_get(0)?)?;
            rows.insert(hash, r.try_get(1)?);
        }
    }
    let mut items = Vec::with_capacity(req.extents.len());
    for (id, len) in req.extents {
        let row = rows
            .get(&id.0)
            .ok_or_else(|| MetaError::Corrupt(format!("chunk {id} vanished before commit")))?;
        items.push((ChunkRow(*row), *len));
    }
    let extents = encode_extents(items);
    let v = VersionRecord {
        node,
        num: VersionNum(0),
        size: req.size,
        mtime_ns: req.mtime_ns,
        created_ns: req.now_ns,
        hash: req.hash,
        attrs: req.attrs.clone(),
        author: req.author.map(str::to_owned),
        lock: req.lock,
    };
    let v = insert_version(tx, node, &v, &extents)?;
    // the parent is a live folder, so the file is live
    charge(tx, parent.home, req.size as i64 - old_size as i64, req.size)?;
    Ok(v)
}

/// Whether `node` is the file or folder a trash entry holds.
fn is_trash_root(tx: &Db<'_>, node: NodeId) -> MetaResult<bool> {
    tx.exists("SELECT 1 FROM trash WHERE node = $1", &[&node.0])
}

/// Deletes version `num` of `node` (not its only one) in transaction `tx`; with
/// `bypass_governance`, a running governance retention is cleared first (the
/// `versions_retained` trigger refuses anything still locked).
fn delete_one(
    tx: &Db<'_>,
    node: NodeId,
    num: VersionNum,
    bypass_governance: bool,
) -> MetaResult<()> {
    let n = need_node(tx, node)?;
    let (vid, _, blob) = version_row(tx, node, Some(num))?
        .ok_or_else(|| MetaError::NotFound(format!("version {num}")))?;
    let count: i64 = tx
        .one("SELECT count(*) FROM versions WHERE node = $1", &[&node.0])?
        .try_get(0)?;
    if count <= 1 && !is_trash_root(tx, node)? {
        return Err(MetaError::Invalid(
            "the only version of a file cannot be deleted; delete the file".into(),
        ));
    }
    if bypass_governance {
        tx.exec(
            "UPDATE versions SET lock_mode = NULL, lock_until_ns = NULL WHERE id = $1 AND lock_mode = 1",
            &[&vid],
        )?;
    }
    tx.exec("DELETE FROM versions WHERE id = $1", &[&vid])?;
    add_refs(tx, &blob, -1)?;
    tx.exec(
        "UPDATE nodes SET head = (SELECT id FROM versions WHERE node = $1 ORDER BY num DESC LIMIT 1) WHERE id = $1",
        &[&node.0],
    )?;
    let was_head = n.head.as_ref().map(|h| h.num) == Some(num);
    if was_head && is_live(tx, node)? {
        let old = n.head.as_ref().map_or(0, |h| h.size);
        let new = version_row(tx, node, None)?.map_or(0, |(_, h, _)| h.size);
        charge(tx, n.home, new as i64 - old as i64, 0)?;
    }
    Ok(())
}

fn with_extents(v: VersionRecord, blob: &[u8]) -> MetaResult<(VersionRecord, Vec<Extent>)> {
    let ext = decode_extents(blob)
        .map_err(|e| MetaError::Corrupt(format!("version {} of node {}: {e}", v.num, v.node)))?;
    Ok((v, ext))
}

impl Versions for PgMeta {
    fn commit_versions(&self, reqs: &[CommitRequest<'_>]) -> MetaResult<Vec<VersionRecord>> {
        self.write(|tx| {
            let mut live = LiveDirs::new();
            reqs.iter().map(|r| commit_one(tx, r, &mut live)).collect()
        })
    }

    fn versions(&self, node: NodeId) -> MetaResult<Vec<VersionRecord>> {
        self.auto(|c| {
            c.rows(
                &format!("SELECT {VERSION_COLS} FROM versions WHERE node = $1 ORDER BY num"),
                &[&node.0],
            )?
            .iter()
            .map(|r| version_at(r, 0))
            .collect()
        })
    }

    fn version(
        &self,
        node: NodeId,
        num: Option<VersionNum>,
    ) -> MetaResult<Option<(VersionRecord, Vec<Extent>)>> {
        self.auto(|c| match version_row(c, node, num)? {
            None => Ok(None),
            Some((_, v, blob)) => with_extents(v, &blob).map(Some),
        })
    }

    fn restore_version(
        &self,
        node: NodeId,
        num: VersionNum,
        now_ns: i64,
        author: Option<&str>,
        lock: ObjectLock,
    ) -> MetaResult<VersionRecord> {
        self.write(|tx| {
            let (_, old, blob) = version_row(tx, node, Some(num))?
                .ok_or_else(|| MetaError::NotFound(format!("version {num}")))?;
            let head = version_row(tx, node, None)?.map_or(0, |(_, h, _)| h.size);
            let v = VersionRecord {
                created_ns: now_ns,
                mtime_ns: now_ns,
                author: author.map(str::to_owned),
                lock,
                ..old
            };
            let v = insert_version(tx, node, &v, &blob)?;
            let n = need_node(tx, node)?;
            let current = if is_live(tx, node)? {
                v.size as i64 - head as i64
            } else {
                0
            };
            charge(tx, n.home, current, v.size)?;
            Ok(v)
        })
    }

    fn delete_version(&self, node: NodeId, num: VersionNum) -> MetaResult<()> {
        self.write(|tx| delete_one(tx, node, num, false))
    }

    fn delete_version_bypassing_governance(&self, node: NodeId, num: VersionNum) -> MetaResult<()> {
        self.write(|tx| delete_one(tx, node, num, true))
    }

    fn set_version_lock(
        &self,
        node: NodeId,
        num: VersionNum,
        change: LockChange,
        now_ns: i64,
        bypass_governance: bool,
    ) -> MetaResult<VersionRecord> {
        self.write(|tx| {
            need_node(tx, node)?;
            let (vid, v, _) = version_row(tx, node, Some(num))?
                .ok_or_else(|| MetaError::NotFound(format!("version {num}")))?;
            let lock = &v.lock.with(change);
            v.lock
                .may_become(lock, now_ns, bypass_governance)
                .map_err(|why| MetaError::Retained(why.to_owned()))?;
            tx.exec(
                "UPDATE versions SET lock_mode = $1, lock_until_ns = $2, legal_hold = $3 WHERE id = $4",
                &[
                    &lock.retention.map(|r| r.mode.code()),
                    &lock.retention.map(|r| r.until_ns),
                    &lock.legal_hold,
                    &vid,
                ],
            )?;
            Ok(VersionRecord { lock: *lock, ..v })
        })
    }

    fn set_version_attrs(
        &self,
        node: NodeId,
        num: VersionNum,
        attrs: &FileAttrs,
    ) -> MetaResult<()> {
        self.write(|tx| {
            need_node(tx, node)?;
            let n = tx.exec(
                "UPDATE versions SET content_type = $1, user_meta = $2 WHERE node = $3 AND num = $4",
                &[&attrs.content_type, &user_meta_json(attrs), &node.0, &(num.0 as i64)],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("version {num}")));
            }
            Ok(())
        })
    }

    fn files_with_versions_over(&self, keep: usize) -> MetaResult<Vec<(NodeId, HomeId)>> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.auto(|c| {
            c.rows(
                "SELECT v.node, n.home FROM
                   (SELECT node FROM versions GROUP BY node HAVING count(*) > $1) v
                   JOIN nodes n ON n.id = v.node
                 ORDER BY v.node",
                &[&keep],
            )?
            .iter()
            .map(|r| Ok((NodeId(r.try_get(0)?), HomeId(r.try_get(1)?))))
            .collect()
        })
    }

    fn find_version_by_hash(
        &self,
        home: HomeId,
        hash: &ContentHash,
        size: u64,
    ) -> MetaResult<Option<(VersionRecord, Vec<Extent>)>> {
        let row = self.auto(|c| {
            c.opt(
                &format!(
                    "SELECT {VERSION_COLS}, extents FROM versions v
                     WHERE hash = $1 AND size = $2
                       AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = v.node AND n.home = $3)
                     ORDER BY (SELECT trash IS NOT NULL FROM nodes n WHERE n.id = v.node), id DESC
                     LIMIT 1"
                ),
                &[&&hash.0[..], &(size as i64), &home.0],
            )
        })?;
        match row {
            None => Ok(None),
            Some(r) => {
                let blob: Vec<u8> = r.try_get(VERSION_NCOLS)?;
                with_extents(version_at(&r, 0)?, &blob).map(Some)
            }
        }
    }

    fn for_each_version(&self, f: &mut dyn FnMut(VersionScan) -> MetaResult<()>) -> MetaResult<()> {
        let sql = format!("SELECT {VERSION_COLS}, extents FROM versions ORDER BY node, num");
        self.scan(&sql, &mut |r| {
            let version = version_at(r, 0)?;
            let blob: Vec<u8> = r.try_get(VERSION_NCOLS)?;
            f(VersionScan {
                version,
                extents: decode_extents(&blob),
            })
        })
    }
}

//! [`ChunkIndex`] on SQLite: chunk lookup, GC candidates, compaction moves, stats; the
//! rows of new chunks (with a delta's reference on its base) and the resemblance sketches
//! of chunks stored whole.

use super::SqliteMeta;
use super::recode;
use super::rows::{CHUNK_SELECT, chunk_from, hash_from};
use crate::{
    ChunkIndex, ChunkRecord, ChunkRow, MetaError, MetaResult, MetaStats, NewChunk, PackUsage,
    Recode, Sketch,
};
use nas_blob::BlobLocation;
use nas_types::{ChunkId, PackId};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// Inserts the rows of a commit's new chunks (a chunk already indexed — stored meanwhile by
/// another write — is left as it is) and returns the rows inserted, by content id. A delta
/// chunk's row names its base's row and adds one reference to it; a chunk stored whole gets
/// its sketch indexed. Runs inside the commit's transaction.
pub(super) fn insert_new(c: &Connection, new: &[NewChunk]) -> MetaResult<HashMap<[u8; 32], i64>> {
    let mut rows = HashMap::new();
    let mut ins = c.prepare_cached(
        "INSERT INTO chunks (hash, raw_len, stored_len, codec, pack, offset, refs, base, whole_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8) ON CONFLICT(hash) DO NOTHING",
    )?;
    let mut find_base = c.prepare_cached("SELECT id, base FROM chunks WHERE hash = ?1")?;
    let mut add_ref = c.prepare_cached("UPDATE chunks SET refs = refs + 1 WHERE id = ?1")?;
    let mut sketch = c.prepare_cached(
        "INSERT OR IGNORE INTO chunk_sketches (chunk, sf0, sf1, sf2) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for ch in new {
        let base = match &ch.base {
            None => None,
            Some(b) => {
                let (row, its_base): (i64, Option<i64>) = find_base
                    .query_row([&b.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or_else(|| {
                        MetaError::Corrupt(format!("base chunk {b} vanished before commit"))
                    })?;
                if its_base.is_some() {
                    return Err(MetaError::Invalid(format!(
                        "chunk {b} is a delta and cannot be the base of {}",
                        ch.id
                    )));
                }
                Some(row)
            }
        };
        let inserted = ins.execute(params![
            &ch.id.0[..],
            ch.raw_len,
            ch.loc.len,
            ch.codec,
            ch.loc.pack.0 as i64,
            ch.loc.offset as i64,
            base,
            base.map(|_| ch.whole_len)
        ])?;
        if inserted != 1 {
            continue;
        }
        let row = c.last_insert_rowid();
        rows.insert(ch.id.0, row);
        if let Some(b) = base {
            add_ref.execute([b])?;
        } else if let Some(Sketch(f)) = ch.sketch {
            sketch.execute(params![row, f[0] as i64, f[1] as i64, f[2] as i64])?;
        }
    }
    Ok(rows)
}

impl ChunkIndex for SqliteMeta {
    fn find_chunk(&self, id: &ChunkId) -> MetaResult<Option<ChunkRecord>> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("{CHUNK_SELECT} WHERE hash = ?1"))?
                    .query_row([&id.0[..]], chunk_from)
                    .optional()?,
            )
        })
    }

    fn chunks_present(&self, ids: &[ChunkId]) -> MetaResult<Vec<bool>> {
        self.read(|c| {
            // one read transaction and one statement for the lot
            let tx = c.unchecked_transaction()?;
            let mut st = tx.prepare_cached("SELECT 1 FROM chunks WHERE hash = ?1")?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(st.exists([&id.0[..]])?);
            }
            Ok(out)
        })
    }

    fn chunk(&self, row: ChunkRow) -> MetaResult<Option<ChunkRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!("{CHUNK_SELECT} WHERE id = ?1"))?
                .query_row([row.0], chunk_from)
                .optional()?)
        })
    }

    fn chunk_ids(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkId>>> {
        self.read(|c| {
            // one read transaction and one statement for the lot
            let tx = c.unchecked_transaction()?;
            let mut st = tx.prepare_cached("SELECT hash FROM chunks WHERE id = ?1")?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id = st
                    .query_row([r.0], |row| Ok(ChunkId(hash_from(row.get(0)?)?)))
                    .optional()?;
                out.push(id);
            }
            Ok(out)
        })
    }

    fn chunks(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkRecord>>> {
        self.read(|c| {
            // one read transaction and one statement for the lot
            let tx = c.unchecked_transaction()?;
            let mut st = tx.prepare_cached(&format!("{CHUNK_SELECT} WHERE id = ?1"))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(st.query_row([r.0], chunk_from).optional()?);
            }
            Ok(out)
        })
    }

    fn unreferenced_chunks(&self, after: ChunkRow, limit: usize) -> MetaResult<Vec<ChunkRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{CHUNK_SELECT} WHERE refs = 0 AND id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            Ok(st
                .query_map(params![after.0, limit as i64], chunk_from)?
                .collect::<Result<_, _>>()?)
        })
    }

    fn delete_unreferenced(
        &self,
        rows: &[ChunkRow],
        keep: &dyn Fn(&ChunkId) -> bool,
        grace_ns: i64,
    ) -> MetaResult<Vec<ChunkRecord>> {
        self.write(|tx| {
            // unreferenced, and for long enough (a NULL mark: since before schema 22)
            let garbage = "refs = 0 AND (?2 <= 0 OR unref_ns IS NULL
                 OR unref_ns < CAST(unixepoch('subsec') * 1000000000 AS INTEGER) - ?2)";
            let mut get =
                tx.prepare_cached(&format!("{CHUNK_SELECT} WHERE id = ?1 AND {garbage}"))?;
            let mut del =
                tx.prepare_cached(&format!("DELETE FROM chunks WHERE id = ?1 AND {garbage}"))?;
            let mut unsketch = tx.prepare_cached("DELETE FROM chunk_sketches WHERE chunk = ?1")?;
            // a delta gives back the reference it held on its base (which the next run
            // collects, if nothing else holds one)
            let mut release =
                tx.prepare_cached("UPDATE chunks SET refs = refs - 1 WHERE id = ?1")?;
            let mut out = Vec::new();
            for row in rows {
                if let Some(rec) = get.query_row([row.0, grace_ns], chunk_from).optional()?
                    && !keep(&rec.id)
                    && del.execute([row.0, grace_ns])? == 1
                {
                    unsketch.execute([row.0])?;
                    if let Some(base) = rec.base
                        && release.execute([base.0])? != 1
                    {
                        return Err(MetaError::Corrupt(format!(
                            "chunk {} names missing base row {}",
                            rec.id, base.0
                        )));
                    }
                    out.push(rec);
                }
            }
            Ok(out)
        })
    }

    fn pack_usage(&self) -> MetaResult<Vec<PackUsage>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT pack, count(*), sum(stored_len) FROM chunks GROUP BY pack")?;
            let rows = st.query_map([], |r| {
                Ok(PackUsage {
                    pack: PackId(r.get::<_, i64>(0)? as u64),
                    chunks: r.get::<_, i64>(1)? as u64,
                    live_bytes: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn chunks_in_pack(&self, pack: PackId) -> MetaResult<Vec<ChunkRecord>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached(&format!("{CHUNK_SELECT} WHERE pack = ?1 ORDER BY offset"))?;
            Ok(st
                .query_map([pack.0 as i64], chunk_from)?
                .collect::<Result<_, _>>()?)
        })
    }

    fn relocate(&self, moves: &[(ChunkRow, BlobLocation)]) -> MetaResult<()> {
        self.write(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE chunks SET pack = ?1, offset = ?2, stored_len = ?3 WHERE id = ?4",
            )?;
            for (row, loc) in moves {
                st.execute(params![
                    loc.pack.0 as i64,
                    loc.offset as i64,
                    loc.len,
                    row.0
                ])?;
            }
            Ok(())
        })
    }

    fn for_each_chunk(
        &self,
        f: &mut dyn FnMut(ChunkRecord) -> crate::MetaResult<()>,
    ) -> MetaResult<()> {
        self.read(|c| {
            let mut st = c.prepare(&format!("{CHUNK_SELECT} ORDER BY pack, offset"))?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                f(chunk_from(r)?)?;
            }
            Ok(())
        })
    }

    fn similar_chunks(&self, sketch: &Sketch, limit: usize) -> MetaResult<Vec<ChunkRecord>> {
        let f = sketch.0.map(|x| x as i64);
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{CHUNK_SELECT} JOIN (
                    SELECT chunk, count(*) AS shared FROM (
                        SELECT chunk FROM chunk_sketches WHERE sf0 = ?1
                        UNION ALL SELECT chunk FROM chunk_sketches WHERE sf1 = ?2
                        UNION ALL SELECT chunk FROM chunk_sketches WHERE sf2 = ?3
                    ) GROUP BY chunk ORDER BY shared DESC, chunk DESC LIMIT ?4
                 ) AS s ON s.chunk = chunks.id
                 WHERE chunks.base IS NULL ORDER BY s.shared DESC, chunks.id DESC"
            ))?;
            Ok(st
                .query_map(params![f[0], f[1], f[2], limit as i64], chunk_from)?
                .collect::<Result<_, _>>()?)
        })
    }

    fn chunk_sketch(&self, row: ChunkRow) -> MetaResult<Option<Sketch>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT sf0, sf1, sf2 FROM chunk_sketches WHERE chunk = ?1")?;
            Ok(st
                .query_row([row.0], |r| {
                    let f = |i| r.get::<_, i64>(i).map(|x| x as u64);
                    Ok(Sketch([f(0)?, f(1)?, f(2)?]))
                })
                .optional()?)
        })
    }

    fn stats(&self) -> MetaResult<MetaStats> {
        self.read(|c| {
            let mut s = MetaStats::default();
            let q = |sql: &str| -> MetaResult<i64> { Ok(c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?.unwrap_or(0)) };
            // Live nodes: walk down from every home root.
            let (files, dirs, current): (i64, i64, i64) = c.query_row(
                "WITH RECURSIVE live(id) AS (SELECT root FROM homes UNION ALL SELECT n.id FROM nodes n JOIN live ON n.parent = live.id)
                 SELECT sum(n.kind = 1), sum(n.kind = 0) - (SELECT count(*) FROM homes), coalesce(sum(v.size), 0)
                 FROM live JOIN nodes n ON n.id = live.id LEFT JOIN versions v ON v.id = n.head",
                [],
                |r| Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get::<_, Option<i64>>(1)?.unwrap_or(0), r.get(2)?)),
            )?;
            s.files = files as u64;
            s.dirs = dirs.max(0) as u64;
            s.current_bytes = current as u64;
            s.versions = q("SELECT count(*) FROM versions")? as u64;
            s.logical_bytes = q("SELECT sum(size) FROM versions")? as u64;
            s.chunks = q("SELECT count(*) FROM chunks")? as u64;
            s.chunk_raw_bytes = q("SELECT sum(raw_len) FROM chunks")? as u64;
            s.chunk_stored_bytes = q("SELECT sum(stored_len) FROM chunks")? as u64;
            s.trash_entries = q("SELECT count(*) FROM trash")? as u64;
            let (n, stored, whole): (i64, Option<i64>, Option<i64>) = c.query_row(
                "SELECT count(*), sum(stored_len), sum(whole_len) FROM chunks WHERE base IS NOT NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            s.delta_chunks = n as u64;
            s.delta_stored_bytes = stored.unwrap_or(0) as u64;
            s.delta_whole_bytes = whole.unwrap_or(0) as u64;
            Ok(s)
        })
    }

    fn chunks_with_codec(
        &self,
        codec: u8,
        after: ChunkRow,
        limit: usize,
    ) -> MetaResult<Vec<ChunkRecord>> {
        self.read(|c| recode::chunks_with_codec(c, codec, after, limit))
    }

    fn count_chunks_with_codec(&self, codec: u8) -> MetaResult<u64> {
        self.read(|c| recode::count_chunks_with_codec(c, codec))
    }

    fn recode(
        &self,
        recodes: &[Recode],
        busy: &dyn Fn(&ChunkId) -> bool,
    ) -> MetaResult<Vec<ChunkRow>> {
        self.write(|tx| recode::recode(tx, recodes, busy))
    }

    fn add_sketches(&self, sketches: &[(ChunkRow, Sketch)]) -> MetaResult<()> {
        self.write(|tx| recode::add_sketches(tx, sketches))
    }

    fn is_base(&self, row: ChunkRow) -> MetaResult<bool> {
        self.read(|c| recode::is_base(c, row))
    }

    fn pack_read_days(&self) -> MetaResult<Vec<(PackId, i64)>> {
        self.read(recode::pack_read_days)
    }

    fn record_pack_read_days(&self, days: &[(PackId, i64)]) -> MetaResult<()> {
        self.write(|tx| recode::record_pack_read_days(tx, days))
    }

    fn forget_pack_read_days(&self, packs: &[PackId]) -> MetaResult<()> {
        self.write(|tx| recode::forget_pack_read_days(tx, packs))
    }
}

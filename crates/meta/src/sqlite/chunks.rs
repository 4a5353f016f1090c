//! [`ChunkIndex`] on SQLite: chunk lookup, GC candidates, compaction moves, stats.

use super::SqliteMeta;
use super::rows::{CHUNK_SELECT, chunk_from, hash_from};
use crate::{ChunkIndex, ChunkRecord, ChunkRow, MetaResult, MetaStats, PackUsage};
use nas_blob::BlobLocation;
use nas_types::{ChunkId, PackId};
use rusqlite::{OptionalExtension, params};

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
    ) -> MetaResult<Vec<ChunkRecord>> {
        self.write(|tx| {
            let mut get =
                tx.prepare_cached(&format!("{CHUNK_SELECT} WHERE id = ?1 AND refs = 0"))?;
            let mut del = tx.prepare_cached("DELETE FROM chunks WHERE id = ?1 AND refs = 0")?;
            let mut out = Vec::new();
            for row in rows {
                if let Some(rec) = get.query_row([row.0], chunk_from).optional()?
                    && !keep(&rec.id)
                    && del.execute([row.0])? == 1
                {
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
            Ok(s)
        })
    }
}

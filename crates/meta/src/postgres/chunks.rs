//! [`ChunkIndex`] on PostgreSQL: chunk lookup, GC candidates, compaction moves, stats; the
//! rows of new chunks (with a delta's reference on its base) and the resemblance sketches
//! of chunks stored whole.

use super::PgMeta;
use super::conn::Db;
use super::recode;
use super::rows::{CHUNK_SELECT, chunk_from, chunks_from, hash_from};
use crate::{
    ChunkIndex, ChunkRecord, ChunkRow, MetaError, MetaResult, MetaStats, NewChunk, PackUsage,
    Recode, Sketch,
};
use nas_blob::BlobLocation;
use nas_types::{ChunkId, PackId};
use std::collections::HashMap;

/// Rows of chunks stored whole inserted in one statement, at most.
const INSERT_BATCH: usize = 1024;

/// Inserts the rows of a commit's new chunks (one already indexed is left as it is) and
/// returns the rows inserted, by content id. A delta chunk's row names its base's row and
/// adds one reference to it; a chunk stored whole gets its sketch indexed. Runs inside the
/// commit's transaction. Chunks stored whole (all of them unless delta chunks are on) are
/// inserted [`INSERT_BATCH`] rows per statement, their sketches likewise: a large file's
/// commit costs a few round trips, not one per chunk.
pub(super) fn insert_new(c: &Db<'_>, new: &[NewChunk]) -> MetaResult<HashMap<[u8; 32], i64>> {
    let mut rows = HashMap::new();
    let whole: Vec<&NewChunk> = new.iter().filter(|ch| ch.base.is_none()).collect();
    for batch in whole.chunks(INSERT_BATCH) {
        insert_whole(c, batch, &mut rows)?;
    }
    for ch in new.iter().filter(|ch| ch.base.is_some()) {
        insert_delta(c, ch, &mut rows)?;
    }
    Ok(rows)
}

/// Inserts the rows of chunks stored whole, and their sketches, in one statement each.
fn insert_whole(
    c: &Db<'_>,
    batch: &[&NewChunk],
    rows: &mut HashMap<[u8; 32], i64>,
) -> MetaResult<()> {
    let hashes: Vec<&[u8]> = batch.iter().map(|ch| &ch.id.0[..]).collect();
    let raw: Vec<i64> = batch.iter().map(|ch| i64::from(ch.raw_len)).collect();
    let stored: Vec<i64> = batch.iter().map(|ch| i64::from(ch.loc.len)).collect();
    let codecs: Vec<i64> = batch.iter().map(|ch| i64::from(ch.codec)).collect();
    let packs: Vec<i64> = batch.iter().map(|ch| ch.loc.pack.0 as i64).collect();
    let offsets: Vec<i64> = batch.iter().map(|ch| ch.loc.offset as i64).collect();
    let inserted = c.rows(
        "INSERT INTO chunks (hash, raw_len, stored_len, codec, pack, pack_offset, refs)
         SELECT n.hash, n.raw, n.stored, n.codec, n.pack, n.off, 0
         FROM unnest($1::BYTEA[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
              AS n(hash, raw, stored, codec, pack, off)
         ON CONFLICT (hash) DO NOTHING RETURNING id, hash",
        &[&hashes, &raw, &stored, &codecs, &packs, &offsets],
    )?;
    let mut sketched: Vec<i64> = Vec::new();
    let mut sf: [Vec<i64>; 3] = Default::default();
    let sketches: HashMap<[u8; 32], Sketch> = batch
        .iter()
        .filter_map(|ch| ch.sketch.map(|s| (ch.id.0, s)))
        .collect();
    for r in inserted {
        let row: i64 = r.try_get(0)?;
        let hash = hash_from(r.try_get(1)?)?;
        rows.insert(hash, row);
        if let Some(Sketch(f)) = sketches.get(&hash) {
            sketched.push(row);
            for (col, x) in sf.iter_mut().zip(f) {
                col.push(*x as i64);
            }
        }
    }
    if !sketched.is_empty() {
        c.exec(
            "INSERT INTO chunk_sketches (chunk, sf0, sf1, sf2)
             SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[])
             ON CONFLICT DO NOTHING",
            &[&sketched, &sf[0], &sf[1], &sf[2]],
        )?;
    }
    Ok(())
}

/// Inserts the row of a delta chunk, naming its base's row and adding one reference to it.
fn insert_delta(c: &Db<'_>, ch: &NewChunk, rows: &mut HashMap<[u8; 32], i64>) -> MetaResult<()> {
    let Some(b) = &ch.base else {
        return Ok(());
    };
    let r = c
        .opt("SELECT id, base FROM chunks WHERE hash = $1", &[&&b.0[..]])?
        .ok_or_else(|| MetaError::Corrupt(format!("base chunk {b} vanished before commit")))?;
    let (base, its_base): (i64, Option<i64>) = (r.try_get(0)?, r.try_get(1)?);
    if its_base.is_some() {
        return Err(MetaError::Invalid(format!(
            "chunk {b} is a delta and cannot be the base of {}",
            ch.id
        )));
    }
    let inserted = c.opt(
        "INSERT INTO chunks (hash, raw_len, stored_len, codec, pack, pack_offset, refs, base, whole_len)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) ON CONFLICT (hash) DO NOTHING RETURNING id",
        &[
            &&ch.id.0[..],
            &i64::from(ch.raw_len),
            &i64::from(ch.loc.len),
            &i64::from(ch.codec),
            &(ch.loc.pack.0 as i64),
            &(ch.loc.offset as i64),
            &base,
            &i64::from(ch.whole_len),
        ],
    )?;
    let Some(r) = inserted else {
        return Ok(());
    };
    rows.insert(ch.id.0, r.try_get(0)?);
    c.exec("UPDATE chunks SET refs = refs + 1 WHERE id = $1", &[&base])?;
    Ok(())
}

impl ChunkIndex for PgMeta {
    fn find_chunk(&self, id: &ChunkId) -> MetaResult<Option<ChunkRecord>> {
        self.auto(|c| {
            c.opt(&format!("{CHUNK_SELECT} WHERE hash = $1"), &[&&id.0[..]])?
                .as_ref()
                .map(chunk_from)
                .transpose()
        })
    }

    fn chunks_present(&self, ids: &[ChunkId]) -> MetaResult<Vec<bool>> {
        // one statement for the lot
        let hashes: Vec<&[u8]> = ids.iter().map(|id| &id.0[..]).collect();
        let found = self.auto(|c| {
            c.rows("SELECT hash FROM chunks WHERE hash = ANY($1)", &[&hashes])?
                .iter()
                .map(|r| hash_from(r.try_get(0)?))
                .collect::<MetaResult<std::collections::HashSet<[u8; 32]>>>()
        })?;
        Ok(ids.iter().map(|id| found.contains(&id.0)).collect())
    }

    fn chunk(&self, row: ChunkRow) -> MetaResult<Option<ChunkRecord>> {
        self.auto(|c| {
            c.opt(&format!("{CHUNK_SELECT} WHERE id = $1"), &[&row.0])?
                .as_ref()
                .map(chunk_from)
                .transpose()
        })
    }

    fn chunk_ids(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkId>>> {
        // one statement for the lot
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let found = self.auto(|c| {
            c.rows("SELECT id, hash FROM chunks WHERE id = ANY($1)", &[&ids])?
                .iter()
                .map(|r| Ok((r.try_get::<_, i64>(0)?, ChunkId(hash_from(r.try_get(1)?)?))))
                .collect::<MetaResult<HashMap<i64, ChunkId>>>()
        })?;
        Ok(rows.iter().map(|r| found.get(&r.0).copied()).collect())
    }

    fn chunks(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkRecord>>> {
        // one statement for the lot
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let found = self.auto(|c| {
            c.rows(&format!("{CHUNK_SELECT} WHERE id = ANY($1)"), &[&ids])?
                .iter()
                .map(|r| chunk_from(r).map(|c| (c.row.0, c)))
                .collect::<MetaResult<HashMap<i64, ChunkRecord>>>()
        })?;
        Ok(rows.iter().map(|r| found.get(&r.0).cloned()).collect())
    }

    fn unreferenced_chunks(&self, after: ChunkRow, limit: usize) -> MetaResult<Vec<ChunkRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.auto(|c| {
            chunks_from(c.rows(
                &format!("{CHUNK_SELECT} WHERE refs = 0 AND id > $1 ORDER BY id LIMIT $2"),
                &[&after.0, &limit],
            )?)
        })
    }

    fn delete_unreferenced(
        &self,
        rows: &[ChunkRow],
        keep: &dyn Fn(&ChunkId) -> bool,
        grace_ns: i64,
    ) -> MetaResult<Vec<ChunkRecord>> {
        // unreferenced, and for long enough (a NULL mark: since before schema 22)
        const GARBAGE: &str = "refs = 0 AND ($2::BIGINT <= 0 OR unref_ns IS NULL OR unref_ns < now_ns() - $2::BIGINT)";
        self.write(|tx| {
            let mut out = Vec::new();
            for row in rows {
                let Some(rec) = tx
                    .opt(
                        &format!("{CHUNK_SELECT} WHERE id = $1 AND {GARBAGE}"),
                        &[&row.0, &grace_ns],
                    )?
                    .as_ref()
                    .map(chunk_from)
                    .transpose()?
                else {
                    continue;
                };
                if keep(&rec.id)
                    || tx.exec(
                        &format!("DELETE FROM chunks WHERE id = $1 AND {GARBAGE}"),
                        &[&row.0, &grace_ns],
                    )? != 1
                {
                    continue;
                }
                tx.exec("DELETE FROM chunk_sketches WHERE chunk = $1", &[&row.0])?;
                // a delta gives back the reference it held on its base
                if let Some(base) = rec.base
                    && tx.exec(
                        "UPDATE chunks SET refs = refs - 1 WHERE id = $1",
                        &[&base.0],
                    )? != 1
                {
                    return Err(MetaError::Corrupt(format!(
                        "chunk {} names missing base row {}",
                        rec.id, base.0
                    )));
                }
                out.push(rec);
            }
            Ok(out)
        })
    }

    fn pack_usage(&self) -> MetaResult<Vec<PackUsage>> {
        self.auto(|c| {
            c.rows(
                "SELECT pack, count(*), sum(stored_len)::BIGINT FROM chunks GROUP BY pack",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(PackUsage {
                    pack: PackId(r.try_get::<_, i64>(0)? as u64),
                    chunks: r.try_get::<_, i64>(1)? as u64,
                    live_bytes: r.try_get::<_, i64>(2)? as u64,
                })
            })
            .collect()
        })
    }

    fn chunks_in_pack(&self, pack: PackId) -> MetaResult<Vec<ChunkRecord>> {
        self.auto(|c| {
            chunks_from(c.rows(
                &format!("{CHUNK_SELECT} WHERE pack = $1 ORDER BY pack_offset"),
                &[&(pack.0 as i64)],
            )?)
        })
    }

    fn relocate(&self, moves: &[(ChunkRow, BlobLocation)]) -> MetaResult<()> {
        let rows: Vec<i64> = moves.iter().map(|m| m.0.0).collect();
        let packs: Vec<i64> = moves.iter().map(|m| m.1.pack.0 as i64).collect();
        let offsets: Vec<i64> = moves.iter().map(|m| m.1.offset as i64).collect();
        let lens: Vec<i64> = moves.iter().map(|m| i64::from(m.1.len)).collect();
        self.write(|tx| {
            tx.exec(
                "UPDATE chunks SET pack = m.pack, pack_offset = m.off, stored_len = m.len
                 FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) AS m(row, pack, off, len)
                 WHERE chunks.id = m.row",
                &[&rows, &packs, &offsets, &lens],
            )?;
            Ok(())
        })
    }

    fn for_each_chunk(&self, f: &mut dyn FnMut(ChunkRecord) -> MetaResult<()>) -> MetaResult<()> {
        self.scan(
            &format!("{CHUNK_SELECT} ORDER BY pack, pack_offset"),
            &mut |r| f(chunk_from(r)?),
        )
    }

    fn similar_chunks(&self, sketch: &Sketch, limit: usize) -> MetaResult<Vec<ChunkRecord>> {
        let f = sketch.0.map(|x| x as i64);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.auto(|c| {
            chunks_from(c.rows(
                "SELECT id, hash, raw_len, stored_len, codec, pack, pack_offset, refs, base
                 FROM chunks JOIN (
                    SELECT chunk, count(*) AS shared FROM (
                        SELECT chunk FROM chunk_sketches WHERE sf0 = $1
                        UNION ALL SELECT chunk FROM chunk_sketches WHERE sf1 = $2
                        UNION ALL SELECT chunk FROM chunk_sketches WHERE sf2 = $3
                    ) AS hits GROUP BY chunk ORDER BY shared DESC, chunk DESC LIMIT $4
                 ) AS s ON s.chunk = chunks.id
                 WHERE chunks.base IS NULL ORDER BY s.shared DESC, chunks.id DESC",
                &[&f[0], &f[1], &f[2], &limit],
            )?)
        })
    }

    fn chunk_sketch(&self, row: ChunkRow) -> MetaResult<Option<Sketch>> {
        self.auto(|c| {
            let Some(r) = c.opt(
                "SELECT sf0, sf1, sf2 FROM chunk_sketches WHERE chunk = $1",
                &[&row.0],
            )?
            else {
                return Ok(None);
            };
            let f = |i| r.try_get::<_, i64>(i).map(|x| x as u64);
            Ok(Some(Sketch([f(0)?, f(1)?, f(2)?])))
        })
    }

    fn stats(&self) -> MetaResult<MetaStats> {
        self.read(|c| {
            let mut s = MetaStats::default();
            // live nodes: walk down from every home root
            let r = c.one(
                "WITH RECURSIVE live(id) AS (SELECT root FROM homes UNION ALL SELECT n.id FROM nodes n JOIN live ON n.parent = live.id)
                 SELECT count(*) FILTER (WHERE n.kind = 1),
                        count(*) FILTER (WHERE n.kind = 0) - (SELECT count(*) FROM homes),
                        coalesce(sum(v.size), 0)::BIGINT
                 FROM live JOIN nodes n ON n.id = live.id LEFT JOIN versions v ON v.id = n.head",
                &[],
            )?;
            let (files, dirs, current): (i64, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            s.files = files as u64;
            s.dirs = dirs.max(0) as u64;
            s.current_bytes = current as u64;
            let r = c.one(
                "SELECT (SELECT count(*) FROM versions),
                        (SELECT coalesce(sum(size), 0)::BIGINT FROM versions),
                        (SELECT count(*) FROM trash)",
                &[],
            )?;
            s.versions = r.try_get::<_, i64>(0)? as u64;
            s.logical_bytes = r.try_get::<_, i64>(1)? as u64;
            s.trash_entries = r.try_get::<_, i64>(2)? as u64;
            let r = c.one(
                "SELECT count(*), coalesce(sum(raw_len), 0)::BIGINT, coalesce(sum(stored_len), 0)::BIGINT,
                        count(*) FILTER (WHERE base IS NOT NULL),
                        coalesce(sum(stored_len) FILTER (WHERE base IS NOT NULL), 0)::BIGINT,
                        coalesce(sum(whole_len) FILTER (WHERE base IS NOT NULL), 0)::BIGINT
                 FROM chunks",
                &[],
            )?;
            s.chunks = r.try_get::<_, i64>(0)? as u64;
            s.chunk_raw_bytes = r.try_get::<_, i64>(1)? as u64;
            s.chunk_stored_bytes = r.try_get::<_, i64>(2)? as u64;
            s.delta_chunks = r.try_get::<_, i64>(3)? as u64;
            s.delta_stored_bytes = r.try_get::<_, i64>(4)? as u64;
            s.delta_whole_bytes = r.try_get::<_, i64>(5)? as u64;
            Ok(s)
        })
    }

    fn chunks_with_codec(
        &self,
        codec: u8,
        after: ChunkRow,
        limit: usize,
    ) -> MetaResult<Vec<ChunkRecord>> {
        self.auto(|c| recode::chunks_with_codec(c, codec, after, limit))
    }

    fn count_chunks_with_codec(&self, codec: u8) -> MetaResult<u64> {
        self.auto(|c| recode::count_chunks_with_codec(c, codec))
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
        self.auto(|c| recode::is_base(c, row))
    }

    fn pack_read_days(&self) -> MetaResult<Vec<(PackId, i64)>> {
        self.auto(recode::pack_read_days)
    }

    fn record_pack_read_days(&self, days: &[(PackId, i64)]) -> MetaResult<()> {
        self.write(|tx| recode::record_pack_read_days(tx, days))
    }

    fn forget_pack_read_days(&self, packs: &[PackId]) -> MetaResult<()> {
        self.write(|tx| recode::forget_pack_read_days(tx, packs))
    }
}

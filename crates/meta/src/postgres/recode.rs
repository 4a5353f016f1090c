//! Cold recompression on PostgreSQL: the scan of chunks by codec, the swap of a chunk's
//! frame for a re-encoded one (with the depth-1 and reference rules of delta chunks), and
//! the packs' coarse last read days (`pack_reads`).

use super::conn::Db;
use super::rows::{CHUNK_SELECT, chunks_from, hash_from};
use crate::{ChunkRecord, ChunkRow, MetaResult, Recode, Sketch};
use nas_types::{ChunkId, PackId};

pub(super) fn chunks_with_codec(
    c: &Db<'_>,
    codec: u8,
    after: ChunkRow,
    limit: usize,
) -> MetaResult<Vec<ChunkRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    chunks_from(c.rows(
        &format!("{CHUNK_SELECT} WHERE id > $1 AND codec = $2 ORDER BY id LIMIT $3"),
        &[&after.0, &i64::from(codec), &limit],
    )?)
}

pub(super) fn count_chunks_with_codec(c: &Db<'_>, codec: u8) -> MetaResult<u64> {
    let n: i64 = c
        .one(
            "SELECT count(*) FROM chunks WHERE codec = $1",
            &[&i64::from(codec)],
        )?
        .try_get(0)?;
    Ok(n.max(0) as u64)
}

pub(super) fn is_base(c: &Db<'_>, row: ChunkRow) -> MetaResult<bool> {
    c.exists("SELECT 1 FROM chunks WHERE base = $1 LIMIT 1", &[&row.0])
}

/// Applies the recodes that still hold (see `ChunkIndex::recode`), in one transaction.
pub(super) fn recode(
    tx: &Db<'_>,
    recodes: &[Recode],
    busy: &dyn Fn(&ChunkId) -> bool,
) -> MetaResult<Vec<ChunkRow>> {
    let mut done = Vec::new();
    for r in recodes {
        let Some(at) = tx.opt(
            "SELECT hash, pack, pack_offset FROM chunks WHERE id = $1",
            &[&r.row.0],
        )?
        else {
            continue; // freed meanwhile
        };
        let (hash, pack, offset): (Vec<u8>, i64, i64) =
            (at.try_get(0)?, at.try_get(1)?, at.try_get(2)?);
        if pack as u64 != r.old.pack.0 || offset as u64 != r.old.offset {
            continue; // moved meanwhile: the new frame is dead space
        }
        let loc = (
            r.loc.pack.0 as i64,
            r.loc.offset as i64,
            i64::from(r.loc.len),
        );
        let codec = i64::from(r.codec);
        match &r.base {
            None => {
                tx.exec(
                    "UPDATE chunks SET codec = $1, pack = $2, pack_offset = $3, stored_len = $4 WHERE id = $5",
                    &[&codec, &loc.0, &loc.1, &loc.2, &r.row.0],
                )?;
            }
            Some(b) => {
                let id = ChunkId(hash_from(hash)?);
                if busy(&id) || is_base(tx, r.row)? {
                    continue; // a writer may be using it as a base, or a delta does
                }
                let Some(base) =
                    tx.opt("SELECT id, base FROM chunks WHERE hash = $1", &[&&b.0[..]])?
                else {
                    continue;
                };
                let (base_row, its_base): (i64, Option<i64>) = (base.try_get(0)?, base.try_get(1)?);
                if its_base.is_some() || base_row == r.row.0 {
                    continue; // depth 1
                }
                tx.exec(
                    "UPDATE chunks SET codec = $1, pack = $2, pack_offset = $3, stored_len = $4, base = $5,
                     whole_len = $6 WHERE id = $7",
                    &[
                        &codec,
                        &loc.0,
                        &loc.1,
                        &loc.2,
                        &base_row,
                        &i64::from(r.whole_len),
                        &r.row.0,
                    ],
                )?;
                tx.exec(
                    "UPDATE chunks SET refs = refs + 1 WHERE id = $1",
                    &[&base_row],
                )?;
                tx.exec("DELETE FROM chunk_sketches WHERE chunk = $1", &[&r.row.0])?;
            }
        }
        done.push(r.row);
    }
    Ok(done)
}

pub(super) fn add_sketches(tx: &Db<'_>, sketches: &[(ChunkRow, Sketch)]) -> MetaResult<()> {
    for (row, Sketch(f)) in sketches {
        tx.exec(
            "INSERT INTO chunk_sketches (chunk, sf0, sf1, sf2)
             SELECT id, $2, $3, $4 FROM chunks WHERE id = $1 AND base IS NULL
             ON CONFLICT DO NOTHING",
            &[&row.0, &(f[0] as i64), &(f[1] as i64), &(f[2] as i64)],
        )?;
    }
    Ok(())
}

pub(super) fn pack_read_days(c: &Db<'_>) -> MetaResult<Vec<(PackId, i64)>> {
    c.rows("SELECT pack, day FROM pack_reads", &[])?
        .iter()
        .map(|r| Ok((PackId(r.try_get::<_, i64>(0)? as u64), r.try_get(1)?)))
        .collect()
}

pub(super) fn record_pack_read_days(tx: &Db<'_>, days: &[(PackId, i64)]) -> MetaResult<()> {
    for (pack, day) in days {
        tx.exec(
            "INSERT INTO pack_reads (pack, day) VALUES ($1, $2)
             ON CONFLICT (pack) DO UPDATE SET day = GREATEST(pack_reads.day, excluded.day)",
            &[&(pack.0 as i64), day],
        )?;
    }
    Ok(())
}

pub(super) fn forget_pack_read_days(tx: &Db<'_>, packs: &[PackId]) -> MetaResult<()> {
    let packs: Vec<i64> = packs.iter().map(|p| p.0 as i64).collect();
    tx.exec("DELETE FROM pack_reads WHERE pack = ANY($1)", &[&packs])?;
    Ok(())
}

//! Cold recompression on SQLite: the scan of chunks by codec, the swap of a chunk's frame
//! for a re-encoded one (with the depth-1 and reference rules of delta chunks), and the
//! packs' coarse last read days (`pack_reads`, schema step 21).

use super::rows::{CHUNK_SELECT, chunk_from};
use crate::{ChunkRecord, ChunkRow, MetaResult, Recode, Sketch};
use nas_types::{ChunkId, PackId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub(super) fn chunks_with_codec(
    c: &Connection,
    codec: u8,
    after: ChunkRow,
    limit: usize,
) -> MetaResult<Vec<ChunkRecord>> {
    let mut st = c.prepare_cached(&format!(
        "{CHUNK_SELECT} WHERE id > ?1 AND codec = ?2 ORDER BY id LIMIT ?3"
    ))?;
    Ok(st
        .query_map(params![after.0, codec, limit as i64], chunk_from)?
        .collect::<Result<_, _>>()?)
}

pub(super) fn count_chunks_with_codec(c: &Connection, codec: u8) -> MetaResult<u64> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM chunks WHERE codec = ?1",
        [codec],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

pub(super) fn is_base(c: &Connection, row: ChunkRow) -> MetaResult<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM chunks WHERE base = ?1 LIMIT 1")?
            .exists([row.0])?,
    )
}

/// Applies the recodes that still hold (see `ChunkIndex::recode`), in one transaction.
pub(super) fn recode(
    tx: &Transaction<'_>,
    recodes: &[Recode],
    busy: &dyn Fn(&ChunkId) -> bool,
) -> MetaResult<Vec<ChunkRow>> {
    let mut at = tx.prepare_cached("SELECT hash, pack, offset FROM chunks WHERE id = ?1")?;
    let mut base_of = tx.prepare_cached("SELECT id, base FROM chunks WHERE hash = ?1")?;
    let mut set_whole = tx.prepare_cached(
        "UPDATE chunks SET codec = ?1, pack = ?2, offset = ?3, stored_len = ?4 WHERE id = ?5",
    )?;
    let mut set_delta = tx.prepare_cached(
        "UPDATE chunks SET codec = ?1, pack = ?2, offset = ?3, stored_len = ?4, base = ?5,
         whole_len = ?6 WHERE id = ?7",
    )?;
    let mut add_ref = tx.prepare_cached("UPDATE chunks SET refs = refs + 1 WHERE id = ?1")?;
    let mut unsketch = tx.prepare_cached("DELETE FROM chunk_sketches WHERE chunk = ?1")?;
    let mut done = Vec::new();
    for r in recodes {
        let Some((hash, pack, offset)) = at
            .query_row([r.row.0], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .optional()?
        else {
            continue; // freed meanwhile
        };
        if pack as u64 != r.old.pack.0 || offset as u64 != r.old.offset {
            continue; // moved meanwhile: the new frame is dead space
        }
        let loc = (r.loc.pack.0 as i64, r.loc.offset as i64, r.loc.len);
        match &r.base {
            None => {
                set_whole.execute(params![r.codec, loc.0, loc.1, loc.2, r.row.0])?;
            }
            Some(b) => {
                let id = ChunkId(super::rows::hash_from(hash)?);
                if busy(&id) || is_base(tx, r.row)? {
                    continue; // a writer may be using it as a base, or a delta does
                }
                let Some((base_row, its_base)) = base_of
                    .query_row([&b.0[..]], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, Option<i64>>(1)?))
                    })
                    .optional()?
                else {
                    continue;
                };
                if its_base.is_some() || base_row == r.row.0 {
                    continue; // depth 1
                }
                set_delta.execute(params![
                    r.codec,
                    loc.0,
                    loc.1,
                    loc.2,
                    base_row,
                    r.whole_len,
                    r.row.0
                ])?;
                add_ref.execute([base_row])?;
                unsketch.execute([r.row.0])?;
            }
        }
        done.push(r.row);
    }
    Ok(done)
}

pub(super) fn add_sketches(
    tx: &Transaction<'_>,
    sketches: &[(ChunkRow, Sketch)],
) -> MetaResult<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO chunk_sketches (chunk, sf0, sf1, sf2)
         SELECT id, ?2, ?3, ?4 FROM chunks WHERE id = ?1 AND base IS NULL",
    )?;
    for (row, Sketch(f)) in sketches {
        st.execute(params![row.0, f[0] as i64, f[1] as i64, f[2] as i64])?;
    }
    Ok(())
}

pub(super) fn pack_read_days(c: &Connection) -> MetaResult<Vec<(PackId, i64)>> {
    let mut st = c.prepare_cached("SELECT pack, day FROM pack_reads")?;
    Ok(st
        .query_map([], |r| Ok((PackId(r.get::<_, i64>(0)? as u64), r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

pub(super) fn record_pack_read_days(
    tx: &Transaction<'_>,
    days: &[(PackId, i64)],
) -> MetaResult<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO pack_reads (pack, day) VALUES (?1, ?2)
         ON CONFLICT(pack) DO UPDATE SET day = MAX(day, excluded.day)",
    )?;
    for (pack, day) in days {
        st.execute(params![pack.0 as i64, day])?;
    }
    Ok(())
}

pub(super) fn forget_pack_read_days(tx: &Transaction<'_>, packs: &[PackId]) -> MetaResult<()> {
    let mut st = tx.prepare_cached("DELETE FROM pack_reads WHERE pack = ?1")?;
    for p in packs {
        st.execute([p.0 as i64])?;
    }
    Ok(())
}

//! Pack placement on SQLite: where each sealed pack lives when the object-storage tier is
//! on (`pack_placement`, schema step 17; `last_read_ns` from step 18). One row per pack: a
//! local copy, a verified remote copy, its size and MD5, its coarse last read.
//! Written by `nas_blob::RemotePackStore` through [`PlacementLog`], never by a commit.
//! `updated_ns` is stamped with the database's clock, and a row is read with its age by
//! the same clock (GC's grace for packs with no index rows).

use super::SqliteMeta;
use crate::MetaError;
use nas_blob::{BlobError, Placement, PlacementLog};
use nas_types::PackId;

/// The columns of a placement, its age last (ns, by the database's clock).
const COLUMNS: &str = "pack, local, remote, size, md5, last_read_ns,
     CAST(unixepoch('subsec') * 1000000000 AS INTEGER) - updated_ns FROM pack_placement";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Placement> {
    Ok(Placement {
        pack: PackId(r.get::<_, i64>(0)? as u64),
        local: r.get(1)?,
        remote: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        md5: r.get(4)?,
        last_read_ns: r.get(5)?,
        age: Some(std::time::Duration::from_nanos(
            r.get::<_, i64>(6)?.max(0) as u64
        )),
    })
}

fn blob_err(e: MetaError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

impl PlacementLog for SqliteMeta {
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {COLUMNS}"))?;
            let rows = st.query_map([], row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .map_err(blob_err)
    }

    fn placement(&self, pack: PackId) -> Result<Option<Placement>, BlobError> {
        use rusqlite::OptionalExtension;
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {COLUMNS} WHERE pack = ?1"))?
                    .query_row([pack.0 as i64], row)
                    .optional()?,
            )
        })
        .map_err(blob_err)
    }

    fn set_placement(&self, p: &Placement) -> Result<(), BlobError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO pack_placement
                   (pack, local, remote, size, md5, updated_ns, last_read_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5,
                   CAST(unixepoch('subsec') * 1000000000 AS INTEGER), ?6)
                 ON CONFLICT(pack) DO UPDATE SET local = excluded.local,
                   remote = excluded.remote, size = excluded.size, md5 = excluded.md5,
                   updated_ns = excluded.updated_ns,
                   last_read_ns = MAX(last_read_ns, excluded.last_read_ns)",
                rusqlite::params![
                    p.pack.0 as i64,
                    p.local,
                    p.remote,
                    p.size as i64,
                    p.md5,
                    p.last_read_ns
                ],
            )?;
            Ok(())
        })
        .map_err(blob_err)
    }

    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM pack_placement WHERE pack = ?1",
                [pack.0 as i64],
            )?;
            Ok(())
        })
        .map_err(blob_err)
    }

    fn record_reads(&self, reads: &[(PackId, i64)]) -> Result<(), BlobError> {
        self.write(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE pack_placement SET last_read_ns = MAX(last_read_ns, ?2) WHERE pack = ?1",
            )?;
            for (pack, at) in reads {
                st.execute(rusqlite::params![pack.0 as i64, at])?;
            }
            Ok(())
        })
        .map_err(blob_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // the rest of the contract is the conformance suite's
    // (`placements_are_looked_up_one_at_a_time_with_their_age`)
    #[test]
    fn placements_survive_a_reopen() {
        let d = tempfile::tempdir().unwrap();
        let m = SqliteMeta::open(&d.path().join("m.sqlite")).unwrap();
        let p = Placement {
            pack: PackId(u64::MAX - 3),
            local: true,
            remote: true,
            size: 1234,
            md5: Some("00112233445566778899aabbccddeeff".into()),
            last_read_ns: 50,
            age: None,
        };
        m.set_placement(&p).unwrap();
        drop(m);
        let m = SqliteMeta::open(&d.path().join("m.sqlite")).unwrap();
        let mut got = m.placement(p.pack).unwrap().unwrap();
        assert!(got.age.is_some());
        got.age = None;
        assert_eq!(got, p);
    }
}

//! Pack placement on SQLite: where each sealed pack lives when the object-storage tier is
//! on (`pack_placement`, schema step 17; `last_read_ns` from step 18). One row per pack: a
//! local copy, a verified remote copy, its size and MD5, its coarse last read.
//! Written by `nas_blob::RemotePackStore` through [`PlacementLog`], never by a commit.

use super::SqliteMeta;
use crate::MetaError;
use nas_blob::{BlobError, Placement, PlacementLog};
use nas_types::PackId;

fn blob_err(e: MetaError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

impl PlacementLog for SqliteMeta {
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT pack, local, remote, size, md5, last_read_ns FROM pack_placement",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Placement {
                    pack: PackId(r.get::<_, i64>(0)? as u64),
                    local: r.get(1)?,
                    remote: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    md5: r.get(4)?,
                    last_read_ns: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .map_err(blob_err)
    }

    fn set_placement(&self, p: &Placement) -> Result<(), BlobError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO pack_placement
                   (pack, local, remote, size, md5, updated_ns, last_read_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
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
                    now,
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

    #[test]
    fn placements_are_set_replaced_listed_and_removed() {
        let d = tempfile::tempdir().unwrap();
        let m = SqliteMeta::open(&d.path().join("m.sqlite")).unwrap();
        let mut p = Placement {
            pack: PackId(u64::MAX - 3), // above i64::MAX: stored as its bit pattern
            local: true,
            remote: false,
            size: 1234,
            md5: None,
            last_read_ns: 50,
        };
        m.set_placement(&p).unwrap();
        assert_eq!(m.all_placements().unwrap(), vec![p.clone()]);
        p.remote = true;
        p.md5 = Some("00112233445566778899aabbccddeeff".into());
        m.set_placement(&p).unwrap();
        let q = Placement {
            pack: PackId(7),
            local: false,
            remote: true,
            size: 9,
            md5: None,
            last_read_ns: 7,
        };
        m.set_placement(&q).unwrap();
        drop(m);
        let m = SqliteMeta::open(&d.path().join("m.sqlite")).unwrap();
        let mut all = m.all_placements().unwrap();
        all.sort_by_key(|x| x.pack);
        assert_eq!(all, vec![q.clone(), p.clone()]);
        // reads move last_read_ns forward only; a later set never moves it back
        m.record_reads(&[(p.pack, 40), (q.pack, 70), (PackId(99), 1)])
            .unwrap();
        let mut q2 = q.clone();
        q2.last_read_ns = 0;
        m.set_placement(&q2).unwrap();
        let mut all = m.all_placements().unwrap();
        all.sort_by_key(|x| x.pack);
        assert_eq!((all[0].last_read_ns, all[1].last_read_ns), (70, 50));
        let q = all[0].clone();
        m.remove_placement(p.pack).unwrap();
        m.remove_placement(p.pack).unwrap();
        assert_eq!(m.all_placements().unwrap(), vec![q]);
    }
}

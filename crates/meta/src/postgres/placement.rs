//! Pack placement on PostgreSQL (`pack_placement`): where each sealed pack lives when the
//! object-storage tier is on. Written by `nas_blob::RemotePackStore` through
//! [`PlacementLog`], never by a commit. `updated_ns` is stamped with the database's
//! clock (`now_ns()`), and a row is read with its age by the same clock, so every node
//! measures GC's grace for packs the same way whatever its own clock says.

use super::PgMeta;
use crate::MetaError;
use nas_blob::{BlobError, Placement, PlacementLog};
use nas_types::PackId;

/// The columns of a placement, its age last (ns, by the database's clock).
const COLUMNS: &str =
    "pack, local, remote, size, md5, last_read_ns, now_ns() - updated_ns FROM pack_placement";

fn row(r: &tokio_postgres::Row) -> Result<Placement, MetaError> {
    Ok(Placement {
        pack: PackId(r.try_get::<_, i64>(0)? as u64),
        local: r.try_get(1)?,
        remote: r.try_get(2)?,
        size: r.try_get::<_, i64>(3)? as u64,
        md5: r.try_get(4)?,
        last_read_ns: r.try_get(5)?,
        age: Some(std::time::Duration::from_nanos(
            r.try_get::<_, i64>(6)?.max(0) as u64,
        )),
    })
}

fn blob_err(e: MetaError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

impl PlacementLog for PgMeta {
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError> {
        self.auto(|c| {
            c.rows(&format!("SELECT {COLUMNS}"), &[])?
                .iter()
                .map(row)
                .collect()
        })
        .map_err(blob_err)
    }

    fn placement(&self, pack: PackId) -> Result<Option<Placement>, BlobError> {
        self.auto(|c| {
            c.opt(
                &format!("SELECT {COLUMNS} WHERE pack = $1"),
                &[&(pack.0 as i64)],
            )?
            .as_ref()
            .map(row)
            .transpose()
        })
        .map_err(blob_err)
    }

    fn set_placement(&self, p: &Placement) -> Result<(), BlobError> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO pack_placement
                   (pack, local, remote, size, md5, updated_ns, last_read_ns)
                 VALUES ($1, $2, $3, $4, $5, now_ns(), $6)
                 ON CONFLICT (pack) DO UPDATE SET local = excluded.local,
                   remote = excluded.remote, size = excluded.size, md5 = excluded.md5,
                   updated_ns = excluded.updated_ns,
                   last_read_ns = GREATEST(pack_placement.last_read_ns, excluded.last_read_ns)",
                &[
                    &(p.pack.0 as i64),
                    &p.local,
                    &p.remote,
                    &(p.size as i64),
                    &p.md5,
                    &p.last_read_ns,
                ],
            )?;
            Ok(())
        })
        .map_err(blob_err)
    }

    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError> {
        self.write(|tx| {
            tx.exec(
                "DELETE FROM pack_placement WHERE pack = $1",
                &[&(pack.0 as i64)],
            )?;
            Ok(())
        })
        .map_err(blob_err)
    }

    fn record_reads(&self, reads: &[(PackId, i64)]) -> Result<(), BlobError> {
        let packs: Vec<i64> = reads.iter().map(|r| r.0.0 as i64).collect();
        let at: Vec<i64> = reads.iter().map(|r| r.1).collect();
        self.write(|tx| {
            tx.exec(
                "UPDATE pack_placement SET last_read_ns = GREATEST(last_read_ns, r.at)
                 FROM unnest($1::BIGINT[], $2::BIGINT[]) AS r(pack, at)
                 WHERE pack_placement.pack = r.pack",
                &[&packs, &at],
            )?;
            Ok(())
        })
        .map_err(blob_err)
    }
}

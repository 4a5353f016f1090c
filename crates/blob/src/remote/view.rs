//! The pack view: which packs exist and where, as this store answers reads and listings.
//! One process alone (the single-node default) keeps the placement table in memory,
//! written through to the log. Several processes sharing one log (a read-only process
//! beside the writer; in cluster mode the nodes, `RemoteConfig::shared`) each see packs
//! the others recorded: a pack the copy in memory does not know is looked up in the log
//! (one row, [`PlacementLog::placement`](super::PlacementLog::placement)) — nothing
//! negative is remembered, so a pack recorded a moment later is found at the next miss —
//! and a shared log is listed from the database for GC, fsck and the mover, each row
//! with its age by the database's clock (GC's grace for packs with no index rows).

use super::{Placement, RemotePackStore};
use crate::{BlobError, BlobStore, PackInfo};
use nas_types::PackId;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

impl RemotePackStore {
    /// The verified remote size of `pack`. When other processes write the placement log
    /// (a reader beside the writing process; a node of a cluster) and the copy in memory
    /// knows of none, the pack's row is read from the log (another process may have
    /// uploaded it since); a pack without one is asked about again at the next miss. A
    /// log that cannot be read is [`BlobError::Unavailable`] (the database is down: the
    /// read may succeed later, it is not damage).
    pub(crate) fn remote_size_checked(&self, pack: PackId) -> Result<Option<u64>, BlobError> {
        let p = &self.shared.placements;
        if let Some(size) = p.remote_size(pack) {
            return Ok(Some(size));
        }
        if !self.lookup_misses {
            return Ok(None);
        }
        p.refresh(pack).map_err(|e| {
            BlobError::Unavailable(format!(
                "the placement of pack {pack} could not be read: {e}"
            ))
        })
    }

    /// [`remote_size_checked`](Self::remote_size_checked), a failed lookup taken as "no
    /// remote copy known" (and logged).
    pub(crate) fn remote_size(&self, pack: PackId) -> Option<u64> {
        self.remote_size_checked(pack).unwrap_or_else(|e| {
            tracing::warn!(pack = %pack, error = %e, "placement lookup failed");
            None
        })
    }

    /// Every placement row: from the log when it is shared (other nodes record packs
    /// too), with each row's age; else the copy in memory, without ages (every pack is
    /// this process's own).
    pub(crate) fn placement_rows(&self) -> Result<Vec<Placement>, BlobError> {
        if self.list_from_log {
            return self.shared.placements.all_from_log();
        }
        let mut rows = self.shared.placements.all();
        for r in &mut rows {
            r.age = None;
        }
        Ok(rows)
    }

    /// [`BlobStore::packs`]: the local packs, and the packs only in the object store
    /// (from the log when it is shared), each with its age — the younger of its file's
    /// and its placement's.
    pub(crate) fn pack_listing(&self) -> Result<Vec<PackInfo>, BlobError> {
        let rows = self.placement_rows()?;
        let mut out = self.shared.local.packs()?;
        let ages: HashMap<PackId, Duration> =
            rows.iter().filter_map(|p| Some((p.pack, p.age?))).collect();
        for info in &mut out {
            if let Some(&a) = ages.get(&info.id) {
                info.age = Some(info.age.map_or(a, |l| l.min(a)));
            }
        }
        let here: HashSet<PackId> = out.iter().map(|p| p.id).collect();
        out.extend(
            rows.into_iter()
                .filter(|p| p.remote && !here.contains(&p.pack))
                .map(|p| PackInfo {
                    id: p.pack,
                    size: p.size,
                    active: false,
                    age: p.age,
                }),
        );
        out.sort_by_key(|p| p.id);
        Ok(out)
    }
}

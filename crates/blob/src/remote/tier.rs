//! How the object store answered lately ([`Health`]: degraded after a failed request
//! until one succeeds), and what the engine's mover needs of the tier: each pack's coarse last read, noted by the
//! read path and written to the placement log in batches, a listing of packs with their
//! places, sizes and last reads ([`BlobStore::tier_packs`](crate::BlobStore::tier_packs)),
//! and an eviction that checks the remote copy is still there before the local copy goes.
//!
//! Cost on the read path: one clock read and one short lock of the placements in memory
//! per frame; a pack becomes due for a record at most once per `read_mark_interval`
//! (default one hour), and the records are written by the upload worker while it is idle
//! (once a minute at most) or by the mover before it plans, never by the reading thread.

use super::placement::lock;
use super::{RemotePackStore, Shared};
use crate::{BlobError, BlobStore, TierPack};
use nas_types::PackId;
use std::collections::HashMap;

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The object store's recent answers.
#[derive(Debug, Default)]
pub(crate) struct Health {
    degraded: bool,
    last_error: Option<(String, std::time::Instant)>,
}

impl Shared {
    /// A request to the object store failed (after the client's retries).
    pub(crate) fn failed(&self, e: &dyn std::fmt::Display) {
        let mut h = lock(&self.health);
        h.degraded = true;
        h.last_error = Some((e.to_string(), std::time::Instant::now()));
    }

    /// A request to the object store succeeded.
    pub(crate) fn succeeded(&self) {
        let mut h = lock(&self.health);
        if h.degraded {
            h.degraded = false;
            tracing::info!("the object store answers again");
        }
    }

    /// The health part of the tier's status.
    pub(crate) fn health_status(&self) -> crate::RemoteStatus {
        let h = lock(&self.health);
        crate::RemoteStatus {
            degraded: h.degraded,
            last_error: h.last_error.as_ref().map(|(e, _)| e.clone()),
            last_error_secs: h.last_error.as_ref().map(|(_, at)| at.elapsed().as_secs()),
            ..crate::RemoteStatus::default()
        }
    }

    /// Notes a read of `pack` (recorded later, at most once per `read_mark_ns`).
    pub(crate) fn note_read(&self, pack: PackId) {
        let now = now_ns();
        if self.placements.mark_read(pack, now, self.read_mark_ns) {
            lock(&self.reads).push((pack, now));
        }
    }

    /// Writes the noted reads to the placement log (kept for the next try if it fails).
    pub(crate) fn flush_reads(&self) {
        let batch = std::mem::take(&mut *lock(&self.reads));
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.placements.record_reads(&batch) {
            tracing::warn!(error = %e, packs = batch.len(), "pack reads not recorded; retrying later");
            lock(&self.reads).extend(batch);
        }
    }
}

impl RemotePackStore {
    /// Every pack with its places, size and last read (the noted reads written first).
    pub(crate) fn tier_listing(&self) -> Result<Vec<TierPack>, BlobError> {
        if !self.reader {
            self.shared.flush_reads();
        }
        let placed: HashMap<PackId, _> = self
            .placement_rows()?
            .into_iter()
            .map(|p| (p.pack, p))
            .collect();
        let mut out = Vec::new();
        let mut here = std::collections::HashSet::new();
        for info in self.shared.local.packs()? {
            here.insert(info.id);
            let p = placed.get(&info.id);
            out.push(TierPack {
                id: info.id,
                size: info.size,
                local: true,
                remote: p.is_some_and(|p| p.remote),
                active: info.active,
                last_read_ns: p.map_or_else(now_ns, |p| p.last_read_ns),
            });
        }
        for p in placed
            .values()
            .filter(|p| p.remote && !here.contains(&p.pack))
        {
            out.push(TierPack {
                id: p.pack,
                size: p.size,
                local: false,
                remote: true,
                active: false,
                last_read_ns: p.last_read_ns,
            });
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    /// `evict_local`: drops the local copy of a sealed pack only while its verified remote
    /// copy is recorded **and** the object is still there with the recorded size (one
    /// HEAD). An object found missing is recorded as not remote and queued for upload
    /// again; the local copy stays. The row is changed before the file goes, so a crash in
    /// between leaves a local copy that reads still use (the next eviction removes it).
    pub(crate) fn evict_verified(&self, pack: PackId) -> Result<bool, BlobError> {
        if self.reader {
            return Ok(false);
        }
        let shared = &self.shared;
        let _busy = lock(&shared.upload_lock);
        let Some(mut p) = shared.placements.get(pack).filter(|p| p.remote) else {
            return Ok(false); // never without a verified remote copy
        };
        if shared.local.active_pack() == Some(pack) {
            return Ok(false);
        }
        let here = shared.local.has_pack(pack);
        if here {
            match shared.client.head(pack) {
                Ok(info) if info.size == p.size => {}
                Ok(_) | Err(super::RemoteError::NotFound(_)) => {
                    tracing::error!(pack = %pack,
                        "the remote copy of a pack is gone or changed; kept locally, uploading it again");
                    p.remote = false;
                    p.md5 = None;
                    shared.placements.set(p)?;
                    lock(&shared.queue).push_back(pack);
                    shared.queue_cv.notify_all();
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let was_local = p.local || here;
        if p.local {
            p.local = false;
            shared.placements.set(p)?;
        }
        shared.local.delete_pack(pack)?;
        Ok(was_local && here)
    }
}

#[cfg(test)]
mod tests {
    use super::super::placement::Placements;
    use crate::{MemoryPlacements, Placement, PlacementLog};
    use nas_types::PackId;
    use std::sync::Arc;

    #[test]
    fn a_read_is_due_once_per_interval_and_the_log_keeps_the_latest() {
        let log = Arc::new(MemoryPlacements::default());
        log.set_placement(&Placement {
            pack: PackId(1),
            local: true,
            remote: true,
            size: 10,
            md5: None,
            last_read_ns: 100,
            age: None,
        })
        .unwrap();
        let p = Placements::load(log.clone()).unwrap();
        assert!(!p.mark_read(PackId(2), 1_000, 50), "no row: never due");
        assert!(p.mark_read(PackId(1), 1_000, 50));
        assert!(!p.mark_read(PackId(1), 1_040, 50), "within the interval");
        assert!(p.mark_read(PackId(1), 1_050, 50));
        p.record_reads(&[(PackId(1), 1_050), (PackId(1), 900), (PackId(2), 5)])
            .unwrap();
        let all = log.all_placements().unwrap();
        assert_eq!((all.len(), all[0].last_read_ns), (1, 1_050));
        // a later set with an older last read never moves it back
        let mut q = p.get(PackId(1)).unwrap();
        q.last_read_ns = 0;
        p.set(q).unwrap();
        assert_eq!(log.all_placements().unwrap()[0].last_read_ns, 1_050);
    }
}

//! Where each sealed pack lives: on the local disk, in the object store, or both. The
//! durable record is a [`PlacementLog`] (the metadata database's `pack_placement` table in
//! the server; [`MemoryPlacements`] in tests); [`Placements`] is the store's copy of it in
//! memory, written through on every change.
//!
//! In cluster mode (several nodes sharing one log, [`RemoteConfig::shared`]) the copy in
//! memory is only a hint: a pack it does not know is looked up in the log
//! ([`PlacementLog::placement`], one row), nothing negative is remembered, and listings
//! (GC, fsck, the mover) come from the log.
//!
//! [`RemoteConfig::shared`]: crate::RemoteConfig::shared
//!
//! Rules kept here: a pack is `remote` only once its uploaded object was **verified** (size,
//! and the MD5 when the server's ETag is one); the local copy of a pack is dropped only
//! while it is `remote`.

use crate::BlobError;
use nas_types::PackId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Where one sealed pack lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The pack.
    pub pack: PackId,
    /// A local copy exists.
    pub local: bool,
    /// A verified copy exists in the object store.
    pub remote: bool,
    /// Bytes of the pack (of the uploaded object once `remote`).
    pub size: u64,
    /// Hex MD5 of the uploaded object (`None` before the upload).
    pub md5: Option<String>,
    /// When a frame of the pack was last read (ns since the epoch; the time it was sealed
    /// until then). Coarse: recorded at most once per pack per
    /// [`RemoteConfig::read_mark_interval`](crate::RemoteConfig::read_mark_interval), in
    /// batches; a log keeps the larger of the stored and the given value.
    pub last_read_ns: i64,
    /// How long ago the row was last written, by the log's own clock (the database's, so
    /// that nodes with skewed clocks agree), as read from a log; `None` in a value given
    /// to [`PlacementLog::set_placement`], which stamps the time itself. GC's grace for
    /// packs with no index rows is measured with it.
    pub age: Option<std::time::Duration>,
}

/// The durable record of placements.
///
/// Contract: `set` replaces the pack's row (inserting it), stamps it with the log's clock
/// and is durable when it returns; `remove` forgets the pack (a missing row is fine);
/// `all` lists every row and `placement` reads one, each with its age.
pub trait PlacementLog: Send + Sync {
    /// Every recorded placement.
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError>;
    /// One pack's placement (`None`: no row). A node sharing the log with others asks
    /// this when a pack is not where its copy in memory says.
    fn placement(&self, pack: PackId) -> Result<Option<Placement>, BlobError>;
    /// Records (or replaces) one pack's placement.
    fn set_placement(&self, p: &Placement) -> Result<(), BlobError>;
    /// Forgets a pack (deleted everywhere).
    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError>;
    /// Records reads of packs: each pack's `last_read_ns` becomes the larger of the stored
    /// value and the given one (packs without a row are skipped). One batch, one write.
    fn record_reads(&self, reads: &[(PackId, i64)]) -> Result<(), BlobError>;
}

/// A [`PlacementLog`] in memory (tests; a store whose placements need not survive).
#[derive(Debug, Default)]
pub struct MemoryPlacements(Mutex<HashMap<PackId, (Placement, std::time::Instant)>>);

fn aged((p, at): &(Placement, std::time::Instant)) -> Placement {
    Placement {
        age: Some(at.elapsed()),
        ..p.clone()
    }
}

impl PlacementLog for MemoryPlacements {
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError> {
        Ok(lock(&self.0).values().map(aged).collect())
    }
    fn placement(&self, pack: PackId) -> Result<Option<Placement>, BlobError> {
        Ok(lock(&self.0).get(&pack).map(aged))
    }
    fn set_placement(&self, p: &Placement) -> Result<(), BlobError> {
        let mut m = lock(&self.0);
        let last_read_ns = m.get(&p.pack).map_or(p.last_read_ns, |(old, _)| {
            old.last_read_ns.max(p.last_read_ns)
        });
        let row = Placement {
            last_read_ns,
            age: None,
            ..p.clone()
        };
        m.insert(p.pack, (row, std::time::Instant::now()));
        Ok(())
    }
    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError> {
        lock(&self.0).remove(&pack);
        Ok(())
    }
    fn record_reads(&self, reads: &[(PackId, i64)]) -> Result<(), BlobError> {
        let mut m = lock(&self.0);
        for (pack, at) in reads {
            if let Some((p, _)) = m.get_mut(pack) {
                p.last_read_ns = p.last_read_ns.max(*at);
            }
        }
        Ok(())
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The placements in memory, written through to the log.
pub(crate) struct Placements {
    log: std::sync::Arc<dyn PlacementLog>,
    map: Mutex<HashMap<PackId, Placement>>,
}

/// Counts of packs by where they live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlacementCounts {
    /// Sealed packs only on the local disk (their upload is pending).
    pub local_only: u64,
    /// Packs only in the object store.
    pub remote_only: u64,
    /// Packs in both places.
    pub both: u64,
}

impl Placements {
    pub(crate) fn load(log: std::sync::Arc<dyn PlacementLog>) -> Result<Placements, BlobError> {
        let map = log
            .all_placements()?
            .into_iter()
            .map(|p| (p.pack, p))
            .collect();
        Ok(Placements {
            log,
            map: Mutex::new(map),
        })
    }

    pub(crate) fn get(&self, pack: PackId) -> Option<Placement> {
        lock(&self.map).get(&pack).cloned()
    }

    /// Reads `pack`'s row from the log into memory (another node, or the writing process,
    /// may have recorded or uploaded it since): its verified remote size, if any. Nothing
    /// negative is remembered, so the next miss asks again; a row read before a write of
    /// this process never replaces that write's verified remote copy in memory.
    pub(crate) fn refresh(&self, pack: PackId) -> Result<Option<u64>, BlobError> {
        let Some(mut p) = self.log.placement(pack)? else {
            return Ok(None);
        };
        let mut m = lock(&self.map);
        if let Some(old) = m.get(&pack) {
            if old.remote && !p.remote {
                return Ok(Some(old.size));
            }
            p.last_read_ns = p.last_read_ns.max(old.last_read_ns);
        }
        let size = p.remote.then_some(p.size);
        m.insert(pack, p);
        Ok(size)
    }

    /// Drops `pack` from memory only (its object was found gone: another node's GC
    /// deleted it), leaving the log alone.
    pub(crate) fn forget(&self, pack: PackId) {
        lock(&self.map).remove(&pack);
    }

    /// Every row, read from the log now (cluster mode: other nodes write it too).
    pub(crate) fn all_from_log(&self) -> Result<Vec<Placement>, BlobError> {
        self.log.all_placements()
    }

    /// The verified remote size of `pack`, if it has a verified remote copy.
    pub(crate) fn remote_size(&self, pack: PackId) -> Option<u64> {
        lock(&self.map)
            .get(&pack)
            .filter(|p| p.remote)
            .map(|p| p.size)
    }

    /// Writes `p` (its `last_read_ns` never goes back: the larger of the old and new).
    pub(crate) fn set(&self, mut p: Placement) -> Result<(), BlobError> {
        if let Some(old) = self.get(p.pack) {
            p.last_read_ns = p.last_read_ns.max(old.last_read_ns);
        }
        self.log.set_placement(&p)?;
        lock(&self.map).insert(p.pack, p);
        Ok(())
    }

    pub(crate) fn remove(&self, pack: PackId) -> Result<(), BlobError> {
        self.log.remove_placement(pack)?;
        lock(&self.map).remove(&pack);
        Ok(())
    }

    /// Notes a read of `pack` at `now`: true when it is due to be recorded (its last
    /// recorded read is at least `every` old; the copy in memory is moved on at once, so a
    /// pack is due at most once per `every`). A pack without a row (active) is never due.
    pub(crate) fn mark_read(&self, pack: PackId, now: i64, every: i64) -> bool {
        let mut m = lock(&self.map);
        match m.get_mut(&pack) {
            Some(p) if now.saturating_sub(p.last_read_ns) >= every => {
                p.last_read_ns = now;
                true
            }
            _ => false,
        }
    }

    /// Writes noted reads to the log.
    pub(crate) fn record_reads(&self, reads: &[(PackId, i64)]) -> Result<(), BlobError> {
        self.log.record_reads(reads)
    }

    pub(crate) fn all(&self) -> Vec<Placement> {
        lock(&self.map).values().cloned().collect()
    }

    pub(crate) fn counts(&self) -> PlacementCounts {
        let mut c = PlacementCounts::default();
        for p in lock(&self.map).values() {
            match (p.local, p.remote) {
                (true, true) => c.both += 1,
                (true, false) => c.local_only += 1,
                (false, true) => c.remote_only += 1,
                (false, false) => {}
            }
        }
        c
    }
}

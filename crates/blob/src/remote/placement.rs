//! Where each sealed pack lives: on the local disk, in the object store, or both. The
//! durable record is a [`PlacementLog`] (the metadata database's `pack_placement` table in
//! the server; [`MemoryPlacements`] in tests); [`Placements`] is the store's copy of it in
//! memory, written through on every change.
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
}

/// The durable record of placements.
///
/// Contract: `set` replaces the pack's row (inserting it) and is durable when it returns;
/// `remove` forgets the pack (a missing row is fine); `all` lists every row.
pub trait PlacementLog: Send + Sync {
    /// Every recorded placement.
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError>;
    /// Records (or replaces) one pack's placement.
    fn set_placement(&self, p: &Placement) -> Result<(), BlobError>;
    /// Forgets a pack (deleted everywhere).
    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError>;
}

/// A [`PlacementLog`] in memory (tests; a store whose placements need not survive).
#[derive(Debug, Default)]
pub struct MemoryPlacements(Mutex<HashMap<PackId, Placement>>);

impl PlacementLog for MemoryPlacements {
    fn all_placements(&self) -> Result<Vec<Placement>, BlobError> {
        Ok(lock(&self.0).values().cloned().collect())
    }
    fn set_placement(&self, p: &Placement) -> Result<(), BlobError> {
        lock(&self.0).insert(p.pack, p.clone());
        Ok(())
    }
    fn remove_placement(&self, pack: PackId) -> Result<(), BlobError> {
        lock(&self.0).remove(&pack);
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

    /// Reads the log again (a reader beside the writing process).
    pub(crate) fn reload(&self) -> Result<(), BlobError> {
        let fresh = self
            .log
            .all_placements()?
            .into_iter()
            .map(|p| (p.pack, p))
            .collect();
        *lock(&self.map) = fresh;
        Ok(())
    }

    pub(crate) fn get(&self, pack: PackId) -> Option<Placement> {
        lock(&self.map).get(&pack).cloned()
    }

    /// The verified remote size of `pack`, if it has a verified remote copy.
    pub(crate) fn remote_size(&self, pack: PackId) -> Option<u64> {
        lock(&self.map)
            .get(&pack)
            .filter(|p| p.remote)
            .map(|p| p.size)
    }

    pub(crate) fn set(&self, p: Placement) -> Result<(), BlobError> {
        self.log.set_placement(&p)?;
        lock(&self.map).insert(p.pack, p);
        Ok(())
    }

    pub(crate) fn remove(&self, pack: PackId) -> Result<(), BlobError> {
        self.log.remove_placement(pack)?;
        lock(&self.map).remove(&pack);
        Ok(())
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

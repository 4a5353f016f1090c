//! Pins: what a write in flight relies on, which GC must not free.
//!
//! - A **chunk pin** is taken *before* the writer looks a chunk up for dedup, and held until
//!   its commit (or abort). GC deletes index rows only while holding the pin lock and skips
//!   pinned ids, so a pin taken before GC's delete transaction protects the row, and a pin
//!   taken after it sees the row already gone (and the writer stores the chunk anew).
//! - A **pack pin** covers frames a writer appended but has not committed yet: they have no
//!   index row, so without the pin their pack would look dead. The append and the pin
//!   happen under the pin lock, and GC checks pack pins under the same lock right before it
//!   deletes a pack, so no uncommitted frame is ever in a pack GC removes.
//!
//! The pin set and its lock belong to the store's [`Coordinator`] (in memory in one
//! process today; leases in the shared database in cluster mode): [`Pins`] is the
//! engine's handle on them.

use crate::coord::{Coordinator, PinSection};
use nas_types::{ChunkId, PackId};
use std::sync::Arc;

/// The engine's handle on the coordinator's pins.
pub struct Pins {
    coord: Arc<dyn Coordinator>,
}

impl Pins {
    /// Pins of `coord`.
    pub fn new(coord: Arc<dyn Coordinator>) -> Pins {
        Pins { coord }
    }

    /// Pins one chunk id.
    pub fn pin(&self, id: ChunkId) {
        self.coord.pin_chunks(&mut std::iter::once(&id));
    }

    /// Pins many chunk ids, growing the set once for all of them.
    pub fn pin_many<'a>(&self, ids: impl ExactSizeIterator<Item = &'a ChunkId>) {
        let mut ids = ids;
        self.coord.pin_chunks(&mut ids);
    }

    /// Releases the pins one writer took.
    pub fn unpin_all<'a>(&self, ids: impl IntoIterator<Item = &'a ChunkId>, packs: &[PackId]) {
        self.coord.unpin(&mut ids.into_iter(), packs);
    }

    /// Runs `f` with the pin lock held.
    pub fn locked<T>(&self, f: impl FnOnce(&mut dyn PinSection) -> T) -> T {
        let mut section = self.coord.pin_section();
        f(&mut *section)
    }
}

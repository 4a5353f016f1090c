//! Pins: chunks a write in flight relies on, which GC must not free.
//!
//! A writer pins a chunk id *before* it looks the chunk up for dedup and unpins after its
//! commit (or abort). GC deletes index rows only while holding the pin lock and skips
//! pinned ids, so a pin taken before GC's delete transaction protects the row, and a pin
//! taken after it sees the row already gone (and writes the chunk anew).

use nas_types::ChunkId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The set of pinned chunk ids with counts.
#[derive(Default)]
pub struct Pins {
    map: Mutex<HashMap<ChunkId, u32>>,
}

impl Pins {
    fn guard(&self) -> MutexGuard<'_, HashMap<ChunkId, u32>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins one id.
    pub fn pin(&self, id: ChunkId) {
        *self.guard().entry(id).or_default() += 1;
    }

    /// Releases pins taken by one writer.
    pub fn unpin_all(&self, ids: &[ChunkId]) {
        let mut m = self.guard();
        for id in ids {
            if let Some(n) = m.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    m.remove(id);
                }
            }
        }
    }

    /// Runs `f` with the pin set frozen; `f` sees whether an id is pinned.
    pub fn while_frozen<T>(&self, f: impl FnOnce(&dyn Fn(&ChunkId) -> bool) -> T) -> T {
        let m = self.guard();
        f(&|id| m.contains_key(id))
    }
}

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

use nas_types::{ChunkId, PackId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Pinned chunk ids and pack ids, with counts.
#[derive(Default)]
pub struct PinSet {
    chunks: HashMap<ChunkId, u32>,
    packs: HashMap<PackId, u32>,
}

fn add<K: Hash + Eq>(m: &mut HashMap<K, u32>, k: K) {
    *m.entry(k).or_default() += 1;
}

fn remove<K: Hash + Eq>(m: &mut HashMap<K, u32>, k: &K) {
    if let Some(n) = m.get_mut(k) {
        *n -= 1;
        if *n == 0 {
            m.remove(k);
        }
    }
}

impl PinSet {
    /// Pins a pack (call while holding the lock that covered the append).
    pub fn pin_pack(&mut self, pack: PackId) {
        add(&mut self.packs, pack);
    }
    /// Whether a chunk is pinned.
    pub fn chunk_pinned(&self, id: &ChunkId) -> bool {
        self.chunks.contains_key(id)
    }
    /// Whether a pack holds uncommitted frames.
    pub fn pack_pinned(&self, pack: PackId) -> bool {
        self.packs.contains_key(&pack)
    }
}

/// The pin lock and its set.
#[derive(Default)]
pub struct Pins {
    set: Mutex<PinSet>,
}

impl Pins {
    fn guard(&self) -> MutexGuard<'_, PinSet> {
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins one chunk id.
    pub fn pin(&self, id: ChunkId) {
        add(&mut self.guard().chunks, id);
    }

    /// Pins many chunk ids, growing the set once for all of them.
    pub fn pin_many<'a>(&self, ids: impl ExactSizeIterator<Item = &'a ChunkId>) {
        let mut s = self.guard();
        s.chunks.reserve(ids.len());
        for id in ids {
            add(&mut s.chunks, *id);
        }
    }

    /// Releases the pins one writer took. A set left mostly empty by a big write (a
    /// multipart completion pins every chunk of the object) gives its memory back.
    pub fn unpin_all<'a>(&self, ids: impl IntoIterator<Item = &'a ChunkId>, packs: &[PackId]) {
        let mut s = self.guard();
        for id in ids {
            remove(&mut s.chunks, id);
        }
        for p in packs {
            remove(&mut s.packs, p);
        }
        if s.chunks.capacity() > 4096 && s.chunks.len() < s.chunks.capacity() / 8 {
            let keep = s.chunks.len() * 2;
            s.chunks.shrink_to(keep);
        }
    }

    /// Runs `f` with the pin set locked.
    pub fn locked<T>(&self, f: impl FnOnce(&mut PinSet) -> T) -> T {
        f(&mut self.guard())
    }
}

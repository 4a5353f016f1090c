//! A bounded LRU cache of decoded chunk plaintexts, keyed by content id (a chunk's content
//! never changes, so an entry is never stale — even after compaction moves its frame). It
//! holds the bases that delta chunks are decoded against: a sequential read of a file
//! whose chunks are deltas against the same few bases decodes each base once.

use nas_types::ChunkId;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of a cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheCounters {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to decode.
    pub misses: u64,
    /// Entries dropped to stay within the bound.
    pub evictions: u64,
    /// Bytes held now.
    pub bytes: u64,
}

struct State {
    map: HashMap<ChunkId, (Arc<Vec<u8>>, u64)>,
    /// Entries by last use (tick → id): the first is the least recently used.
    order: BTreeMap<u64, ChunkId>,
    bytes: u64,
    tick: u64,
}

/// The cache. At most `cap` bytes of plaintext (an entry larger than that is not kept).
pub(crate) struct PlainCache {
    cap: u64,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl PlainCache {
    pub(crate) fn new(cap: u64) -> PlainCache {
        PlainCache {
            cap,
            state: Mutex::new(State {
                map: HashMap::new(),
                order: BTreeMap::new(),
                bytes: 0,
                tick: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The plaintext of `id`, if cached (it becomes the most recently used).
    pub(crate) fn get(&self, id: &ChunkId) -> Option<Arc<Vec<u8>>> {
        let mut s = self.state();
        s.tick += 1;
        let tick = s.tick;
        let found = match s.map.get_mut(id) {
            Some((data, used)) => {
                let old = std::mem::replace(used, tick);
                Some((data.clone(), old))
            }
            None => None,
        };
        match found {
            Some((data, old)) => {
                s.order.remove(&old);
                s.order.insert(tick, *id);
                drop(s);
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(data)
            }
            None => {
                drop(s);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Keeps the (verified) plaintext of `id`, dropping the least recently used entries
    /// beyond the bound.
    pub(crate) fn insert(&self, id: ChunkId, data: Arc<Vec<u8>>) {
        let len = data.len() as u64;
        if len > self.cap {
            return;
        }
        let mut s = self.state();
        s.tick += 1;
        let tick = s.tick;
        if let Some((old, used)) = s.map.insert(id, (data, tick)) {
            s.bytes -= old.len() as u64;
            s.order.remove(&used);
        }
        s.order.insert(tick, id);
        s.bytes += len;
        let mut evicted = 0;
        while s.bytes > self.cap {
            let Some((_, victim)) = s.order.pop_first() else {
                break;
            };
            if let Some((d, _)) = s.map.remove(&victim) {
                s.bytes -= d.len() as u64;
                evicted += 1;
            }
        }
        drop(s);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    pub(crate) fn counters(&self) -> CacheCounters {
        CacheCounters {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            bytes: self.state().bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ChunkId {
        ChunkId::of(&[n])
    }

    #[test]
    fn keeps_the_most_recently_used_within_its_bound() {
        let c = PlainCache::new(300);
        for n in 0..3 {
            c.insert(id(n), Arc::new(vec![n; 100]));
        }
        assert!(c.get(&id(0)).is_some()); // 0 is now newer than 1 and 2
        c.insert(id(3), Arc::new(vec![3; 100]));
        assert!(c.get(&id(1)).is_none(), "the least recently used went");
        assert_eq!(c.get(&id(0)).unwrap()[0], 0);
        assert!(c.get(&id(2)).is_some() && c.get(&id(3)).is_some());
        c.insert(id(9), Arc::new(vec![9; 301])); // larger than the whole cache: not kept
        assert!(c.get(&id(9)).is_none());
        let k = c.counters();
        assert_eq!((k.hits, k.misses, k.evictions, k.bytes), (4, 2, 1, 300));
    }
}

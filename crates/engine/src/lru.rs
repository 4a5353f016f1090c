//! [`Lru`]: a bounded least-recently-used map, the one shape of every in-memory cache the
//! engine keeps (decoded delta bases, a version's extent list, chunk records). Each entry
//! has a weight given when it is kept (bytes, or 1 to count entries); the least recently
//! used entries go once the weights pass the bound. A cache only ever holds what cannot
//! become wrong, or what its user checks before trusting (see each user's docs), so an
//! entry is never stale in a way a reader could see.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of a cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheCounters {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to go to the source.
    pub misses: u64,
    /// Entries dropped to stay within the bound.
    pub evictions: u64,
    /// Weight held now (bytes, or entries for a cache counting entries).
    pub bytes: u64,
}

struct State<K, V> {
    map: HashMap<K, (V, u64, u64)>,
    /// Entries by last use (tick → key): the first is the least recently used.
    order: BTreeMap<u64, K>,
    weight: u64,
    tick: u64,
}

/// The cache: at most `cap` of weight (an entry heavier than that is not kept).
pub(crate) struct Lru<K, V> {
    cap: u64,
    state: Mutex<State<K, V>>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub(crate) fn new(cap: u64) -> Lru<K, V> {
        Lru {
            cap,
            state: Mutex::new(State {
                map: HashMap::new(),
                order: BTreeMap::new(),
                weight: 0,
                tick: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The bound.
    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<K, V>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value of `key`, if cached (it becomes the most recently used).
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.get_if(key, |_| true)
    }

    /// The value of `key`, if cached and `fresh` says it may still be used; one it refuses
    /// is dropped (a miss).
    pub(crate) fn get_if(&self, key: &K, fresh: impl FnOnce(&V) -> bool) -> Option<V> {
        if self.cap == 0 {
            return None;
        }
        let mut s = self.state();
        s.tick += 1;
        let tick = s.tick;
        if s.map.get(key).is_some_and(|(v, _, _)| !fresh(v))
            && let Some((_, used, w)) = s.map.remove(key)
        {
            s.weight -= w;
            s.order.remove(&used);
        }
        let found = match s.map.get_mut(key) {
            Some((value, used, _)) => {
                let old = std::mem::replace(used, tick);
                Some((value.clone(), old))
            }
            None => None,
        };
        match found {
            Some((value, old)) => {
                s.order.remove(&old);
                s.order.insert(tick, key.clone());
                drop(s);
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(value)
            }
            None => {
                drop(s);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Keeps `value` under `key` with `weight`, dropping the least recently used entries
    /// beyond the bound.
    pub(crate) fn insert(&self, key: K, value: V, weight: u64) {
        self.insert_if(key, value, weight, || true);
    }

    /// [`insert`](Lru::insert), if `still` says so once the cache's lock is held.
    pub(crate) fn insert_if(&self, key: K, value: V, weight: u64, still: impl FnOnce() -> bool) {
        if weight > self.cap {
            return;
        }
        let mut s = self.state();
        if !still() {
            return;
        }
        s.tick += 1;
        let tick = s.tick;
        if let Some((_, used, w)) = s.map.insert(key.clone(), (value, tick, weight)) {
            s.weight -= w;
            s.order.remove(&used);
        }
        s.order.insert(tick, key);
        s.weight += weight;
        let mut evicted = 0;
        while s.weight > self.cap {
            let Some((_, victim)) = s.order.pop_first() else {
                break;
            };
            if let Some((_, _, w)) = s.map.remove(&victim) {
                s.weight -= w;
                evicted += 1;
            }
        }
        drop(s);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    /// Drops `key`'s entry, if any (not counted as an eviction).
    pub(crate) fn remove(&self, key: &K) {
        let mut s = self.state();
        if let Some((_, used, w)) = s.map.remove(key) {
            s.weight -= w;
            s.order.remove(&used);
        }
    }

    /// Drops every entry (not counted as evictions).
    pub(crate) fn clear(&self) {
        let mut s = self.state();
        s.map.clear();
        s.order.clear();
        s.weight = 0;
    }

    pub(crate) fn counters(&self) -> CacheCounters {
        CacheCounters {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            bytes: self.state().weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_types::ChunkId;
    use std::sync::Arc;

    fn id(n: u8) -> ChunkId {
        ChunkId::of(&[n])
    }

    #[test]
    fn keeps_the_most_recently_used_within_its_bound() {
        let c = Lru::<ChunkId, Arc<Vec<u8>>>::new(300);
        for n in 0..3 {
            c.insert(id(n), Arc::new(vec![n; 100]), 100);
        }
        assert!(c.get(&id(0)).is_some()); // 0 is now newer than 1 and 2
        c.insert(id(3), Arc::new(vec![3; 100]), 100);
        assert!(c.get(&id(1)).is_none(), "the least recently used went");
        assert_eq!(c.get(&id(0)).unwrap()[0], 0);
        assert!(c.get(&id(2)).is_some() && c.get(&id(3)).is_some());
        c.insert(id(9), Arc::new(vec![9; 301]), 301); // larger than the whole cache: not kept
        assert!(c.get(&id(9)).is_none());
        let k = c.counters();
        assert_eq!((k.hits, k.misses, k.evictions, k.bytes), (4, 2, 1, 300));
    }

    #[test]
    fn a_removed_entry_is_gone_and_its_weight_given_back() {
        let c = Lru::<u32, &str>::new(10);
        c.insert(1, "one", 4);
        c.insert(2, "two", 4);
        c.remove(&1);
        assert_eq!(c.get(&1), None);
        assert_eq!(c.counters().bytes, 4);
        c.insert(3, "three", 6); // fits beside 2 now that 1 is gone
        assert_eq!((c.get(&2), c.get(&3)), (Some("two"), Some("three")));
        assert_eq!(c.counters().evictions, 0);
    }
}

//! [`BlockCache`]: recently read ranges of remote packs, in memory, bounded in bytes.
//!
//! A remote pack is read in aligned blocks ([`RemoteConfig::block_size`]); a block is
//! fetched once however many readers want it (the others wait for the same fetch), kept
//! in a least-recently-used list up to the cache's size, and a reader going forward
//! through a pack (it just read the block before) gets the next
//! [`RemoteConfig::read_ahead`] blocks fetched concurrently ahead of it, so a cold
//! sequential read streams at the object store's speed rather than one round trip at a
//! time. A miss outside such a run fetches the block after it too (one block of
//! read-ahead), so a reader starting on a pack waits for one round trip, not two.
//!
//! [`RemoteConfig::block_size`]: super::RemoteConfig::block_size
//! [`RemoteConfig::read_ahead`]: super::RemoteConfig::read_ahead

use super::client::{ObjectClient, RemoteError};
use super::placement::lock;
use bytes::Bytes;
use nas_types::PackId;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

type Key = (PackId, u64);
type Fetched = Result<Bytes, String>;

/// A fetch under way: its result, once there.
#[derive(Default)]
struct Pending {
    done: Mutex<Option<Fetched>>,
    cv: Condvar,
}

impl Pending {
    fn wait(&self) -> Fetched {
        let mut g = lock(&self.done);
        loop {
            if let Some(r) = g.as_ref() {
                return r.clone();
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

enum Slot {
    Ready { data: Bytes, tick: u64 },
    Loading(Arc<Pending>),
}

#[derive(Default)]
struct Inner {
    slots: HashMap<Key, Slot>,
    lru: BTreeMap<u64, Key>,
    tick: u64,
    bytes: u64,
}

/// Counters of the cache (read by the metrics).
#[derive(Debug, Default)]
pub(crate) struct CacheCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub fetched_bytes: AtomicU64,
}

/// Blocks of remote packs in memory.
pub(crate) struct BlockCache {
    inner: Arc<Mutex<Inner>>,
    capacity: u64,
    block: u64,
    ahead: u64,
    pub(crate) counters: Arc<CacheCounters>,
}

impl BlockCache {
    pub(crate) fn new(capacity: u64, block: u64, ahead: u32) -> BlockCache {
        let block = block.max(64 << 10);
        BlockCache {
            inner: Arc::default(),
            // at least the blocks one sequential reader has in flight
            capacity: capacity.max(block * (u64::from(ahead) + 2)),
            block,
            ahead: u64::from(ahead),
            counters: Arc::default(),
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        lock(&self.inner).bytes
    }

    /// Reads `len` bytes at `offset` of `pack`, whose remote object is `size` bytes.
    pub(crate) fn read(
        &self,
        client: &ObjectClient,
        pack: PackId,
        size: u64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, RemoteError> {
        let end = offset + len;
        let mut out = Vec::with_capacity(len as usize);
        let mut b = offset / self.block;
        while b * self.block < end {
            let data = self.block_of(client, pack, size, b)?;
            let start = b * self.block;
            let from = (offset.max(start) - start) as usize;
            let to = ((end.min(start + self.block) - start) as usize).min(data.len());
            if from > to {
                break;
            }
            out.extend_from_slice(&data[from..to]);
            b += 1;
        }
        Ok(out)
    }

    /// One block, from the cache or fetched (starting read-ahead when the reader goes
    /// forward).
    fn block_of(
        &self,
        client: &ObjectClient,
        pack: PackId,
        size: u64,
        b: u64,
    ) -> Result<Bytes, RemoteError> {
        let pending = {
            let mut g = lock(&self.inner);
            // going forward through the pack (the block before is here or on its way)
            let sequential = b > 0 && g.slots.contains_key(&(pack, b - 1));
            let hit = match g.slots.get(&(pack, b)) {
                Some(Slot::Ready { data, tick }) => Some((data.clone(), *tick)),
                _ => None,
            };
            if let Some((data, old)) = hit {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                touch(&mut g, (pack, b), old);
                drop(g);
                if sequential {
                    self.ahead_of(client, pack, size, b);
                }
                return Ok(data);
            }
            let p = match g.slots.get(&(pack, b)) {
                Some(Slot::Loading(p)) => p.clone(),
                _ => {
                    self.counters.misses.fetch_add(1, Ordering::Relaxed);
                    let p = self.start(&mut g, client, pack, size, b);
                    // a first read of a pack also starts the next block: a reader that
                    // goes on finds it under way (then full read-ahead), a small read
                    // costs one block more
                    let next = (pack, b + 1);
                    if !sequential && (b + 1) * self.block < size && !g.slots.contains_key(&next) {
                        self.start(&mut g, client, pack, size, b + 1);
                    }
                    p
                }
            };
            drop(g);
            if sequential {
                self.ahead_of(client, pack, size, b);
            }
            p
        };
        pending.wait().map_err(|e| {
            if e.contains("not found") {
                RemoteError::NotFound(format!("pack {pack}"))
            } else {
                RemoteError::Other(e)
            }
        })
    }

    /// Starts fetching the blocks after `b` that are neither here nor on their way.
    fn ahead_of(&self, client: &ObjectClient, pack: PackId, size: u64, b: u64) {
        let mut g = lock(&self.inner);
        for n in b + 1..=b + self.ahead {
            if n * self.block >= size {
                break;
            }
            if !g.slots.contains_key(&(pack, n)) {
                self.start(&mut g, client, pack, size, n);
            }
        }
    }

    /// Registers a fetch of block `b` and starts it on the client's runtime.
    fn start(
        &self,
        g: &mut Inner,
        client: &ObjectClient,
        pack: PackId,
        size: u64,
        b: u64,
    ) -> Arc<Pending> {
        let p = Arc::new(Pending::default());
        g.slots.insert((pack, b), Slot::Loading(p.clone()));
        let start = b * self.block;
        let end = (start + self.block).min(size);
        let fut = client.get_range_fut(pack, start..end.max(start), client.read_timeout());
        let (inner, pending, cap) = (self.inner.clone(), p.clone(), self.capacity);
        let counters = self.counters.clone();
        // the result is stored by the task itself, so a read-ahead nobody waits for still
        // lands in the cache
        drop(client.spawn(async move {
            let r = fut.await.map_err(|e| e.to_string());
            if let Ok(d) = &r {
                counters
                    .fetched_bytes
                    .fetch_add(d.len() as u64, Ordering::Relaxed);
            }
            complete(&inner, (pack, b), &r, cap);
            *lock(&pending.done) = Some(r);
            pending.cv.notify_all();
        }));
        p
    }

    /// Forgets every block of `pack` (deleted).
    pub(crate) fn forget(&self, pack: PackId) {
        let mut g = lock(&self.inner);
        let keys: Vec<Key> = g.slots.keys().filter(|k| k.0 == pack).copied().collect();
        for k in keys {
            if let Some(Slot::Ready { data, tick }) = g.slots.remove(&k) {
                g.bytes -= data.len() as u64;
                g.lru.remove(&tick);
            }
        }
    }
}

fn touch(g: &mut Inner, key: Key, old: u64) {
    g.lru.remove(&old);
    g.tick += 1;
    let t = g.tick;
    g.lru.insert(t, key);
    if let Some(Slot::Ready { tick, .. }) = g.slots.get_mut(&key) {
        *tick = t;
    }
}

/// Stores a finished fetch (a failed one is forgotten, so the next reader tries again) and
/// evicts the least recently used blocks beyond the capacity.
fn complete(inner: &Mutex<Inner>, key: Key, r: &Fetched, capacity: u64) {
    let mut g = lock(inner);
    match r {
        Ok(data) if matches!(g.slots.get(&key), Some(Slot::Loading(_))) => {
            g.tick += 1;
            let tick = g.tick;
            g.bytes += data.len() as u64;
            g.lru.insert(tick, key);
            g.slots.insert(
                key,
                Slot::Ready {
                    data: data.clone(),
                    tick,
                },
            );
            while g.bytes > capacity {
                let Some((_, old)) = g.lru.pop_first() else {
                    break;
                };
                if let Some(Slot::Ready { data, .. }) = g.slots.remove(&old) {
                    g.bytes -= data.len() as u64;
                }
            }
        }
        Ok(_) => {} // forgotten meanwhile (the pack was deleted)
        Err(_) => {
            g.slots.remove(&key);
        }
    }
}

//! [`RemotePackStore`]: packs on S3-compatible object storage, with the local disk in front.
//!
//! Frames are appended to local packs exactly as [`LocalPackStore`] does, so a commit is
//! acknowledged when its data is durable **locally** (the `sync` contract is the local
//! store's). A pack that is no longer appended to (it filled up, was sealed, or belonged
//! to an earlier run) is *sealed*: the upload worker ([`upload`]) uploads it as one
//! immutable object (`PREFIX/packs/<id>.pack`), verifies it and records it as `remote` in
//! the placement table ([`placement`]). A read is served from the local pack when it is
//! here and from the object store otherwise (ranged GETs through [`cache`]); a local read
//! that fails for any reason (a missing or truncated pack, an I/O error) falls back to a
//! verified remote copy. `evict_local` drops the local copy of a pack whose remote copy
//! is verified (and still there: [`tier`]); the engine's mover calls it by policy, after
//! reading [`BlobStore::tier_packs`] (each pack's size, places and coarse last read, noted
//! by the read path and written in batches). GC's `delete_pack` deletes the remote object
//! too. In cluster mode ([`RemoteConfig::shared`]: several nodes, one placement log) a
//! pack missing from this store's placements in memory is looked up in the log, and
//! listings come from the log. Design: `docs/design/object-storage.md`.

mod archive;
mod cache;
mod client;
mod config;
pub(crate) mod placement;
mod repair;
mod tier;
mod upload;
mod view;

pub use archive::{ArchivedObject, RemoteArchive};
pub use client::RemoteError;
pub use config::{DEFAULT_BLOCK_SIZE, DEFAULT_CACHE_SIZE, RemoteConfig};
pub use placement::{MemoryPlacements, Placement, PlacementCounts, PlacementLog};

use crate::{
    BlobError, BlobLocation, BlobStore, LocalPackStore, PACK_MAGIC, PackInfo, Space, TierPack,
};
use cache::BlockCache;
use client::ObjectClient;
use nas_types::{ChunkId, PackId};
use placement::{Placements, lock};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
pub(crate) use tier::now_ns;

/// Counters of the remote tier since the store was opened.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packs_uploaded: AtomicU64,
    pub bytes_uploaded: AtomicU64,
    pub upload_errors: AtomicU64,
    pub remote_reads: AtomicU64,
    pub remote_read_bytes: AtomicU64,
    pub repairs: AtomicU64,
    pub unrepairable: AtomicU64,
}

/// What the remote tier is doing (for metrics and `tier status`; no credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteStatus {
    /// `s3://bucket/prefix`.
    pub url: String,
    /// Sealed packs waiting for their upload (or being uploaded).
    pub upload_queue: u64,
    /// Packs uploaded and verified since start.
    pub packs_uploaded: u64,
    /// Bytes of those packs.
    pub bytes_uploaded: u64,
    /// Failed upload attempts since start (each is retried).
    pub upload_errors: u64,
    /// Frames read from the object store (not found locally).
    pub remote_reads: u64,
    /// Bytes of those frames.
    pub remote_read_bytes: u64,
    /// Damaged local frames replaced by their verified remote copy.
    pub repairs: u64,
    /// Damaged frames whose remote copy did not verify either.
    pub unrepairable: u64,
    /// Block reads served by the cache.
    pub cache_hits: u64,
    /// Block reads that had to fetch.
    pub cache_misses: u64,
    /// Bytes fetched by ranged GETs.
    pub fetched_bytes: u64,
    /// Bytes the cache holds now.
    pub cache_bytes: u64,
    /// Packs by where they live.
    pub placement: PlacementCounts,
    /// The last request to the object store (an upload, a read) failed, and none has
    /// succeeded since: new data stays local (the upload queue grows), reads of packs not
    /// on the local disk fail with [`BlobError::Unavailable`].
    pub degraded: bool,
    /// The last failure of a request to the object store (never credentials).
    pub last_error: Option<String>,
    /// Seconds since that failure.
    pub last_error_secs: Option<u64>,
}

/// State shared with the upload worker.
pub(crate) struct Shared {
    pub local: LocalPackStore,
    pub client: Arc<ObjectClient>,
    pub placements: Placements,
    pub queue: Mutex<VecDeque<PackId>>,
    pub queue_cv: Condvar,
    /// An upload taken from the queue is under way (set and cleared under the queue lock).
    pub busy: AtomicBool,
    pub stop: AtomicBool,
    /// Held for one pack's upload and record, and by `delete_pack` and `evict_local`.
    pub upload_lock: Mutex<()>,
    pub counters: Counters,
    /// Reads noted by the read path, not written to the placement log yet.
    pub reads: Mutex<Vec<(PackId, i64)>>,
    /// A pack's read is recorded at most once per this many ns.
    pub read_mark_ns: i64,
    /// How the object store answered lately.
    pub health: Mutex<tier::Health>,
}

/// Local packs in front of an object store (see the module docs).
pub struct RemotePackStore {
    shared: Arc<Shared>,
    cache: BlockCache,
    url: String,
    /// Packs appended to in this run and not queued yet.
    seen: Mutex<HashSet<PackId>>,
    /// The pack of the last append (a fast path around `seen`).
    last: AtomicU64,
    /// Opened by [`RemotePackStore::open_reader`]: no uploads, no placement writes.
    reader: bool,
    /// `sync` returns only once what it made durable is uploaded ([`RemoteConfig::ack_remote`]).
    ack_remote: bool,
    /// Other processes write the placement log ([`RemoteConfig::shared`], or a reader):
    /// a pack missing from memory is looked up in the log.
    lookup_misses: bool,
    /// Listings (GC, fsck, the mover) read the log, not memory ([`RemoteConfig::shared`]).
    list_from_log: bool,
}

impl RemotePackStore {
    /// Puts `local` in front of the object store `cfg` names, with placements recorded in
    /// `log`. Every local pack without a verified remote copy is queued for upload (none
    /// is active at open: the previous run's last pack is sealed now), and the upload
    /// worker starts.
    pub fn open(
        local: LocalPackStore,
        cfg: &RemoteConfig,
        log: Arc<dyn PlacementLog>,
    ) -> Result<RemotePackStore, BlobError> {
        RemotePackStore::start(local, cfg, log, false)
    }

    /// For a store opened read-only beside the process that writes it: reads fall back to
    /// the object store as [`open`](RemotePackStore::open)'s do (placements are re-read
    /// from `log` when a pack is not where they said), but nothing is uploaded, evicted,
    /// deleted or recorded.
    pub fn open_reader(
        local: LocalPackStore,
        cfg: &RemoteConfig,
        log: Arc<dyn PlacementLog>,
    ) -> Result<RemotePackStore, BlobError> {
        RemotePackStore::start(local, cfg, log, true)
    }

    fn start(
        local: LocalPackStore,
        cfg: &RemoteConfig,
        log: Arc<dyn PlacementLog>,
        reader: bool,
    ) -> Result<RemotePackStore, BlobError> {
        let client = Arc::new(ObjectClient::new(cfg)?);
        let placements = Placements::load(log)?;
        let pending: VecDeque<PackId> = if reader {
            VecDeque::new()
        } else {
            local
                .packs()?
                .into_iter()
                .filter(|p| !placements.get(p.id).is_some_and(|pl| pl.remote))
                .map(|p| p.id)
                .collect()
        };
        let shared = Arc::new(Shared {
            local,
            client,
            placements,
            queue: Mutex::new(pending),
            queue_cv: Condvar::new(),
            busy: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            upload_lock: Mutex::new(()),
            counters: Counters::default(),
            reads: Mutex::new(Vec::new()),
            read_mark_ns: i64::try_from(cfg.read_mark_interval.as_nanos()).unwrap_or(i64::MAX),
            health: Mutex::new(tier::Health::default()),
        });
        if !reader {
            let worker = shared.clone();
            std::thread::Builder::new()
                .name("nas-upload".into())
                .spawn(move || upload::run(worker))?;
        }
        Ok(RemotePackStore {
            shared,
            cache: BlockCache::new(cfg.cache_size, cfg.block_size, cfg.read_ahead),
            url: cfg.url(),
            seen: Mutex::new(HashSet::new()),
            last: AtomicU64::new(u64::MAX),
            reader,
            ack_remote: cfg.ack_remote && !reader,
            lookup_misses: cfg.shared || reader,
            list_from_log: cfg.shared,
        })
    }

    /// Notes that `pack` got a frame in this run.
    fn note(&self, pack: PackId) {
        if self.last.swap(pack.0, Ordering::Relaxed) != pack.0 {
            lock(&self.seen).insert(pack);
        }
    }

    /// Queues the packs of this run that are no longer appended to, and returns them.
    fn queue_sealed(&self) -> Vec<PackId> {
        let active = self.shared.local.active_pack();
        let sealed: Vec<PackId> = {
            let mut seen = lock(&self.seen);
            let sealed = seen
                .iter()
                .copied()
                .filter(|p| Some(*p) != active)
                .collect();
            seen.retain(|p| Some(*p) == active);
            sealed
        };
        if !sealed.is_empty() {
            self.last.store(u64::MAX, Ordering::Relaxed);
            lock(&self.shared.queue).extend(sealed.iter().copied());
            self.shared.queue_cv.notify_all();
        }
        sealed
    }

    /// With `ack_remote`, after the local `sync`: seals the active pack if this run wrote
    /// to it, and uploads every pack written since the last sync before returning (the
    /// background worker skips what is already remote). A failed upload fails the sync,
    /// so the commit waiting on it is not acknowledged; the packs stay queued.
    fn sync_remote(&self) -> Result<(), BlobError> {
        let active = self.shared.local.active_pack();
        if active.is_some_and(|a| lock(&self.seen).contains(&a)) {
            self.shared.local.seal()?;
        }
        for pack in self.queue_sealed() {
            if let Err(e) = upload::upload_one(&self.shared, pack) {
                self.shared.failed(&e);
                return Err(match e {
                    BlobError::Unavailable(_) => e,
                    other => BlobError::Unavailable(format!(
                        "pack {pack} could not be stored in the object store: {other}"
                    )),
                });
            }
            self.shared.succeeded();
        }
        Ok(())
    }

    /// Waits until every sealed pack is uploaded (the queue is empty and no upload runs),
    /// at most `timeout`; true when it is. For tests, benchmarks and shutdown.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            {
                let q = lock(&self.shared.queue);
                if q.is_empty() && !self.shared.busy.load(Ordering::Acquire) {
                    return true;
                }
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads a frame from the object store.
    fn read_remote(&self, loc: &BlobLocation, size: u64) -> Result<Vec<u8>, BlobError> {
        if loc.offset + u64::from(loc.len) > size {
            return Err(BlobError::Missing {
                pack: loc.pack,
                offset: loc.offset,
                reason: "frame lies past the end of its pack",
            });
        }
        let data = self
            .cache
            .read(
                &self.shared.client,
                loc.pack,
                size,
                loc.offset,
                u64::from(loc.len),
            )
            .map_err(|e| match e {
                RemoteError::NotFound(_) => {
                    // deleted by another node's GC (its frames moved to a newer pack): the
                    // engine looks the chunk up again; the next miss reads the log
                    if self.lookup_misses {
                        self.shared.placements.forget(loc.pack);
                    }
                    BlobError::Missing {
                        pack: loc.pack,
                        offset: loc.offset,
                        reason: "pack object not found in the object store",
                    }
                }
                e => {
                    self.shared.failed(&e);
                    e.into()
                }
            })?;
        self.shared.succeeded();
        let c = &self.shared.counters;
        c.remote_reads.fetch_add(1, Ordering::Relaxed);
        c.remote_read_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data)
    }
}

impl Drop for RemotePackStore {
    fn drop(&mut self) {
        // the worker finishes the upload it is doing (if any) and exits; not joined, so a
        // store dropped on an async thread never waits for the network
        self.shared.stop.store(true, Ordering::Release);
        self.shared.queue_cv.notify_all();
    }
}

/// Records of a whole pack's bytes (as [`LocalPackStore`]'s `records` reads a file).
fn parse_records(pack: PackId, data: &[u8]) -> Vec<(ChunkId, BlobLocation)> {
    let mut out = Vec::new();
    let mut pos = PACK_MAGIC.len();
    while pos + crate::RECORD_HEADER_LEN as usize <= data.len() {
        let h = &data[pos..pos + crate::RECORD_HEADER_LEN as usize];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let Some(id) = ChunkId::from_slice(&h[4..]) else {
            break;
        };
        let offset = pos + crate::RECORD_HEADER_LEN as usize;
        if offset + len as usize > data.len() {
            break;
        }
        out.push((
            id,
            BlobLocation {
                pack,
                offset: offset as u64,
                len,
            },
        ));
        pos = offset + len as usize;
    }
    out
}

impl BlobStore for RemotePackStore {
    fn pack_size(&self) -> Option<u64> {
        self.shared.local.pack_size()
    }

    fn append_parts(&self, id: &ChunkId, parts: &[&[u8]]) -> Result<BlobLocation, BlobError> {
        let loc = self.shared.local.append_parts(id, parts)?;
        self.note(loc.pack);
        Ok(loc)
    }

    fn append_for_gc(&self, id: &ChunkId, frame: &[u8]) -> Result<BlobLocation, BlobError> {
        let loc = self.shared.local.append_for_gc(id, frame)?;
        self.note(loc.pack);
        Ok(loc)
    }

    fn sync(&self) -> Result<(), BlobError> {
        self.shared.local.sync()?;
        if self.ack_remote {
            return self.sync_remote();
        }
        self.queue_sealed();
        Ok(())
    }

    fn is_failed(&self, pack: PackId) -> bool {
        self.shared.local.is_failed(pack)
    }

    fn is_full(&self, pack: PackId) -> bool {
        self.shared.local.is_full(pack)
    }

    fn failed_packs(&self) -> usize {
        self.shared.local.failed_packs()
    }

    fn space(&self) -> Option<Space> {
        self.shared.local.space()
    }

    fn read(&self, loc: &BlobLocation) -> Result<Vec<u8>, BlobError> {
        let r = match self.shared.local.read(loc) {
            Ok(v) => Ok(v),
            Err(e) => match self.remote_size_checked(loc.pack)? {
                Some(size) => self.read_remote(loc, size),
                None => Err(e),
            },
        };
        if r.is_ok() && !self.reader {
            self.shared.note_read(loc.pack);
        }
        r
    }

    /// Local packs only: a pack that lives only in the object store always waits.
    fn read_cached(&self, loc: &BlobLocation) -> Result<Option<Vec<u8>>, BlobError> {
        let r = self.shared.local.read_cached(loc).unwrap_or(None);
        if r.is_some() && !self.reader {
            self.shared.note_read(loc.pack);
        }
        Ok(r)
    }

    fn packs(&self) -> Result<Vec<PackInfo>, BlobError> {
        self.pack_listing()
    }

    fn delete_pack(&self, pack: PackId) -> Result<(), BlobError> {
        if self.reader {
            return Err(BlobError::Io(std::io::Error::other("opened read-only")));
        }
        if self.shared.local.active_pack() == Some(pack) {
            return self.shared.local.delete_pack(pack); // refused
        }
        let _busy = lock(&self.shared.upload_lock);
        // the object first: while it may exist, the pack stays listed and GC tries again
        self.shared.client.delete(pack)?;
        self.shared.local.delete_pack(pack)?;
        self.shared.placements.remove(pack)?;
        self.cache.forget(pack);
        lock(&self.shared.queue).retain(|p| *p != pack);
        lock(&self.seen).remove(&pack);
        Ok(())
    }

    fn active_pack(&self) -> Option<PackId> {
        self.shared.local.active_pack()
    }

    // trim_pack: the default (nothing). A sealed pack may already be uploaded; cutting
    // the local copy would make the two differ. GC's compaction reclaims the space.

    fn seal(&self) -> Result<(), BlobError> {
        self.shared.local.seal()?;
        let _ = self.queue_sealed();
        Ok(())
    }

    fn records(&self, pack: PackId) -> Result<Vec<(ChunkId, BlobLocation)>, BlobError> {
        match self.shared.local.records(pack) {
            Ok(r) => Ok(r),
            Err(e) => match self.remote_size_checked(pack)? {
                Some(size) => {
                    let data = self
                        .cache
                        .read(&self.shared.client, pack, size, 0, size)
                        .map_err(BlobError::from)?;
                    Ok(parse_records(pack, &data))
                }
                None => Err(e),
            },
        }
    }

    fn remote_status(&self) -> Option<RemoteStatus> {
        let c = &self.shared.counters;
        let cc = &self.cache.counters;
        Some(RemoteStatus {
            url: self.url.clone(),
            upload_queue: {
                let q = lock(&self.shared.queue);
                q.len() as u64 + u64::from(self.shared.busy.load(Ordering::Acquire))
            },
            packs_uploaded: c.packs_uploaded.load(Ordering::Relaxed),
            bytes_uploaded: c.bytes_uploaded.load(Ordering::Relaxed),
            upload_errors: c.upload_errors.load(Ordering::Relaxed),
            remote_reads: c.remote_reads.load(Ordering::Relaxed),
            remote_read_bytes: c.remote_read_bytes.load(Ordering::Relaxed),
            repairs: c.repairs.load(Ordering::Relaxed),
            unrepairable: c.unrepairable.load(Ordering::Relaxed),
            cache_hits: cc.hits.load(Ordering::Relaxed),
            cache_misses: cc.misses.load(Ordering::Relaxed),
            fetched_bytes: cc.fetched_bytes.load(Ordering::Relaxed),
            cache_bytes: self.cache.bytes(),
            placement: self.shared.placements.counts(),
            ..self.shared.health_status()
        })
    }

    fn wait_uploaded(&self, timeout: Duration) -> bool {
        self.wait_idle(timeout)
    }

    fn repair_frame(
        &self,
        loc: &BlobLocation,
        verify: &dyn Fn(&[u8]) -> bool,
        context: &str,
    ) -> Option<Result<Vec<u8>, BlobError>> {
        let size = self.remote_size(loc.pack)?;
        let c = &self.shared.counters;
        let frame = match self.read_remote(loc, size) {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        if !verify(&frame) {
            c.unrepairable.fetch_add(1, Ordering::Relaxed);
            tracing::error!(pack = %loc.pack, offset = loc.offset, what = context,
                "damaged frame: the remote copy does not verify either");
            return Some(Err(BlobError::Io(std::io::Error::other(
                "the remote copy of the frame does not verify either",
            ))));
        }
        // put the verified bytes back (a reader's store only serves them)
        let rewritten = !self.reader && self.shared.local.rewrite_frame(loc, &frame).is_ok();
        c.repairs.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(pack = %loc.pack, offset = loc.offset, what = context, rewritten,
            "damaged frame repaired from the remote copy");
        Some(Ok(frame))
    }

    fn evict_local(&self, pack: PackId) -> Result<bool, BlobError> {
        self.evict_verified(pack)
    }

    fn tier_packs(&self) -> Result<Vec<TierPack>, BlobError> {
        self.tier_listing()
    }

    fn has_tier(&self) -> bool {
        true
    }

    fn is_remote_only(&self, pack: PackId) -> bool {
        !self.shared.local.has_pack(pack) && self.remote_size(pack).is_some()
    }

    fn repair_packs(&self) -> Result<Vec<crate::PackRepair>, BlobError> {
        self.repair_local_packs()
    }

    fn archive(&self) -> Option<RemoteArchive> {
        Some(RemoteArchive::sharing(self.shared.client.clone()))
    }
}

//! Chunk storage for Silent-NAS: where chunk frames live, and nothing about what they mean.
//!
//! [`BlobStore`] is the seam: local disk ([`LocalPackStore`]), and S3-compatible object
//! storage with the local disk in front ([`RemotePackStore`]: sealed packs uploaded as
//! immutable objects, placements recorded through a [`PlacementLog`]). Frames are appended to **pack files** (decided by measurement, see
//! `docs/design/on-disk-format.md`): one fsync per commit instead of one per chunk, and a
//! few large files instead of millions of small ones. The metadata store records where each
//! chunk lives ([`BlobLocation`]); a frame without a metadata row is dead space that GC
//! reclaims by compacting packs.
//!
//! ```
//! use nas_blob::{BlobStore, LocalPackStore};
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalPackStore::open(dir.path(), 1 << 20).unwrap();
//! let id = nas_types::ChunkId::of(b"frame");
//! let loc = store.append(&id, b"frame").unwrap();
//! store.sync().unwrap();
//! assert_eq!(store.read(&loc).unwrap(), b"frame");
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
mod faults;
mod local;
mod remote;
mod space;

pub use faults::{Fault, FaultPlan};
pub use local::{LocalPackStore, PACK_MAGIC, RECORD_HEADER_LEN};
use nas_types::{ChunkId, PackId};
pub use remote::{
    ArchivedObject, DEFAULT_BLOCK_SIZE, DEFAULT_CACHE_SIZE, MemoryPlacements, Placement,
    PlacementCounts, PlacementLog, RemoteArchive, RemoteConfig, RemoteError, RemotePackStore,
    RemoteStatus,
};
pub use space::{FULL_MARGIN, Space};
use thiserror::Error;

/// Where a frame lives: the pack, the offset of the frame's first byte, its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding the frame.
    pub pack: PackId,
    /// Offset of the frame (after its record header) in the pack.
    pub offset: u64,
    /// Frame length in bytes.
    pub len: u32,
}

/// A pack as listed by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackInfo {
    /// Its id.
    pub id: PackId,
    /// Bytes on disk.
    pub size: u64,
    /// True for packs still being appended to (never compacted or deleted).
    pub active: bool,
    /// How long ago the pack was last written, or its placement recorded — the younger
    /// of the two when both are known (the local file's modification time by this
    /// machine's clock; a placement's by the placement log's). `None` when unknown, which
    /// only a pack this process wrote may be (a remote-only pack of a store whose
    /// placement log is not shared). GC leaves a pack alone while it is younger than its
    /// grace period: a pack another node wrote may belong to a commit still in flight
    /// there (`docs/design/versions-and-gc.md`).
    pub age: Option<std::time::Duration>,
}

/// A pack as the object-storage tier sees it ([`BlobStore::tier_packs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierPack {
    /// Its id.
    pub id: PackId,
    /// Bytes (of the local file when local, else of the verified object).
    pub size: u64,
    /// A local copy is on the disk.
    pub local: bool,
    /// A verified remote copy exists.
    pub remote: bool,
    /// Still being appended to (never evicted).
    pub active: bool,
    /// When a frame of it was last read (coarse; the time it was sealed until then), ns
    /// since the epoch.
    pub last_read_ns: i64,
}

/// A pack whose local copy was lost or cut short ([`BlobStore::repair_packs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRepair {
    /// The pack.
    pub pack: PackId,
    /// What was wrong with its local copy.
    pub problem: String,
    /// `Ok`: put back from the verified remote copy; `Err`: why not.
    pub result: Result<(), String>,
}

/// Chunk storage errors.
#[derive(Debug, Error)]
pub enum BlobError {
    /// The pack does not exist, or the frame lies past its end.
    #[error("frame {pack}@{offset} is missing: {reason}")]
    Missing {
        /// Pack asked for.
        pack: PackId,
        /// Offset asked for.
        offset: u64,
        /// Why.
        reason: &'static str,
    },
    /// A write or fsync of this pack failed: frames not yet durable in it may be lost, so
    /// the pack is retired for good (never written, never trusted as durable again).
    /// Retrying on the same pack cannot help; a new write goes to a new pack.
    #[error("pack {pack} failed and is retired: {source}")]
    PackFailed {
        /// The retired pack.
        pack: PackId,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// An I/O failure; retrying may help.
    #[error("chunk storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The object store holding the data could not be reached or answered with an error
    /// (after the client's bounded retries): nothing is wrong with the data; try later.
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
}

impl BlobError {
    /// True when the disk is full (ENOSPC, EDQUOT, or the store's free-space reserve),
    /// whichever call found it.
    pub fn is_storage_full(&self) -> bool {
        match self {
            BlobError::PackFailed { source, .. } | BlobError::Io(source) => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            BlobError::Missing { .. } | BlobError::Unavailable(_) => false,
        }
    }
}

/// Stores chunk frames.
///
/// Contract:
/// - [`append`](BlobStore::append) writes a frame and returns where it is; the frame is
///   readable at once but **not durable** until [`sync`](BlobStore::sync) returns.
/// - `sync` makes every frame appended before the call durable (all threads' frames: it is
///   a barrier, so concurrent committers share fsyncs).
/// - Frames are immutable. A pack is only ever removed whole, by
///   [`delete_pack`](BlobStore::delete_pack), and never while it is active.
/// - A failed write or fsync is final: the pack is retired ([`BlobError::PackFailed`]) and
///   [`is_failed`](BlobStore::is_failed) reports it from then on. A later `sync` returning
///   `Ok` says nothing about frames in a failed pack: a committer checks its frames' packs
///   after `sync` and fails if any is failed. A retired pack may lose every frame that was
///   not durable when it was retired (its space is given back at once).
/// - A full disk (ENOSPC/EDQUOT, or a free-space reserve the store keeps) fails the append
///   with an error whose [`is_storage_full`](BlobError::is_storage_full) is true; the pack
///   it was writing is retired as above but not counted by
///   [`failed_packs`](BlobStore::failed_packs) (nothing durable was lost).
/// - All errors are I/O errors, [`BlobError::Missing`], [`BlobError::PackFailed`] or, for a
///   store with an object-storage tier, [`BlobError::Unavailable`]; `Io` and `Unavailable`
///   may be retried.
pub trait BlobStore: Send + Sync {
    /// Appends one frame for chunk `id` to the active pack.
    fn append(&self, id: &ChunkId, frame: &[u8]) -> Result<BlobLocation, BlobError> {
        self.append_parts(id, &[frame])
    }
    /// Appends one frame given as consecutive parts (a header and a payload, say), so the
    /// caller never has to copy them into one buffer.
    fn append_parts(&self, id: &ChunkId, parts: &[&[u8]]) -> Result<BlobLocation, BlobError>;
    /// As [`append`](BlobStore::append), for GC's compaction, which copies live frames
    /// before it deletes a pack: it may use half of a free-space reserve the store keeps
    /// (a compaction on a full disk gives space back). The default is `append`.
    fn append_for_gc(&self, id: &ChunkId, frame: &[u8]) -> Result<BlobLocation, BlobError> {
        self.append(id, frame)
    }
    /// Durability barrier for everything appended so far (except frames of failed packs).
    fn sync(&self) -> Result<(), BlobError>;
    /// Whether `pack` was retired after a failed write or fsync (or a full disk).
    fn is_failed(&self, pack: PackId) -> bool;
    /// Whether `pack` was retired because the disk was full (then `is_failed` is true too).
    fn is_full(&self, _pack: PackId) -> bool {
        false
    }
    /// How many packs were retired so far (by this process) after a failed write or fsync
    /// (not those given up because the disk was full).
    fn failed_packs(&self) -> usize;
    /// Free space where the frames go, and the reserve new frames leave free (`None`:
    /// not known, e.g. object storage).
    fn space(&self) -> Option<Space> {
        None
    }
    /// Reads one frame.
    fn read(&self, loc: &BlobLocation) -> Result<Vec<u8>, BlobError>;
    /// Reads one frame only if that waits on no device (the OS has its pages cached):
    /// `None` when it would wait, or when the store cannot tell. Async callers read hot
    /// data in place with it, and hand only what would wait to a thread.
    fn read_cached(&self, loc: &BlobLocation) -> Result<Option<Vec<u8>>, BlobError> {
        let _ = loc;
        Ok(None)
    }
    /// Lists every pack. Safe while packs are deleted: a pack removed during the listing
    /// may be left out, never reported as an error.
    fn packs(&self) -> Result<Vec<PackInfo>, BlobError>;
    /// The size packs grow to before they are sealed (`None`: no such target). GC merges
    /// sealed packs far below it.
    fn pack_size(&self) -> Option<u64> {
        None
    }
    /// Removes a sealed pack. Removing a missing pack is not an error.
    fn delete_pack(&self, pack: PackId) -> Result<(), BlobError>;
    /// The pack appends go to now, if any (`None` also when the store cannot tell).
    fn active_pack(&self) -> Option<PackId> {
        None
    }
    /// Cuts a sealed pack back to its first `len` bytes (what lies past them is referenced
    /// by nothing: frames of abandoned writes). Refused for the active pack; a pack
    /// already shorter is left alone. A store may do nothing (the default): GC's
    /// compaction reclaims the space later.
    fn trim_pack(&self, _pack: PackId, _len: u64) -> Result<(), BlobError> {
        Ok(())
    }
    /// Seals the active pack (syncing it) so that the next append starts a new one.
    fn seal(&self) -> Result<(), BlobError>;
    /// Every record (chunk id, frame location) in a pack, read from the pack itself.
    fn records(&self, pack: PackId) -> Result<Vec<(ChunkId, BlobLocation)>, BlobError>;
    /// What the object-storage tier is doing (`None`: the store has none).
    fn remote_status(&self) -> Option<RemoteStatus> {
        None
    }
    /// Drops the local copy of a sealed pack whose remote copy is verified (and, for an
    /// object store, still there); false (and nothing done) when it has none, or is
    /// active. A store without a remote tier never
    /// drops anything.
    fn evict_local(&self, _pack: PackId) -> Result<bool, BlobError> {
        Ok(false)
    }
    /// Self-repair: a frame read by [`read`](BlobStore::read) failed its check (`verify`:
    /// the caller's, e.g. decoding and comparing with the chunk id). Reads the frame from
    /// the store's other copy of the pack; if `verify` accepts it, writes it back over the
    /// damaged local bytes (the bytes the frame had when it was made durable), counts a
    /// repair, logs it with `context` (which file), and returns it. `None`: the store has
    /// no other copy of this pack (the default). `Some(Err)`: it has one, and it does not
    /// verify either (counted as unrepairable) or cannot be read.
    fn repair_frame(
        &self,
        _loc: &BlobLocation,
        _verify: &dyn Fn(&[u8]) -> bool,
        _context: &str,
    ) -> Option<Result<Vec<u8>, BlobError>> {
        None
    }
    /// Whether the store has an object-storage tier (a read may need the network).
    fn has_tier(&self) -> bool {
        false
    }
    /// Whether `pack` is only in the object store (no local copy): a read of it needs the
    /// object store. False for a store without a tier (the default).
    fn is_remote_only(&self, _pack: PackId) -> bool {
        false
    }
    /// Self-repair of whole packs: every sealed pack that should have a local copy beside
    /// its verified remote copy (a `mirror` keeps both) but whose local file is missing or
    /// not the remote copy's size is put back from the remote copy (fetched, checked,
    /// written, fsynced). Returns each pack that needed it. Nothing for a store without a
    /// second copy (the default).
    fn repair_packs(&self) -> Result<Vec<PackRepair>, BlobError> {
        Ok(Vec::new())
    }
    /// Every pack with its places, size and coarse last read, for a mover's plan (empty
    /// for a store without a remote tier, the default).
    fn tier_packs(&self) -> Result<Vec<TierPack>, BlobError> {
        Ok(Vec::new())
    }
    /// Waits until every sealed pack is uploaded, at most `timeout`: true when it is (at
    /// once for a store without a remote tier).
    fn wait_uploaded(&self, _timeout: std::time::Duration) -> bool {
        true
    }
    /// The object store's backups and listings (disaster recovery), sharing the tier's
    /// client (`None`: the store has no remote tier, the default).
    fn archive(&self) -> Option<RemoteArchive> {
        None
    }
}

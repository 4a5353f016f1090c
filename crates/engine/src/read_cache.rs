//! [`ReadCache`]: what a read looks up that does not change, kept in memory so that a
//! read of a file already read costs only its path walk (on PostgreSQL: two round trips
//! for a small GET with the user's record, instead of four; `docs/design/caches.md`).
//!
//! - **A version's fixed parts** — its extent list, content hash, size, creation time and
//!   author — by (file, version number). Those never change once committed; what does
//!   (mtime, content type, user metadata, object lock) is always taken from the fresh
//!   lookup the caller made (the path walk's head, or a stat's entry). An entry is used
//!   only when the fresh lookup says the version exists and its hash and size match, so
//!   a deleted version is never served from here and a reused id could not be either.
//! - **Chunk records** by row: where a chunk's frame is. Rows are never reused
//!   (`AUTOINCREMENT`, an identity column). A frame moved by compaction, recompression or
//!   repair is found where the record says while its old pack exists (frames are never
//!   rewritten in place; each is verified against its content id); once that pack is
//!   gone the read finds it missing, looks the row up again and keeps the new record. A
//!   cached record's reference count is not current: only reads consult this cache.
//!
//! Bounded ([`Lru`]), with hit, miss and eviction counters in `/metrics`.

use crate::lru::{CacheCounters, Lru};
use nas_meta::{ChunkRecord, ChunkRow, Extent, VersionRecord};
use nas_types::{ContentHash, NodeId, VersionNum};
use std::sync::Arc;

/// Bytes of version entries kept, at most (an entry weighs its extents plus a little).
pub const DEFAULT_VERSION_CACHE: u64 = 32 << 20;
/// Chunk records kept, at most.
pub const DEFAULT_CHUNK_CACHE: u64 = 100_000;

/// The parts of a committed version that never change.
pub(crate) struct Fixed {
    hash: ContentHash,
    size: u64,
    created_ns: i64,
    author: Option<String>,
    pub(crate) extents: Arc<Vec<Extent>>,
}

impl Fixed {
    /// The whole record of the version, its changeable parts taken from `fresh`.
    pub(crate) fn record(&self, fresh: &crate::home::Entry, num: VersionNum) -> VersionRecord {
        VersionRecord {
            node: fresh.id,
            num,
            size: self.size,
            mtime_ns: fresh.mtime_ns,
            created_ns: self.created_ns,
            hash: self.hash,
            attrs: fresh.attrs.clone(),
            author: self.author.clone(),
            lock: fresh.lock,
        }
    }
}

/// The cache (see the module docs).
pub(crate) struct ReadCache {
    versions: Lru<(NodeId, VersionNum), Arc<Fixed>>,
    chunks: Lru<ChunkRow, ChunkRecord>,
}

impl ReadCache {
    pub(crate) fn new(version_bytes: u64, chunk_records: u64) -> ReadCache {
        ReadCache {
            versions: Lru::new(version_bytes),
            chunks: Lru::new(chunk_records),
        }
    }

    /// The fixed parts of version `num` of file `node`, if cached and a fresh lookup's
    /// `hash` and `size` match them.
    pub(crate) fn version(
        &self,
        node: NodeId,
        num: VersionNum,
        hash: &ContentHash,
        size: u64,
    ) -> Option<Arc<Fixed>> {
        self.versions
            .get(&(node, num))
            .filter(|f| f.hash == *hash && f.size == size)
    }

    /// Keeps the fixed parts of `v`, whose extent list (checked to cover it) is `extents`.
    pub(crate) fn keep_version(&self, v: &VersionRecord, extents: Arc<Vec<Extent>>) {
        let weight = 128
            + v.author.as_ref().map_or(0, |a| a.len() as u64)
            + (extents.len() * std::mem::size_of::<Extent>()) as u64;
        let fixed = Fixed {
            hash: v.hash,
            size: v.size,
            created_ns: v.created_ns,
            author: v.author.clone(),
            extents,
        };
        self.versions
            .insert((v.node, v.num), Arc::new(fixed), weight);
    }

    /// The record of chunk `row`, if cached.
    pub(crate) fn chunk(&self, row: ChunkRow) -> Option<ChunkRecord> {
        self.chunks.get(&row)
    }

    /// Keeps a chunk record just looked up.
    pub(crate) fn keep_chunk(&self, rec: ChunkRecord) {
        self.chunks.insert(rec.row, rec, 1);
    }

    /// Drops a chunk record that proved wrong (its frame gone, its row gone).
    pub(crate) fn forget_chunk(&self, row: ChunkRow) {
        self.chunks.remove(&row);
    }

    /// Counters of the version cache and of the chunk-record cache.
    pub(crate) fn counters(&self) -> (CacheCounters, CacheCounters) {
        (self.versions.counters(), self.chunks.counters())
    }
}

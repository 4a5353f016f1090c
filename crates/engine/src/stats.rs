//! Store statistics: what is stored, and what dedup, compression and delta chunks saved.

use crate::error::EngineResult;
use crate::store::Store;
use serde::Serialize;

/// Totals over the whole store.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StoreStats {
    /// Sum of the sizes of every version of every file (what a copy of all versions needs).
    pub logical_bytes: u64,
    /// Sum of the sizes of the current version of each live file.
    pub current_bytes: u64,
    /// Bytes of chunk frames indexed (after dedup and compression).
    pub stored_bytes: u64,
    /// Bytes of pack files on disk (stored bytes + record headers + dead space).
    pub pack_bytes: u64,
    /// Size of the metadata database files.
    pub meta_bytes: u64,
    /// Distinct chunks.
    pub chunks: u64,
    /// Plaintext bytes of distinct chunks.
    pub unique_bytes: u64,
    /// Live files.
    pub files: u64,
    /// Live folders.
    pub dirs: u64,
    /// Versions (live and trashed files).
    pub versions: u64,
    /// Trash entries.
    pub trash_entries: u64,
    /// `logical_bytes / unique_bytes`.
    pub dedup_ratio: f64,
    /// `unique_bytes / stored_bytes`.
    pub compression_ratio: f64,
    /// Chunks stored as a delta against a base chunk.
    pub delta_chunks: u64,
    /// What dedup saved: `logical_bytes - unique_bytes`.
    pub saved_by_dedup: u64,
    /// What compressing each chunk alone saved: `unique_bytes` less what every chunk
    /// would take stored whole (compressed alone, deltas counted at their whole size).
    pub saved_by_compression: u64,
    /// What storing chunks as deltas saved beyond that: the delta chunks' size stored
    /// whole less their stored size.
    pub saved_by_delta: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Store {
    /// Hits, misses and evictions of the cache of decoded delta bases (this process).
    pub fn base_cache_counters(&self) -> crate::CacheCounters {
        self.inner.plain_cache.counters()
    }

    /// Hits, misses and evictions of the read cache (this process): versions' extent
    /// lists (weighed in bytes) and chunk records (counted).
    pub fn read_cache_counters(&self) -> (crate::CacheCounters, crate::CacheCounters) {
        self.inner.read_cache.counters()
    }

    /// Hits, misses and evictions of the cache of decoded chunks (this process; all zero
    /// while off).
    pub fn chunk_cache_counters(&self) -> crate::CacheCounters {
        self.inner.chunk_cache.counters()
    }

    /// Computes the totals.
    pub fn stats(&self) -> EngineResult<StoreStats> {
        let m = self.inner.meta.stats()?;
        let pack_bytes = self.inner.blobs.packs()?.iter().map(|p| p.size).sum();
        let meta_bytes = ["meta.sqlite", "meta.sqlite-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.inner.dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        // every chunk's frame as if stored whole
        let whole = m.chunk_stored_bytes - m.delta_stored_bytes.min(m.chunk_stored_bytes)
            + m.delta_whole_bytes;
        Ok(StoreStats {
            logical_bytes: m.logical_bytes,
            current_bytes: m.current_bytes,
            stored_bytes: m.chunk_stored_bytes,
            pack_bytes,
            meta_bytes,
            chunks: m.chunks,
            unique_bytes: m.chunk_raw_bytes,
            files: m.files,
            dirs: m.dirs,
            versions: m.versions,
            trash_entries: m.trash_entries,
            dedup_ratio: ratio(m.logical_bytes, m.chunk_raw_bytes),
            compression_ratio: ratio(m.chunk_raw_bytes, m.chunk_stored_bytes),
            delta_chunks: m.delta_chunks,
            saved_by_dedup: m.logical_bytes.saturating_sub(m.chunk_raw_bytes),
            saved_by_compression: m.chunk_raw_bytes.saturating_sub(whole),
            saved_by_delta: m.delta_whole_bytes.saturating_sub(m.delta_stored_bytes),
        })
    }
}

//! Store statistics: what is stored, and what dedup and compression saved.

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
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Store {
    /// Computes the totals.
    pub fn stats(&self) -> EngineResult<StoreStats> {
        let m = self.inner.meta.stats()?;
        let pack_bytes = self.inner.blobs.packs()?.iter().map(|p| p.size).sum();
        let meta_bytes = ["meta.sqlite", "meta.sqlite-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.inner.dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
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
        })
    }
}

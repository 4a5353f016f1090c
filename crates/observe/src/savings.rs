//! Series of what the store saves and how delta chunks are read, set at each scrape from
//! the engine's totals (`silent-nas stats` shows the same figures): delta chunks, bytes
//! saved by dedup, by compression and by delta separately, and the counters of the cache
//! of decoded delta bases; what cold recompression re-encoded in this process.

use nas_engine::{CacheCounters, RecompressCounters, StoreStats};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

/// Savings and base-cache series.
pub(crate) struct SavingsSeries {
    delta_chunks: Gauge,
    saved: Family<Vec<(String, String)>, Gauge>,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_evictions: Counter,
    cache_bytes: Gauge,
    recompressed: Counter,
    recompressed_deltas: Counter,
    recompressed_bytes: Counter,
    recompress_saved: Counter,
}

impl SavingsSeries {
    pub(crate) fn register(r: &mut Registry) -> SavingsSeries {
        let s = SavingsSeries {
            delta_chunks: Gauge::default(),
            saved: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_evictions: Counter::default(),
            cache_bytes: Gauge::default(),
            recompressed: Counter::default(),
            recompressed_deltas: Counter::default(),
            recompressed_bytes: Counter::default(),
            recompress_saved: Counter::default(),
        };
        r.register(
            "silent_nas_storage_delta_chunks",
            "Chunks stored as a delta against a similar chunk",
            s.delta_chunks.clone(),
        );
        r.register(
            "silent_nas_storage_saved_bytes",
            "Bytes saved, by what saved them: dedup (logical over unique), compression (each chunk alone), delta (beyond compression)",
            s.saved.clone(),
        );
        r.register(
            "silent_nas_delta_base_cache_hits",
            "Delta bases found decoded in the cache",
            s.cache_hits.clone(),
        );
        r.register(
            "silent_nas_delta_base_cache_misses",
            "Delta bases read and decoded",
            s.cache_misses.clone(),
        );
        r.register(
            "silent_nas_delta_base_cache_evictions",
            "Decoded delta bases dropped to stay within the cache's bound",
            s.cache_evictions.clone(),
        );
        r.register(
            "silent_nas_delta_base_cache_bytes",
            "Bytes of decoded delta bases held",
            s.cache_bytes.clone(),
        );
        r.register(
            "silent_nas_recompress_chunks",
            "Chunks re-encoded by cold recompression (this process)",
            s.recompressed.clone(),
        );
        r.register(
            "silent_nas_recompress_delta_chunks",
            "Chunks cold recompression stored as a delta (this process)",
            s.recompressed_deltas.clone(),
        );
        r.register(
            "silent_nas_recompress_bytes",
            "Stored bytes of the chunks cold recompression re-encoded, before (this process)",
            s.recompressed_bytes.clone(),
        );
        r.register(
            "silent_nas_recompress_saved_bytes",
            "Stored bytes cold recompression saved (before less after; GC gives the old frames' space back)",
            s.recompress_saved.clone(),
        );
        s
    }

    pub(crate) fn refresh(&self, st: &StoreStats, cache: CacheCounters, rc: RecompressCounters) {
        self.delta_chunks.set(st.delta_chunks as i64);
        for (by, v) in [
            ("dedup", st.saved_by_dedup),
            ("compression", st.saved_by_compression),
            ("delta", st.saved_by_delta),
        ] {
            self.saved
                .get_or_create(&vec![("by".to_owned(), by.to_owned())])
                .set(v as i64);
        }
        self.cache_hits.inner().store(cache.hits, Ordering::Relaxed);
        self.cache_misses
            .inner()
            .store(cache.misses, Ordering::Relaxed);
        self.cache_evictions
            .inner()
            .store(cache.evictions, Ordering::Relaxed);
        self.cache_bytes.set(cache.bytes as i64);
        for (c, v) in [
            (&self.recompressed, rc.chunks),
            (&self.recompressed_deltas, rc.deltas),
            (&self.recompressed_bytes, rc.bytes_before),
            (
                &self.recompress_saved,
                rc.bytes_before.saturating_sub(rc.bytes_after),
            ),
        ] {
            c.inner().store(v, Ordering::Relaxed);
        }
    }
}

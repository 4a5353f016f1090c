//! Series of the engine's in-memory caches of metadata, set at each scrape: hits, misses,
//! evictions and what each holds, labelled by cache (`versions`: versions' extent lists,
//! weighed in bytes; `chunks`: chunk records, counted; `users`: users' records on a
//! cluster node, counted; `decoded`: decoded chunks, in bytes, when that cache is on). `docs/design/caches.md` says what each saves.

use nas_engine::CacheCounters;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

type Labels = Vec<(String, String)>;

/// Cache series.
pub(crate) struct CacheSeries {
    hits: Family<Labels, Counter>,
    misses: Family<Labels, Counter>,
    evictions: Family<Labels, Counter>,
    held: Family<Labels, Gauge>,
}

impl CacheSeries {
    pub(crate) fn register(r: &mut Registry) -> CacheSeries {
        let s = CacheSeries {
            hits: Family::default(),
            misses: Family::default(),
            evictions: Family::default(),
            held: Family::default(),
        };
        r.register(
            "silent_nas_cache_hits",
            "Lookups a metadata cache answered (this process)",
            s.hits.clone(),
        );
        r.register(
            "silent_nas_cache_misses",
            "Lookups a metadata cache passed to the database (this process)",
            s.misses.clone(),
        );
        r.register(
            "silent_nas_cache_evictions",
            "Entries a metadata cache dropped to stay within its bound (this process)",
            s.evictions.clone(),
        );
        r.register(
            "silent_nas_cache_held",
            "What a cache holds: bytes (versions, decoded) or entries (chunks, users)",
            s.held.clone(),
        );
        s
    }

    /// Sets the series of cache `name` from its counters.
    pub(crate) fn refresh(&self, name: &str, c: CacheCounters) {
        let l = vec![("cache".to_owned(), name.to_owned())];
        self.hits
            .get_or_create(&l)
            .inner()
            .store(c.hits, Ordering::Relaxed);
        self.misses
            .get_or_create(&l)
            .inner()
            .store(c.misses, Ordering::Relaxed);
        self.evictions
            .get_or_create(&l)
            .inner()
            .store(c.evictions, Ordering::Relaxed);
        self.held.get_or_create(&l).set(c.bytes as i64);
    }
}

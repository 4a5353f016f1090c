//! Series of the object-storage tier, read from the store at each scrape: the upload
//! queue, packs and bytes uploaded, failed upload attempts, frames and bytes read from the
//! object store, the read cache, and packs by where they live. All zero without a tier.
//! Nothing here names the bucket's credentials (the status carries none).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The remote tier's series.
pub(crate) struct RemoteSeries {
    queue: Gauge,
    uploaded_packs: Counter,
    uploaded_bytes: Counter,
    upload_errors: Counter,
    read_frames: Counter,
    read_bytes: Counter,
    fetched_bytes: Counter,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_bytes: Gauge,
    packs: Family<Labels, Gauge>,
    repairs: Counter,
    unrepairable: Counter,
    degraded: Gauge,
}

/// Raises a counter to `to` (the store's own count since start; never lowers it).
pub(crate) fn raise(c: &Counter, to: u64) {
    let now = c.get();
    if to > now {
        c.inc_by(to - now);
    }
}

fn g(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl RemoteSeries {
    pub(crate) fn register(r: &mut Registry) -> RemoteSeries {
        let s = RemoteSeries {
            queue: Gauge::default(),
            uploaded_packs: Counter::default(),
            uploaded_bytes: Counter::default(),
            upload_errors: Counter::default(),
            read_frames: Counter::default(),
            read_bytes: Counter::default(),
            fetched_bytes: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_bytes: Gauge::default(),
            packs: Family::default(),
            repairs: Counter::default(),
            unrepairable: Counter::default(),
            degraded: Gauge::default(),
        };
        r.register(
            "silent_nas_remote_degraded",
            "1 while the object store is unreachable (the last request failed, none succeeded since)",
            s.degraded.clone(),
        );
        r.register(
            "silent_nas_remote_repairs",
            "Damaged local chunk frames replaced by their verified remote copy (self-repair)",
            s.repairs.clone(),
        );
        r.register(
            "silent_nas_remote_unrepairable",
            "Damaged chunk frames whose remote copy did not verify either",
            s.unrepairable.clone(),
        );
        r.register(
            "silent_nas_remote_upload_queue_packs",
            "Sealed packs waiting for (or in) their upload to the object store",
            s.queue.clone(),
        );
        r.register(
            "silent_nas_remote_uploaded_packs",
            "Packs uploaded to the object store and verified",
            s.uploaded_packs.clone(),
        );
        r.register(
            "silent_nas_remote_uploaded_bytes",
            "Bytes of packs uploaded to the object store and verified",
            s.uploaded_bytes.clone(),
        );
        r.register(
            "silent_nas_remote_upload_errors",
            "Failed pack upload attempts (each is retried)",
            s.upload_errors.clone(),
        );
        r.register(
            "silent_nas_remote_read_frames",
            "Chunk frames read from the object store (their pack not on the local disk)",
            s.read_frames.clone(),
        );
        r.register(
            "silent_nas_remote_read_bytes",
            "Bytes of chunk frames read from the object store",
            s.read_bytes.clone(),
        );
        r.register(
            "silent_nas_remote_fetched_bytes",
            "Bytes fetched from the object store by ranged GETs (read-ahead included)",
            s.fetched_bytes.clone(),
        );
        r.register(
            "silent_nas_remote_cache_hits",
            "Remote block reads served by the read cache",
            s.cache_hits.clone(),
        );
        r.register(
            "silent_nas_remote_cache_misses",
            "Remote block reads that fetched from the object store",
            s.cache_misses.clone(),
        );
        r.register(
            "silent_nas_remote_cache_bytes",
            "Bytes held by the remote read cache",
            s.cache_bytes.clone(),
        );
        r.register(
            "silent_nas_remote_packs",
            "Sealed packs by where they live (local, remote, both)",
            s.packs.clone(),
        );
        s
    }

    pub(crate) fn refresh(&self, store: &nas_engine::Store) {
        let Some(st) = store.remote_status() else {
            return;
        };
        self.queue.set(g(st.upload_queue));
        self.degraded.set(i64::from(st.degraded));
        raise(&self.uploaded_packs, st.packs_uploaded);
        raise(&self.uploaded_bytes, st.bytes_uploaded);
        raise(&self.upload_errors, st.upload_errors);
        raise(&self.read_frames, st.remote_reads);
        raise(&self.read_bytes, st.remote_read_bytes);
        raise(&self.fetched_bytes, st.fetched_bytes);
        raise(&self.cache_hits, st.cache_hits);
        raise(&self.cache_misses, st.cache_misses);
        self.cache_bytes.set(g(st.cache_bytes));
        raise(&self.repairs, st.repairs);
        raise(&self.unrepairable, st.unrepairable);
        for (place, n) in [
            ("local", st.placement.local_only),
            ("remote", st.placement.remote_only),
            ("both", st.placement.both),
        ] {
            self.packs
                .get_or_create(&vec![("place".into(), place.into())])
                .set(g(n));
        }
    }
}

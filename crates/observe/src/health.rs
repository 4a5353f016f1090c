//! Liveness and readiness.

use crate::Observe;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nas_engine::Store;

/// What readiness found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Failed checks, by name with the reason; empty when ready.
    pub failures: Vec<String>,
    /// What works but not fully (the object-storage tier unreachable: new data stays
    /// local, reads of evicted data fail); ready all the same.
    pub degraded: Vec<String>,
}

/// Checks the metadata database, that the chunk store accepts a write, free space (above
/// `min_free_bytes`, and above the store's reserve: at the reserve new data is refused),
/// and that no pack failed a write or fsync since start. An unreachable object-storage
/// tier is reported as degraded, not as a failure: the server still takes every write. So
/// is an unreachable event bus (NATS): changes are not announced, nothing is lost.
pub fn check_ready(store: &Store, min_free_bytes: u64) -> Readiness {
    let mut failures = Vec::new();
    if let Err(e) = store.accounts().list() {
        failures.push(format!("metadata: {e}"));
    }
    let probe = store.dir().join("packs").join(".ready-probe");
    match std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe)) {
        Ok(()) => {}
        Err(e) => failures.push(format!("chunk store not writable: {e}")),
    }
    match rustix::fs::statvfs(store.dir()) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            if free < min_free_bytes {
                failures.push(format!(
                    "disk space: {free} bytes free, below {min_free_bytes}"
                ));
            }
        }
        Err(e) => failures.push(format!("disk space: {e}")),
    }
    if let Some(sp) = store.space()
        && sp.is_full()
    {
        failures.push(format!(
            "storage full: {} bytes free, at the reserve of {} bytes kept for metadata, \
             deletes and GC: new data is refused (delete files, empty the trash, run GC)",
            sp.free, sp.reserve
        ));
    }
    let failed = store.failed_packs();
    if failed > 0 {
        failures.push(format!(
            "chunk store: {failed} pack(s) retired after a failed write or fsync since start \
             (writes that needed them failed; check the disk, then restart)"
        ));
    }
    let mut degraded = Vec::new();
    if let Some(t) = store.remote_status()
        && t.degraded
    {
        degraded.push(format!(
            "remote tier {}: the object store is unreachable ({} packs waiting for their \
             upload, stored locally meanwhile; reads of packs only stored remotely fail \
             with 503); last error {} s ago: {}",
            t.url,
            t.upload_queue,
            t.last_error_secs.unwrap_or(0),
            t.last_error
                .as_deref()
                .map_or_else(|| "-".into(), without_urls)
        ));
    }
    if let Some(d) = store.changes_status().and_then(|s| s.degraded) {
        degraded.push(format!("change events: {d}"));
    }
    Readiness { failures, degraded }
}

/// `text` with every `http://…` or `https://…` word replaced by `<url>`: `/readyz` answers
/// without sign-in, and the object store's address is the operator's business (the log
/// has the whole error).
fn without_urls(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains("http://") || w.contains("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn live() -> &'static str {
    "ok\n"
}

pub async fn ready(State(o): State<Observe>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let r = check_ready(&o.store, o.min_free_bytes);
        o.metrics.host.ready.set(i64::from(r.failures.is_empty()));
        r
    })
    .await;
    match r {
        Ok(r) if r.failures.is_empty() && r.degraded.is_empty() => {
            (StatusCode::OK, "ready\n").into_response()
        }
        Ok(r) if r.failures.is_empty() => (
            StatusCode::OK,
            format!("ready, degraded\n{}\n", r.degraded.join("\n")),
        )
            .into_response(),
        Ok(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", r.failures.join("\n")),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready\nreadiness check failed\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_kept_out_of_the_degraded_line() {
        assert_eq!(
            super::without_urls(
                "GET 01: error sending request for url (http://10.0.0.5:9000/b/k) now"
            ),
            "GET 01: error sending request for url <url> now"
        );
    }
}

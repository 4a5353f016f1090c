//! Observability of a running Silent-NAS: Prometheus metrics (`/metrics`, also at
//! `/metrics/storage-v2`), liveness (`/healthz`: no I/O) and readiness (`/readyz`, also at
//! `/metrics/storage-v2/health`: the metadata database answers, the chunk store is
//! writable, free disk space is above a threshold).
//!
//! Door metrics are recorded by [`Metrics::track`], a wrapper every door's service goes
//! through; the audit log is written by [`audit_trail`], a second such wrapper; store,
//! host and process metrics are read when Prometheus scrapes; worker metrics are updated
//! by the worker runner, to which [`Metrics`] is a
//! [`nas_engine::workers::WorkerObserver`].

mod audit;
mod health;
mod host;
mod metrics;
mod workers;

pub use audit::{Auditor, audit_trail};
pub use health::{Readiness, check_ready};
pub use metrics::{Door, Metrics, track};

use axum::Router;
use axum::routing::get;
use nas_engine::Store;
use nas_engine::audit::AuditLog;
use std::sync::Arc;

/// State of the observability routes.
#[derive(Clone)]
pub struct Observe {
    /// The store whose totals are exported.
    pub store: Store,
    /// The registry of every series.
    pub metrics: Arc<Metrics>,
    /// Readiness fails below this many free bytes on the data directory's file system.
    pub min_free_bytes: u64,
    /// Counts the signed-in sessions (the REST door's), read at each scrape.
    pub sessions: Option<Arc<dyn Fn() -> usize + Send + Sync>>,
    /// The audit log, whose dropped and pruned entries are counted at each scrape.
    pub audit: Option<AuditLog>,
}

/// `/healthz`, `/readyz`, `/metrics` and their `storage-v2` aliases. None needs sign-in.
pub fn routes(o: Observe) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics/storage-v2/health", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/metrics/storage-v2", get(metrics::scrape))
        .with_state(o)
}

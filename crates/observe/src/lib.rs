//! Observability of a running Silent-NAS: Prometheus metrics (`/metrics`, also at
//! `/metrics/storage-v2`), liveness (`/healthz`: no I/O) and readiness (`/readyz`, also at
//! `/metrics/storage-v2/health`: the metadata database answers, the chunk store is
//! writable, free disk space is above a threshold).
//!
//! Health and readiness are public; the metrics are not (they name users and their usage,
//! and stored bytes would tell a guesser whether a file's content is already stored): a
//! scrape needs what [`MetricsAccess`] allows — the configured bearer token or an
//! administrator's credentials — unless the operator gave the metrics a listener of their
//! own ([`MetricsAccess::open`]).
//!
//! Door metrics are recorded by [`Metrics::track`], a wrapper every door's service goes
//! through; the audit log is written by [`audit_trail`], a second such wrapper; store,
//! host and process metrics are read when Prometheus scrapes; worker metrics are updated
//! by the worker runner, to which [`Metrics`] is a
//! [`nas_engine::workers::WorkerObserver`].

mod audit;
mod caches;
mod changes;
mod health;
mod host;
mod metrics;
mod remote;
mod savings;
mod workers;

pub use audit::{Auditor, audit_trail};
pub use health::{Readiness, check_ready};
pub use metrics::{ConnectionSeries, Door, KNOWN_METHODS, Metrics, method_label, track};

use axum::Router;
use axum::routing::get;
use nas_engine::Store;
use nas_engine::audit::AuditLog;
use std::net::IpAddr;
use std::sync::Arc;

/// Checks HTTP Basic credentials for a scrape: true for an administrator. It may block
/// (password hashing); it is called on the blocking pool.
pub type BasicCheck = Arc<dyn Fn(&str, &str, IpAddr) -> bool + Send + Sync>;

/// Who may read `/metrics`.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// `Authorization: Bearer TOKEN` with this token is allowed.
    pub token: Option<String>,
    /// `Authorization: Basic …` is allowed when this check passes (an administrator).
    pub basic: Option<BasicCheck>,
    /// Anyone who reaches the listener may read (a listener of the metrics' own, bound
    /// where the operator chose; never the main listener).
    pub open: bool,
}

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
    /// Who may scrape.
    pub access: MetricsAccess,
}

/// `/healthz`, `/readyz`, `/metrics` and their `storage-v2` aliases. Health and readiness
/// need no sign-in; the metrics need what `o.access` allows.
pub fn routes(o: Observe) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics/storage-v2/health", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/metrics/storage-v2", get(metrics::scrape))
        .with_state(o)
}

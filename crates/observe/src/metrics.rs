//! The Prometheus registry: door series recorded as requests pass through [`track`],
//! store and process series refreshed at each scrape.

use crate::Observe;
use crate::audit::AuditSeries;
use crate::caches::CacheSeries;
use crate::changes::ChangeSeries;
use crate::host::HostSeries;
use crate::remote::RemoteSeries;
use crate::savings::SavingsSeries;
use crate::workers::WorkerSeries;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::BodyExt;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type Labels = Vec<(String, String)>;
type Ratio = Gauge<f64, AtomicU64>;

/// Every series Silent-NAS exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    bytes_in: Family<Labels, Counter>,
    bytes_out: Family<Labels, Counter>,
    in_flight: Family<Labels, Gauge>,
    logical: Gauge,
    stored: Gauge,
    packs: Gauge,
    failed_packs: Gauge,
    chunks: Gauge,
    files: Gauge,
    versions: Gauge,
    trash: Gauge,
    name_index_waiting: Gauge,
    dedup: Ratio,
    compression: Ratio,
    user_used: Family<Labels, Gauge>,
    connections: Family<Labels, Gauge>,
    refused: Family<Labels, Counter>,
    sessions: Gauge,
    rss: Gauge,
    fds: Gauge,
    started: Gauge,
    pub(crate) audit: AuditSeries,
    pub(crate) host: HostSeries,
    pub(crate) workers: WorkerSeries,
    savings: SavingsSeries,
    caches: CacheSeries,
    remote: RemoteSeries,
    changes: ChangeSeries,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16)) // 0.5 ms .. ~16 s
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every series registered.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            in_flight: Family::default(),
            logical: Gauge::default(),
            stored: Gauge::default(),
            packs: Gauge::default(),
            failed_packs: Gauge::default(),
            chunks: Gauge::default(),
            files: Gauge::default(),
            versions: Gauge::default(),
            trash: Gauge::default(),
            name_index_waiting: Gauge::default(),
            dedup: Ratio::default(),
            compression: Ratio::default(),
            user_used: Family::default(),
            connections: Family::default(),
            refused: Family::default(),
            sessions: Gauge::default(),
            rss: Gauge::default(),
            fds: Gauge::default(),
            started: Gauge::default(),
            audit: AuditSeries::register(&mut r),
            host: HostSeries::register(&mut r),
            savings: SavingsSeries::register(&mut r),
            caches: CacheSeries::register(&mut r),
            workers: WorkerSeries::register(&mut r),
            remote: RemoteSeries::register(&mut r),
            changes: ChangeSeries::register(&mut r),
        };
        r.register(
            "silent_nas_http_requests",
            "Requests by door, method and status",
            m.requests.clone(),
        );
        r.register(
            "silent_nas_http_request_duration_seconds",
            "Request latency by door and method",
            m.duration.clone(),
        );
        r.register(
            "silent_nas_http_request_bytes",
            "Request body bytes received, by door",
            m.bytes_in.clone(),
        );
        r.register(
            "silent_nas_http_response_bytes",
            "Response body bytes sent, by door",
            m.bytes_out.clone(),
        );
        r.register(
            "silent_nas_http_requests_in_flight",
            "Requests being served, by door",
            m.in_flight.clone(),
        );
        r.register(
            "silent_nas_storage_logical_bytes",
            "Sum of the sizes of every version of every file",
            m.logical.clone(),
        );
        r.register(
            "silent_nas_storage_stored_bytes",
            "Bytes of chunk frames after dedup and compression",
            m.stored.clone(),
        );
        r.register(
            "silent_nas_storage_pack_bytes",
            "Bytes of pack files on disk",
            m.packs.clone(),
        );
        r.register(
            "silent_nas_storage_failed_packs",
            "Packs retired since start after a failed write or fsync (writes that needed them failed)",
            m.failed_packs.clone(),
        );
        r.register(
            "silent_nas_storage_chunks",
            "Distinct chunks",
            m.chunks.clone(),
        );
        r.register("silent_nas_storage_files", "Live files", m.files.clone());
        r.register(
            "silent_nas_storage_versions",
            "File versions, live and trashed",
            m.versions.clone(),
        );
        r.register(
            "silent_nas_storage_trash_entries",
            "Entries in the trash",
            m.trash.clone(),
        );
        r.register(
            "silent_nas_search_index_waiting_nodes",
            "Files and folders not in the name index yet (new or renamed; search scans them)",
            m.name_index_waiting.clone(),
        );
        r.register(
            "silent_nas_storage_dedup_ratio",
            "Logical bytes over unique bytes",
            m.dedup.clone(),
        );
        r.register(
            "silent_nas_storage_compression_ratio",
            "Unique bytes over stored bytes",
            m.compression.clone(),
        );
        r.register(
            "silent_nas_user_used_bytes",
            "Current content of each user's home (what quotas count)",
            m.user_used.clone(),
        );
        r.register(
            "silent_nas_connections_open",
            "Open client connections, by listener",
            m.connections.clone(),
        );
        r.register(
            "silent_nas_connections_refused",
            "Connections closed at once because the listener had max_connections open",
            m.refused.clone(),
        );
        r.register(
            "silent_nas_active_sessions",
            "Signed-in REST sessions not expired (WebDAV and S3 requests carry their own credentials)",
            m.sessions.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory",
            m.rss.clone(),
        );
        r.register("process_open_fds", "Open file descriptors", m.fds.clone());
        r.register(
            "process_start_time_seconds",
            "Start time, seconds since the Unix epoch",
            m.started.clone(),
        );
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        m.started.set(started);
        Metrics { registry: r, ..m }
    }

    fn refresh(&self, store: &nas_engine::Store, min_free_bytes: u64) {
        if let Ok(s) = store.stats() {
            self.logical.set(s.logical_bytes as i64);
            self.stored.set(s.stored_bytes as i64);
            self.packs.set(s.pack_bytes as i64);
            self.chunks.set(s.chunks as i64);
            self.files.set(s.files as i64);
            self.versions.set(s.versions as i64);
            self.trash.set(s.trash_entries as i64);
            self.dedup.set(s.dedup_ratio);
            self.compression.set(s.compression_ratio);
            self.savings
                .refresh(&s, store.base_cache_counters(), store.recompress_counters());
        }
        let (versions, chunks) = store.read_cache_counters();
        self.caches.refresh("versions", versions);
        self.caches.refresh("chunks", chunks);
        self.caches.refresh("users", store.user_cache_counters());
        self.caches.refresh("decoded", store.chunk_cache_counters());
        self.failed_packs
            .set(i64::try_from(store.failed_packs()).unwrap_or(i64::MAX));
        if let Ok(n) = store.name_index_status() {
            self.name_index_waiting
                .set(n.unindexed.saturating_add(n.pending) as i64);
        }
        if let Ok(users) = store.accounts().list() {
            for u in users {
                if let Ok(h) = store.home(&u.name)
                    && let Ok(b) = h.used_bytes()
                {
                    self.user_used
                        .get_or_create(&vec![("user".into(), u.name.clone())])
                        .set(b as i64);
                }
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<i64>().ok())
        {
            self.rss.set(kb * 1024);
        }
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            self.fds.set(d.count() as i64);
        }
        self.host.refresh(store, min_free_bytes);
        self.remote.refresh(store);
        self.changes.refresh(store);
    }

    /// The connection series of one listener (`main`, `s3`, `metrics`).
    pub fn connections(&self, listener: &'static str) -> ConnectionSeries {
        let l: Labels = vec![("listener".into(), listener.into())];
        let refused = self.refused.get_or_create(&l).clone();
        refused.inc_by(0);
        ConnectionSeries {
            open: self.connections.get_or_create(&l).clone(),
            refused,
        }
    }

    /// The exposition text, in the Prometheus text format (0.0.4).
    /// `min_free_bytes` is the readiness threshold (see [`crate::check_ready`]).
    pub fn render(&self, store: &nas_engine::Store, min_free_bytes: u64) -> String {
        self.refresh(store, min_free_bytes);
        self.text()
    }

    /// The exposition text of the series as they are (nothing refreshed).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        to_prometheus_text(&out)
    }
}

/// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total`;
/// the classic text format (what `promtool check metrics` and older scrapers read) names
/// the family `x_total` in HELP and TYPE, and has no `# EOF`.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| {
            l.strip_prefix("# TYPE ")
                .and_then(|r| r.strip_suffix(" counter"))
        })
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// A listener's connection counts, kept by its acceptor.
#[derive(Clone)]
pub struct ConnectionSeries {
    open: Gauge,
    refused: Counter,
}

impl ConnectionSeries {
    /// A connection was accepted.
    pub fn opened(&self) {
        self.open.inc();
    }
    /// An accepted connection ended.
    pub fn closed(&self) {
        self.open.dec();
    }
    /// A connection was closed at once: the listener was full.
    pub fn refused(&self) {
        self.refused.inc();
    }
}

/// Names the door of a listener whose requests [`track`] cannot tell by path (the S3
/// listener): add it as a request extension before `track` runs.
#[derive(Debug, Clone, Copy)]
pub struct Door(pub &'static str);

pub(crate) fn door_of(path: &str) -> &'static str {
    if path == "/dav" || path.starts_with("/dav/") {
        "webdav"
    } else if path.starts_with("/api/") {
        "rest"
    } else if path.starts_with("/metrics") || path == "/healthz" || path == "/readyz" {
        "ops"
    } else {
        "other"
    }
}

/// The methods that are label values; any other method is counted as `other`, so a
/// client cannot grow the registry by inventing methods.
pub const KNOWN_METHODS: [&str; 15] = [
    "GET",
    "HEAD",
    "PUT",
    "POST",
    "DELETE",
    "OPTIONS",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
];

/// The label value of a request method: itself when known, else `other`.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|k| **k == m.as_str())
        .copied()
        .unwrap_or("other")
}

/// A request in flight: counted up when made, down when dropped — also when the request's
/// future is dropped part way (a client that went away, a panic caught further out).
struct InFlight(Gauge);

impl InFlight {
    fn enter(g: Gauge) -> InFlight {
        g.inc();
        InFlight(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Axum middleware recording every request: count by door, method and status, latency,
/// body bytes in both directions (counted as they stream), requests in flight.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let door = match req.extensions().get::<Door>() {
        Some(d) => d.0,
        None => door_of(req.uri().path()),
    };
    let method = method_label(req.method());
    let door_l: Labels = vec![("door".into(), door.into())];
    let inflight = InFlight::enter(m.in_flight.get_or_create(&door_l).clone());
    let start = Instant::now();
    let bytes_in = m.bytes_in.get_or_create(&door_l).clone();
    let req = req.map(|b| {
        Body::new(b.map_frame(move |f| {
            if let Some(d) = f.data_ref() {
                bytes_in.inc_by(d.len() as u64);
            }
            f
        }))
    });
    let resp = next.run(req).await;
    drop(inflight);
    let status = resp.status().as_u16().to_string();
    m.requests
        .get_or_create(&vec![
            ("door".into(), door.into()),
            ("method".into(), method.into()),
            ("status".into(), status),
        ])
        .inc();
    m.duration
        .get_or_create(&vec![
            ("door".into(), door.into()),
            ("method".into(), method.into()),
        ])
        .observe(start.elapsed().as_secs_f64());
    let bytes_out = m.bytes_out.get_or_create(&door_l).clone();
    resp.map(|b| {
        Body::new(b.map_frame(move |f| {
            if let Some(d) = f.data_ref() {
                bytes_out.inc_by(d.len() as u64);
            }
            f
        }))
    })
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a scrape may see the series: see [`crate::MetricsAccess`].
async fn may_scrape(access: &crate::MetricsAccess, headers: &HeaderMap, client: IpAddr) -> bool {
    if access.open {
        return true;
    }
    let Some((scheme, value)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return access
            .token
            .as_deref()
            .is_some_and(|t| same_secret(t.as_bytes(), value.trim().as_bytes()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(check) = access.basic.clone() else {
        return false;
    };
    let Some((user, pass)) = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
    else {
        return false;
    };
    tokio::task::spawn_blocking(move || check(&user, &pass, client))
        .await
        .unwrap_or(false)
}

/// `GET /metrics`: the exposition, for those [`crate::MetricsAccess`] lets in (401
/// otherwise, with a challenge for both schemes).
pub async fn scrape(
    State(o): State<Observe>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !may_scrape(&o.access, &headers, peer.ip()).await {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            "metrics need the metrics token (Authorization: Bearer) or an administrator's credentials; see docs/security.md\n",
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\", Basic realm=\"metrics\""),
        );
        return r;
    }
    if let Some(count) = &o.sessions {
        o.metrics
            .sessions
            .set(i64::try_from(count()).unwrap_or(i64::MAX));
    }
    if let Some(log) = &o.audit {
        o.metrics.audit.sync(log.counts());
    }
    let text =
        tokio::task::spawn_blocking(move || o.metrics.render(&o.store, o.min_free_bytes)).await;
    match text {
        Ok(t) => {
            let mut r = t.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(super::method_label(&Method::GET), "GET");
        assert_eq!(
            super::method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "PROPFIND"
        );
        let odd = Method::from_bytes("X".repeat(60_000).as_bytes()).unwrap();
        assert_eq!(super::method_label(&odd), "other");
        assert_eq!(
            super::method_label(&Method::from_bytes(b"get").unwrap()),
            "other"
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(super::same_secret(b"abc", b"abc"));
        assert!(!super::same_secret(b"abc", b"abd"));
        assert!(!super::same_secret(b"abc", b"ab"));
        assert!(!super::same_secret(b"", b"a"));
    }

    #[test]
    fn counters_get_total_names_in_the_classic_format() {
        let om = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n# EOF\n";
        let t = super::to_prometheus_text(om);
        assert_eq!(
            t,
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }
}

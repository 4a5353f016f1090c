//! The JSON shapes of the operations routes (`/admin/keys`, `/admin/locks`,
//! `/admin/workers`, `/admin/audit`), with their OpenAPI schemas. Times are Unix seconds.

use nas_engine::audit::AuditRecord;
use nas_engine::workers::{Progress, WorkerState};
use nas_engine::{KeyRecord, LockRecord};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::{IntoParams, ToSchema};

fn secs(ns: i64) -> i64 {
    ns.div_euclid(1_000_000_000)
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `?user=`: only this user's keys or locks.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only this user's (all users when absent).
    pub user: Option<String>,
}

/// An S3 access key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyJson {
    /// Access key id (public).
    pub access_key_id: String,
    /// Owner.
    pub user: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Revoked keys are refused by the S3 door.
    pub revoked: bool,
    /// What its owner called it, if anything.
    pub name: Option<String>,
    /// Requests signed with it may read, never change anything.
    pub read_only: bool,
}

impl From<&KeyRecord> for KeyJson {
    fn from(k: &KeyRecord) -> Self {
        KeyJson {
            access_key_id: k.access_key.clone(),
            user: k.user.clone(),
            created: secs(k.created_ns),
            revoked: k.revoked,
            name: k.name.clone(),
            read_only: k.read_only,
        }
    }
}

/// Access keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeysResponse {
    /// Oldest first.
    pub keys: Vec<KeyJson>,
}

/// `POST /admin/keys` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    /// Owner of the new key (an existing user).
    pub user: String,
    /// A name to recognise it by (optional, up to 100 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// Read-only: requests signed with it may read, never change anything (default false).
    #[serde(default)]
    pub read_only: bool,
}

/// A new key pair. The secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyJson {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (shown once).
    pub secret_access_key: String,
    /// Owner.
    pub user: String,
    /// Its name, if given.
    pub name: Option<String>,
    /// Requests signed with it may read, never change anything.
    pub read_only: bool,
}

impl From<nas_engine::KeyRecord> for CreatedKeyJson {
    fn from(k: nas_engine::KeyRecord) -> Self {
        CreatedKeyJson {
            access_key_id: k.access_key,
            secret_access_key: k.secret,
            user: k.user,
            name: k.name,
            read_only: k.read_only,
        }
    }
}

/// A WebDAV lock.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockJson {
    /// Lock token (`urn:uuid:…`), what `DELETE /admin/locks/{token}` takes.
    pub token: String,
    /// The user whose home holds the locked path.
    pub user: String,
    /// Locked path in that home.
    pub path: String,
    /// Shared (else exclusive).
    pub shared: bool,
    /// Depth infinity (else 0).
    pub deep: bool,
    /// Who took it, when known.
    pub principal: Option<String>,
    /// When it was taken, Unix seconds.
    pub created: i64,
    /// When it expires, Unix seconds (`null`: never).
    pub expires: Option<i64>,
}

impl From<&LockRecord> for LockJson {
    fn from(l: &LockRecord) -> Self {
        LockJson {
            token: l.token.clone(),
            user: l.space.clone(),
            path: l.path.clone(),
            shared: l.shared,
            deep: l.deep,
            principal: l.principal.clone(),
            created: secs(l.created_ns),
            expires: l.expires_ns.map(secs),
        }
    }
}

/// WebDAV locks.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocksResponse {
    /// Unexpired locks, oldest first.
    pub locks: Vec<LockJson>,
}

/// What a worker's last successful run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeJson {
    /// A short human summary.
    pub summary: String,
    /// Disk bytes given back.
    pub freed_bytes: u64,
    /// Things acted on (chunks freed, versions deleted, entries expired, chunks verified).
    pub items: u64,
    /// Problems found (scrub).
    pub damage: u64,
}

/// How far a worker's current run is, as the job last reported it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressJson {
    /// Done so far (in the current phase).
    pub done: u64,
    /// The phase's total, when known.
    pub total: Option<u64>,
    /// What `done` and `total` count: `bytes` (scrub), `chunks` then `packs` (GC), `files`
    /// then `versions` (retention), `entries` (trash and upload expiry), `items`.
    pub unit: String,
    /// `done / total` between 0 and 1, when the total is known.
    pub ratio: Option<f64>,
}

impl From<&Progress> for ProgressJson {
    fn from(p: &Progress) -> Self {
        ProgressJson {
            done: p.done,
            total: p.total,
            unit: p.unit.as_str().to_owned(),
            ratio: p.ratio(),
        }
    }
}

/// A background worker and its last runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerJson {
    /// `gc`, `retention`, `trash`, `scrub`, `s3_uploads`…
    pub name: String,
    /// Seconds between runs.
    pub interval_secs: u64,
    /// A run is in progress.
    pub running: bool,
    /// How far the current run is (`null` when idle, or before the run first reports).
    pub progress: Option<ProgressJson>,
    /// Start of the last (or current) run, Unix seconds.
    pub last_start: Option<i64>,
    /// End of the last finished run.
    pub last_end: Option<i64>,
    /// End of the last successful run.
    pub last_success: Option<i64>,
    /// When the next run is due (`null` while one runs).
    pub next_run: Option<i64>,
    /// What the last successful run did.
    pub last_outcome: Option<OutcomeJson>,
    /// Error of the last run, if it failed.
    pub last_error: Option<String>,
    /// Finished runs since the server started.
    pub runs: u64,
    /// Finished runs that failed.
    pub failures: u64,
}

impl From<&WorkerState> for WorkerJson {
    fn from(w: &WorkerState) -> Self {
        WorkerJson {
            name: w.name.clone(),
            interval_secs: w.interval.as_secs(),
            running: w.running,
            progress: w.progress.as_ref().map(ProgressJson::from),
            last_start: w.last_start.map(unix),
            last_end: w.last_end.map(unix),
            last_success: w.last_success.map(unix),
            next_run: w.next_run.map(unix),
            last_outcome: w.last_outcome.as_ref().map(|o| OutcomeJson {
                summary: o.summary.clone(),
                freed_bytes: o.freed_bytes,
                items: o.items,
                damage: o.damage,
            }),
            last_error: w.last_error.clone(),
            runs: w.runs,
            failures: w.failures,
        }
    }
}

/// Background workers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkersResponse {
    /// In the order they were scheduled.
    pub workers: Vec<WorkerJson>,
}

/// What `POST /admin/workers/{name}/run` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResponse {
    /// The worker was idle and starts now.
    pub started: bool,
    /// A run is in progress; another starts as soon as it ends.
    pub queued_after_current_run: bool,
}

/// `GET /admin/audit` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this user's entries.
    pub user: Option<String>,
    /// Only this door's: `webdav`, `s3`, `rest`, `ops`, `other`.
    pub door: Option<String>,
    /// Only entries at or after this time, Unix seconds.
    pub since: Option<i64>,
    /// Only entries before this time, Unix seconds.
    pub until: Option<i64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditJson {
    /// Increases with time.
    pub id: i64,
    /// When the request was answered, Unix seconds.
    pub time: i64,
    /// The same, in milliseconds.
    pub time_ms: i64,
    /// The user, when known; for a refused sign-in the name that was tried.
    pub user: Option<String>,
    /// `webdav`, `s3`, `rest`, `ops` or `other`.
    pub door: String,
    /// `write` (a change) or `auth_failure` (401 or 403).
    pub kind: String,
    /// Client address (the peer, or what a trusted proxy forwarded for).
    pub client: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path as sent (no query string).
    pub path: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Destination of a move or copy.
    pub destination: Option<String>,
    /// The S3 access key id the request was signed with.
    pub access_key_id: Option<String>,
}

impl From<AuditRecord> for AuditJson {
    fn from(r: AuditRecord) -> Self {
        AuditJson {
            id: r.id,
            time: secs(r.time_ns),
            time_ms: r.time_ns.div_euclid(1_000_000),
            user: r.user,
            door: r.door,
            kind: r.kind,
            client: r.client,
            method: r.method,
            path: r.path,
            status: r.status,
            destination: r.destination,
            access_key_id: r.access_key,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    /// Newest first.
    pub entries: Vec<AuditJson>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A node of the cluster as it last announced itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeJson {
    /// Its name (`[cluster] node`).
    pub name: String,
    /// Where it serves.
    pub address: String,
    /// The program's version it runs.
    pub version: String,
    /// A random id of its process (changes when it restarts).
    pub instance: String,
    /// When it started, Unix seconds.
    pub started: i64,
    /// Seconds since its last heartbeat (every 10 s).
    pub last_seen_secs: i64,
    /// Heard from within 30 s.
    pub live: bool,
    /// The node that answered this request.
    pub this_node: bool,
}

/// `GET /admin/nodes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodesResponse {
    /// Whether this server is a node of a cluster (metadata in PostgreSQL); a single
    /// server lists no nodes.
    pub cluster: bool,
    /// The nodes, by name: live ones and those that stopped answering (kept a day).
    pub nodes: Vec<NodeJson>,
}

impl NodeJson {
    /// `r` as listed, `this` being the instance of the node answering.
    pub fn of(r: &nas_engine::ClusterNode, this: Option<&str>) -> NodeJson {
        NodeJson {
            name: r.name.clone(),
            address: r.address.clone(),
            version: r.version.clone(),
            instance: r.instance.clone(),
            started: secs(r.started_ns),
            last_seen_secs: secs(r.age_ns.max(0)),
            live: r.age_ns < nas_engine::NODE_LIVE.as_nanos() as i64,
            this_node: this == Some(r.instance.as_str()),
        }
    }
}

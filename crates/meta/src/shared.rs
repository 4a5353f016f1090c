//! What the nodes of a cluster share besides the file tree: small named documents
//! ([`Documents`]: the REST door's token secret and session table), counts of failed
//! sign-ins ([`FailureCounts`]: nas-auth's throttling, so an attacker gains nothing by
//! spreading guesses over the nodes) and locks that exclude holders in every process using
//! the database ([`AdvisoryLocks`]: keyed locks of the doors, one run of each background
//! worker at a time). The engine's cluster coordinator
//! (`nas_engine::coord`) is built on them; see `docs/design/coordination.md`.
//!
//! [`SqliteMeta`](crate::SqliteMeta) keeps documents and failure counts too (one process owns a SQLite
//! store, so it needs no advisory locks); `PgMeta` provides both.

use crate::MetaResult;

/// A document as stored: its bytes and its version (raised by each replacement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// 1 when first stored, raised by one on each [`Documents::put_document`].
    pub version: i64,
}

/// Small named documents in the metadata database, each read and replaced whole.
pub trait Documents: Send + Sync {
    /// The document `name`, if stored.
    fn document(&self, name: &str) -> MetaResult<Option<Document>>;
    /// The version of `name` (`None`: not stored), one small query: lets a reader keep a
    /// decoded copy and re-read it only when it changed.
    fn document_version(&self, name: &str) -> MetaResult<Option<i64>>;
    /// Stores `bytes` as `name`, replacing what was there; the new version.
    fn put_document(&self, name: &str, bytes: &[u8]) -> MetaResult<i64>;
    /// Stores `bytes` as `name` unless a document of that name exists; what is stored
    /// afterwards (so every caller racing to create it gets the same bytes).
    fn create_document(&self, name: &str, bytes: &[u8]) -> MetaResult<Vec<u8>>;
}

/// The key of a failure count: a 128-bit hash chosen by the caller (an address, an
/// address and user name, each within a scope).
pub type FailureKey = [u8; 16];

/// A failure count as read: how many failures, and how long ago the last one was (by the
/// database's clock, so nodes whose clocks differ agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures counted since the count last started.
    pub failures: u32,
    /// Nanoseconds since the last counted failure.
    pub age_ns: i64,
}

/// Counts of failures (failed sign-ins) kept in the metadata database, each forgotten a
/// window after its last failure. Every change is one atomic statement, so parallel
/// attempts on several nodes each see the others' counts.
pub trait FailureCounts: Send + Sync {
    /// Counts one failure of each `(key, cap)`: a count whose last failure is older than
    /// `window_ns` starts again at 1; a count at its `cap` stays there, its time unchanged
    /// (an attempt refused for being over the limit does not extend the window). Returns
    /// the counts after, in the order of `keys`.
    fn count_failures(
        &self,
        keys: &[(FailureKey, u32)],
        window_ns: i64,
    ) -> MetaResult<Vec<FailureCount>>;
    /// The live count of each key (`None`: no failure within `window_ns`).
    fn failure_counts(
        &self,
        keys: &[FailureKey],
        window_ns: i64,
    ) -> MetaResult<Vec<Option<FailureCount>>>;
    /// Takes one failure off `less` (if counted) and forgets `clear`.
    fn forgive(&self, less: &FailureKey, clear: &FailureKey) -> MetaResult<()>;
    /// Forgets every count whose last failure is older than `window_ns`; how many.
    fn prune_failures(&self, window_ns: i64) -> MetaResult<u64>;
}

/// A node of a cluster as it last announced itself ([`NodeRegistry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node's name (`[cluster] node`), unique in the cluster.
    pub name: String,
    /// A random id of the running process: a restart, or a second process under the same
    /// name, shows as another instance.
    pub instance: String,
    /// The program's version.
    pub version: String,
    /// Where it serves (its listen address as it reports it).
    pub address: String,
    /// When the process started (ns since the Unix epoch, by its own clock).
    pub started_ns: i64,
    /// Nanoseconds since its last heartbeat, by the database's clock (0 when written).
    pub age_ns: i64,
}

/// The nodes of a cluster: each announces itself every few seconds; a reader sees who is
/// there and how long ago each was last heard from.
pub trait NodeRegistry: Send + Sync {
    /// Records `node` as heard from now, replacing its previous record; the instance that
    /// had the name before, if another, with the age of its last heartbeat (a second
    /// process under the same name, or the previous run of this one). Records not heard
    /// from for `forget_ns` are deleted.
    fn heartbeat(&self, node: &ClusterNode, forget_ns: i64) -> MetaResult<Option<(String, i64)>>;
    /// Every node recorded, by name.
    fn nodes(&self) -> MetaResult<Vec<ClusterNode>>;
    /// Deletes the record of `name` if it is still `instance`'s (a node leaving); whether
    /// it did.
    fn leave(&self, name: &str, instance: &str) -> MetaResult<bool>;
}

/// A lock held in the database; dropping it releases it. A holder that dies (its
/// connection ends) releases it too.
#[must_use = "the lock is released when dropped"]
pub struct HeldLock(#[allow(dead_code)] Box<dyn Send>);

impl HeldLock {
    /// Wraps what releases the lock when dropped.
    pub fn new(release: impl Send + 'static) -> HeldLock {
        HeldLock(Box::new(release))
    }
}

/// Locks by 64-bit key that exclude holders in every process sharing the database
/// (PostgreSQL's session advisory locks, each on a connection of its own).
pub trait AdvisoryLocks: Send + Sync {
    /// Waits until lock `key` is free and takes it.
    fn lock(&self, key: i64) -> MetaResult<HeldLock>;
    /// Takes lock `key` if it is free now; `None` when someone holds it.
    fn try_lock(&self, key: i64) -> MetaResult<Option<HeldLock>>;
}

//! What the nodes of a cluster share besides the file tree: small named documents
//! ([`Documents`]: the REST door's token secret and session table) and locks that exclude
//! holders in every process using the database ([`AdvisoryLocks`]: keyed locks of the
//! doors, one run of each background worker at a time). The engine's cluster coordinator
//! (`nas_engine::coord`) is built on them; see `docs/design/coordination.md`.
//!
//! [`SqliteMeta`](crate::SqliteMeta) keeps documents too (one process owns a SQLite
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

//! The coordination seam: everything that today assumes one process owns the data
//! directory, behind one trait, so that cluster mode (issue 17) can move it into the
//! shared database or a message bus without touching the engine or the doors.
//!
//! A [`Coordinator`] provides:
//! - **pins** ([`Coordinator::pin_chunks`], [`Coordinator::unpin`],
//!   [`Coordinator::pin_section`]): what a write in flight relies on, which GC must not
//!   free (see the pin rules in `pins.rs` and invariants 3 and 4 of ARCHITECTURE.md);
//! - **ownership** of the data: holding a coordinator made by
//!   [`LocalCoordinator::lock_dir`] is holding the data directory's exclusive lock;
//! - **keyed locks** ([`Coordinator::lock_key`]): mutual exclusion per (scope, key) — S3
//!   multipart completion/abort/expiry, tus completion/termination/expiry, WebDAV lock
//!   check-then-insert;
//! - **absence hints** ([`Coordinator::hint`]): "no WebDAV lock / no dead property can
//!   exist", which spare a query per PROPFIND entry;
//! - **small state** kept outside the metadata database ([`Coordinator::secret`],
//!   [`Coordinator::load_state`], [`Coordinator::store_state`]): the REST door's token
//!   secret and session table.
//!
//! [`LocalCoordinator`] is the single-process implementation; [`ClusterCoordinator`] the
//! one for several nodes sharing a PostgreSQL database (cluster mode). What each piece guarantees,
//! and what a multi-node implementation must provide, is in `docs/design/coordination.md`.

mod cluster;
mod local;

pub use cluster::ClusterCoordinator;
pub use local::LocalCoordinator;

use crate::error::EngineResult;

use nas_meta::{FailureCounts, NodeRegistry};
use nas_types::{ChunkId, PackId};
use std::sync::Arc;
use std::time::Duration;

/// How often a node of a cluster announces itself in the node registry
/// ([`Coordinator::node_registry`]).
pub const NODE_BEAT: Duration = Duration::from_secs(10);
/// A node heard from within this long is live (three heartbeats).
pub const NODE_LIVE: Duration = Duration::from_secs(30);
/// A node not heard from for this long is dropped from the registry by another's heartbeat.
pub const NODE_FORGET: Duration = Duration::from_secs(24 * 3600);

/// The pin set as seen while the pin lock is held (see [`Coordinator::pin_section`]).
pub trait PinSection {
    /// Pins a pack: a frame was just appended to it and is not committed yet.
    fn pin_pack(&mut self, pack: PackId);
    /// Whether a chunk is pinned (GC must not delete its index row).
    fn chunk_pinned(&self, id: &ChunkId) -> bool;
    /// Whether a pack holds uncommitted frames (GC must not delete it).
    fn pack_pinned(&self, pack: PackId) -> bool;
}

/// Held while a keyed lock is held; dropping it releases the lock.
#[must_use = "the lock is released when the guard is dropped"]
pub struct KeyGuard<'a>(#[allow(dead_code)] Box<dyn Send + 'a>);

impl<'a> KeyGuard<'a> {
    /// Wraps what releases the lock when dropped.
    pub fn new(release: impl Send + 'a) -> KeyGuard<'a> {
        KeyGuard(Box::new(release))
    }
}

/// A fact that is usually "nothing of this kind exists", cached so that readers can skip
/// a query. Only this process's own writes set it to "some may exist".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    /// Whether any WebDAV lock may exist.
    Locks,
    /// Whether any dead property may exist.
    DeadProps,
}

/// What a hint says now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintState {
    /// `Some(false)`: none exists; `Some(true)`: some may; `None`: unknown (ask the database).
    pub known: Option<bool>,
    /// Raised by every [`Coordinator::note_created`]: an answer computed from a read that
    /// began before a creation must not be recorded ([`Coordinator::settle_hint`]).
    pub generation: u64,
}

/// Coordination of the processes (one today) that share a store. Implementations are
/// shared by every handle of a store (`Send + Sync`) and must never lose a pin or let two
/// holders of one key lock in at once. See the module documentation.
pub trait Coordinator: Send + Sync {
    /// Pins chunk ids (counted: pinning twice needs two unpins). Taken by a writer before
    /// it looks a chunk up for dedup, held until its commit or abort.
    fn pin_chunks(&self, ids: &mut dyn ExactSizeIterator<Item = &ChunkId>);
    /// Releases chunk pins and pack pins taken by one writer.
    fn unpin(&self, chunks: &mut dyn Iterator<Item = &ChunkId>, packs: &[PackId]);
    /// Takes the pin lock until the section is dropped: a writer appends a frame and pins
    /// its pack inside it; GC checks pins and deletes rows or packs inside it. No pin can
    /// be taken while a section is open.
    fn pin_section(&self) -> Box<dyn PinSection + '_>;
    /// Holds the lock of `key` within `scope` until the guard is dropped; waits while
    /// another holder (in this process or, for a multi-node implementation, in any) has it.
    /// Fails only when the lock cannot be had at all (the shared database is unreachable).
    fn lock_key(&self, scope: &str, key: &str) -> EngineResult<KeyGuard<'_>>;
    /// The lease of background job `name` (one run at a time across every process of the
    /// store) if no one holds it now; `None` when another holder has it. Held until the
    /// guard is dropped.
    fn lease(&self, name: &str) -> EngineResult<Option<KeyGuard<'_>>>;
    /// Whether other processes change this coordinator's state too (cluster mode): then a
    /// copy of a document kept in memory must be checked against
    /// [`state_version`](Coordinator::state_version) before it is trusted.
    fn shared(&self) -> bool {
        false
    }
    /// Where failed sign-ins are counted when every process must see the others' counts
    /// (cluster mode: the shared database); `None` when this process counts alone.
    fn failure_counts(&self) -> Option<Arc<dyn FailureCounts>> {
        None
    }
    /// The registry of the cluster's nodes, where each announces itself (cluster mode);
    /// `None` when this process is the only one.
    fn node_registry(&self) -> Option<Arc<dyn NodeRegistry>> {
        None
    }
    /// The version of document `name` (raised by each [`store_state`](Coordinator::store_state)),
    /// when the coordinator keeps versions (`None` also when it is not stored).
    fn state_version(&self, _name: &str) -> std::io::Result<Option<i64>> {
        Ok(None)
    }
    /// What the hint says now.
    fn hint(&self, hint: Hint) -> HintState;
    /// Records whether anything of the kind exists, as read by a query that began when the
    /// hint was at `generation`; ignored if something was created since.
    fn settle_hint(&self, hint: Hint, generation: u64, any: bool);
    /// Something of the kind was just created (before the write that stores it).
    fn note_created(&self, hint: Hint);
    /// The store's 32-byte secret called `name`, made (from the system's random source) and
    /// kept durably on first use; the same bytes for every later call and every process.
    fn secret(&self, name: &str) -> std::io::Result<[u8; 32]>;
    /// The small document called `name` (`None` until first stored).
    fn load_state(&self, name: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Replaces the document called `name`, atomically (a reader or a crash sees the old or
    /// the new bytes, never a mix) and durably (when this returns).
    fn store_state(&self, name: &str, bytes: &[u8]) -> std::io::Result<()>;
}

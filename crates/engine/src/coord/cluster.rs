//! [`ClusterCoordinator`]: coordination of several nodes (processes, usually on several
//! machines) that share one PostgreSQL metadata database — cluster mode, issue 17.
//!
//! - **Pins** stay in the node ([`LocalCoordinator`]): a pin protects a write in flight
//!   from this node's GC. Across nodes, GC's grace period does it: a chunk or pack is
//!   collected only after it has been unreferenced for longer than any write can take, and
//!   a commit that references it again revives it (`docs/design/versions-and-gc.md`).
//! - **Keyed locks** are taken in the node first (threads of one node wait in memory, not
//!   each on a database connection), then as a PostgreSQL advisory lock on the hash of
//!   (scope, key), held on a connection of its own until the guard drops. A node that
//!   dies ends its sessions, and PostgreSQL releases its locks.
//! - **Leases** of background jobs are advisory locks taken without waiting: one node runs
//!   each job at a time; the others skip their turn.
//! - **Hints** are always "unknown": another node may create a lock or a property at any
//!   time, so every reader asks the database (one query more per PROPFIND entry).
//! - **Small state** (the REST token secret, the session table) is kept as documents in
//!   the database, with versions ([`Coordinator::state_version`]).
//!
//! The node's own data directory (its pack cache) stays locked by the node for its life
//! ([`LocalCoordinator::lock_dir`]): two nodes never share one.

use super::local::LEASE_SCOPE;
use super::{Coordinator, Hint, HintState, KeyGuard, LocalCoordinator, PinSection};
use crate::error::{EngineError, EngineResult};
use nas_meta::{AdvisoryLocks, FailureCounts, MetaError, MetaStore, NodeRegistry};
use nas_types::{ChunkId, PackId};
use std::sync::Arc;

/// Coordination through the shared metadata database (see the module documentation).
pub struct ClusterCoordinator {
    local: LocalCoordinator,
    meta: Arc<dyn MetaStore>,
    locks: Arc<dyn AdvisoryLocks>,
}

/// The advisory lock key of `key` within `scope`: the first 8 bytes of a BLAKE3 hash (a
/// collision between two keys only makes one wait for the other).
fn lock_id(scope: &str, key: &str) -> i64 {
    let mut h = blake3::Hasher::new();
    h.update(b"silent-nas lock\0");
    h.update(scope.as_bytes());
    h.update(b"\0");
    h.update(key.as_bytes());
    let b = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&b.as_bytes()[..8]);
    i64::from_le_bytes(first)
}

fn unavailable(e: MetaError) -> EngineError {
    EngineError::Unavailable(format!("cluster lock: {e}"))
}

fn io(e: MetaError) -> std::io::Error {
    std::io::Error::other(e)
}

impl ClusterCoordinator {
    /// Coordination through `meta` (its documents, failure counts and node registry) and
    /// `locks` (the same database), over `local`: the node's own data directory, locked
    /// ([`LocalCoordinator::lock_dir`]).
    pub fn new(
        local: LocalCoordinator,
        meta: Arc<dyn MetaStore>,
        locks: Arc<dyn AdvisoryLocks>,
    ) -> ClusterCoordinator {
        ClusterCoordinator { local, meta, locks }
    }
}

impl Coordinator for ClusterCoordinator {
    fn pin_chunks(&self, ids: &mut dyn ExactSizeIterator<Item = &ChunkId>) {
        self.local.pin_chunks(ids);
    }

    fn unpin(&self, chunks: &mut dyn Iterator<Item = &ChunkId>, packs: &[PackId]) {
        self.local.unpin(chunks, packs);
    }

    fn pin_section(&self) -> Box<dyn PinSection + '_> {
        self.local.pin_section()
    }

    fn lock_key(&self, scope: &str, key: &str) -> EngineResult<KeyGuard<'_>> {
        let here = self.local.lock_key(scope, key)?;
        let everywhere = self.locks.lock(lock_id(scope, key)).map_err(unavailable)?;
        // dropped in this order: the database lock first, then the node's
        Ok(KeyGuard::new((everywhere, here)))
    }

    fn lease(&self, name: &str) -> EngineResult<Option<KeyGuard<'_>>> {
        let Some(here) = self.local.lease(name)? else {
            return Ok(None);
        };
        Ok(self
            .locks
            .try_lock(lock_id(LEASE_SCOPE, name))
            .map_err(unavailable)?
            .map(|everywhere| KeyGuard::new((everywhere, here))))
    }

    fn shared(&self) -> bool {
        true
    }

    fn failure_counts(&self) -> Option<Arc<dyn FailureCounts>> {
        Some(self.meta.clone())
    }

    fn node_registry(&self) -> Option<Arc<dyn NodeRegistry>> {
        Some(self.meta.clone())
    }

    fn state_version(&self, name: &str) -> std::io::Result<Option<i64>> {
        self.meta.document_version(name).map_err(io)
    }

    /// Always unknown: another node may create one at any time.
    fn hint(&self, _hint: Hint) -> HintState {
        HintState::default()
    }

    fn settle_hint(&self, _hint: Hint, _generation: u64, _any: bool) {}

    fn note_created(&self, _hint: Hint) {}

    /// Made by the first node that asks (`INSERT … ON CONFLICT DO NOTHING`), read back by
    /// every other: all nodes sign with the same key.
    fn secret(&self, name: &str) -> std::io::Result<[u8; 32]> {
        let mut fresh = [0u8; 32];
        rand::fill(&mut fresh);
        let kept = self.meta.create_document(name, &fresh).map_err(io)?;
        kept.as_slice().try_into().map_err(|_| {
            std::io::Error::other(format!(
                "the shared secret {name} is damaged (expected 32 bytes); delete its row \
                 from the documents table to sign everyone out"
            ))
        })
    }

    fn load_state(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.meta.document(name).map_err(io)?.map(|d| d.bytes))
    }

    fn store_state(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.meta.put_document(name, bytes).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::lock_id;

    #[test]
    fn lock_ids_differ_by_scope_and_key() {
        assert_ne!(lock_id("a", "b"), lock_id("a", "c"));
        assert_ne!(lock_id("ab", ""), lock_id("a", "b"));
        assert_eq!(lock_id("s3-uploads", "x"), lock_id("s3-uploads", "x"));
    }
}

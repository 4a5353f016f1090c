//! Dedup lookups in batches. A writer's new chunks (the first occurrence of each id in its
//! file) wait here — pinned, their bytes copied — until [`BATCH`] of them (or [`BYTES`] of
//! their bytes) are waiting or the stream ends; then one chunk-index query says which are
//! stored already, and the others are stored, in file order. On PostgreSQL that is one
//! round trip per 64 chunks instead of one per chunk (a large PUT in cluster mode, issue
//! 17); on SQLite one read transaction instead of 64.
//!
//! GC's rules are the same as for a lookup of one chunk: each id is pinned before it is
//! looked up (so GC on this node keeps its row until the commit), and a row another node's
//! GC could take is protected by the grace period and revived by the commit's reference
//! (`docs/design/versions-and-gc.md`).

use super::Pipeline;
use crate::error::{EngineError, EngineResult};
use nas_types::ChunkId;

/// Chunks looked up in one query, at most (as reads look chunk records up 64 at a time).
pub(super) const BATCH: usize = 64;
/// Bytes of waiting chunks, at most, before they are looked up (bounds a writer's memory:
/// 64 chunks of the default 32 KiB average are 2 MiB; of the largest, 128 KiB, 8 MiB).
pub(super) const BYTES: usize = 4 << 20;

/// A new chunk waiting for its lookup.
pub(super) struct Waiting {
    pub id: ChunkId,
    /// Where the chunk starts in the file.
    pub offset: u64,
    /// Where its bytes start in [`Lookups::data`].
    pub start: usize,
    pub len: usize,
    /// The answer when it is known already (a hint looked up for many writes at once).
    pub known: Option<bool>,
}

/// The chunks waiting for their lookup, and their bytes back to back.
#[derive(Default)]
pub(super) struct Lookups {
    pub waiting: Vec<Waiting>,
    pub data: Vec<u8>,
}

impl Lookups {
    /// Queues a chunk; true when the batch is full and must be looked up now.
    pub fn push(&mut self, id: ChunkId, offset: u64, bytes: &[u8], known: Option<bool>) -> bool {
        self.waiting.push(Waiting {
            id,
            offset,
            start: self.data.len(),
            len: bytes.len(),
            known,
        });
        self.data.extend_from_slice(bytes);
        self.waiting.len() >= BATCH || self.data.len() >= BYTES
    }

    /// The ids whose answer is not known yet, in order.
    pub fn to_ask(&self) -> Vec<ChunkId> {
        self.waiting
            .iter()
            .filter(|w| w.known.is_none())
            .map(|w| w.id)
            .collect()
    }

    /// Empties the queue, keeping its buffers for the next batch.
    pub fn clear(&mut self) {
        self.waiting.clear();
        self.data.clear();
    }
}

impl Pipeline {
    /// Looks the waiting chunks up in one query and stores, in file order, those the
    /// index does not hold (the others are deduplicated: referenced at commit, protected
    /// by their pins until then).
    pub(super) fn look_up(&mut self) -> EngineResult<()> {
        if self.lookups.waiting.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.lookups);
        let ask = batch.to_ask();
        let present = match ask.len() {
            0 => Vec::new(),
            _ => self.inner.meta.chunks_present(&ask)?,
        };
        if present.len() != ask.len() {
            return Err(EngineError::Internal(format!(
                "{} answers for {} chunk lookups",
                present.len(),
                ask.len()
            )));
        }
        let mut answers = present.into_iter();
        for w in &batch.waiting {
            let stored = match w.known {
                Some(k) => k,
                None => answers.next().unwrap_or(false),
            };
            if !stored {
                self.store(w.id, &batch.data[w.start..w.start + w.len], w.offset)?;
            }
        }
        batch.clear();
        self.lookups = batch; // its buffers serve the next batch
        Ok(())
    }
}

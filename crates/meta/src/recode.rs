//! What cold recompression hands the chunk index ([`crate::ChunkIndex::recode`]).

use crate::ChunkRow;
use nas_blob::BlobLocation;
use nas_types::ChunkId;

/// A chunk re-encoded by cold recompression: its new (durable) frame replaces the old one.
#[derive(Debug, Clone, Copy)]
pub struct Recode {
    /// The chunk's row.
    pub row: ChunkRow,
    /// Where its frame was when read: the recode applies only if the row still points there.
    pub old: BlobLocation,
    /// Where the new frame is.
    pub loc: BlobLocation,
    /// Codec tag of the new frame.
    pub codec: u8,
    /// For a delta: its base (stored whole, pinned by the caller), which gains a reference.
    pub base: Option<ChunkId>,
    /// For a delta: the frame length the chunk has stored whole (see [`NewChunk`]).
    pub whole_len: u32,
}

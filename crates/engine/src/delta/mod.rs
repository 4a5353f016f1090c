//! Delta chunks: the engine's rules for storing a new chunk as a zstd delta (codec 3)
//! against a similar chunk already stored, and for reading one back. Design and figures:
//! `docs/design/delta.md`.
//!
//! - **Choosing a base** (write path, for a chunk that is not a duplicate): first the
//!   chunk covering the same offset in the previous version of the same file (or *its*
//!   base, when that chunk is a delta) unless its sketch shares nothing with the chunk's;
//!   when that does not pay, the chunk sharing the most resemblance super-features
//!   ([`sketch`]) in the metadata store's index. At most [`TRIES`]
//!   candidates are encoded against; the delta is kept only when its frame is at most
//!   [`PAYS_NUM`]/[`PAYS_DEN`] of the chunk's plain frame.
//! - **Depth 1**: a base is always a chunk stored whole (the metadata store refuses
//!   anything else), so a read needs at most one extra chunk and no chain is replayed.
//! - **GC**: a candidate is pinned before it is looked up and stays pinned until the
//!   write commits (or is dropped), exactly as a chunk found for dedup: GC never frees a
//!   row a writer still relies on. The commit gives the base one reference per delta, so
//!   a base outlives every delta needing it.
//! - **Reads**: a delta's base is decoded (and hash-verified) once and kept in a bounded
//!   [`PlainCache`].

pub(crate) mod sketch;

/// Decoded plaintexts by content id (a chunk's content never changes, so an entry is
/// never stale, even after compaction moves its frame), weighed in bytes: a sequential
/// read of a file whose chunks are deltas against the same few bases decodes each once.
pub(crate) type PlainCache = crate::lru::Lru<ChunkId, Arc<Vec<u8>>>;

use crate::error::EngineResult;
use crate::store::Inner;
use nas_blob::BlobError;
use nas_meta::{ChunkRecord, ChunkRow, Extent, Sketch};
use nas_types::{ChunkId, NodeId};
use std::sync::Arc;

/// Base candidates encoded against, at most, per new chunk.
pub(crate) const TRIES: usize = 2;
/// A delta is kept when `delta frame * PAYS_DEN <= plain frame * PAYS_NUM`.
pub(crate) const PAYS_NUM: usize = 3;
/// See [`PAYS_NUM`].
pub(crate) const PAYS_DEN: usize = 5;
/// zstd level of delta frames: with long-distance matching against the base doing most of
/// the work, level 1 makes frames as small as level 3 on edited text at about twice the
/// speed (`crates/codec/examples/delta_speed.rs`).
pub(crate) const LEVEL: i32 = 1;
/// Default bound of the decoded-base cache.
pub const DEFAULT_BASE_CACHE: u64 = 64 << 20;

/// How a store treats new chunks that are not duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaSettings {
    /// Look for a base and store a delta when it pays.
    pub enabled: bool,
    /// zstd level of delta frames.
    pub level: i32,
}

/// What a writer learned about delta candidates for one file: the previous version's
/// extents (looked up once, at the first chunk that needs a base) and the bases it pinned.
pub(crate) struct DeltaState {
    /// The file being written, for the hint.
    target: Option<(NodeId, String)>,
    prev: Option<Option<Arc<Vec<Extent>>>>,
    /// Candidate ids pinned by this writer (one entry per pin taken).
    pub pinned: Vec<ChunkId>,
    /// Cold recompression of a stored chunk: look for a base whatever `[storage] delta`
    /// says (that switch is about the write path's cost), never the chunk itself.
    recode: Option<ChunkId>,
}

/// What the write path stores for a new chunk.
pub(crate) struct Choice {
    /// The base the delta in `out` was encoded against (`None`: store whole).
    pub base: Option<ChunkId>,
    /// The chunk's sketch (indexed when it is stored whole).
    pub sketch: Option<Sketch>,
    /// For a delta, the length of the chunk's plain frame: computed, or estimated from
    /// the base's when the delta is tiny (see [`CLEARLY_PAYS`]).
    pub whole_len: usize,
}

/// A delta at most 1/`CLEARLY_PAYS` of the chunk's plain frame as estimated from its
/// base's (the base's stored frame scaled to the chunk's length) is kept without
/// compressing the chunk alone: a tiny delta means nearly the base's content, so its plain
/// frame is nearly the base's. Most deltas are far below (median 1.8% of the plain frame
/// on the tar series), and the plain frame was a second compression of every such chunk.
pub(crate) const CLEARLY_PAYS: usize = 10;

/// The chunk's plain frame, compressed when first asked for: its length.
pub(crate) type Whole<'a> = &'a mut dyn FnMut() -> usize;

impl DeltaState {
    /// For a write of the file `name` in the folder `parent`.
    pub(crate) fn for_file(parent: NodeId, name: String) -> DeltaState {
        DeltaState {
            target: Some((parent, name)),
            prev: None,
            pinned: Vec::new(),
            recode: None,
        }
    }

    /// For cold recompression of the stored chunk `id` (no previous version to hint).
    pub(crate) fn for_recode(id: ChunkId) -> DeltaState {
        DeltaState {
            target: None,
            prev: None,
            pinned: Vec::new(),
            recode: Some(id),
        }
    }

    /// The previous version's extents, looked up once.
    fn previous(&mut self, inner: &Inner) -> EngineResult<Option<Arc<Vec<Extent>>>> {
        if let Some(p) = &self.prev {
            return Ok(p.clone());
        }
        let mut found = None;
        if let Some((parent, name)) = &self.target
            && let Some(node) = inner.meta.child(*parent, name)?
            && node.kind == nas_meta::NodeKind::File
            && let Some((_, extents)) = inner.meta.version(node.id, None)?
        {
            found = Some(Arc::new(extents));
        }
        self.prev = Some(found.clone());
        Ok(found)
    }

    /// The base the previous version suggests for a chunk at `offset`: the chunk there,
    /// or its base when it is a delta.
    fn hint(&mut self, inner: &Inner, offset: u64) -> EngineResult<Option<ChunkRecord>> {
        let Some(prev) = self.previous(inner)? else {
            return Ok(None);
        };
        let i = prev.partition_point(|e| e.offset + u64::from(e.len) <= offset);
        let Some(e) = prev.get(i) else {
            return Ok(None);
        };
        let Some(rec) = inner.meta.chunk(e.chunk)? else {
            return Ok(None);
        };
        Ok(match rec.base {
            None => Some(rec),
            Some(b) => inner.meta.chunk(b)?,
        })
    }

    /// Looks for a base for the new chunk `data` (at `offset` of the file) and encodes a
    /// delta against it into `out` when one pays against the chunk's plain frame, which
    /// `whole` compresses (once) if the decision needs it.
    pub(crate) fn choose(
        &mut self,
        inner: &Inner,
        data: &[u8],
        offset: u64,
        whole: Whole<'_>,
        out: &mut Vec<u8>,
    ) -> EngineResult<Choice> {
        let mut choice = Choice {
            base: None,
            sketch: None,
            whole_len: 0,
        };
        if (!inner.delta.enabled && self.recode.is_none()) || data.len() < sketch::MIN_LEN {
            return Ok(choice);
        }
        // the hint first — unless both it and the chunk have a sketch and they share no
        // super-feature: then the chunk is new content (half the hints tried on the tar
        // series were), and encoding it against the hint would be wasted
        choice.sketch = sketch::sketch(data);
        let hint = self.hint(inner, offset)?;
        if let Some(h) = &hint
            && resembles(inner, h, choice.sketch.as_ref())?
            && let Some(w) = self.try_base(inner, h, data, whole, out)?
        {
            choice.base = Some(h.id);
            choice.whole_len = w;
            return Ok(choice);
        }
        let Some(sk) = &choice.sketch else {
            return Ok(choice);
        };
        let tries = TRIES - usize::from(hint.is_some());
        let tried = hint.map(|h| h.id);
        for cand in inner.meta.similar_chunks(sk, TRIES)? {
            if Some(cand.id) == tried || Some(cand.id) == self.recode {
                continue;
            }
            if let Some(w) = self.try_base(inner, &cand, data, whole, out)? {
                choice.base = Some(cand.id);
                choice.whole_len = w;
                return Ok(choice);
            }
            if tries == 1 {
                break;
            }
        }
        Ok(choice)
    }

    /// Pins `cand`, checks it is (still) a chunk stored whole, and encodes `data` against
    /// it into `out`; the length of the chunk's plain frame (computed or estimated) when
    /// the delta pays.
    fn try_base(
        &mut self,
        inner: &Inner,
        cand: &ChunkRecord,
        data: &[u8],
        whole: Whole<'_>,
        out: &mut Vec<u8>,
    ) -> EngineResult<Option<usize>> {
        // pinned before it is looked up again: if the row is there now, GC cannot free it
        // until this write commits (see `pins`)
        inner.pins.pin(cand.id);
        self.pinned.push(cand.id);
        let Some(rec) = inner.meta.find_chunk(&cand.id)? else {
            return Ok(None);
        };
        if rec.base.is_some() {
            return Ok(None); // depth 1: only a chunk stored whole is a base
        }
        let Ok(base) = plain(inner, &rec)? else {
            return Ok(None); // a damaged base is never used (fsck reports it)
        };
        nas_codec::encode_delta(data, &rec.id, &base, inner.delta.level, out)
            .map_err(|e| crate::error::EngineError::Internal(e.to_string()))?;
        let estimate = (rec.loc.len as usize).saturating_mul(data.len()) / base.len().max(1);
        // (cold recompression has the plain frame already: it decides on it)
        if self.recode.is_none() && out.len() * CLEARLY_PAYS <= estimate {
            return Ok(Some(estimate));
        }
        let whole_len = whole();
        Ok((out.len() * PAYS_DEN <= whole_len * PAYS_NUM).then_some(whole_len))
    }
}

/// Whether the candidate `cand` may be similar to a chunk with `sketch`: false only when
/// both have a sketch and they share no super-feature (a candidate without one, e.g. a
/// chunk written with delta off, is always worth a try).
fn resembles(inner: &Inner, cand: &ChunkRecord, sketch: Option<&Sketch>) -> EngineResult<bool> {
    let Some(sk) = sketch else {
        return Ok(true);
    };
    Ok(match inner.meta.chunk_sketch(cand.row)? {
        Some(theirs) => sk.0.iter().zip(theirs.0.iter()).any(|(a, b)| a == b),
        None => true,
    })
}

/// The verified plaintext of a chunk stored whole (a base), from the cache or decoded; the
/// inner `Err` says what is wrong with a damaged or vanished one.
pub(crate) fn plain(
    inner: &Inner,
    rec: &ChunkRecord,
) -> EngineResult<Result<Arc<Vec<u8>>, String>> {
    if let Some(p) = inner.plain_cache.get(&rec.id) {
        return Ok(Ok(p));
    }
    let mut rec = *rec;
    // a compaction may move the chunk between lookup and read: look up again once
    for attempt in 0..2 {
        match inner.blobs.read(&rec.loc) {
            Ok(frame) => {
                inner.read_marks.note(rec.loc.pack);
                return Ok(match nas_codec::decode_verified(&frame, &rec.id) {
                    Ok(p) => {
                        let p = Arc::new(p);
                        inner.plain_cache.insert(rec.id, p.clone(), p.len() as u64);
                        Ok(p)
                    }
                    Err(e) => Err(format!("base chunk {}: {e}", rec.id)),
                });
            }
            Err(BlobError::Missing { .. }) if attempt == 0 => match inner.meta.chunk(rec.row)? {
                Some(now) => rec = now,
                None => return Ok(Err(format!("base chunk {} is gone", rec.id))),
            },
            Err(BlobError::Missing { reason, .. }) => {
                return Ok(Err(format!(
                    "base chunk {} in pack {}: {reason}",
                    rec.id, rec.loc.pack
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err(format!("base chunk {} unreadable", rec.id)))
}

/// The verified plaintext of the base at `row` (see [`plain`]).
pub(crate) fn plain_of_row(
    inner: &Inner,
    row: ChunkRow,
) -> EngineResult<Result<Arc<Vec<u8>>, String>> {
    match inner.meta.chunk(row)? {
        None => Ok(Err(format!(
            "base chunk row {} is missing from the index",
            row.0
        ))),
        Some(b) if b.base.is_some() => Ok(Err(format!("base chunk {} is itself a delta", b.id))),
        Some(b) => plain(inner, &b),
    }
}

/// Decodes a chunk's frame (resolving its base when it is a delta) and checks its hash.
pub(crate) fn decode(
    inner: &Inner,
    rec: &ChunkRecord,
    frame: &[u8],
) -> EngineResult<Result<Vec<u8>, String>> {
    let Some(b) = rec.base else {
        return Ok(nas_codec::decode_verified(frame, &rec.id)
            .map_err(|e| format!("chunk {}: {e}", rec.id)));
    };
    let base = match plain_of_row(inner, b)? {
        Ok(base) => base,
        Err(why) => return Ok(Err(format!("chunk {}: {why}", rec.id))),
    };
    Ok(
        nas_codec::decode_verified_with_base(frame, Some(&base), &rec.id)
            .map_err(|e| format!("chunk {}: {e}", rec.id)),
    )
}

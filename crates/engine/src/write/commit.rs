//! The commit end of the write pipeline: stores many small writes with one chunk-index
//! lookup (`prepare_many`), then makes prepared writes durable and visible together
//! (`commit_all`: one durability barrier, one metadata transaction, then their change
//! events), refusing frames in packs retired after a failed write (`check_durable`).

use super::{ContentHasher, FileWriter, PreparedWrite};
use crate::changes::of_version;
use crate::error::{EngineError, EngineResult};
use crate::store::Inner;
use crate::time::now_ns;
use nas_meta::{CommitRequest, VersionRecord};
use nas_types::{ChunkId, ContentHash};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// After a successful `sync`: fails if any of `packs` was retired after a failed write or
/// fsync — by this committer's sync or an earlier one — since frames there are not durable
/// and must never be acknowledged (see `nas_blob`'s fsync rule).
pub(crate) fn check_durable(
    blobs: &dyn nas_blob::BlobStore,
    packs: impl Iterator<Item = nas_types::PackId>,
) -> EngineResult<()> {
    let mut last = None;
    for pack in packs {
        if last == Some(pack) {
            continue;
        }
        last = Some(pack);
        if blobs.is_failed(pack) {
            let source = if blobs.is_full(pack) {
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "this pack was given up when the disk filled",
                )
            } else {
                std::io::Error::other("a write or fsync of this pack failed earlier")
            };
            return Err(nas_blob::BlobError::PackFailed { pack, source }.into());
        }
    }
    Ok(())
}

/// Writes each whole content given to its writer and ends the streams (as
/// [`FileWriter::write`] then [`FileWriter::prepare`], in order), with one chunk-index
/// lookup for all the contents that are a single chunk (no longer than the chunker's
/// minimum) instead of one lookup each: the way many small files are stored without a
/// metadata round trip per file.
pub(crate) fn prepare_many(
    inner: &Inner,
    items: Vec<(FileWriter, Vec<u8>)>,
) -> Vec<EngineResult<PreparedWrite>> {
    let single = |w: &FileWriter, data: &[u8]| {
        w.pipe.size == 0 && !data.is_empty() && data.len() <= inner.chunker.min
    };
    // A content that is one chunk is hashed once: its chunk id is its content hash.
    let single_ids: Vec<Option<ChunkId>> = items
        .iter()
        .map(|(w, d)| single(w, d).then(|| ChunkId::of(d)))
        .collect();
    let ids: Vec<ChunkId> = single_ids.iter().flatten().copied().collect();
    /// Pins released when the writers hold their own (or on any way out).
    struct Held<'a>(&'a crate::pins::Pins, Vec<ChunkId>);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.0.unpin_all(self.1.iter(), &[]);
        }
    }
    let mut held = Held(&inner.pins, Vec::new());
    let hints = if ids.len() > 1 {
        // Pinned before the lookup and until each writer has pinned its own: a chunk
        // found present cannot be collected before the write that relies on it commits.
        inner.pins.pin_many(ids.iter());
        held.1 = ids;
        match inner.meta.chunks_present(&held.1) {
            Ok(present) => Some(Arc::new(held.1.iter().copied().zip(present).collect())),
            Err(_) => None, // each writer looks its chunk up itself
        }
    } else {
        None
    };
    let out = items
        .into_iter()
        .zip(single_ids)
        .map(|((mut w, data), id)| {
            if let Some(id) = id {
                w.pipe.hints.clone_from(&hints);
                w.pipe.next_id = Some(id);
                w.pipe.hasher = ContentHasher::Caller(Some(ContentHash(id.0)));
            }
            w.write(&data)?;
            w.prepare()
        })
        .collect();
    drop(held);
    out
}

/// One durability barrier for every chunk, then one metadata transaction for every
/// version: all commit or none does.
pub(crate) fn commit_all(
    inner: &Inner,
    writes: &[PreparedWrite],
) -> EngineResult<Vec<VersionRecord>> {
    if writes.iter().any(|p| !p.w.pipe.new_chunks.is_empty()) {
        inner.blobs.sync()?;
        let packs = writes
            .iter()
            .flat_map(|p| p.w.pipe.new_chunks.iter().map(|c| c.loc.pack));
        check_durable(inner.blobs.as_ref(), packs)?;
    }
    for p in writes {
        let covered: u64 = p.w.pipe.extents.iter().map(|(_, l)| u64::from(*l)).sum();
        if covered != p.w.pipe.size {
            return Err(EngineError::Internal(format!(
                "{}: chunk list does not cover the content",
                p.w.path
            )));
        }
    }
    let now = now_ns();
    let reqs: Vec<CommitRequest<'_>> = writes
        .iter()
        .map(|p| CommitRequest {
            expect: p.w.opts.expect,
            parent: p.w.parent,
            name: &p.w.name,
            path: p.w.path.as_str(),
            extents: &p.w.pipe.extents,
            new_chunks: &p.w.pipe.new_chunks,
            size: p.w.pipe.size,
            hash: p.hash,
            mtime_ns: p.w.opts.mtime_ns.unwrap_or(now),
            now_ns: now,
            attrs: p.w.opts.attrs.clone(),
            author: p.w.opts.author.as_deref(),
            lock: p.w.opts.lock,
        })
        .collect();
    let versions = inner.meta.commit_versions(&reqs).map_err(|e| {
        let e = EngineError::from(e);
        match writes {
            [one] => e.at(one.w.path.as_str()),
            _ => e,
        }
    })?;
    for p in writes {
        p.w.pipe.committed.store(true, Ordering::Release);
    }
    if let Some(sink) = inner.changes.get() {
        for (p, v) in writes.iter().zip(&versions) {
            let kind = crate::changes::write_kind(p.w.existed, v);
            sink.publish(of_version(kind, &p.w.home, p.w.path.as_str(), v));
        }
    }
    Ok(versions)
}

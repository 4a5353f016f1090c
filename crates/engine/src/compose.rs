//! Composition: a new version whose content is other versions' content back to back,
//! made without copying data. The new extent list is the concatenation of the sources'
//! lists, so every chunk is shared (S3 multipart completion is the user).
//!
//! The content hash is BLAKE3 of the whole content, which cannot be derived from the
//! parts' hashes, so the sources are read once (verified, like any read) to compute it.
//! Every chunk is pinned from the moment it is looked up until the commit (or until the
//! [`Composition`] is dropped), so GC cannot take a chunk a source loses meanwhile.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::read::FileReader;
use crate::time::now_ns;
use crate::write::WriteOptions;
use nas_meta::{ChunkRow, CommitRequest, NodeKind, VersionRecord};
use nas_types::{ChunkId, ContentHash, NasPath, NodeId};

/// A composed version, hashed and pinned but not yet committed (dropping it commits
/// nothing and releases the pins).
pub struct Composition<'h> {
    home: &'h Home,
    path: NasPath,
    parent: NodeId,
    name: String,
    extents: Vec<(ChunkId, u32)>,
    /// Every distinct chunk, by row, each pinned once.
    pinned: Vec<(ChunkRow, ChunkId)>,
    size: u64,
    hash: ContentHash,
}

impl Drop for Composition<'_> {
    fn drop(&mut self) {
        let ids = self.pinned.iter().map(|(_, id)| id);
        self.home.inner.pins.unpin_all(ids, &[]);
    }
}

impl Composition<'_> {
    /// Bytes in the composed content.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// BLAKE3 of the composed content.
    pub fn hash(&self) -> ContentHash {
        self.hash
    }

    /// Commits the composition as the file's newest version. Durable when it returns
    /// (every chunk is already durable: it belongs to committed versions).
    pub fn commit(self, opts: WriteOptions) -> EngineResult<VersionRecord> {
        // a bucket's default retention, whatever the door (`folder_lock`)
        let lock = self.home.lock_for_new_version(&self.path, opts.lock)?;
        let now = now_ns();
        let req = CommitRequest {
            expect: opts.expect,
            parent: self.parent,
            name: &self.name,
            path: self.path.as_str(),
            extents: &self.extents,
            new_chunks: &[],
            size: self.size,
            hash: self.hash,
            mtime_ns: opts.mtime_ns.unwrap_or(now),
            now_ns: now,
            attrs: opts.attrs,
            author: Some(opts.author.as_deref().unwrap_or(self.home.name())),
            lock,
        };
        let mut done = self
            .home
            .inner
            .meta
            .commit_versions(std::slice::from_ref(&req))
            .map_err(|e| EngineError::from(e).at(self.path.as_str()))?;
        let v = done
            .pop()
            .ok_or_else(|| EngineError::Internal("commit returned no version".into()))?;
        let kind = crate::changes::write_kind(None, &v);
        self.home.version_changed(kind, &self.path, &v);
        Ok(v)
    }
}

impl Home {
    /// Composes a new version of `path` from `parts` in order (sources may live in any
    /// home of this store). Every byte is read once, verified, and shown to `tap` (for
    /// digests the caller needs before it decides to commit). The folder must exist.
    pub fn compose(
        &self,
        path: &NasPath,
        parts: &[FileReader],
        tap: &mut dyn FnMut(&[u8]),
    ) -> EngineResult<Composition<'_>> {
        let mut c = self.assemble(path, parts)?;
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            let mut r = part.reader();
            while !r.done() {
                let piece = r.next_slice()?;
                hasher.update(piece);
                tap(piece);
            }
        }
        c.hash = ContentHash::from(hasher.finalize());
        Ok(c)
    }

    /// A new version of `path` with exactly the content of `source` (any home of this
    /// store), sharing its chunks. Nothing is read: the content hash is the source's.
    /// Commit it like a composition. The folder must exist.
    pub fn share(&self, path: &NasPath, source: &FileReader) -> EngineResult<Composition<'_>> {
        let mut c = self.assemble(path, std::slice::from_ref(source))?;
        c.hash = source.version().hash;
        Ok(c)
    }

    /// The extent list of `parts` back to back, every chunk pinned; the hash is left to
    /// the caller.
    fn assemble(&self, path: &NasPath, parts: &[FileReader]) -> EngineResult<Composition<'_>> {
        let (parent, name) = self.resolve_parent(path)?;
        if let Some(existing) = self.inner.meta.child(parent.id, name)?
            && existing.kind == NodeKind::Dir
        {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        // The distinct chunk rows of all parts, their ids looked up in one go, sorted by
        // row: a multipart object of 4 GiB has ~130k chunks, and this table (40 bytes a
        // chunk, sized once) is all the memory the lookup takes.
        let total: usize = parts.iter().map(|p| p.extents().len()).sum();
        let mut rows: Vec<ChunkRow> = Vec::with_capacity(total);
        for part in parts {
            rows.extend(part.extents().iter().map(|e| e.chunk));
        }
        rows.sort_unstable();
        rows.dedup();
        let ids = self.inner.meta.chunk_ids(&rows)?;
        let mut table: Vec<(ChunkRow, ChunkId)> = Vec::with_capacity(rows.len());
        for (row, id) in rows.into_iter().zip(ids) {
            let id = id.ok_or_else(|| {
                EngineError::NotFound(format!(
                    "{path}: a part lost chunk row {} before completion",
                    row.0
                ))
            })?;
            table.push((row, id));
        }
        self.inner.pins.pin_many(table.iter().map(|(_, id)| id));
        let mut c = Composition {
            home: self,
            path: path.clone(),
            parent: parent.id,
            name: name.to_owned(),
            extents: Vec::with_capacity(total),
            pinned: table, // unpinned when the composition is dropped
            size: 0,
            hash: ContentHash::from(blake3::hash(b"")),
        };
        for part in parts {
            for e in part.extents() {
                let at = c.pinned.binary_search_by_key(&e.chunk, |(row, _)| *row);
                let Ok(at) = at else {
                    return Err(EngineError::Internal("chunk table out of step".into()));
                };
                c.extents.push((c.pinned[at].1, e.len));
            }
            c.size += part.version().size;
        }
        Ok(c)
    }
}

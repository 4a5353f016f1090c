//! The write pipeline: bytes → FastCDC chunks → BLAKE3 id → dedup lookup (64 chunks at a
//! time, [`lookup`]) → compress → append to a pack → (on commit) fsync packs, then one
//! metadata transaction.
//!
//! Memory is bounded by the chunker's buffer (2 × max chunk), the chunks waiting for their
//! lookup (at most 4 MiB) and one frame, whatever the file size; the extent list grows by
//! ~40 bytes per chunk (~2.5 MiB for a 4 GiB file).
//! Nothing is visible until [`FileWriter::commit`] returns, and when it returns the version
//! is durable. Dropping a writer without committing leaves the old version in place; the
//! frames it appended are dead space that GC reclaims.

mod commit;
mod lookup;

use crate::delta::DeltaState;
use crate::error::{EngineError, EngineResult};
use crate::home::{Entry, Home};
use crate::quota::Room;
use crate::store::Inner;
pub(crate) use commit::{check_durable, commit_all, prepare_many};
use nas_chunker::Chunker;
use nas_meta::{Expect, FileAttrs, NewChunk, NodeKind, NodeRecord, VersionRecord};
use nas_types::{ChunkId, ContentHash, NasPath, NodeId, PackId};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Modification time to record (default: commit time).
    pub mtime_ns: Option<i64>,
    /// Content type and user metadata of the new version.
    pub attrs: FileAttrs,
    /// Commit only if the file's current version is still what the caller saw
    /// (checked atomically with the commit; otherwise `PreconditionFailed`).
    pub expect: Option<Expect>,
    /// Who makes the version, recorded with it (default: the home's account; a file-drop
    /// link says `share:<id>`).
    pub author: Option<String>,
    /// The object lock the new version starts with (S3 Object Lock; none by default).
    pub lock: nas_meta::ObjectLock,
}

enum ContentHasher {
    Here(Box<blake3::Hasher>),
    Caller(Option<ContentHash>),
}

struct Pipeline {
    inner: Arc<Inner>,
    /// The BLAKE3 of the whole content: computed here, or handed over by a caller that
    /// reads every byte anyway on another thread (see [`FileWriter::hash_elsewhere`]).
    hasher: ContentHasher,
    size: u64,
    extents: Vec<(ChunkId, u32)>,
    new_chunks: Vec<NewChunk>,
    /// Distinct chunk ids of this file, each pinned once.
    seen: HashSet<ChunkId>,
    pinned_packs: Vec<PackId>,
    frame: Vec<u8>,
    /// Chunk-index answers looked up in advance for many writes at once (see
    /// [`prepare_many`]); each was looked up while pinned, and is used only once this
    /// writer holds its own pin.
    hints: Option<Arc<HashMap<ChunkId, bool>>>,
    /// The id of the next chunk, when the caller hashed it already (a content that is one
    /// chunk: its chunk id is its content hash).
    next_id: Option<ChunkId>,
    /// New chunks waiting for their dedup lookup, looked up many at a time.
    lookups: lookup::Lookups,
    /// Set once the write's version is committed; a pipeline dropped without it was
    /// abandoned, and the packs only it used are given back at once.
    committed: AtomicBool,
    /// Where the next chunk starts in the file.
    offset: u64,
    /// Base candidates for delta chunks (see [`crate::delta`]).
    delta: DeltaState,
    /// A delta frame being tried.
    delta_frame: Vec<u8>,
}

impl Pipeline {
    fn chunk(&mut self, data: &[u8]) -> EngineResult<()> {
        let id = match self.next_id.take() {
            Some(id) => id,
            None => ChunkId::from(blake3::hash(data)),
        };
        let len = data.len() as u32;
        let offset = self.offset;
        self.offset += u64::from(len);
        self.extents.push((id, len));
        if !self.seen.insert(id) {
            return Ok(()); // repeated inside this file
        }
        // pinned before it is looked up, until the commit (see `pins`)
        self.inner.pins.pin(id);
        let known = self.hints.as_ref().and_then(|h| h.get(&id)).copied();
        if known == Some(true) {
            return Ok(()); // dedup: referenced at commit, protected by the pin until then
        }
        if self.lookups.push(id, offset, data, known) {
            self.look_up()?;
        }
        Ok(())
    }

    /// Stores a chunk the index does not hold: appended to a pack (whole or as a delta),
    /// its row recorded at commit.
    fn store(&mut self, id: ChunkId, data: &[u8], offset: u64) -> EngineResult<()> {
        let len = data.len() as u32;
        // the chunk compressed alone: stored unless a delta pays, and compressed only when
        // that decision needs its length (see `delta::CLEARLY_PAYS`)
        let compression = self.inner.compression;
        let frame = &mut self.frame;
        let mut whole = None;
        let mut compress = || {
            let (codec, parts) = nas_codec::encode_parts(data, compression, frame);
            let len = parts[0].len() + parts[1].len();
            whole = Some(codec);
            len
        };
        let choice = self.delta.choose(
            &self.inner,
            data,
            offset,
            &mut compress,
            &mut self.delta_frame,
        )?;
        let (codec, parts) = if choice.base.is_some() {
            (
                nas_codec::Codec::ZstdDelta,
                [self.delta_frame.as_slice(), &[]],
            )
        } else {
            match whole {
                // encode_parts leaves the header (and a compressed payload) in the frame
                Some(nas_codec::Codec::Raw) => {
                    (nas_codec::Codec::Raw, [self.frame.as_slice(), data])
                }
                Some(codec) => (codec, [self.frame.as_slice(), &[][..]]),
                None => nas_codec::encode_parts(data, compression, &mut self.frame),
            }
        };
        let blobs = &self.inner.blobs;
        let loc = self.inner.pins.locked(|pins| {
            let loc = blobs.append_parts(&id, &parts)?;
            pins.pin_pack(loc.pack);
            Ok::<_, EngineError>(loc)
        })?;
        if self.pinned_packs.last() != Some(&loc.pack) {
            self.pinned_packs.push(loc.pack);
        } else {
            // one pin per pack is enough; drop the extra count at once
            self.inner.pins.unpin_all(&[], &[loc.pack]);
        }
        self.new_chunks.push(NewChunk {
            id,
            raw_len: len,
            codec: codec as u8,
            loc,
            base: choice.base,
            whole_len: if choice.base.is_some() {
                choice.whole_len as u32
            } else {
                0
            },
            sketch: choice.sketch.filter(|_| choice.base.is_none()),
        });
        Ok(())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.inner.pins.unpin_all(
            self.seen.iter().chain(self.delta.pinned.iter()),
            &self.pinned_packs,
        );
        if !self.committed.load(Ordering::Acquire) && !self.new_chunks.is_empty() {
            crate::gc::reclaim_abandoned(&self.inner, &self.pinned_packs);
        }
    }
}

/// A file being written. Feed it with [`write`](FileWriter::write) (or `std::io::Write`),
/// then [`commit`](FileWriter::commit).
pub struct FileWriter {
    path: NasPath,
    /// The home's name and whether the file existed (`None`: not looked up), for the
    /// change event of the commit.
    home: String,
    existed: Option<bool>,
    parent: NodeId,
    name: String,
    opts: WriteOptions,
    chunker: Option<Chunker>,
    pipe: Pipeline,
    /// Set when a write failed: the stream is incomplete and must never be committed.
    failed: bool,
    /// What the account's quota leaves for this version (`None`: no quota).
    room: Option<Room>,
}

impl FileWriter {
    /// Adds bytes. After an error the writer refuses further writes and cannot commit.
    pub fn write(&mut self, data: &[u8]) -> EngineResult<()> {
        if self.failed {
            return Err(EngineError::Internal(
                "an earlier write to this file failed".into(),
            ));
        }
        self.failed = true; // until this write has fully gone through
        if let ContentHasher::Here(h) = &mut self.pipe.hasher {
            h.update(data);
        }
        self.pipe.size += data.len() as u64;
        if let Some(room) = &self.room {
            room.check(self.pipe.size)?;
        }
        let pipe = &mut self.pipe;
        match self.chunker.as_mut() {
            Some(c) => c.push(data, |chunk| pipe.chunk(chunk))?,
            None => {
                return Err(EngineError::Internal(
                    "write after the end of the stream".into(),
                ));
            }
        }
        self.failed = false;
        Ok(())
    }

    /// Replaces the content type and user metadata the version will get (e.g. a checksum
    /// only known once the whole body arrived).
    pub fn set_attrs(&mut self, attrs: FileAttrs) {
        self.opts.attrs = attrs;
    }

    /// The caller computes the BLAKE3 of the whole content (it reads every byte anyway,
    /// on another thread, and this one is the busier) and gives it with
    /// [`set_content_hash`](FileWriter::set_content_hash) before the commit, which fails
    /// without it. Only before the first byte.
    pub fn hash_elsewhere(&mut self) -> EngineResult<()> {
        if self.pipe.size > 0 {
            return Err(EngineError::Internal(
                "the content hash is already being computed".into(),
            ));
        }
        self.pipe.hasher = ContentHasher::Caller(None);
        Ok(())
    }

    /// The BLAKE3 of the whole content, after [`hash_elsewhere`](FileWriter::hash_elsewhere).
    pub fn set_content_hash(&mut self, hash: ContentHash) {
        if let ContentHasher::Caller(h) = &mut self.pipe.hasher {
            *h = Some(hash);
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.pipe.size
    }

    pub(crate) fn inner(&self) -> Arc<Inner> {
        self.pipe.inner.clone()
    }

    /// Makes the content durable and commits it as the file's newest version.
    /// Concurrent commits are grouped (see `group_commit`): one fsync and one transaction
    /// for all the writes that arrive while another commit is running.
    pub fn commit(self) -> EngineResult<VersionRecord> {
        let inner = self.pipe.inner.clone();
        let prepared = self.prepare()?;
        inner.commits.commit(prepared)
    }

    /// Writes `tail` and commits, from async code. A small file (everything written fits
    /// in 256 KiB) is stored and committed by the committer thread in one hand-off; a
    /// larger one is finished on the blocking pool first. Dropping the future before it
    /// ends may still commit the write, as with a client that disconnects after sending
    /// its last byte.
    pub async fn commit_async(mut self, tail: Vec<u8>) -> EngineResult<VersionRecord> {
        let inner = self.pipe.inner.clone();
        if self.pipe.size as usize + tail.len() <= crate::group_commit::TAIL_LIMIT {
            return inner.commits.commit_tail(self, tail).await;
        }
        let prepared = tokio::task::spawn_blocking(move || {
            self.write(&tail)?;
            self.prepare()
        })
        .await
        .map_err(|e| EngineError::Io(std::io::Error::other(e)))??;
        inner.commits.commit_prepared(prepared).await
    }

    /// Ends the stream: every chunk is stored (not yet durable), nothing is visible yet.
    /// Commit with [`Home::commit_batch`] together with other prepared writes.
    pub fn prepare(mut self) -> EngineResult<PreparedWrite> {
        if self.failed {
            return Err(EngineError::Internal(
                "an earlier write to this file failed".into(),
            ));
        }
        let pipe = &mut self.pipe;
        if let Some(chunker) = self.chunker.take() {
            chunker.finish(|c| pipe.chunk(c))?;
        }
        pipe.look_up()?;
        pipe.frame = Vec::new(); // a prepared write waiting in a batch holds no buffers
        pipe.lookups = lookup::Lookups::default();
        pipe.delta_frame = Vec::new();
        let hash = match &pipe.hasher {
            ContentHasher::Here(h) => ContentHash::from(h.finalize()),
            ContentHasher::Caller(Some(h)) => *h,
            ContentHasher::Caller(None) => {
                return Err(EngineError::Internal(
                    "the content hash of this write was never given".into(),
                ));
            }
        };
        Ok(PreparedWrite { w: self, hash })
    }
}

/// A write whose chunks are all stored but which is not committed yet. It keeps its pins,
/// so GC cannot take what it relies on. Dropping it abandons the write.
pub struct PreparedWrite {
    w: FileWriter,
    hash: ContentHash,
}

impl PreparedWrite {
    /// Bytes in the write.
    pub fn size(&self) -> u64 {
        self.w.pipe.size
    }

    pub(crate) fn inner(&self) -> Arc<Inner> {
        self.w.pipe.inner.clone()
    }
}

impl std::io::Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        FileWriter::write(self, buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A path looked up for a write by [`Home::locate`]: its folder and what is at it now.
#[derive(Debug, Clone)]
pub struct WriteTarget {
    path: NasPath,
    parent: NodeId,
    existing: Option<NodeRecord>,
}

impl WriteTarget {
    /// The path looked up.
    pub fn path(&self) -> &NasPath {
        &self.path
    }

    /// What was at the path (`None`: nothing), as [`Home::stat`] reports it.
    pub fn entry(&self) -> Option<Entry> {
        let n = self.existing.clone()?;
        Some(Entry::from_node(self.path.clone(), n))
    }
}

impl Home {
    /// Starts writing a new version of `path`. The folder must exist; `path` must not be
    /// a folder.
    pub fn writer(&self, path: &NasPath, opts: WriteOptions) -> EngineResult<FileWriter> {
        Ok(self.writer_and_existing(path, opts)?.0)
    }

    /// As [`writer`](Home::writer) for the file `name` in the folder `dir` (as
    /// [`mkdir_all_deferred`](Home::mkdir_all_deferred) or [`stat`](Home::stat) gave it),
    /// with no lookup: for bulk writers that put many files into one folder. A folder that
    /// vanished meanwhile, or a folder at `name`, fails the commit.
    pub fn writer_in(
        &self,
        dir: &Entry,
        name: &str,
        opts: WriteOptions,
    ) -> EngineResult<FileWriter> {
        if dir.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(dir.path.to_string()));
        }
        let path = dir.path.join(name)?;
        // no early quota refusal for bulk writers (no usage read per file): the commit
        // checks the quota, atomically, as for every write
        self.new_writer(path, dir.id, opts, None, None)
    }

    /// As [`writer`](Home::writer), also telling whether a file exists at `path` now
    /// (one lookup instead of two for callers that answer differently for a new file).
    pub fn writer_and_existing(
        &self,
        path: &NasPath,
        opts: WriteOptions,
    ) -> EngineResult<(FileWriter, bool)> {
        self.writer_located(&self.locate(path)?, opts)
    }

    /// Looks `path` up for a write: its folder (which must exist) and what is at it now,
    /// in one lookup (one round trip on PostgreSQL). A door that must answer "does it
    /// exist" before it writes (WebDAV's PUT) asks this once and hands the answer to
    /// [`writer_located`](Home::writer_located).
    pub fn locate(&self, path: &NasPath) -> EngineResult<WriteTarget> {
        let names: Vec<&str> = path.segments().collect();
        let Some(parent_path) = path.parent() else {
            return Err(EngineError::Conflict("the root has no parent".into()));
        };
        let Some((parent, existing)) = self.inner.meta.walk_parent(self.rec.root, &names)? else {
            return Err(EngineError::NotFound(parent_path.to_string()));
        };
        if parent.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(parent_path.to_string()));
        }
        Ok(WriteTarget {
            path: path.clone(),
            parent: parent.id,
            existing,
        })
    }

    /// As [`writer_and_existing`](Home::writer_and_existing) at a path [`locate`](Home::locate)
    /// looked up, without looking it up again. What changed there since is the commit's to
    /// find (it checks the folder and the name atomically, as for every write).
    pub fn writer_located(
        &self,
        at: &WriteTarget,
        opts: WriteOptions,
    ) -> EngineResult<(FileWriter, bool)> {
        let existing = at.existing.as_ref();
        if existing.is_some_and(|e| e.kind == NodeKind::Dir) {
            return Err(EngineError::IsADirectory(at.path.to_string()));
        }
        let room = Room::of(self, existing)?;
        Ok((
            self.new_writer(
                at.path.clone(),
                at.parent,
                opts,
                room,
                Some(existing.is_some()),
            )?,
            existing.is_some(),
        ))
    }

    fn new_writer(
        &self,
        path: NasPath,
        parent: NodeId,
        opts: WriteOptions,
        room: Option<Room>,
        existed: Option<bool>,
    ) -> EngineResult<FileWriter> {
        let name = path.name().unwrap_or_default().to_owned();
        let mut opts = opts;
        opts.author.get_or_insert_with(|| self.name().to_owned());
        // a bucket's default retention, whatever the door (`folder_lock`)
        opts.lock = self.lock_for_new_version(&path, opts.lock)?;
        Ok(FileWriter {
            room,
            home: self.name().to_owned(),
            existed,
            path,
            parent,
            name: name.clone(),
            opts,
            chunker: Some(Chunker::new(self.inner.chunker)),
            failed: false,
            pipe: Pipeline {
                inner: self.inner.clone(),
                hasher: ContentHasher::Here(Box::default()),
                size: 0,
                extents: Vec::new(),
                new_chunks: Vec::new(),
                pinned_packs: Vec::new(),
                seen: HashSet::new(),
                frame: Vec::new(),
                hints: None,
                next_id: None,
                lookups: lookup::Lookups::default(),
                committed: AtomicBool::new(false),
                offset: 0,
                delta: DeltaState::for_file(parent, name),
                delta_frame: Vec::new(),
            },
        })
    }

    /// Stores many small writes whose whole content is given (each writer fresh, nothing
    /// written yet): as [`FileWriter::write`] then [`FileWriter::prepare`] for each, in
    /// order, with one chunk-index lookup for all the contents of at most one chunk. Commit
    /// the results with [`commit_batch`](Home::commit_batch).
    pub fn prepare_many(
        &self,
        items: Vec<(FileWriter, Vec<u8>)>,
    ) -> Vec<EngineResult<PreparedWrite>> {
        prepare_many(&self.inner, items)
    }

    /// Commits prepared writes together (group commit: one fsync, one transaction).
    pub fn commit_batch(&self, writes: Vec<PreparedWrite>) -> EngineResult<Vec<VersionRecord>> {
        commit_all(&self.inner, &writes)
    }

    /// Writes a whole stream as a new version of `path`.
    pub fn write_from(
        &self,
        path: &NasPath,
        mut src: impl Read,
        opts: WriteOptions,
    ) -> EngineResult<VersionRecord> {
        let mut w = self.writer(path, opts)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            w.write(&buf[..n])?;
        }
        w.commit()
    }

    /// Writes `data` as a new version of `path`.
    pub fn write_all(
        &self,
        path: &NasPath,
        data: &[u8],
        opts: WriteOptions,
    ) -> EngineResult<VersionRecord> {
        let mut w = self.writer(path, opts)?;
        w.write(data)?;
        w.commit()
    }
}

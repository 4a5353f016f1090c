//! The read pipeline: a version's extent list is its offset index; a range read
//! binary-searches it, then fetches, decodes and hash-verifies only the chunks it needs.
//! Damaged or missing data is an [`EngineError::Corrupt`] naming the file — never zeros.

use crate::error::{EngineError, EngineResult};
use crate::home::{Entry, Home};
use crate::store::Inner;
use nas_blob::BlobError;
use nas_meta::{ChunkRecord, Extent, NodeKind, VersionRecord};
use nas_types::{ByteRange, ContentHash, NasPath, VersionNum};
use std::io::Read;
use std::sync::Arc;

/// An open version of a file.
pub struct FileReader {
    inner: Arc<Inner>,
    path: NasPath,
    version: VersionRecord,
    extents: Arc<Vec<Extent>>,
}

impl FileReader {
    /// The version being read.
    pub fn version(&self) -> &VersionRecord {
        &self.version
    }

    /// A reader over `range` (clamped to the file).
    pub fn range(&self, range: ByteRange) -> RangeReader {
        let r = ByteRange::clamped(range.start, range.end, self.version.size);
        let idx = self
            .extents
            .partition_point(|e| e.offset + u64::from(e.len) <= r.start);
        RangeReader {
            inner: self.inner.clone(),
            path: self.path.clone(),
            num: self.version.num,
            node: self.version.node,
            extents: self.extents.clone(),
            idx,
            pos: r.start,
            end: r.end,
            cur: Arc::default(),
            cur_start: 0,
            window: Vec::new(),
            window_start: 0,
            // a file of more than a quarter of the decoded-chunk cache would only push
            // everything else out of it (a scan): its chunks are not kept
            keep_decoded: self.version.size <= self.inner.chunk_cache.cap() / 4,
        }
    }

    /// The version's extent list (offsets ascending).
    pub(crate) fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Whether reading may need the object-storage tier (the store has one): then
    /// [`check_available`](FileReader::check_available) may do I/O, so async callers run
    /// it on the blocking pool; otherwise it returns at once.
    pub fn may_need_remote(&self) -> bool {
        self.inner.blobs.has_tier()
    }

    /// Makes sure the first chunk at or after `offset` can be read when it lives only in
    /// the object store: it is fetched now (and kept in the tier's read cache for the read
    /// that follows), so an unreachable object store is an error
    /// ([`EngineError::Unavailable`]) before a door sends its status line — after a
    /// bounded wait (the client's retries), never a hang. Nothing is read for local data.
    pub fn check_available(&self, offset: u64) -> EngineResult<()> {
        if !self.may_need_remote() {
            return Ok(());
        }
        let r = self.range(ByteRange {
            start: offset,
            end: self.version.size,
        });
        let Some(ext) = r.extents.get(r.idx).copied() else {
            return Ok(());
        };
        let Some(rec) = self.inner.meta.chunk(ext.chunk)? else {
            return Ok(()); // the read itself reports it
        };
        if !self.inner.blobs.is_remote_only(rec.loc.pack) {
            return Ok(());
        }
        match r.fetch(&ext, Some(rec)) {
            Err(e @ EngineError::Unavailable(_)) => Err(e),
            _ => Ok(()), // anything else: the read reports it as it always did
        }
    }

    /// A reader over the whole version.
    pub fn reader(&self) -> RangeReader {
        self.range(ByteRange::full(self.version.size))
    }

    /// The file as this reader sees it: for the newest version, what a stat right after
    /// the open would say, without a second lookup of the path.
    pub fn entry(&self) -> Entry {
        Entry::of_version(self.path.clone(), &self.version)
    }
}

/// How many extents' chunk records a reader looks up in one query: one round trip per
/// window instead of one per chunk (a metadata database over a socket), and the records
/// are still fresh when read (a compaction moving a chunk meanwhile is retried anyway).
const WINDOW: usize = 64;

/// Streams a byte range of one version, one verified chunk at a time.
pub struct RangeReader {
    inner: Arc<Inner>,
    path: NasPath,
    num: VersionNum,
    node: nas_types::NodeId,
    extents: Arc<Vec<Extent>>,
    idx: usize,
    pos: u64,
    end: u64,
    /// The plaintext of the chunk being read (shared with the chunk cache when it is on).
    cur: Arc<Vec<u8>>,
    cur_start: u64,
    /// Chunk records of the extents from `window_start` on, looked up together.
    window: Vec<Option<ChunkRecord>>,
    window_start: usize,
    /// Chunks decoded by this reader go into the decoded-chunk cache.
    keep_decoded: bool,
}

impl RangeReader {
    fn corrupt(&self, detail: String) -> EngineError {
        EngineError::Corrupt {
            path: format!("{} (version {})", self.path, self.num),
            detail,
        }
    }

    fn load(&mut self) -> EngineResult<()> {
        let Some(ext) = self.extents.get(self.idx).copied() else {
            return Err(self.corrupt("extent list ends before the file does".into()));
        };
        let rec = self.record(self.idx)?;
        let cache = &self.inner.chunk_cache;
        let hit = rec.and_then(|r| Some((cache.get(&r.id)?, r.loc.pack)));
        let frame = match hit {
            Some((plain, pack)) if plain.len() == ext.len as usize => {
                self.inner.read_marks.note(pack); // a hot pack is not cold
                plain
            }
            _ => {
                let plain = Arc::new(self.fetch(&ext, rec)?);
                if let Some(r) = rec.filter(|_| self.keep_decoded) {
                    cache.insert(r.id, plain.clone(), plain.len() as u64);
                }
                plain
            }
        };
        self.cur = frame;
        self.cur_start = ext.offset;
        self.idx += 1;
        Ok(())
    }

    /// A chunk is gone: damage, unless the version itself was deleted (and its chunks
    /// collected) while this reader was open — then the honest answer is "not found".
    fn vanished(&self, detail: String) -> EngineError {
        match self.inner.meta.versions(self.node) {
            Ok(vs) if !vs.iter().any(|v| v.num == self.num) => EngineError::NotFound(format!(
                "{} version {} (deleted while being read)",
                self.path, self.num
            )),
            _ => self.corrupt(detail),
        }
    }

    /// The chunk record of extent `idx` (`None`: gone from the index), from the window of
    /// records looked up together, which moves on to `idx` and up to [`WINDOW`] - 1
    /// extents after it (no further than the range needs) when `idx` is outside it.
    fn record(&mut self, idx: usize) -> EngineResult<Option<ChunkRecord>> {
        let inside = idx >= self.window_start && idx < self.window_start + self.window.len();
        if !inside {
            // the extents the range still needs: those starting before its end
            let needed = self.extents.partition_point(|e| e.offset < self.end);
            let to = needed
                .min(idx + WINDOW)
                .max(idx + 1)
                .min(self.extents.len());
            let cache = &self.inner.read_cache;
            let mut window: Vec<_> = self.extents[idx..to]
                .iter()
                .map(|e| cache.chunk(e.chunk))
                .collect();
            let missing: Vec<_> = self.extents[idx..to]
                .iter()
                .zip(&window)
                .filter(|(_, r)| r.is_none())
                .map(|(e, _)| e.chunk)
                .collect();
            if !missing.is_empty() {
                let mut found = self.inner.meta.chunks(&missing)?.into_iter();
                for slot in window.iter_mut().filter(|r| r.is_none()) {
                    *slot = found.next().flatten();
                    if let Some(rec) = *slot {
                        cache.keep_chunk(rec);
                    }
                }
            }
            self.window = window;
            self.window_start = idx;
        }
        Ok(self.window.get(idx - self.window_start).copied().flatten())
    }

    /// Reads and decodes the chunk of `ext`, whose record was looked up as `first`.
    fn fetch(&self, ext: &Extent, first: Option<ChunkRecord>) -> EngineResult<Vec<u8>> {
        // A compaction may move the chunk between lookup (or the read cache) and read:
        // look up again once.
        for attempt in 0..2 {
            let found = if attempt == 0 {
                first
            } else {
                self.lookup_again(ext)?
            };
            let Some(rec) = found else {
                return Err(self.vanished(format!(
                    "chunk row {} is missing from the index",
                    ext.chunk.0
                )));
            };
            if rec.raw_len != ext.len {
                return Err(self.corrupt(format!(
                    "chunk {} has length {}, extent says {}",
                    rec.id, rec.raw_len, ext.len
                )));
            }
            match self.inner.blobs.read(&rec.loc) {
                Ok(frame) => {
                    self.inner.read_marks.note(rec.loc.pack);
                    let decoded = crate::delta::decode(&self.inner, &rec, &frame)?;
                    if decoded.is_err() && attempt == 0 && self.lookup_again(ext)? != Some(rec) {
                        continue; // a cached record a repair or recompression outdated
                    }
                    return decoded
                        .or_else(|detail| {
                            crate::repair::from_other_copy(&self.inner, &rec, &self.path, detail)
                        })
                        .map_err(|detail| self.corrupt(detail));
                }
                Err(BlobError::Missing { .. }) if attempt == 0 => continue,
                Err(BlobError::Missing { reason, .. }) => {
                    return Err(self.vanished(format!(
                        "chunk {} in pack {}: {reason}",
                        rec.id, rec.loc.pack
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.corrupt("chunk unreadable".into()))
    }

    /// The chunk record of `ext` as the index holds it now (kept in the read cache, or
    /// dropped from it when the row is gone).
    fn lookup_again(&self, ext: &Extent) -> EngineResult<Option<ChunkRecord>> {
        let now = self.inner.meta.chunk(ext.chunk)?;
        match now {
            Some(rec) => self.inner.read_cache.keep_chunk(rec),
            None => self.inner.read_cache.forget_chunk(ext.chunk),
        }
        Ok(now)
    }

    /// The next `count` bytes of the range (fewer at its end), read now only if no byte of
    /// them waits on a device: each chunk they need is stored whole (not a delta) in a
    /// local pack whose pages the OS has cached. `None` otherwise — or on any error, which
    /// the ordinary read then meets and reports — and the reader is unchanged.
    ///
    /// An async door calls this before handing a read to the blocking pool: for a small
    /// hot file the hand-off (two thread wake-ups) costs more than the read.
    pub fn read_cached(&mut self, count: usize) -> Option<Vec<u8>> {
        let want_end = self.end.min(self.pos.saturating_add(count as u64));
        let mut out = Vec::with_capacity(usize::try_from(want_end - self.pos).ok()?);
        let (mut pos, mut idx) = (self.pos, self.idx);
        let cur_end = self.cur_start + self.cur.len() as u64;
        if pos < cur_end && pos >= self.cur_start {
            let to = want_end.min(cur_end);
            let from = (pos - self.cur_start) as usize;
            out.extend_from_slice(&self.cur[from..(to - self.cur_start) as usize]);
            pos = to;
        }
        let mut last = None;
        while pos < want_end {
            let ext = self.extents.get(idx).copied()?;
            let rec = self.record(idx).ok()??;
            if rec.raw_len != ext.len || ext.offset > pos {
                return None;
            }
            let plain = match self.inner.chunk_cache.get(&rec.id) {
                Some(plain) => {
                    self.inner.read_marks.note(rec.loc.pack);
                    plain
                }
                None if rec.base.is_some() => return None,
                None => {
                    let frame = self.inner.blobs.read_cached(&rec.loc).ok()??;
                    self.inner.read_marks.note(rec.loc.pack);
                    let plain = Arc::new(nas_codec::decode_verified(&frame, &rec.id).ok()?);
                    if self.keep_decoded {
                        let weight = plain.len() as u64;
                        self.inner.chunk_cache.insert(rec.id, plain.clone(), weight);
                    }
                    plain
                }
            };
            let to = want_end.min(ext.offset + plain.len() as u64);
            out.extend_from_slice(
                plain.get((pos - ext.offset) as usize..(to - ext.offset) as usize)?,
            );
            pos = to;
            idx += 1;
            last = Some((plain, ext.offset));
        }
        if let Some((plain, start)) = last {
            self.cur = plain;
            self.cur_start = start;
        }
        self.pos = pos;
        self.idx = idx;
        Some(out)
    }

    /// Whether the range is exhausted.
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.end
    }

    /// Bytes of the range not read yet.
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// Reads the rest of the range into a vector.
    pub fn read_to_vec(mut self) -> EngineResult<Vec<u8>> {
        let mut out = Vec::with_capacity((self.end - self.pos) as usize);
        while self.pos < self.end {
            let chunk = self.next_slice()?;
            out.extend_from_slice(chunk);
        }
        Ok(out)
    }

    /// The next piece of data (non-empty while the range is not exhausted).
    pub(crate) fn next_slice(&mut self) -> EngineResult<&[u8]> {
        let cur_end = self.cur_start + self.cur.len() as u64;
        if self.cur.is_empty() || self.pos >= cur_end {
            self.load()?;
        }
        let from = (self.pos - self.cur_start) as usize;
        let to = ((self.end.min(self.cur_start + self.cur.len() as u64)) - self.cur_start) as usize;
        self.pos += (to - from) as u64;
        Ok(&self.cur[from..to])
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.end || buf.is_empty() {
            return Ok(0);
        }
        let cur_end = self.cur_start + self.cur.len() as u64;
        if self.cur.is_empty() || self.pos >= cur_end {
            self.load().map_err(std::io::Error::other)?;
        }
        let from = (self.pos - self.cur_start) as usize;
        let avail = (self.end.min(self.cur_start + self.cur.len() as u64) - self.pos) as usize;
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&self.cur[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Home {
    /// Opens a version of a file (the newest when `version` is `None`).
    pub fn open(&self, path: &NasPath, version: Option<VersionNum>) -> EngineResult<FileReader> {
        let node = self.resolve(path)?;
        if node.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        match node.head {
            // the walk read the newest version's record: only its extents are missing
            Some(head) if version.is_none() => {
                if let Some(fixed) = self
                    .inner
                    .read_cache
                    .version(head.node, head.num, &head.hash, head.size)
                {
                    return Ok(self.reader(path, head, fixed.extents.clone()));
                }
                match self.open_node(node.id, path, Some(head.num)) {
                    // deleted since the walk: the newest now
                    Err(EngineError::NotFound(_)) => self.open_node(node.id, path, None),
                    r => r,
                }
            }
            _ => self.open_node(node.id, path, version),
        }
    }

    fn reader(
        &self,
        path: &NasPath,
        version: VersionRecord,
        extents: Arc<Vec<Extent>>,
    ) -> FileReader {
        FileReader {
            inner: self.inner.clone(),
            path: path.clone(),
            version,
            extents,
        }
    }

    /// Opens the file a [`stat`](Home::stat) of this home returned, at the version the stat
    /// saw, without resolving its path again (for a door that stats, then opens, in one
    /// request: one path walk instead of two). When that version is gone meanwhile, the
    /// file's newest. A folder is [`EngineError::IsADirectory`].
    pub fn open_entry(&self, entry: &Entry) -> EngineResult<FileReader> {
        if entry.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(entry.path.to_string()));
        }
        if let (Some(num), Some(hash)) = (entry.version, &entry.hash)
            && let Some(fixed) = self
                .inner
                .read_cache
                .version(entry.id, num, hash, entry.size)
        {
            return Ok(self.reader(&entry.path, fixed.record(entry, num), fixed.extents.clone()));
        }
        match self.open_node(entry.id, &entry.path, entry.version) {
            Err(EngineError::NotFound(_)) if entry.version.is_some() => {
                self.open_node(entry.id, &entry.path, None)
            }
            r => r,
        }
    }

    /// Opens a version of file `node`, live or in the trash; `path` names it in errors.
    pub(crate) fn open_node(
        &self,
        node: nas_types::NodeId,
        path: &NasPath,
        version: Option<VersionNum>,
    ) -> EngineResult<FileReader> {
        let (v, extents) = self
            .inner
            .meta
            .version(node, version)
            .map_err(|e| match e {
                nas_meta::MetaError::Corrupt(d) => EngineError::Corrupt {
                    path: path.to_string(),
                    detail: d,
                },
                other => other.into(),
            })?
            .ok_or_else(|| match version {
                Some(n) => EngineError::NotFound(format!("{path} version {n}")),
                None => EngineError::NotFound(path.to_string()),
            })?;
        let covered: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
        if covered != v.size {
            return Err(EngineError::Corrupt {
                path: format!("{path} (version {})", v.num),
                detail: format!("chunk list covers {covered} bytes of {}", v.size),
            });
        }
        let extents = Arc::new(extents);
        self.inner.read_cache.keep_version(&v, extents.clone());
        Ok(self.reader(path, v, extents))
    }

    /// A version in this home (any file, live or in the trash, any version) whose content
    /// is `size` bytes with BLAKE3 `hash`, opened; `None` when this home holds no such
    /// content. Other homes are never looked at. Indexed by hash.
    pub fn find_content(&self, hash: &ContentHash, size: u64) -> EngineResult<Option<FileReader>> {
        let Some((v, extents)) = self
            .inner
            .meta
            .find_version_by_hash(self.rec.id, hash, size)?
        else {
            return Ok(None);
        };
        let path = self
            .inner
            .meta
            .node_path(v.node)?
            .and_then(|p| NasPath::parse(&p).ok())
            .unwrap_or_else(NasPath::root);
        let covered: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
        if covered != v.size {
            return Err(EngineError::Corrupt {
                path: format!("{path} (version {})", v.num),
                detail: format!("chunk list covers {covered} bytes of {}", v.size),
            });
        }
        Ok(Some(FileReader {
            inner: self.inner.clone(),
            path,
            version: v,
            extents: Arc::new(extents),
        }))
    }

    /// Reads a whole version into memory (small files, tests).
    pub fn read_all(&self, path: &NasPath, version: Option<VersionNum>) -> EngineResult<Vec<u8>> {
        self.open(path, version)?.reader().read_to_vec()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
    use crate::{Store, WriteOptions};
    use nas_types::NasPath;

    /// Cold recompression counts on every read noting its pack, in place or not.
    #[test]
    fn reads_in_place_and_on_the_pool_note_their_pack() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Default::default()).unwrap();
        let h = s.home("u").unwrap();
        let f = NasPath::parse("/f").unwrap();
        h.write_all(&f, &[7u8; 10_000], WriteOptions::default())
            .unwrap();
        s.inner.read_marks.take();
        let mut r = h.open(&f, None).unwrap().reader();
        assert_eq!(r.read_cached(1 << 20).unwrap(), vec![7u8; 10_000]);
        assert_eq!(s.inner.read_marks.take().len(), 1, "a read in place");
        assert_eq!(h.read_all(&f, None).unwrap(), vec![7u8; 10_000]);
        assert_eq!(s.inner.read_marks.take().len(), 1, "an ordinary read");
    }
}

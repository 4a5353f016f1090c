//! [`LocalPackStore`]: pack files on a local file system.
//!
//! Layout under the store's directory: `packs/<first 2 hex digits>/<16 hex digits>.pack`.
//! A pack is `PACK_MAGIC` (8 bytes) followed by records `[u32 LE frame_len][32-byte
//! ChunkId][frame]`, so packs are self-describing and the chunk index could be rebuilt from
//! them. fsync discipline: a new pack file and its directory are fsynced before the first
//! frame is handed out; `sync` fsyncs the active pack and every pack that filled up since
//! the last `sync`; an explicit `seal` fsyncs before switching.
//!
//! **A failed write or fsync is final** (PostgreSQL's lesson of 2018: on Linux a failed
//! writeback may drop the dirty pages and clear the error, so a retried fsync "succeeds"
//! over data that is gone). The pack is retired on the spot: never appended to again,
//! never fsynced again, listed by [`BlobStore::is_failed`] for the rest of the process, so
//! no commit whose frames are in it can be acknowledged; the next append opens a new pack.
//! Frames made durable by an earlier successful fsync stay readable.
//!
//! **A retired pack keeps only its durable prefix.** Everything past the pack's last
//! successful fsync belongs to writes that were never acknowledged (and now never will be),
//! so it is cut off on the spot — truncated, or the file deleted when nothing of it was
//! durable — and a failed upload's space is free again at once, not at the next GC.
//! A pack given up because the disk is full (ENOSPC or EDQUOT from a write, or the
//! free-space reserve of [`crate::space`]) is retired the same way but is not counted by
//! [`BlobStore::failed_packs`]: no data was lost, the disk only filled.
//!
//! Writeback is started early: every [`KICK`] bytes appended (and when a pack fills up) the
//! kernel is asked to start writing those pages out (`sync_file_range`, non-blocking), so a
//! large upload's data goes to disk while the rest of it is still arriving and the fsync at
//! commit only waits for the tail — instead of the writer stopping for a synchronous fsync
//! every time a pack fills, and the kernel holding gigabytes dirty until the commit.

use crate::faults::{Fault, FaultPlan};
use crate::space::{Space, SpaceGuard};
use crate::{BlobError, BlobLocation, BlobStore, PackInfo};
use append::is_full;
use nas_types::{ChunkId, PackId};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// First bytes of every pack file: name and format version 1.
pub const PACK_MAGIC: &[u8; 8] = b"SNPACK\x00\x01";
/// Bytes before each frame: length and chunk id.
pub const RECORD_HEADER_LEN: u64 = 4 + 32;
const HANDLE_CACHE: usize = 128;

struct Active {
    id: PackId,
    file: Arc<File>,
    len: u64,
    /// Writeback has been started for bytes before this offset.
    kicked: u64,
    /// Bytes before this offset were made durable by a successful fsync (shared with the
    /// syncs under way, which raise it).
    synced: Arc<AtomicU64>,
}

/// A pack that filled up and awaits its fsync: id, file, durable length, length.
type Unsynced = (PackId, Arc<File>, Arc<AtomicU64>, u64);

/// Bytes appended between two early-writeback requests.
pub const KICK: u64 = 8 << 20;

/// Pack files in a local directory.
pub struct LocalPackStore {
    root: PathBuf,
    target_pack_size: u64,
    active: Mutex<Option<Active>>,
    /// Packs that filled up since the last `sync`: still to be fsynced by it.
    unsynced: Mutex<Vec<Unsynced>>,
    handles: Mutex<HashMap<PackId, Arc<File>>>,
    /// Packs retired after a failed write or fsync (see the module docs).
    failed: Mutex<HashSet<PackId>>,
    /// Packs given up because the disk was full (retired, but no data was lost).
    full: Mutex<HashSet<PackId>>,
    space: SpaceGuard,
    faults: Option<Arc<FaultPlan>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sync_dir(p: &Path) -> std::io::Result<()> {
    File::open(p)?.sync_all()
}

impl LocalPackStore {
    /// Opens (creating) a store under `root`. Packs grow to about `target_pack_size`.
    pub fn open(root: &Path, target_pack_size: u64) -> Result<Self, BlobError> {
        LocalPackStore::open_with_faults(root, target_pack_size, None)
    }

    /// As [`open`](LocalPackStore::open), with failures injected at the system calls as
    /// `faults` plans them (tests of what a failing disk does; see [`FaultPlan`]).
    pub fn open_with_faults(
        root: &Path,
        target_pack_size: u64,
        faults: Option<Arc<FaultPlan>>,
    ) -> Result<Self, BlobError> {
        let packs = root.join("packs");
        fs::create_dir_all(&packs)?;
        Ok(LocalPackStore {
            space: SpaceGuard::new(&packs, 0),
            root: packs,
            target_pack_size: target_pack_size.max(1 << 16),
            active: Mutex::new(None),
            unsynced: Mutex::new(Vec::new()),
            handles: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashSet::new()),
            full: Mutex::new(HashSet::new()),
            faults,
        })
    }

    /// Keeps `reserve` bytes free on the store's file system: a frame that would leave
    /// less is refused as if the disk were full (see [`crate::space`]). 0 (the default)
    /// keeps none.
    pub fn with_reserve(mut self, reserve: u64) -> Self {
        self.space = SpaceGuard::new(&self.root, reserve);
        self
    }

    /// Retires `pack` for good after `e`, cutting it back to its first `durable` bytes
    /// (see the module docs).
    ///
    /// The pack is marked retired before it is cut: a sync that made more of it durable
    /// meanwhile has raised `durable` by then, or its committer finds the pack retired and
    /// fails (see [`BlobStore::is_failed`]), so no acknowledged frame is ever cut off.
    fn retire(
        &self,
        pack: PackId,
        file: &File,
        durable: &AtomicU64,
        e: std::io::Error,
    ) -> BlobError {
        let first = if is_full(&e) && !lock(&self.failed).contains(&pack) {
            lock(&self.full).insert(pack)
        } else {
            lock(&self.full).remove(&pack);
            lock(&self.failed).insert(pack)
        };
        if first {
            self.discard_tail(pack, file, durable.load(Ordering::Acquire));
        }
        BlobError::PackFailed { pack, source: e }
    }

    /// Cuts a retired pack back to its durable prefix: nothing past it was acknowledged.
    /// Best effort (a failing disk may refuse this too; GC removes what is left).
    fn discard_tail(&self, pack: PackId, file: &File, durable: u64) {
        if durable <= PACK_MAGIC.len() as u64 {
            lock(&self.handles).remove(&pack);
            let _ = fs::remove_file(self.pack_path(pack));
        } else if file.metadata().is_ok_and(|m| m.len() > durable) {
            let _ = file.set_len(durable);
        }
    }

    /// fsyncs one pack's data, or the injected failure.
    fn fsync(&self, f: &File) -> std::io::Result<()> {
        if self.faults.as_ref().is_some_and(|p| p.on_sync()) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        f.sync_data()
    }

    /// Writes a record at `offset`, or fails as planned.
    fn write_record(
        &self,
        file: &File,
        slices: &mut [IoSlice<'_>],
        offset: u64,
    ) -> std::io::Result<()> {
        match self.faults.as_ref().and_then(|p| p.on_write()) {
            None => append::write_all_vectored_at(file, slices, offset),
            Some(Fault::NoSpace) => Err(std::io::ErrorKind::StorageFull.into()),
            Some(Fault::ShortWrite) => {
                let first = slices.first().map(|s| s.to_vec()).unwrap_or_default();
                file.write_all_at(&first[..first.len() / 2], offset)?;
                Err(std::io::Error::other("injected short write"))
            }
            Some(_) => Err(std::io::Error::other("injected write failure")),
        }
    }

    fn pack_path(&self, id: PackId) -> PathBuf {
        let name = id.to_string();
        self.root.join(&name[..2]).join(format!("{name}.pack"))
    }

    fn new_pack(&self) -> Result<Active, BlobError> {
        loop {
            let id = PackId(rand::random::<u64>());
            let path = self.pack_path(id);
            let dir = path.parent().unwrap_or(&self.root).to_path_buf();
            let fresh_dir = !dir.exists();
            fs::create_dir_all(&dir)?;
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            };
            let started = file
                .write_all_at(PACK_MAGIC, 0)
                .and_then(|()| file.sync_all())
                .and_then(|()| sync_dir(&dir))
                .and_then(|()| {
                    if fresh_dir {
                        sync_dir(&self.root)
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = started {
                let _ = fs::remove_file(&path); // a full disk leaves no empty pack behind
                return Err(e.into());
            }
            return Ok(Active {
                id,
                file: Arc::new(file),
                len: PACK_MAGIC.len() as u64,
                kicked: 0,
                synced: Arc::new(AtomicU64::new(PACK_MAGIC.len() as u64)),
            });
        }
    }

    fn handle(&self, pack: PackId) -> Result<Arc<File>, BlobError> {
        if let Some(f) = lock(&self.handles).get(&pack) {
            return Ok(f.clone());
        }
        let file = match File::open(self.pack_path(pack)) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing {
                    pack,
                    offset: 0,
                    reason: "pack file not found",
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut h = lock(&self.handles);
        if h.len() >= HANDLE_CACHE {
            h.clear();
        }
        h.insert(pack, file.clone());
        Ok(file)
    }

    fn active_id(&self) -> Option<PackId> {
        lock(&self.active).as_ref().map(|a| a.id)
    }
}

impl BlobStore for LocalPackStore {
    fn pack_size(&self) -> Option<u64> {
        Some(self.target_pack_size)
    }

    fn append_parts(&self, id: &ChunkId, parts: &[&[u8]]) -> Result<BlobLocation, BlobError> {
        self.append_with(id, parts, false)
    }

    fn append_for_gc(&self, id: &ChunkId, frame: &[u8]) -> Result<BlobLocation, BlobError> {
        self.append_with(id, &[frame], true)
    }

    fn sync(&self) -> Result<(), BlobError> {
        self.sync_all()
    }

    fn is_failed(&self, pack: PackId) -> bool {
        lock(&self.failed).contains(&pack) || lock(&self.full).contains(&pack)
    }

    fn is_full(&self, pack: PackId) -> bool {
        lock(&self.full).contains(&pack)
    }

    fn failed_packs(&self) -> usize {
        lock(&self.failed).len()
    }

    fn read(&self, loc: &BlobLocation) -> Result<Vec<u8>, BlobError> {
        let file = self.handle(loc.pack)?;
        let mut buf = vec![0u8; loc.len as usize];
        match file.read_exact_at(&mut buf, loc.offset) {
            Ok(()) => Ok(buf),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(BlobError::Missing {
                pack: loc.pack,
                offset: loc.offset,
                reason: "frame lies past the end of its pack",
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `preadv2` with `RWF_NOWAIT`: the kernel answers from the page cache or refuses.
    #[cfg(target_os = "linux")]
    fn read_cached(&self, loc: &BlobLocation) -> Result<Option<Vec<u8>>, BlobError> {
        use rustix::io::{ReadWriteFlags, preadv2};
        let file = self.handle(loc.pack)?;
        let mut buf = vec![0u8; loc.len as usize];
        let read = preadv2(
            &*file,
            &mut [std::io::IoSliceMut::new(&mut buf)],
            loc.offset,
            ReadWriteFlags::NOWAIT,
        );
        // EAGAIN (not all cached), a short read, or a kernel or file system without
        // RWF_NOWAIT: the blocking read decides (and reports any error)
        Ok(matches!(read, Ok(n) if n == buf.len()).then_some(buf))
    }

    fn packs(&self) -> Result<Vec<PackInfo>, BlobError> {
        let active = self.active_id();
        let mut out = Vec::new();
        for sub in fs::read_dir(&self.root)? {
            let sub = sub?;
            if !sub.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(sub.path())? {
                let f = f?;
                let name = f.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".pack"))
                    .and_then(PackId::parse)
                else {
                    continue;
                };
                // a pack GC deletes while we list is simply not there any more
                let (size, age) = match f.metadata() {
                    Ok(m) => (
                        m.len(),
                        m.modified().ok().map(|t| t.elapsed().unwrap_or_default()),
                    ),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                out.push(PackInfo {
                    id,
                    size,
                    active: Some(id) == active,
                    age,
                });
            }
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    fn delete_pack(&self, pack: PackId) -> Result<(), BlobError> {
        if self.active_id() == Some(pack) {
            return Err(BlobError::Io(std::io::Error::other(
                "refusing to delete the active pack",
            )));
        }
        lock(&self.handles).remove(&pack);
        match fs::remove_file(self.pack_path(pack)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn active_pack(&self) -> Option<PackId> {
        self.active_id()
    }

    fn trim_pack(&self, pack: PackId, len: u64) -> Result<(), BlobError> {
        if self.active_id() == Some(pack) {
            return Err(BlobError::Io(std::io::Error::other(
                "refusing to trim the active pack",
            )));
        }
        let file = self.handle(pack)?;
        let len = len.max(PACK_MAGIC.len() as u64);
        if file.metadata()?.len() > len {
            OpenOptions::new()
                .write(true)
                .open(self.pack_path(pack))?
                .set_len(len)?;
        }
        Ok(())
    }

    fn seal(&self) -> Result<(), BlobError> {
        self.sync()?; // packs that filled up earlier, and the active one
        let mut guard = lock(&self.active);
        if let Some(a) = guard.take()
            && let Err(e) = self.fsync(&a.file)
        {
            // frames appended since the sync above
            return Err(self.retire(a.id, &a.file, &a.synced, e));
        }
        Ok(())
    }

    fn space(&self) -> Option<Space> {
        let mut s = self.space.space().ok()?;
        s.reserve = self.space.reserve();
        Some(s)
    }

    fn records(&self, pack: PackId) -> Result<Vec<(ChunkId, BlobLocation)>, BlobError> {
        let file = self.handle(pack)?;
        let size = file.metadata()?.len();
        let mut out = Vec::new();
        let mut pos = PACK_MAGIC.len() as u64;
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        while pos + RECORD_HEADER_LEN <= size {
            file.read_exact_at(&mut head, pos)?;
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let Some(id) = ChunkId::from_slice(&head[4..]) else {
                break;
            };
            let offset = pos + RECORD_HEADER_LEN;
            if offset + len as u64 > size {
                break; // torn tail of a write that never committed
            }
            out.push((id, BlobLocation { pack, offset, len }));
            pos = offset + len as u64;
        }
        Ok(out)
    }
}

#[path = "local_append.rs"]
mod append;

#[path = "local_tier.rs"]
mod tier;

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;

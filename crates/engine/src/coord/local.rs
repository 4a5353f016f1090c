//! [`LocalCoordinator`]: coordination inside one process, which holds the data
//! directory's lock. Pins, keyed locks and hints live in memory; small state lives in
//! files of the data directory, each replaced atomically (temporary file, fsync, rename,
//! fsync of the folder) with mode 0600.

use super::{Coordinator, Hint, HintState, KeyGuard, PinSection};
use crate::error::{EngineError, EngineResult};
use nas_types::{ChunkId, PackId};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::hash::Hash;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

/// The scope of leases among keyed locks.
pub(super) const LEASE_SCOPE: &str = "lease";

/// Name of the data directory's lock file.
const LOCK_FILE: &str = "lock";

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pinned chunk ids and pack ids, with counts.
#[derive(Default)]
struct PinSet {
    chunks: HashMap<ChunkId, u32>,
    packs: HashMap<PackId, u32>,
}

fn add<K: Hash + Eq>(m: &mut HashMap<K, u32>, k: K) {
    *m.entry(k).or_default() += 1;
}

fn remove<K: Hash + Eq>(m: &mut HashMap<K, u32>, k: &K) {
    if let Some(n) = m.get_mut(k) {
        *n -= 1;
        if *n == 0 {
            m.remove(k);
        }
    }
}

struct Section<'a>(MutexGuard<'a, PinSet>);

impl PinSection for Section<'_> {
    fn pin_pack(&mut self, pack: PackId) {
        add(&mut self.0.packs, pack);
    }
    fn chunk_pinned(&self, id: &ChunkId) -> bool {
        self.0.chunks.contains_key(id)
    }
    fn pack_pinned(&self, pack: PackId) -> bool {
        self.0.packs.contains_key(&pack)
    }
}

/// A held key: removes itself from the held set when dropped and wakes the waiters.
struct Held<'a> {
    owner: &'a LocalCoordinator,
    key: String,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        guard(&self.owner.keys).remove(&self.key);
        self.owner.released.notify_all();
    }
}

/// Coordination of one process that owns its data directory.
pub struct LocalCoordinator {
    dir: PathBuf,
    /// The data directory's lock (`None`: a read-only or tool handle, which takes none).
    lock: Option<File>,
    pins: Mutex<PinSet>,
    /// Keys held now ("scope\0key"), and the condition their release signals.
    keys: Mutex<HashSet<String>>,
    released: Condvar,
    hints: Mutex<HashMap<Hint, HintState>>,
}

impl LocalCoordinator {
    /// Takes the exclusive lock of data directory `dir` (which must exist) for as long as
    /// the coordinator lives. Fails with [`EngineError::Locked`] when another process has
    /// it (an advisory `flock`, released by the kernel if the process dies).
    pub fn lock_dir(dir: &Path) -> EngineResult<LocalCoordinator> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match f.try_lock() {
            Ok(()) => Ok(Self::with_lock(dir, Some(f))),
            Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }

    /// A coordinator over `dir` that does not take its lock: for read-only opens and for
    /// tools that run beside a server (`silent-nas locks …`), and for tests.
    pub fn unlocked(dir: &Path) -> LocalCoordinator {
        Self::with_lock(dir, None)
    }

    fn with_lock(dir: &Path, lock: Option<File>) -> LocalCoordinator {
        LocalCoordinator {
            dir: dir.to_path_buf(),
            lock,
            pins: Mutex::default(),
            keys: Mutex::default(),
            released: Condvar::new(),
            hints: Mutex::default(),
        }
    }

    /// Whether this coordinator holds the data directory's lock.
    pub fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }

    fn file(&self, name: &str) -> std::io::Result<PathBuf> {
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains('/')
            && name != LOCK_FILE;
        if !plain {
            return Err(std::io::Error::other(format!(
                "invalid state name {name:?}"
            )));
        }
        Ok(self.dir.join(name))
    }

    /// Writes `bytes` to `path` atomically and durably, mode 0600.
    fn replace(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&self.dir)?.sync_all()
    }
}

impl Coordinator for LocalCoordinator {
    fn pin_chunks(&self, ids: &mut dyn ExactSizeIterator<Item = &ChunkId>) {
        let mut s = guard(&self.pins);
        s.chunks.reserve(ids.len());
        for id in ids {
            add(&mut s.chunks, *id);
        }
    }

    /// A set left mostly empty by a big write (a multipart completion pins every chunk of
    /// the object) gives its memory back.
    fn unpin(&self, chunks: &mut dyn Iterator<Item = &ChunkId>, packs: &[PackId]) {
        let mut s = guard(&self.pins);
        for id in chunks {
            remove(&mut s.chunks, id);
        }
        for p in packs {
            remove(&mut s.packs, p);
        }
        if s.chunks.capacity() > 4096 && s.chunks.len() < s.chunks.capacity() / 8 {
            let keep = s.chunks.len() * 2;
            s.chunks.shrink_to(keep);
        }
    }

    fn pin_section(&self) -> Box<dyn PinSection + '_> {
        Box::new(Section(guard(&self.pins)))
    }

    fn lock_key(&self, scope: &str, key: &str) -> EngineResult<KeyGuard<'_>> {
        let key = format!("{scope}\0{key}");
        let mut held = guard(&self.keys);
        while held.contains(&key) {
            held = self.released.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        held.insert(key.clone());
        Ok(KeyGuard::new(Held { owner: self, key }))
    }

    /// A key of its own scope, taken without waiting.
    fn lease(&self, name: &str) -> EngineResult<Option<KeyGuard<'_>>> {
        let key = format!("{LEASE_SCOPE}\0{name}");
        let mut held = guard(&self.keys);
        if !held.insert(key.clone()) {
            return Ok(None);
        }
        Ok(Some(KeyGuard::new(Held { owner: self, key })))
    }

    fn hint(&self, hint: Hint) -> HintState {
        guard(&self.hints).get(&hint).copied().unwrap_or_default()
    }

    fn settle_hint(&self, hint: Hint, generation: u64, any: bool) {
        let mut hints = guard(&self.hints);
        let h = hints.entry(hint).or_default();
        if h.generation == generation {
            h.known = Some(any);
        }
    }

    fn note_created(&self, hint: Hint) {
        let mut hints = guard(&self.hints);
        let h = hints.entry(hint).or_default();
        h.known = Some(true);
        h.generation += 1;
    }

    /// A file `DIR/name` of 32 bytes, mode 0600 (narrowed if found wider). A file of
    /// another length is an error saying what to do.
    fn secret(&self, name: &str) -> std::io::Result<[u8; 32]> {
        let path = self.file(name)?;
        if !path.exists() {
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            self.replace(&path, &key)?;
        }
        if fs::metadata(&path)?.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        }
        let bytes = fs::read(&path)?;
        bytes.as_slice().try_into().map_err(|_| {
            std::io::Error::other(format!(
                "{} is damaged (expected 32 bytes); delete it to sign everyone out",
                path.display()
            ))
        })
    }

    fn load_state(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(self.file(name)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn store_state(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.file(name)?;
        self.replace(&path, bytes)
    }
}

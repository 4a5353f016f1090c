//! [`Store`]: opening a data directory and the shared state behind every handle.
//!
//! Data directory layout (see `docs/design/on-disk-format.md`):
//! `lock` (held exclusively while a store is open for writing — by its
//! [`LocalCoordinator`]; read-only opens take none), `meta.sqlite` (+ WAL) unless the
//! metadata is in PostgreSQL ([`StoreOptions::meta`]), `packs/`.
//!
//! [`Store::open`] builds today's parts (the metadata where [`MetaLocation`] says, local
//! packs, the in-process coordinator); [`Store::from_parts`] takes any implementations of
//! the three seams.

use crate::coord::{ClusterCoordinator, Coordinator, LocalCoordinator};
use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::meta_location::MetaLocation;
use crate::pins::Pins;
use crate::time::now_ns;
use nas_blob::{BlobStore, LocalPackStore, RemoteConfig, RemotePackStore, RemoteStatus};
use nas_chunker::ChunkerParams;
use nas_codec::Compression;
use nas_meta::{HomeRecord, MetaStore};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Compression for new chunks; `None` keeps the store's setting (LZ4 on a new store).
    pub compression: Option<Compression>,
    /// Pack files are sealed at about this size.
    pub pack_size: u64,
    /// Failures to inject at the pack store's system calls (tests of a failing disk;
    /// `None` in production). See [`nas_blob::FaultPlan`]. Like `pack_size`, used only
    /// by [`Store::open`], which opens the pack store.
    pub faults: Option<Arc<nas_blob::FaultPlan>>,
    /// Bytes new data leaves free on the data directory's file system, so that metadata
    /// writes (deletes, trash purges, GC) always find room: a write that would go below it
    /// fails with [`EngineError::StorageFull`]. 0 keeps no reserve.
    pub reserve: u64,
    /// Store a new chunk as a delta against a similar stored chunk when that pays
    /// (`docs/design/delta.md`). Reading deltas works either way.
    pub delta: bool,
    /// The object-storage tier: sealed packs are uploaded there and read from there when
    /// not on the local disk (`docs/design/object-storage.md`). `None`: local packs only.
    pub remote: Option<RemoteConfig>,
    /// GC deletes a chunk only once it has had no reference for this long (zero: as soon
    /// as it has none). One process protects its writers' dedup lookups with pins; with
    /// several processes over one database (cluster mode) a writer on another node may
    /// have just deduplicated against a chunk that looks unreferenced here: the grace,
    /// longer than any write takes, lets its commit revive the chunk instead
    /// (`docs/design/versions-and-gc.md`, "Grace period").
    pub gc_grace: std::time::Duration,
    /// Where the metadata lives: the data directory's SQLite (default) or PostgreSQL.
    pub meta: MetaLocation,
    /// Keep versions' extent lists and chunk records after a read (`crate::read_cache`;
    /// on by default: `docs/design/caches.md` has the figures on both backends).
    pub read_cache: bool,
    /// Bytes of decoded chunks kept after a read (a chunk's plaintext, by content id), so
    /// a file read again is neither read from its pack nor decoded nor verified again;
    /// the chunks of a file larger than a quarter of it are not kept (a scan would only
    /// empty it). 0 keeps none. `docs/design/caches.md` has the figures behind the
    /// default ([`DEFAULT_CHUNK_CACHE`]).
    pub chunk_cache: u64,
}

/// Bytes of decoded chunks a store keeps unless told otherwise (see
/// [`StoreOptions::chunk_cache`]).
pub const DEFAULT_CHUNK_CACHE: u64 = 100 << 20;

/// Whether new stores and commands store delta chunks unless told otherwise.
pub const DEFAULT_DELTA: bool = false;

/// The default free-space reserve (see [`StoreOptions::reserve`] and
/// `docs/operations.md`, "A full disk").
pub const DEFAULT_RESERVE: u64 = 64 << 20;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            compression: None,
            pack_size: 64 << 20,
            faults: None,
            reserve: DEFAULT_RESERVE,
            delta: DEFAULT_DELTA,
            remote: None,
            gc_grace: std::time::Duration::ZERO,
            meta: MetaLocation::DataDir,
            read_cache: true,
            chunk_cache: DEFAULT_CHUNK_CACHE,
        }
    }
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub chunker: ChunkerParams,
    pub compression: Compression,
    /// Coordination with other handles and processes sharing the data (pins, keyed locks,
    /// hints, small state): see [`crate::coord`].
    pub coord: Arc<dyn Coordinator>,
    /// The engine's handle on the coordinator's pins.
    pub pins: Pins,
    /// One GC (or compaction) at a time.
    pub gc_lock: Mutex<()>,
    /// Group commit of concurrent writes (the committer thread).
    pub commits: crate::group_commit::CommitQueue,
    /// Homes by name. A home's id and root never change and homes are never deleted, so
    /// the first lookup stays true (saves a query on every request).
    pub homes: Mutex<HashMap<String, HomeRecord>>,
    /// Opened with [`Store::open_read_only`]: every write fails, no home is created.
    pub read_only: bool,
    /// Delta chunks for new writes (see [`crate::delta`]).
    pub delta: crate::delta::DeltaSettings,
    /// Decoded bases of delta chunks.
    pub plain_cache: crate::delta::PlainCache,
    /// Decoded chunks kept after a read (`StoreOptions::chunk_cache`).
    pub chunk_cache: crate::delta::PlainCache,
    /// What reads look up that does not change: versions' extent lists, chunk records.
    pub read_cache: crate::read_cache::ReadCache,
    /// Users' records, on a cluster node hearing change events ([`crate::user_cache`]).
    pub users: Arc<crate::user_cache::UserCache>,
    /// Packs read since the last flush (for cold recompression).
    pub read_marks: crate::read_marks::ReadMarks,
    /// Totals of cold recompression in this process.
    pub recompress: crate::recompress::Counters,
    /// Where change events go, once set ([`crate::changes`]).
    pub changes: std::sync::OnceLock<Arc<dyn crate::changes::ChangeSink>>,
    /// GC's grace period ([`StoreOptions::gc_grace`]).
    pub gc_grace: std::time::Duration,
}

/// What opening a store found: its metadata, its chunk storage, its coordinator and
/// their settings.
struct Opened {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    coord: Arc<dyn Coordinator>,
    chunker: ChunkerParams,
    compression: Compression,
    delta: bool,
    gc_grace: std::time::Duration,
    read_cache: bool,
    chunk_cache: u64,
}

/// An open store. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

const SETTING_CHUNKER: &str = "chunker";
const SETTING_COMPRESSION: &str = "compression";

fn compression_name(c: Compression) -> String {
    match c {
        Compression::None => "none".into(),
        Compression::Lz4 => "lz4".into(),
        Compression::Zstd(l) => format!("zstd:{l}"),
    }
}

/// The chunker and compression of a writable store: as its settings say, or (on a new
/// store) the defaults and `opts`, written down.
fn writable_settings(
    meta: &dyn MetaStore,
    opts: &StoreOptions,
) -> EngineResult<(ChunkerParams, Compression)> {
    let chunker = match meta.setting(SETTING_CHUNKER)? {
        Some(s) => parse_chunker(&s)?,
        None => {
            let p = ChunkerParams::DEFAULT;
            meta.set_setting(SETTING_CHUNKER, &format!("{},{},{}", p.min, p.avg, p.max))?;
            p
        }
    };
    let stored = meta
        .setting(SETTING_COMPRESSION)?
        .and_then(|s| Compression::parse(&s));
    let compression = match (opts.compression, stored) {
        (Some(c), _) => c,
        (None, Some(c)) => c,
        (None, None) => Compression::Lz4,
    };
    if stored.is_none() {
        meta.set_setting(SETTING_COMPRESSION, &compression_name(compression))?;
    }
    Ok((chunker, compression))
}

impl Store {
    /// Opens the store in `dir`, creating it when empty. Fails with
    /// [`EngineError::Locked`] when another process has it open.
    pub fn open(dir: &Path, opts: StoreOptions) -> EngineResult<Store> {
        fs::create_dir_all(dir)?;
        let local_coord = LocalCoordinator::lock_dir(dir)?;
        let m = opts.meta.open(dir)?;
        // metadata other nodes may share (PostgreSQL) is coordinated through it
        let coord: Arc<dyn Coordinator> = match &m.locks {
            Some(locks) => Arc::new(ClusterCoordinator::new(
                local_coord,
                m.meta.clone(),
                locks.clone(),
            )),
            None => Arc::new(local_coord),
        };
        let (chunker, compression) = writable_settings(m.meta.as_ref(), &opts)?;
        let local = LocalPackStore::open_with_faults(dir, opts.pack_size, opts.faults.clone())?
            .with_reserve(opts.reserve);
        let blobs: Arc<dyn BlobStore> = match &opts.remote {
            // placements are recorded in the metadata database; in PostgreSQL other
            // nodes record theirs there too (cluster mode: the shared pack view)
            Some(cfg) => {
                let cfg = RemoteConfig {
                    shared: opts.meta.is_postgres(),
                    ..cfg.clone()
                };
                Arc::new(RemotePackStore::open(local, &cfg, m.placements)?)
            }
            None => Arc::new(local),
        };
        let opened = Opened {
            meta: m.meta,
            blobs,
            coord,
            chunker,
            compression,
            delta: opts.delta,
            gc_grace: opts.gc_grace,
            read_cache: opts.read_cache,
            chunk_cache: opts.chunk_cache,
        };
        Store::assemble(dir, opened, false)
    }

    /// A writable store over given parts: its metadata, its chunk storage and the
    /// coordinator it shares them through (holding whatever exclusive right the parts
    /// need — for local parts, [`LocalCoordinator::lock_dir`]). `dir` is where the store
    /// keeps local files (readiness probes; the local coordinator's small state). The
    /// settings are read from `meta` (a new store gets the defaults and
    /// `opts.compression`); `opts.pack_size` and `opts.faults` are the blob store's
    /// business and unused here.
    pub fn from_parts(
        dir: &Path,
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        coord: Arc<dyn Coordinator>,
        opts: &StoreOptions,
    ) -> EngineResult<Store> {
        let (chunker, compression) = writable_settings(meta.as_ref(), opts)?;
        let opened = Opened {
            meta,
            blobs,
            coord,
            chunker,
            compression,
            delta: opts.delta,
            gc_grace: opts.gc_grace,
            read_cache: opts.read_cache,
            chunk_cache: opts.chunk_cache,
        };
        Store::assemble(dir, opened, false)
    }

    /// Opens an existing store read-only, without its lock: alongside a running server
    /// (or any other process writing it), for commands that only read. The metadata is
    /// opened read-only and must be at this build's schema; every write fails; a home that
    /// does not exist is [`EngineError::NotFound`]. A read races the writer the way a
    /// second server's would: it sees each commit whole or not at all.
    pub fn open_read_only(dir: &Path) -> EngineResult<Store> {
        Store::open_read_only_with(dir, None)
    }

    /// As [`open_read_only`](Store::open_read_only), with the object-storage tier the
    /// writing process uses: packs that are not on the local disk are read from it
    /// (nothing is uploaded or evicted by this store).
    pub fn open_read_only_with(dir: &Path, remote: Option<&RemoteConfig>) -> EngineResult<Store> {
        Store::open_read_only_at(dir, &MetaLocation::DataDir, remote)
    }

    /// As [`open_read_only_with`](Store::open_read_only_with), with the metadata at
    /// `location` (PostgreSQL is opened as for writing; the store refuses every write).
    pub fn open_read_only_at(
        dir: &Path,
        location: &MetaLocation,
        remote: Option<&RemoteConfig>,
    ) -> EngineResult<Store> {
        if !location.exists(dir) || !dir.is_dir() {
            return Err(EngineError::NotFound(format!(
                "no store in {}",
                dir.display()
            )));
        }
        let m = location.open_read_only(dir)?;
        let meta = m.meta;
        let chunker = match meta.setting(SETTING_CHUNKER)? {
            Some(s) => parse_chunker(&s)?,
            None => ChunkerParams::DEFAULT,
        };
        let compression = meta
            .setting(SETTING_COMPRESSION)?
            .and_then(|s| Compression::parse(&s))
            .unwrap_or(Compression::Lz4);
        let local = LocalPackStore::open(dir, StoreOptions::default().pack_size)?;
        let blobs: Arc<dyn BlobStore> = match remote {
            Some(cfg) => {
                let cfg = RemoteConfig {
                    shared: location.is_postgres(),
                    ..cfg.clone()
                };
                Arc::new(RemotePackStore::open_reader(local, &cfg, m.placements)?)
            }
            None => Arc::new(local),
        };
        let opened = Opened {
            meta,
            blobs,
            coord: Arc::new(LocalCoordinator::unlocked(dir)),
            chunker,
            compression,
            delta: false,
            gc_grace: std::time::Duration::ZERO,
            read_cache: false,
            chunk_cache: 0,
        };
        Store::assemble(dir, opened, true)
    }

    /// The shared state around opened parts (`read_only`: every write fails).
    fn assemble(dir: &Path, o: Opened, read_only: bool) -> EngineResult<Store> {
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                meta: o.meta,
                blobs: o.blobs,
                chunker: o.chunker,
                compression: o.compression,
                pins: Pins::new(o.coord.clone()),
                coord: o.coord,
                gc_lock: Mutex::new(()),
                commits: crate::group_commit::CommitQueue::start()?,
                homes: Mutex::default(),
                read_only,
                delta: crate::delta::DeltaSettings {
                    enabled: o.delta,
                    level: crate::delta::LEVEL,
                },
                plain_cache: crate::delta::PlainCache::new(crate::delta::DEFAULT_BASE_CACHE),
                chunk_cache: crate::delta::PlainCache::new(o.chunk_cache),
                users: Arc::new(crate::user_cache::UserCache::new()),
                read_cache: if o.read_cache {
                    crate::read_cache::ReadCache::new(
                        crate::read_cache::DEFAULT_VERSION_CACHE,
                        crate::read_cache::DEFAULT_CHUNK_CACHE,
                    )
                } else {
                    crate::read_cache::ReadCache::new(0, 0)
                },
                read_marks: Default::default(),
                recompress: Default::default(),
                changes: Default::default(),
                gc_grace: o.gc_grace,
            }),
        })
    }

    /// Makes `c` the store's default compression for new chunks (persisted).
    pub fn set_default_compression(&self, c: Compression) -> EngineResult<()> {
        self.inner
            .meta
            .set_setting(SETTING_COMPRESSION, &compression_name(c))?;
        Ok(())
    }

    /// The compression new chunks get in this session.
    pub fn compression(&self) -> Compression {
        self.inner.compression
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The coordinator this store shares its data through (for the doors' small state:
    /// the REST token secret and sessions).
    pub fn coordinator(&self) -> &Arc<dyn Coordinator> {
        &self.inner.coord
    }

    /// Packs retired since the store was opened after a failed write or fsync: non-zero
    /// means the disk lost data that was never acknowledged (readiness reports it).
    pub fn failed_packs(&self) -> usize {
        self.inner.blobs.failed_packs()
    }

    /// What the object-storage tier is doing (`None`: the store has none).
    pub fn remote_status(&self) -> Option<RemoteStatus> {
        self.inner.blobs.remote_status()
    }

    /// Waits until every sealed pack is uploaded to the object-storage tier, at most
    /// `timeout` (true when it is; at once without a tier).
    pub fn wait_uploaded(&self, timeout: std::time::Duration) -> bool {
        self.inner.blobs.wait_uploaded(timeout)
    }

    /// Drops the local copy of every sealed pack whose remote copy is verified (a pack
    /// without one is left alone): how many were dropped. Reads of their frames go to the
    /// object store from then on. For `silent-nas tier evict` and tests; the `tiered`
    /// policy's mover evicts by plan instead (`Store::mover_plan`).
    pub fn evict_local_packs(&self) -> EngineResult<u64> {
        let mut n = 0;
        for p in self.inner.blobs.packs()? {
            if !p.active && self.inner.blobs.evict_local(p.id)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Free space on the data directory's file system and the reserve new data leaves
    /// (`None` when it cannot be known). `is_full()`: new data is being refused.
    pub fn space(&self) -> Option<nas_blob::Space> {
        self.inner.blobs.space()
    }

    /// The home called `name` if this process has opened it before: no I/O, so async code
    /// may call it in place of [`home`](Store::home).
    pub fn cached_home(&self, name: &str) -> Option<Home> {
        let homes = self.inner.homes.lock().unwrap_or_else(|p| p.into_inner());
        let rec = homes.get(name)?.clone();
        Some(Home::new(self.inner.clone(), rec))
    }

    /// The home called `name`, created on first use.
    pub fn home(&self, name: &str) -> EngineResult<Home> {
        if name.is_empty() || name.contains('/') || name.chars().any(|c| c.is_control()) {
            return Err(EngineError::InvalidArgument(format!(
                "invalid home name {name:?}"
            )));
        }
        if let Some(home) = self.cached_home(name) {
            return Ok(home);
        }
        let rec = if self.inner.read_only {
            self.inner
                .meta
                .home(name)?
                .ok_or_else(|| EngineError::NotFound(format!("home {name}")))?
        } else {
            self.inner
                .meta
                .create_home(name, crate::staging::account_of(name), now_ns())?
        };
        self.inner
            .homes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), rec.clone());
        Ok(Home::new(self.inner.clone(), rec))
    }

    /// Names of every home.
    pub fn homes(&self) -> EngineResult<Vec<String>> {
        Ok(self
            .inner
            .meta
            .homes()?
            .into_iter()
            .map(|h| h.name)
            .collect())
    }

    /// A consistent copy of the metadata database at `dest`, taken while the store runs.
    pub fn backup_meta(&self, dest: &Path) -> EngineResult<()> {
        Ok(self.inner.meta.backup(dest)?)
    }

    /// A consistent copy of the metadata database of the store in `dir` at `dest`, taken
    /// without the store's lock: it works while a server has the store open (SQLite's WAL
    /// lets this read transaction see one committed state while the server writes).
    /// Only for SQLite metadata ([`MetaLocation::require_sqlite`]).
    pub fn backup_meta_at(dir: &Path, dest: &Path) -> EngineResult<()> {
        let location = MetaLocation::DataDir;
        if !location.exists(dir) {
            return Err(EngineError::NotFound(format!(
                "no store in {}",
                dir.display()
            )));
        }
        Ok(location.open(dir)?.meta.backup(dest)?)
    }
}

fn parse_chunker(s: &str) -> EngineResult<ChunkerParams> {
    let v: Vec<usize> = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
    let [min, avg, max] = v[..] else {
        return Err(EngineError::InvalidArgument(format!(
            "bad chunker setting {s:?}"
        )));
    };
    let p = ChunkerParams { min, avg, max };
    p.validate()
        .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
    Ok(p)
}

//! Disaster recovery: [`restore_from_remote`] rebuilds a data directory from the object
//! store alone — the metadata from a backup [`Store::backup_to_remote`](crate::Store::backup_to_remote)
//! made, the data left where it is. Steps: refuse a target that is not empty; read the
//! manifest (`latest.json`, or the one of the backup asked for); download the compressed
//! database, decompress it into `meta.sqlite.part` while hashing, check size and BLAKE3
//! against the manifest, rename it into place; open it (migrating an older schema) and run
//! SQLite's integrity check; then replace its placement table by what the object store
//! holds: every pack object the chunk index names becomes a **remote-only** placement (the
//! local disk is empty: reads fetch through the tier's cache). A pack the chunk index names
//! that has no object may have been compacted by GC after the backup: its frames are
//! looked for, by chunk id, in the pack objects the backup does not name (written after
//! it) and the chunk rows pointed at them. Frames found nowhere are reported with the files
//! whose versions use them (at risk); other newer pack objects are counted and left alone.

use crate::backup::{BackupManifest, LATEST, MANIFEST_FORMAT, backup_names, remote};
use crate::error::{EngineError, EngineResult};
use crate::time::now_ns;
use nas_blob::{BlobLocation, Placement, PlacementLog, RemoteArchive, RemoteConfig, RemoteError};
use nas_meta::{ChunkIndex, ChunkRow, MetaStore, Namespace, SqliteMeta, Versions};
use nas_types::{ChunkId, PackId};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

/// What a restore did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup restored.
    pub manifest: BackupManifest,
    /// Packs the restored chunk index names.
    pub packs: u64,
    /// Of those, packs found in the object store (recorded as remote-only).
    pub packs_found: u64,
    /// Bytes of those objects.
    pub remote_bytes: u64,
    /// Packs the chunk index names with no object in the store.
    pub missing_packs: Vec<PackId>,
    /// Files (path and version) with data in a missing pack: they cannot be read.
    pub at_risk: Vec<String>,
    /// Chunks of packs missing from the store found in packs written after the backup
    /// (GC's compaction moved them there): pointed at their new place.
    pub relocated_chunks: u64,
    /// Pack objects in the store that the backup does not name (written after it) and
    /// that hold none of its missing chunks: left alone, never deleted by the restored
    /// server.
    pub unreferenced_objects: u64,
}

/// Names of the backups in the object store, oldest first.
pub fn list_remote_backups(cfg: &RemoteConfig) -> EngineResult<Vec<String>> {
    backup_names(&RemoteArchive::open(cfg).map_err(remote)?)
}

/// Rebuilds the data directory `dir` (absent or empty) from the object store `cfg`: the
/// newest backup, or the one named `backup`. See the module docs.
pub fn restore_from_remote(
    dir: &Path,
    cfg: &RemoteConfig,
    backup: Option<&str>,
) -> EngineResult<RestoreReport> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(EngineError::AlreadyExists(format!(
            "{} is not empty: a restore needs an empty directory",
            dir.display()
        )));
    }
    let archive = RemoteArchive::open(cfg).map_err(remote)?;
    let manifest = manifest(&archive, backup)?;
    let data = archive.get_meta(&manifest.object()).map_err(remote)?;
    if data.len() as u64 != manifest.compressed_bytes {
        return Err(corrupt(&manifest, "the compressed size differs"));
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir)?;
    let r = rebuild(dir, &archive, manifest, &data);
    if r.is_err() {
        // leave the directory as it was (empty, or absent), so the restore can run again
        for name in [
            "meta.sqlite.part",
            "meta.sqlite",
            "meta.sqlite-wal",
            "meta.sqlite-shm",
        ] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        if created {
            let _ = std::fs::remove_dir(dir);
        }
    }
    r
}

/// The restore's work in the (empty) directory `dir`: the database from `data`, checked,
/// and the placements rebuilt from the object store.
fn rebuild(
    dir: &Path,
    archive: &RemoteArchive,
    manifest: BackupManifest,
    data: &[u8],
) -> EngineResult<RestoreReport> {
    let part = dir.join("meta.sqlite.part");
    let (db_bytes, hash) = decompress(data, &part).map_err(|e| match e {
        e @ EngineError::StorageFull(_) => e,
        e => corrupt(&manifest, &format!("it does not decompress: {e}")),
    })?;
    if db_bytes != manifest.db_bytes || hash != manifest.blake3 {
        let _ = std::fs::remove_file(&part);
        return Err(corrupt(&manifest, "the database's size or BLAKE3 differs"));
    }
    let db = dir.join("meta.sqlite");
    std::fs::rename(&part, &db)?;
    std::fs::File::open(dir)?.sync_all()?;
    let meta = SqliteMeta::open(&db)?;
    let problems = meta.integrity_check()?;
    if !problems.is_empty() {
        return Err(corrupt(
            &manifest,
            &format!("integrity check: {}", problems.join("; ")),
        ));
    }
    let objects: HashMap<PackId, u64> = archive.list_packs().map_err(remote)?.into_iter().collect();
    let referenced: HashSet<PackId> = meta
        .pack_usage()?
        .into_iter()
        .filter(|u| u.chunks > 0)
        .map(|u| u.pack)
        .collect();
    let old: HashMap<PackId, Placement> = meta
        .all_placements()?
        .into_iter()
        .map(|p| (p.pack, p))
        .collect();
    for pack in old.keys() {
        meta.remove_placement(*pack)?;
    }
    let (mut found, mut bytes, mut missing) = (0u64, 0u64, Vec::new());
    let now = now_ns();
    for pack in &referenced {
        let Some(&size) = objects.get(pack) else {
            missing.push(*pack);
            continue;
        };
        // the recorded MD5 still holds for an object of the size it had
        let md5 = old
            .get(pack)
            .filter(|p| p.remote && p.size == size)
            .and_then(|p| p.md5.clone());
        meta.set_placement(&Placement {
            pack: *pack,
            local: false,
            remote: true,
            size,
            md5,
            last_read_ns: now,
            age: None,
        })?;
        found += 1;
        bytes += size;
    }
    missing.sort();
    let newer: Vec<PackId> = objects
        .keys()
        .copied()
        .filter(|p| !referenced.contains(p))
        .collect();
    let moved = relocate(archive, &meta, &mut missing, &newer)?;
    for pack in &moved.into {
        let size = objects.get(pack).copied().unwrap_or(0);
        meta.set_placement(&Placement {
            pack: *pack,
            local: false,
            remote: true,
            size,
            md5: None,
            last_read_ns: now,
            age: None,
        })?;
        found += 1;
        bytes += size;
    }
    let at_risk = files_in(&meta, &missing)?;
    Ok(RestoreReport {
        manifest,
        packs: referenced.len() as u64,
        packs_found: found,
        remote_bytes: bytes,
        missing_packs: missing,
        at_risk,
        relocated_chunks: moved.chunks,
        unreferenced_objects: (newer.len() - moved.into.len()) as u64,
    })
}

/// Frames found again in packs written after the backup.
struct Relocated {
    /// Chunk rows pointed at their new place.
    chunks: u64,
    /// The newer packs they are in (recorded as placements).
    into: Vec<PackId>,
}

/// GC's compaction after the backup moved live frames out of packs the backup names into
/// newer packs (and deleted the old objects): the frames of `missing` packs are looked up,
/// by chunk id, in the records of the `newer` pack objects (read whole; a pack is
/// self-describing) and the chunk rows pointed at them. `missing` keeps the packs with a
/// chunk found nowhere. Every frame is still checked against its chunk id when read.
fn relocate(
    archive: &RemoteArchive,
    meta: &SqliteMeta,
    missing: &mut Vec<PackId>,
    newer: &[PackId],
) -> EngineResult<Relocated> {
    let mut out = Relocated {
        chunks: 0,
        into: Vec::new(),
    };
    if missing.is_empty() || newer.is_empty() {
        return Ok(out);
    }
    let mut found: HashMap<ChunkId, BlobLocation> = HashMap::new();
    for pack in newer {
        for (id, loc) in archive.pack_records(*pack).map_err(remote)? {
            found.entry(id).or_insert(loc);
        }
    }
    let mut into: HashSet<PackId> = HashSet::new();
    let mut still = Vec::new();
    for pack in missing.iter() {
        let chunks = meta.chunks_in_pack(*pack)?;
        let moves: Vec<(ChunkRow, BlobLocation)> = chunks
            .iter()
            .filter_map(|c| found.get(&c.id).map(|l| (c.row, *l)))
            .collect();
        if moves.len() < chunks.len() {
            still.push(*pack);
        }
        into.extend(moves.iter().map(|(_, l)| l.pack));
        out.chunks += moves.len() as u64;
        meta.relocate(&moves)?;
    }
    *missing = still;
    out.into = into.into_iter().collect();
    out.into.sort();
    Ok(out)
}

fn corrupt(m: &BackupManifest, why: &str) -> EngineError {
    EngineError::Internal(format!("backup {} does not verify: {why}", m.name))
}

/// The manifest of backup `name`, or the newest (`latest.json`; the newest name listed
/// when that is missing).
fn manifest(archive: &RemoteArchive, name: Option<&str>) -> EngineResult<BackupManifest> {
    let file = match name {
        Some(n) => format!("{n}.json"),
        None => LATEST.to_owned(),
    };
    let bytes = match archive.get_meta(&file) {
        Ok(b) => b,
        Err(RemoteError::NotFound(_)) if name.is_none() => {
            let newest = backup_names(archive)?.pop().ok_or_else(|| {
                EngineError::NotFound(format!("no metadata backup in {}", archive.url()))
            })?;
            archive
                .get_meta(&format!("{newest}.json"))
                .map_err(remote)?
        }
        Err(RemoteError::NotFound(_)) => {
            return Err(EngineError::NotFound(format!(
                "backup {file} in {}",
                archive.url()
            )));
        }
        Err(e) => return Err(remote(e)),
    };
    let m: BackupManifest = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::InvalidArgument(format!("manifest {file}: {e}")))?;
    if m.format != MANIFEST_FORMAT {
        return Err(EngineError::InvalidArgument(format!(
            "manifest {file}: format {} is not {MANIFEST_FORMAT}",
            m.format
        )));
    }
    Ok(m)
}

/// Decompresses `data` into `path` (fsynced): (bytes, BLAKE3 hex).
fn decompress(data: &[u8], path: &Path) -> EngineResult<(u64, String)> {
    struct Tee<W> {
        out: W,
        hasher: blake3::Hasher,
        bytes: u64,
    }
    impl<W: Write> Write for Tee<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.out.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.bytes += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.out.flush()
        }
    }
    let file = std::fs::File::create(path)?;
    let mut tee = Tee {
        out: std::io::BufWriter::new(file),
        hasher: blake3::Hasher::new(),
        bytes: 0,
    };
    zstd::stream::copy_decode(data, &mut tee)?;
    tee.flush()?;
    let file = tee.out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((tee.bytes, tee.hasher.finalize().to_hex().to_string()))
}

/// Every file version (path and version) with a chunk in one of `packs`.
fn files_in(meta: &SqliteMeta, packs: &[PackId]) -> EngineResult<Vec<String>> {
    if packs.is_empty() {
        return Ok(Vec::new());
    }
    let packs: HashSet<PackId> = packs.iter().copied().collect();
    let mut rows: HashSet<ChunkRow> = HashSet::new();
    meta.for_each_chunk(&mut |c| {
        if packs.contains(&c.loc.pack) {
            rows.insert(c.row);
        }
        Ok(())
    })?;
    let mut hit = Vec::new();
    meta.for_each_version(&mut |v| {
        let uses = v
            .extents
            .as_ref()
            .is_ok_and(|ex| ex.iter().any(|e| rows.contains(&e.chunk)));
        if uses {
            hit.push((v.version.node, v.version.num));
        }
        Ok(())
    })?;
    let mut out = Vec::with_capacity(hit.len());
    for (node, num) in hit {
        let path = meta
            .node_path(node)?
            .unwrap_or_else(|| format!("(node {})", node.0));
        out.push(format!("{path} (version {})", num.0));
    }
    out.sort();
    Ok(out)
}

//! Metadata backups to the object store, for disaster recovery (`docs/design/object-storage.md`,
//! "Disaster recovery"): [`Store::backup_to_remote`] makes sure the packs the metadata
//! references are uploaded, takes a consistent snapshot of the metadata database (`VACUUM
//! INTO` a temporary file in the data directory: one read transaction, never a copy of a
//! live file), compresses it with zstd and uploads it as `PREFIX/meta/<name>.sqlite.zst`,
//! then its manifest `PREFIX/meta/<name>.json` and the same manifest as
//! `PREFIX/meta/latest.json`, and prunes the oldest backups beyond `keep`. A `<name>` is the
//! UTC time of the backup (`20261207T064012.345Z`), so names sort by age.
//!
//! The packs first: the active pack is sealed (so every frame committed so far is in a
//! sealed pack, which the tier uploads) and the uploads are waited for, a bounded time.
//! After the snapshot, every pack its chunk index names is checked against the tier's
//! verified remote copies; one written between the seal and the snapshot gets one more
//! seal and wait. Packs still without a verified remote copy are **named in the manifest**
//! (`not_uploaded`): a restore from this backup says which files they hold.
//!
//! What is not in a backup, on purpose: the REST door's signing secrets and sessions (small
//! files of the data directory; a restored server makes new ones, so everyone signs in
//! again) and the configuration file (the operator's; `restore` writes a minimal one).

use crate::error::{EngineError, EngineResult};
use crate::store::Store;
use crate::time::now_ns;
use nas_blob::{BlobError, RemoteArchive, RemoteError};
use nas_meta::{ChunkIndex, SqliteMeta};
use nas_types::PackId;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The manifest naming the newest backup.
pub const LATEST: &str = "latest.json";
/// Format of [`BackupManifest`].
pub const MANIFEST_FORMAT: u32 = 1;
/// zstd level of backups (the database compresses well at any level; 3 is fast).
const LEVEL: i32 = 3;

/// What one backup is; uploaded as `PREFIX/meta/<name>.json` and `latest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The backup's name (its UTC time): the object is `<name>.sqlite.zst`.
    pub name: String,
    /// When the snapshot was taken, ns since the epoch.
    pub created_ns: i64,
    /// Metadata schema version of the snapshot.
    pub schema: i64,
    /// Bytes of the database.
    pub db_bytes: u64,
    /// Bytes of the compressed object.
    pub compressed_bytes: u64,
    /// BLAKE3 of the database (hex), checked by a restore after decompressing.
    pub blake3: String,
    /// Packs the snapshot's chunk index names.
    pub packs: u64,
    /// Of those, packs without a verified remote copy when the backup was taken (their
    /// files are at risk in a restore from this backup).
    pub not_uploaded: Vec<String>,
}

impl BackupManifest {
    /// The object holding the compressed database.
    pub fn object(&self) -> String {
        format!("{}.sqlite.zst", self.name)
    }
}

/// How [`Store::backup_to_remote`] runs.
#[derive(Debug, Clone, Copy)]
pub struct BackupOptions {
    /// Backups kept (the newest); older ones are deleted after a successful upload. At
    /// least 1.
    pub keep: usize,
    /// How long to wait for pending pack uploads before the snapshot (each of at most two
    /// waits).
    pub upload_wait: Duration,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            keep: 24,
            upload_wait: Duration::from_secs(600),
        }
    }
}

/// What a backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Its manifest (as uploaded).
    pub manifest: BackupManifest,
    /// Older backups deleted by the pruning.
    pub pruned: usize,
}

/// A remote error as an engine error (the object store's trouble is `Unavailable`).
pub(crate) fn remote(e: RemoteError) -> EngineError {
    BlobError::from(e).into()
}

/// `ns` since the epoch as a UTC name `YYYYMMDDTHHMMSS.mmmZ`.
pub(crate) fn utc_name(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{ms:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Removes a temporary database (and its WAL files) when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Store {
    /// Backs the metadata up to the object store (see the module docs). Fails when the
    /// store has no object-storage tier or the object store cannot be written.
    pub fn backup_to_remote(&self, opts: &BackupOptions) -> EngineResult<BackupReport> {
        let inner = &self.inner;
        let archive = inner.blobs.archive().ok_or_else(|| {
            EngineError::InvalidArgument("the store has no object-storage tier".into())
        })?;
        if inner.read_only {
            return Err(EngineError::InvalidArgument("opened read-only".into()));
        }
        // every frame committed so far in a sealed pack, queued for its upload
        inner.blobs.seal()?;
        inner.blobs.wait_uploaded(opts.upload_wait);
        let created_ns = now_ns();
        let name = utc_name(created_ns);
        let tmp = TempFile(inner.dir.join(format!(".meta-backup-{name}.sqlite")));
        let _ = std::fs::remove_file(&tmp.0);
        inner.meta.backup(&tmp.0)?;
        // opened as a database of its own (a read-only open of a WAL database needs its
        // shared-memory file); at this build's schema nothing is migrated
        let snap = SqliteMeta::open(&tmp.0)?;
        let referenced: Vec<PackId> = snap
            .pack_usage()?
            .into_iter()
            .filter(|u| u.chunks > 0)
            .map(|u| u.pack)
            .collect();
        let mut missing = self.not_uploaded(&referenced)?;
        if !missing.is_empty() {
            // written between the seal and the snapshot (or still uploading): once more
            inner.blobs.seal()?;
            inner.blobs.wait_uploaded(opts.upload_wait);
            missing = self.not_uploaded(&referenced)?;
        }
        drop(snap);
        let (data, db_bytes, hash) = compress(&tmp.0)?;
        drop(tmp);
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT,
            name: name.clone(),
            created_ns,
            schema: nas_meta::SCHEMA_VERSION,
            db_bytes,
            compressed_bytes: data.len() as u64,
            blake3: hash,
            packs: referenced.len() as u64,
            not_uploaded: missing.iter().map(|p| p.to_string()).collect(),
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| EngineError::Internal(format!("manifest: {e}")))?;
        // the data first: a manifest only ever names a complete object
        archive.put_meta(&manifest.object(), data).map_err(remote)?;
        archive
            .put_meta(&format!("{name}.json"), json.clone())
            .map_err(remote)?;
        archive.put_meta(LATEST, json).map_err(remote)?;
        if !missing.is_empty() {
            tracing::warn!(backup = %name, packs = missing.len(),
                "metadata backed up with packs not uploaded yet: their files are at risk until they are");
        }
        let pruned = prune(&archive, opts.keep.max(1))?;
        Ok(BackupReport { manifest, pruned })
    }

    /// The packs of `referenced` without a verified remote copy now.
    fn not_uploaded(&self, referenced: &[PackId]) -> EngineResult<Vec<PackId>> {
        let remote: HashSet<PackId> = self
            .inner
            .blobs
            .tier_packs()?
            .into_iter()
            .filter(|p| p.remote)
            .map(|p| p.id)
            .collect();
        Ok(referenced
            .iter()
            .copied()
            .filter(|p| !remote.contains(p))
            .collect())
    }
}

/// The database at `path` compressed: (bytes, database size, BLAKE3 hex).
fn compress(path: &Path) -> EngineResult<(Vec<u8>, u64, String)> {
    let mut src = Hashing {
        inner: std::io::BufReader::new(std::fs::File::open(path)?),
        hasher: blake3::Hasher::new(),
        bytes: 0,
    };
    let mut out = Vec::new();
    zstd::stream::copy_encode(&mut src, &mut out, LEVEL)?;
    Ok((out, src.bytes, src.hasher.finalize().to_hex().to_string()))
}

/// The backup names (oldest first) found under `PREFIX/meta/`: every `<name>.json` or
/// `<name>.sqlite.zst` but `latest.json`.
pub(crate) fn backup_names(archive: &RemoteArchive) -> EngineResult<Vec<String>> {
    let mut names: Vec<String> = archive
        .list_meta()
        .map_err(remote)?
        .into_iter()
        .filter(|o| o.name != LATEST)
        .filter_map(|o| {
            o.name
                .strip_suffix(".sqlite.zst")
                .or_else(|| o.name.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Deletes every backup but the newest `keep` (the manifest first, so no manifest ever
/// names a deleted object): how many.
fn prune(archive: &RemoteArchive, keep: usize) -> EngineResult<usize> {
    let names = backup_names(archive)?;
    let old = names.len().saturating_sub(keep);
    for name in &names[..old] {
        archive
            .delete_meta(&format!("{name}.json"))
            .map_err(remote)?;
        archive
            .delete_meta(&format!("{name}.sqlite.zst"))
            .map_err(remote)?;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_utc_times_that_sort_by_age() {
        assert_eq!(super::utc_name(0), "19700101T000000.000Z");
        // 2026-12-07 06:40:54.123 UTC
        let ns = 1_796_625_654_123_000_000;
        assert_eq!(super::utc_name(ns), "20261207T064054.123Z");
        assert_eq!(
            super::utc_name(951_782_400_000_000_000),
            "20000229T000000.000Z"
        );
        assert!(super::utc_name(ns) < super::utc_name(ns + 1_000_000));
    }
}

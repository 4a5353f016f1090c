//! Where multipart uploads live until they complete: a staging home per user
//! (`.s3-uploads.<user>`, a name no user can have), one folder per upload holding a
//! marker file (`upload`: the object's future type and metadata, plus the bucket and key)
//! and one file per part (`part-00001`…). Parts go through the engine's write pipeline,
//! so they are chunked, deduplicated and durable like any file; completion composes the
//! object from the parts' chunks without copying data, then purges the folder.
//!
//! Completion and abort of one upload are serialized by an in-process lock (one server
//! owns a staging home); an UploadPart racing an abort cannot land in the purged folder,
//! because the engine refuses to commit into a folder that is gone.

use nas_engine::{EngineError, Entry, Home, NodeKind, Store, now_ns};
use nas_types::NasPath;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Prefix of the staging homes' names (user names never start with a dot).
pub const STAGING_PREFIX: &str = ".s3-uploads.";

/// The name of `user`'s staging home.
pub fn staging_name(user: &str) -> String {
    format!("{STAGING_PREFIX}{user}")
}

/// Reserved user-metadata keys of the marker file.
pub const BUCKET_KEY: &str = "s3:bucket";
pub const OBJECT_KEY: &str = "s3:key";
pub const ALGORITHM_KEY: &str = "s3:algorithm";
pub const CHECKSUM_TYPE_KEY: &str = "s3:checksum-type";

/// Largest part number S3 allows.
pub const MAX_PART: i32 = 10_000;

/// A fresh upload id: 128 random bits in hex.
pub fn new_upload_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The folder of upload `id`, when `id` is one we could have issued.
pub fn upload_dir(id: &str) -> Option<NasPath> {
    let ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| NasPath::root().join(id).ok()).flatten()
}

/// The marker file of upload folder `dir`.
pub fn marker(dir: &NasPath) -> NasPath {
    dir.join("upload").unwrap_or_else(|_| dir.clone())
}

/// The file of part `n` in `dir`.
pub fn part_path(dir: &NasPath, n: i32) -> NasPath {
    dir.join(&format!("part-{n:05}"))
        .unwrap_or_else(|_| dir.clone())
}

/// The part number a staged file holds, if it is a part.
pub fn part_number(e: &Entry) -> Option<i32> {
    if e.kind != NodeKind::File {
        return None;
    }
    e.name().strip_prefix("part-")?.parse().ok()
}

/// Serializes completion and abort of one upload (striped by id).
pub struct UploadLocks([Mutex<()>; 64]);

impl Default for UploadLocks {
    fn default() -> Self {
        UploadLocks(std::array::from_fn(|_| Mutex::new(())))
    }
}

impl UploadLocks {
    /// Holds the lock of upload `id`.
    pub fn lock(&self, id: &str) -> MutexGuard<'_, ()> {
        let h = id
            .bytes()
            .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
        self.0[h % 64].lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes an upload folder for good: parts are not versioned history and do not go to
/// the trash.
pub fn purge(staging: &Home, dir: &NasPath) -> Result<(), EngineError> {
    match staging.delete(dir) {
        Ok(rec) => staging.trash_purge(rec.id),
        Err(EngineError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Purges every upload started more than `age` ago, in every staging home. Returns how
/// many were removed. Their chunks are freed by the next GC.
pub fn expire_uploads(
    store: &Store,
    age: Duration,
    locks: &UploadLocks,
) -> Result<usize, EngineError> {
    let cutoff = now_ns().saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
    let mut removed = 0;
    for name in store.homes()? {
        if !name.starts_with(STAGING_PREFIX) {
            continue;
        }
        let staging = store.home(&name)?;
        let mut after = None;
        loop {
            let page = staging.list(&NasPath::root(), after.as_deref(), 1000)?;
            for dir in page.entries.iter().filter(|e| e.kind == NodeKind::Dir) {
                // started = the marker's time; a folder without one is a create cut short
                let started = staging
                    .stat(&marker(&dir.path))
                    .map(|m| m.mtime_ns)
                    .unwrap_or(dir.mtime_ns);
                if started < cutoff {
                    let _held = locks.lock(dir.name());
                    purge(&staging, &dir.path)?;
                    removed += 1;
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
    }
    Ok(removed)
}

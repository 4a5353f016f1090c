//! Where multipart uploads live until they complete: a staging home per user
//! (`.s3-uploads.<user>`, a name no user can have), one folder per upload holding a
//! marker file (`upload`: the object's future type and metadata, plus the bucket and key)
//! and one file per part (`part-00001`…). Parts go through the engine's write pipeline,
//! so they are chunked, deduplicated and durable like any file; completion composes the
//! object from the parts' chunks without copying data, then purges the parts and turns
//! the marker into a record of the completion (ETag, version, checksums), so a retried
//! CompleteMultipartUpload gets the same answer. That record is kept for as long as an
//! abandoned upload would be (`s3_upload_expiry` after the completion; the same expiry
//! removes it).
//!
//! Completion and abort of one upload are serialized by an in-process lock (one server
//! owns a staging home); an UploadPart racing an abort cannot land in the purged folder,
//! because the engine refuses to commit into a folder that is gone.

use nas_engine::{EngineError, Entry, LifecycleRule, NodeKind, Store, account_of, now_ns};
use nas_types::NasPath;
use std::cell::RefCell;
use std::collections::HashMap;
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
/// Set on the marker of a completed upload: the object's ETag, and its version.
pub const DONE_ETAG_KEY: &str = "s3:done-etag";
pub const DONE_VERSION_KEY: &str = "s3:done-version";

/// Whether the marker `m` records a completed upload.
pub fn is_done(m: &Entry) -> bool {
    m.attrs.user.contains_key(DONE_ETAG_KEY)
}

/// Largest part number S3 allows.
pub const MAX_PART: i32 = 10_000;

pub use nas_engine::{KeyedLocks as UploadLocks, new_upload_id, upload_dir};

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

/// Purges every upload started more than `age` ago, in every staging home. Returns how
/// many were removed. Their chunks are freed by the next GC.
pub fn expire_uploads(
    store: &Store,
    age: Duration,
    locks: &UploadLocks,
) -> Result<usize, EngineError> {
    // started = the marker's time; a folder without one is a create cut short
    store.expire_staged(STAGING_PREFIX, age, locks, |staging, dir| {
        staging
            .stat(&marker(&dir.path))
            .map(|m| m.mtime_ns)
            .unwrap_or(dir.mtime_ns)
    })
}

/// Purges every upload in progress that its bucket's lifecycle rules abort
/// (`AbortIncompleteMultipartUpload`: started more than `DaysAfterInitiation` days of
/// `day` ago, its key under the rule's prefix, the rule enabled). Returns how many.
pub fn abort_by_lifecycle(
    store: &Store,
    day: Duration,
    locks: &UploadLocks,
) -> Result<usize, EngineError> {
    let now = now_ns();
    let day_ns = i64::try_from(day.as_nanos()).unwrap_or(i64::MAX);
    // each bucket's rules, read once a run
    let rules: RefCell<HashMap<(String, String), Vec<LifecycleRule>>> = RefCell::default();
    let rules_of = |user: &str, bucket: &str| -> Vec<LifecycleRule> {
        let k = (user.to_owned(), bucket.to_owned());
        if let Some(r) = rules.borrow().get(&k) {
            return r.clone();
        }
        let r = store
            .home(user)
            .and_then(|h| {
                let p = crate::keys::bucket_path(bucket)
                    .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
                h.lifecycle(&p)
            })
            .unwrap_or_default();
        rules.borrow_mut().insert(k, r.clone());
        r
    };
    // an upload to abort "started" at the dawn of time, the others never (age zero)
    store.expire_staged(STAGING_PREFIX, Duration::ZERO, locks, |staging, dir| {
        let Ok(m) = staging.stat(&marker(&dir.path)) else {
            return i64::MAX; // a create cut short: left to the age expiry
        };
        let (Some(bucket), Some(key)) =
            (m.attrs.user.get(BUCKET_KEY), m.attrs.user.get(OBJECT_KEY))
        else {
            return i64::MAX;
        };
        if is_done(&m) {
            return i64::MAX;
        }
        let age = now.saturating_sub(m.mtime_ns);
        let abort = rules_of(account_of(staging.name()), bucket)
            .iter()
            .any(|r| {
                r.enabled
                    && key.starts_with(&r.prefix)
                    && r.abort_upload_days
                        .is_some_and(|d| age >= day_ns.saturating_mul(i64::from(d)))
            });
        if abort { i64::MIN } else { i64::MAX }
    })
}

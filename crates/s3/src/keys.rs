//! Buckets and keys onto the tree: `/bucket/a/b` (a bucket is a top-level folder) — and the
//! engine's errors onto S3's, timestamps and owners onto S3's types.

use nas_engine::{EngineError, Home, NodeKind};
use nas_types::NasPath;
use s3s::dto::{Owner, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use std::time::{Duration, UNIX_EPOCH};

/// The home path of a bucket.
pub fn bucket_path(bucket: &str) -> Result<NasPath, S3Error> {
    NasPath::root()
        .join(bucket)
        .map_err(|_| s3_error!(InvalidBucketName))
}

/// The home path of an object. Keys with empty segments (`a//b`), `.`/`..` segments or
/// control characters cannot map onto the tree and are refused with `InvalidArgument`.
pub fn object_path(bucket: &str, key: &str) -> Result<NasPath, S3Error> {
    let k = key.strip_suffix('/').unwrap_or(key);
    if k.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "empty object key",
        ));
    }
    let mut p = bucket_path(bucket)?;
    for seg in k.split('/') {
        p = p.join(seg).map_err(|e| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("key {key:?} cannot be stored as a path: {e}"),
            )
        })?;
    }
    Ok(p)
}

/// Maps an engine error to the S3 error a client expects.
pub fn s3_err(e: EngineError) -> S3Error {
    match e {
        EngineError::NotFound(_) => s3_error!(NoSuchKey),
        EngineError::AlreadyExists(m)
        | EngineError::NotADirectory(m)
        | EngineError::IsADirectory(m) => S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("key conflicts with an existing object or prefix: {m}"),
        ),
        EngineError::Conflict(m) | EngineError::InvalidArgument(m) => {
            S3Error::with_message(S3ErrorCode::InvalidArgument, m)
        }
        EngineError::Incomplete(m) => S3Error::with_message(S3ErrorCode::IncompleteBody, m),
        EngineError::PreconditionFailed(_) => S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            "the object changed while it was being written; nothing was stored",
        ),
        EngineError::Path(p) => S3Error::with_message(S3ErrorCode::InvalidArgument, p.to_string()),
        EngineError::QuotaExceeded { .. } => crate::upload::quota_exceeded(),
        // AWS's answer to deleting a locked version, or weakening its lock
        EngineError::Retained(_) => S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied because object protected by object lock.",
        ),
        EngineError::StorageFull(why) => {
            tracing::warn!("s3: storage full: {why}");
            storage_full()
        }
        EngineError::Unavailable(why) => {
            // 503 SlowDown: every SDK retries it with backoff
            tracing::warn!("s3: object store unavailable: {why}");
            S3Error::with_message(
                S3ErrorCode::SlowDown,
                "the storage holding this object's data is temporarily unreachable; \
                 try again later",
            )
        }
        other => {
            tracing::error!("s3: {other}");
            s3_error!(InternalError)
        }
    }
}

/// `XNasStorageFull`, 507: the server's disk is full. S3 has no such code (AWS never
/// fills up); MinIO answers `XMinioStorageFull` (507). Ours follows the same vendor-prefix
/// convention rather than borrowing MinIO's name, which would claim a server it is not;
/// SDKs treat an unknown code by its status, and 507 is a 5xx that boto3 and the AWS CLI
/// do not retry by default (their retryable statuses are 500, 502, 503, 504).
pub fn storage_full() -> S3Error {
    let mut err = S3Error::with_message(
        S3ErrorCode::Custom("XNasStorageFull".into()),
        "the server's storage is full; nothing was stored \
         (deleting objects gives space back)",
    );
    err.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
    err
}

/// Runs engine work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, S3Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(s3_err),
        Err(_) => Err(s3_error!(InternalError)),
    }
}

/// The bucket must exist (as a folder). One index read, inline (microseconds, never
/// blocked by writers in WAL mode): a trip to the blocking pool would cost more.
pub(crate) async fn need_bucket(home: &Home, bucket: &str) -> S3Result<()> {
    let p = bucket_path(bucket)?;
    match is_bucket(home, &p) {
        Ok(true) => Ok(()),
        Ok(false) => Err(s3_error!(NoSuchBucket)),
        Err(e) => Err(s3_err(e)),
    }
}

/// Whether the top-level path `p` is a bucket (a folder); blocking.
pub(crate) fn is_bucket(home: &Home, p: &NasPath) -> Result<bool, EngineError> {
    match home.stat(p) {
        Ok(e) => Ok(e.kind == NodeKind::Dir),
        Err(EngineError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `Owner` element of the answers that name one: the signed-in user (buckets are
/// per user).
pub(crate) fn owner_of(user: &str) -> Owner {
    Owner {
        display_name: Some(user.to_owned()),
        id: Some(user.to_owned()),
    }
}

pub(crate) fn timestamp(ns: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_onto_paths() {
        assert_eq!(
            object_path("b", "a/c d/e+f.txt").unwrap().as_str(),
            "/b/a/c d/e+f.txt"
        );
        assert_eq!(object_path("b", "dir/").unwrap().as_str(), "/b/dir");
        assert!(object_path("b", "a//b").is_err());
        assert!(object_path("b", "a/../b").is_err());
        assert!(object_path("b", "").is_err());
    }
}

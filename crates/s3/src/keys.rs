//! Buckets and keys onto the tree: `/bucket/a/b` — and the engine's errors onto S3's.

use nas_engine::EngineError;
use nas_types::NasPath;
use s3s::{S3Error, S3ErrorCode, s3_error};

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

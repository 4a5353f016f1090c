//! [`EngineError`]: what a door maps to its status codes (in exactly one function per door).

use nas_blob::BlobError;
use nas_meta::MetaError;
use nas_types::PathError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything an engine call can fail with.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The path breaks the path rules.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Nothing at this path (or no such version / trash entry).
    #[error("not found: {0}")]
    NotFound(String),
    /// Something is already there.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A folder was needed.
    #[error("not a folder: {0}")]
    NotADirectory(String),
    /// A file was needed.
    #[error("is a folder: {0}")]
    IsADirectory(String),
    /// The operation conflicts with the tree as it is: a folder moved or copied into
    /// itself, the root deleted or moved, the only version of a file deleted, a node
    /// moved to another home.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value the caller gave is out of range (an empty search, a retention beyond its
    /// bounds, a home name with a slash, a zero worker interval…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The body of a write ended before its last byte; nothing was committed.
    #[error("incomplete upload: {0}")]
    Incomplete(String),
    /// A broken invariant or a component that stopped (the committer, the audit writer, a
    /// writer used after it failed): the server's fault, never the client's.
    #[error("internal error: {0}")]
    Internal(String),
    /// A conditional write found the file changed (or present, or absent); nothing written.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The write would take the home over its account's quota; nothing was stored.
    #[error("quota exceeded: {used} of {quota} bytes in use, {adding} more needed")]
    QuotaExceeded {
        /// The quota, bytes.
        quota: u64,
        /// What the quota counted before the write.
        used: u64,
        /// What the write adds (so far, when refused as bytes arrive).
        adding: u64,
    },
    /// Stored data is damaged or missing: never served as data.
    #[error("data of {path} is damaged: {detail}")]
    Corrupt {
        /// The file whose data failed.
        path: String,
        /// What failed (chunk, pack, hash).
        detail: String,
    },
    /// The disk is full (ENOSPC/EDQUOT from chunk storage, SQLite's "database or disk is
    /// full", or the free-space reserve new data must leave): nothing was stored; deletes,
    /// trash purges and GC still work and give space back.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// The version (or a version in the subtree) is under object lock — a running
    /// retention or a legal hold — and the call would destroy it or weaken its lock;
    /// nothing was changed. Doors answer 403 (S3 `AccessDenied`, WebDAV) or 409/423 (REST).
    #[error("object locked: {0}")]
    Retained(String),
    /// The object store holding the data is unreachable (or failing) right now: nothing
    /// is wrong with the data; a door answers 503 (`SlowDown` in S3) and the client may
    /// retry. New writes are not affected (they are durable locally first).
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Another process holds the data directory.
    #[error("data directory {0} is in use by another silent-nas process")]
    Locked(PathBuf),
    /// Metadata failure.
    #[error(transparent)]
    Meta(MetaError),
    /// Chunk storage failure.
    #[error(transparent)]
    Blob(BlobError),
    /// Other I/O failure.
    #[error("I/O error: {0}")]
    Io(std::io::Error),
}

/// Result alias for the engine.
pub type EngineResult<T> = Result<T, EngineError>;

impl From<MetaError> for EngineError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NotFound(s) => EngineError::NotFound(s),
            MetaError::Exists(s) => EngineError::AlreadyExists(s),
            MetaError::NotADirectory(s) => EngineError::NotADirectory(s),
            MetaError::IsADirectory(s) => EngineError::IsADirectory(s),
            MetaError::Invalid(s) => EngineError::Conflict(s),
            MetaError::Precondition(s) => EngineError::PreconditionFailed(s),
            MetaError::Retained(s) => EngineError::Retained(s),
            MetaError::QuotaExceeded {
                quota,
                used,
                adding,
            } => EngineError::QuotaExceeded {
                quota,
                used,
                adding,
            },
            other if other.is_storage_full() => EngineError::StorageFull(other.to_string()),
            other if other.is_unavailable() => {
                EngineError::Unavailable(format!("the metadata database: {other}"))
            }
            other => EngineError::Meta(other),
        }
    }
}

impl From<BlobError> for EngineError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::PackFailed { source, .. } | BlobError::Io(source) if e.is_storage_full() => {
                EngineError::StorageFull(source.to_string())
            }
            BlobError::Unavailable(why) => EngineError::Unavailable(why),
            e => EngineError::Blob(e),
        }
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                EngineError::StorageFull(e.to_string())
            }
            _ => EngineError::Io(e),
        }
    }
}

impl EngineError {
    /// Replaces the subject of a not-found/exists/kind error with a user-facing path.
    pub(crate) fn at(self, path: &str) -> Self {
        match self {
            EngineError::NotFound(_) => EngineError::NotFound(path.to_owned()),
            EngineError::AlreadyExists(_) => EngineError::AlreadyExists(path.to_owned()),
            EngineError::NotADirectory(_) => EngineError::NotADirectory(path.to_owned()),
            EngineError::IsADirectory(_) => EngineError::IsADirectory(path.to_owned()),
            other => other,
        }
    }
}

//! [`MetaError`]: what a metadata call can fail with, and how SQLite's errors map onto it
//! (a full disk told apart; the lock triggers' refusals as [`MetaError::Retained`]).

use crate::lock;
use thiserror::Error;

/// Metadata errors.
#[derive(Debug, Error)]
pub enum MetaError {
    /// No such node, version, home or trash entry.
    #[error("not found: {0}")]
    NotFound(String),
    /// The name is taken.
    #[error("already exists: {0}")]
    Exists(String),
    /// A folder was needed.
    #[error("not a folder: {0}")]
    NotADirectory(String),
    /// A file was needed.
    #[error("is a folder: {0}")]
    IsADirectory(String),
    /// E.g. moving a folder into itself, deleting the only version.
    #[error("invalid operation: {0}")]
    Invalid(String),
    /// A conditional write's expectation did not hold; nothing was written.
    #[error("precondition failed: {0}")]
    Precondition(String),
    /// The change would take a home over its owner's quota; nothing was changed.
    #[error("quota exceeded: {used} of {quota} bytes used, {adding} more needed")]
    QuotaExceeded {
        /// The quota.
        quota: u64,
        /// What the quota counted before the change.
        used: u64,
        /// What the change adds.
        adding: u64,
    },
    /// The database holds something impossible (reported by fsck, never repaired silently).
    #[error("metadata is inconsistent: {0}")]
    Corrupt(String),
    /// The database needs a migration that a read-only open cannot make.
    #[error(
        "metadata schema version {found} is older than this program ({supported}): start the server (or any writing command) once to migrate it"
    )]
    Outdated {
        /// Version in the file.
        found: i64,
        /// What this build needs.
        supported: i64,
    },
    /// The database was written by a newer version.
    #[error("metadata schema version {found} is newer than this program ({supported})")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest this build knows.
        supported: i64,
    },
    /// The version is under object lock (a running retention or a legal hold) and the
    /// change would destroy it or weaken the lock; nothing was changed.
    #[error("{0}")]
    Retained(String),
    /// The database itself failed.
    #[error("metadata database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl MetaError {
    /// True when the database could not grow: SQLite's `SQLITE_FULL` ("database or disk is
    /// full"), which it answers when a write finds the disk full (ENOSPC).
    pub fn is_storage_full(&self) -> bool {
        let MetaError::Backend(e) = self else {
            return false;
        };
        #[cfg(feature = "postgres")]
        if let Some(e) = e.downcast_ref::<tokio_postgres::Error>() {
            return e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL);
        }
        matches!(
            e.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DiskFull
        )
    }

    /// True when the database server cannot be reached right now (PostgreSQL down,
    /// restarting, or the connection lost): nothing is wrong with the data and the call may
    /// succeed later — doors answer 503. Never true on SQLite, which is a local file.
    pub fn is_unavailable(&self) -> bool {
        let MetaError::Backend(_e) = self else {
            return false;
        };
        #[cfg(feature = "postgres")]
        if let Some(e) = _e.downcast_ref::<tokio_postgres::Error>() {
            if e.is_closed() {
                return true;
            }
            if let Some(code) = e.code() {
                // class 08: connection exception; 57P01-03: shut down, crashed, starting
                let c = code.code();
                return c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03");
            }
            // no server answer at all: the socket could not be opened or broke
            return std::error::Error::source(e)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
        }
        false
    }
}

impl From<rusqlite::Error> for MetaError {
    fn from(e: rusqlite::Error) -> Self {
        // the lock triggers (schema 18) abort with a message of their own
        if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
            && let Some(why) = msg.strip_prefix(lock::RETAINED_PREFIX)
        {
            return MetaError::Retained(why.trim().to_owned());
        }
        MetaError::Backend(Box::new(e))
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for MetaError {
    fn from(e: tokio_postgres::Error) -> Self {
        // the lock triggers raise an exception with a message of their own
        if let Some(db) = e.as_db_error()
            && *db.code() == tokio_postgres::error::SqlState::RAISE_EXCEPTION
            && let Some(why) = db.message().strip_prefix(lock::RETAINED_PREFIX)
        {
            return MetaError::Retained(why.trim().to_owned());
        }
        MetaError::Backend(Box::new(e))
    }
}

/// Result alias for this crate.
pub type MetaResult<T> = Result<T, MetaError>;

#[cfg(test)]
mod tests {
    use super::MetaError;

    #[test]
    fn sqlite_full_is_told_apart() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        assert!(MetaError::from(full).is_storage_full());
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(!MetaError::from(busy).is_storage_full());
        assert!(!MetaError::NotFound("x".into()).is_storage_full());
    }
}

//! [`Accounts`]: user records, stored with the metadata. The engine keeps them opaque (the
//! password field is a hash made by `nas-auth`); it only stores and returns them.
//!
//! `Accounts::open` does not take the data directory's exclusive lock, so `silent-nas user
//! ...` works while the server runs: SQLite serializes the writes, and the server reads
//! the current record on every sign-in, so changes apply without a restart.

use crate::error::{EngineError, EngineResult};
use crate::store::Store;
use nas_meta::{MetaStore, SqliteMeta, UserRecord};
use std::path::Path;
use std::sync::Arc;

/// User accounts of a data directory.
#[derive(Clone)]
pub struct Accounts {
    meta: Arc<dyn MetaStore>,
}

impl Accounts {
    /// Opens the accounts of `dir` without locking the store (safe while a server runs).
    pub fn open(dir: &Path) -> EngineResult<Accounts> {
        let db = dir.join("meta.sqlite");
        if !db.exists() {
            return Err(EngineError::NotFound(format!(
                "no store in {}",
                dir.display()
            )));
        }
        Ok(Accounts {
            meta: Arc::new(SqliteMeta::open(&db)?),
        })
    }

    /// Creates a user.
    pub fn create(&self, u: &UserRecord) -> EngineResult<()> {
        Ok(self.meta.create_user(u)?)
    }

    /// One user.
    pub fn get(&self, name: &str) -> EngineResult<Option<UserRecord>> {
        Ok(self.meta.user(name)?)
    }

    /// Every user.
    pub fn list(&self) -> EngineResult<Vec<UserRecord>> {
        Ok(self.meta.users()?)
    }

    /// Replaces a user's record (matched by name).
    pub fn update(&self, u: &UserRecord) -> EngineResult<()> {
        Ok(self.meta.update_user(u)?)
    }

    /// Deletes a user (their home and files stay until purged by an admin).
    pub fn remove(&self, name: &str) -> EngineResult<()> {
        Ok(self.meta.delete_user(name)?)
    }
}

impl Store {
    /// The accounts of this store (same database connection pool).
    pub fn accounts(&self) -> Accounts {
        Accounts {
            meta: self.inner.meta.clone(),
        }
    }
}

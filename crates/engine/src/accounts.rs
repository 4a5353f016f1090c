//! [`Accounts`]: user records, stored with the metadata. The engine keeps them opaque (the
//! password field is a hash made by `nas-auth`); it only stores and returns them.
//!
//! `Accounts::open` does not take the data directory's exclusive lock, so `silent-nas user
//! ...` works while the server runs: SQLite serializes the writes, and the server reads
//! the current record on every sign-in, so changes apply without a restart.

use crate::coord::{Coordinator, Hint, LocalCoordinator};
use crate::error::{EngineError, EngineResult};
use crate::meta_location::MetaLocation;
use crate::store::Store;
use nas_meta::{AppPasswordRecord, KeyRecord, LockRecord, MetaStore, UserRecord};
use std::path::Path;
use std::sync::Arc;

/// User accounts of a data directory.
#[derive(Clone)]
pub struct Accounts {
    meta: Arc<dyn MetaStore>,
    /// The store's state when opened through [`Store::accounts`]: its user cache and its
    /// change sink (changes are dropped from the one and told to the other). Weak: an
    /// authenticator holding these accounts does not keep a closed store open.
    store: Option<std::sync::Weak<crate::store::Inner>>,
}

impl Accounts {
    /// Opens the accounts of `dir` without locking the store (safe while a server runs).
    pub fn open(dir: &Path) -> EngineResult<Accounts> {
        Accounts::open_at(dir, &MetaLocation::DataDir)
    }

    /// As [`open`](Accounts::open), with the metadata at `location` (PostgreSQL: the
    /// database other processes and servers share; the data directory must exist).
    pub fn open_at(dir: &Path, location: &MetaLocation) -> EngineResult<Accounts> {
        if !location.exists(dir) || !dir.is_dir() {
            return Err(EngineError::NotFound(format!(
                "no store in {}",
                dir.display()
            )));
        }
        Ok(Accounts {
            meta: location.open(dir)?.meta,
            store: None,
        })
    }

    /// After a committed change of `name`'s record: dropped from this node's cache, told
    /// to the others.
    fn changed(&self, name: &str) {
        if let Some(inner) = self.store.as_ref().and_then(|s| s.upgrade()) {
            inner.users.forget(name);
            if let Some(sink) = inner.changes.get() {
                sink.account_changed(name);
            }
        }
    }

    /// Creates a user.
    pub fn create(&self, u: &UserRecord) -> EngineResult<()> {
        self.meta.create_user(u)?;
        self.changed(&u.name);
        Ok(())
    }

    /// One user as the database holds it now, never from the user cache: what a change
    /// of the record starts from (an edit of a cached copy could write back a field
    /// another node or `silent-nas user` changed meanwhile — a disable, a password).
    pub fn get_fresh(&self, name: &str) -> EngineResult<Option<UserRecord>> {
        Ok(self.meta.user(name)?)
    }

    /// One user: from the user cache when it is on and trusts its entry
    /// ([`crate::user_cache`]), else from the database. For a sign-in's check; a change
    /// starts from [`get_fresh`](Accounts::get_fresh).
    pub fn get(&self, name: &str) -> EngineResult<Option<UserRecord>> {
        let Some(inner) = self.store.as_ref().and_then(|s| s.upgrade()) else {
            return Ok(self.meta.user(name)?);
        };
        let epoch = match inner.users.get(name) {
            Ok(u) => return Ok(Some(u)),
            Err(epoch) => epoch,
        };
        let user = self.meta.user(name)?;
        if let Some(u) = &user {
            inner.users.keep(u, epoch);
        }
        Ok(user)
    }

    /// Every user.
    pub fn list(&self) -> EngineResult<Vec<UserRecord>> {
        Ok(self.meta.users()?)
    }

    /// Replaces a user's record (matched by name).
    pub fn update(&self, u: &UserRecord) -> EngineResult<()> {
        let done = self.meta.update_user(u);
        self.changed(&u.name); // even on an error: whether it committed is not known
        Ok(done?)
    }

    /// Deletes a user (their home and files stay until purged by an admin).
    pub fn remove(&self, name: &str) -> EngineResult<()> {
        let done = self.meta.delete_user(name);
        self.changed(name);
        Ok(done?)
    }

    /// Stores a new S3 access key.
    pub fn create_key(&self, k: &KeyRecord) -> EngineResult<()> {
        Ok(self.meta.create_key(k)?)
    }

    /// One access key.
    pub fn key(&self, access_key: &str) -> EngineResult<Option<KeyRecord>> {
        Ok(self.meta.key(access_key)?)
    }

    /// Keys of a user, or of everyone.
    pub fn keys(&self, user: Option<&str>) -> EngineResult<Vec<KeyRecord>> {
        Ok(self.meta.keys(user)?)
    }

    /// Revokes a key (false if unknown).
    pub fn revoke_key(&self, access_key: &str) -> EngineResult<bool> {
        Ok(self.meta.revoke_key(access_key)?)
    }

    /// Stores a new app password.
    pub fn create_app_password(&self, a: &AppPasswordRecord) -> EngineResult<()> {
        Ok(self.meta.create_app_password(a)?)
    }

    /// The app password whose secret hashes to `hash`.
    pub fn app_password_by_hash(&self, hash: &[u8; 32]) -> EngineResult<Option<AppPasswordRecord>> {
        Ok(self.meta.app_password_by_hash(hash)?)
    }

    /// A user's app passwords, oldest first.
    pub fn app_passwords(&self, user: &str) -> EngineResult<Vec<AppPasswordRecord>> {
        Ok(self.meta.app_passwords(user)?)
    }

    /// Deletes one of `user`'s app passwords (false if they have none with that id).
    pub fn delete_app_password(&self, user: &str, id: &str) -> EngineResult<bool> {
        Ok(self.meta.delete_app_password(user, id)?)
    }

    /// Records that an app password was used now.
    pub fn touch_app_password(&self, id: &str) -> EngineResult<()> {
        Ok(self.meta.touch_app_password(id, crate::now_ns())?)
    }
}

/// Scope of the keyed lock that serializes lock changes (check, then insert).
const LOCK_CHANGES: &str = "webdav-locks";

/// Persisted WebDAV locks of a data directory. Like [`Accounts`], it can be opened while
/// a server runs (`silent-nas locks list|break`); the server reads the table on every lock
/// check, so a broken lock is gone at the next request.
#[derive(Clone)]
pub struct LockTable {
    meta: Arc<dyn MetaStore>,
    /// Serializes check-then-insert ([`LockTable::exclusive`]) and keeps the "no lock can
    /// exist" hint ([`Hint::Locks`]). Only the server creates locks, so "none" stays true
    /// until this process takes one; other processes only remove.
    coord: Arc<dyn Coordinator>,
}

impl LockTable {
    /// Opens the lock table of `dir` without locking the store.
    pub fn open(dir: &Path) -> EngineResult<LockTable> {
        LockTable::open_at(dir, &MetaLocation::DataDir)
    }

    /// As [`open`](LockTable::open), with the metadata at `location`.
    pub fn open_at(dir: &Path, location: &MetaLocation) -> EngineResult<LockTable> {
        let a = Accounts::open_at(dir, location)?;
        Ok(LockTable {
            meta: a.meta,
            coord: Arc::new(LocalCoordinator::unlocked(dir)),
        })
    }

    /// Unexpired locks of a space (or of all spaces), oldest first. When no lock can exist
    /// (none taken since the table was last seen empty) this costs no database query — what
    /// keeps a PROPFIND of a large folder from querying the table once per entry.
    pub fn list(&self, space: Option<&str>) -> EngineResult<Vec<LockRecord>> {
        let seen = self.coord.hint(Hint::Locks);
        if seen.known == Some(false) {
            return Ok(Vec::new());
        }
        let locks = self.meta.locks(space, crate::now_ns())?;
        // a shared coordinator never settles a hint (another node may create a lock at
        // any time): then the second query would be wasted
        if (seen.known.is_none() || locks.is_empty()) && !self.coord.shared() {
            let any = !self.meta.locks(None, crate::now_ns())?.is_empty();
            // recorded only if no lock was taken meanwhile: then the answer is current
            self.coord.settle_hint(Hint::Locks, seen.generation, any);
        }
        Ok(locks)
    }

    /// Runs `f` with lock changes serialized (check, then insert), in every process that
    /// shares the store; fails only when that serialization cannot be had (cluster mode's
    /// database is unreachable).
    pub fn exclusive<T>(&self, f: impl FnOnce() -> T) -> EngineResult<T> {
        let _g = self.coord.lock_key(LOCK_CHANGES, "")?;
        Ok(f())
    }

    /// Stores a new lock.
    pub fn insert(&self, l: &LockRecord) -> EngineResult<()> {
        self.coord.note_created(Hint::Locks);
        Ok(self.meta.insert_lock(l)?)
    }

    /// Removes a lock (unlock, or an admin breaking it); false if there was none.
    pub fn remove(&self, token: &str) -> EngineResult<bool> {
        Ok(self.meta.delete_lock(token)?)
    }

    /// Sets a lock's timeout and expiry.
    pub fn refresh(
        &self,
        token: &str,
        timeout_ns: Option<i64>,
        expires_ns: Option<i64>,
    ) -> EngineResult<bool> {
        Ok(self.meta.refresh_lock(token, timeout_ns, expires_ns)?)
    }

    /// Removes a space's locks on a path and below (after DELETE or MOVE).
    pub fn remove_below(&self, space: &str, path: &str) -> EngineResult<()> {
        Ok(self.meta.delete_locks_below(space, path)?)
    }
}

impl Store {
    /// The accounts of this store (same database connection pool).
    pub fn accounts(&self) -> Accounts {
        Accounts {
            meta: self.inner.meta.clone(),
            store: Some(Arc::downgrade(&self.inner)),
        }
    }

    /// The persisted WebDAV locks of this store.
    pub fn locks(&self) -> LockTable {
        LockTable {
            meta: self.inner.meta.clone(),
            coord: self.inner.coord.clone(),
        }
    }
}

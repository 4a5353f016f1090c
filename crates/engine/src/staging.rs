//! What the doors' upload staging areas share (S3 multipart uploads, tus resumable
//! uploads): an upload is a folder named by a random id at the root of a per-user staging
//! home, its pieces are ordinary files in it, and it ends by being purged — not sent to
//! the trash, since pieces are not history. Completion, abort and expiry of one upload are
//! serialized by [`KeyedLocks`] (the store's [`crate::Coordinator`] holds them: in one
//! process today). A staging home counts against its user's quota ([`account_of`]).

use crate::coord::{Coordinator, KeyGuard};
use crate::error::{EngineError, EngineResult};
use crate::home::{Entry, Home};
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::NodeKind;
use nas_types::NasPath;
use std::sync::Arc;
use std::time::Duration;

/// The account whose quota a home counts against: a staging home `.KIND.USER` (user
/// names never start with a dot) counts against USER, any other home against the account
/// of its own name.
pub fn account_of(home: &str) -> &str {
    home.strip_prefix('.')
        .and_then(|rest| rest.split_once('.'))
        .map_or(home, |(_, user)| user)
}

/// A fresh upload id: 128 random bits in hex.
pub fn new_upload_id() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The folder of upload `id`, when `id` is one [`new_upload_id`] could have issued (so a
/// client-supplied id can never name another path).
pub fn upload_dir(id: &str) -> Option<NasPath> {
    let ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| NasPath::root().join(id).ok()).flatten()
}

/// Locks by key within one scope (e.g. the S3 door's multipart uploads), held by the
/// store's coordinator: see [`Store::keyed_locks`].
#[derive(Clone)]
pub struct KeyedLocks {
    coord: Arc<dyn Coordinator>,
    scope: String,
}

impl KeyedLocks {
    /// Holds the lock of `key` until the guard is dropped (fails only when the shared
    /// database that holds cluster locks is unreachable).
    pub fn lock(&self, key: &str) -> EngineResult<KeyGuard<'_>> {
        self.coord.lock_key(&self.scope, key)
    }
}

impl Home {
    /// Removes `path` for good, skipping the trash (a missing path is not an error). Its
    /// chunks are freed by the next GC.
    pub fn purge(&self, path: &NasPath) -> EngineResult<()> {
        match self.delete(path) {
            Ok(rec) => self.trash_purge(rec.id),
            Err(EngineError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Store {
    /// The keyed locks of `scope` (each door names its own): two holders of one key in
    /// one scope exclude each other, in every process that shares the store.
    pub fn keyed_locks(&self, scope: &str) -> KeyedLocks {
        KeyedLocks {
            coord: self.inner.coord.clone(),
            scope: scope.to_owned(),
        }
    }

    /// Purges the uploads older than `age` in every home whose name starts with `prefix`,
    /// each under its lock in `locks`. `started` says when an upload last showed life
    /// (creation, or its latest piece). Returns how many were removed.
    pub fn expire_staged(
        &self,
        prefix: &str,
        age: Duration,
        locks: &KeyedLocks,
        started: impl Fn(&Home, &Entry) -> i64,
    ) -> EngineResult<usize> {
        let cutoff = now_ns().saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
        let mut removed = 0;
        for name in self.homes()? {
            if !name.starts_with(prefix) {
                continue;
            }
            let staging = self.home(&name)?;
            let mut after = None;
            loop {
                let page = staging.list(&NasPath::root(), after.as_deref(), 1000)?;
                for dir in page.entries.iter().filter(|e| e.kind == NodeKind::Dir) {
                    let _held = locks.lock(dir.name())?;
                    if started(&staging, dir) < cutoff {
                        staging.purge(&dir.path)?;
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
}

#[cfg(test)]
mod tests {
    use super::account_of;

    #[test]
    fn a_staging_home_counts_against_its_user() {
        assert_eq!(account_of("alice"), "alice");
        assert_eq!(account_of(".s3-uploads.alice"), "alice");
        assert_eq!(account_of(".tus-uploads.john.doe"), "john.doe");
        assert_eq!(account_of(".odd"), ".odd");
    }
}

//! [`UserCache`]: users' records kept in memory by a node of a cluster, so that a request
//! does not read its user from PostgreSQL every time (`docs/design/caches.md`).
//!
//! Off unless [`Store::cache_users`] turns it on (a cluster node with change events on
//! NATS): a single server reads the record on every request, so `silent-nas user …` run
//! beside it takes effect at the next request.
//!
//! The rules that keep it honest:
//! - A change made through this process's [`Accounts`](crate::Accounts) (create, update —
//!   password, role, quota, disabled, sessions — and remove) drops the entry here before
//!   it returns, and is published to the other nodes (an `account` change event), whose
//!   listener drops theirs ([`ChangeListener::account_changed`]). The delay on another
//!   node is the bus's (milliseconds).
//! - An entry is trusted for [`LINKED_TTL`] while this node hears the bus, for
//!   [`UNLINKED_TTL`] while it does not (NATS unreachable or not yet connected): a change
//!   whose event was lost, or a change made by `silent-nas user …` on another machine
//!   (which publishes nothing), applies within that time.
//! - Losing or regaining the bus, or being told it dropped messages, empties the cache: an
//!   event missed meanwhile cannot leave a stale entry behind.
//! - A record read from the database while a change was dropped is not kept (an epoch
//!   counts drops), so a read racing a change cannot put the old record back.
//! - Only existing users are kept: a new account works at once on every node.

use crate::changes::ChangeListener;
use crate::lru::{CacheCounters, Lru};
use crate::store::Store;
use nas_meta::UserRecord;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an entry is trusted while this node hears the bus (a safety net: events drop
/// entries sooner).
pub const LINKED_TTL: Duration = Duration::from_secs(30);
/// How long an entry is trusted while it does not.
pub const UNLINKED_TTL: Duration = Duration::from_secs(1);
/// Users kept, at most.
pub const USER_CACHE_ENTRIES: u64 = 10_000;

/// The cache (see the module docs).
pub(crate) struct UserCache {
    on: AtomicBool,
    linked: AtomicBool,
    epoch: AtomicU64,
    users: Lru<String, (UserRecord, Instant)>,
}

impl UserCache {
    pub(crate) fn new() -> UserCache {
        UserCache {
            on: AtomicBool::new(false),
            linked: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            users: Lru::new(USER_CACHE_ENTRIES),
        }
    }

    fn ttl(&self) -> Duration {
        if self.linked.load(Ordering::Acquire) {
            LINKED_TTL
        } else {
            UNLINKED_TTL
        }
    }

    /// `name`'s record if cached and still trusted; otherwise the epoch to hand to
    /// [`keep`](UserCache::keep) with the record read from the database.
    pub(crate) fn get(&self, name: &str) -> Result<UserRecord, u64> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if !self.on.load(Ordering::Relaxed) {
            return Err(epoch);
        }
        let ttl = self.ttl();
        self.users
            .get_if(&name.to_owned(), |(_, at)| at.elapsed() < ttl)
            .map(|(u, _)| u)
            .ok_or(epoch)
    }

    /// Keeps `user`, read from the database after [`get`](UserCache::get) returned
    /// `epoch`, unless an entry was dropped since.
    pub(crate) fn keep(&self, user: &UserRecord, epoch: u64) {
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        // the epoch is checked under the cache's lock: `forget` bumps it before it takes
        // that lock to remove, so either this insert sees the new epoch and keeps
        // nothing, or it lands first and the drop removes it before the change returns
        let fresh = || self.epoch.load(Ordering::Acquire) == epoch;
        self.users
            .insert_if(user.name.clone(), (user.clone(), Instant::now()), 1, fresh);
    }

    /// Drops `name`'s entry.
    pub(crate) fn forget(&self, name: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.remove(&name.to_owned());
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.clear();
    }

    pub(crate) fn counters(&self) -> CacheCounters {
        self.users.counters()
    }
}

impl ChangeListener for UserCache {
    fn account_changed(&self, name: &str) {
        self.forget(name);
    }

    fn linked(&self, up: bool) {
        if self.linked.load(Ordering::Acquire) == up {
            return;
        }
        if up {
            // what was kept while deaf is dropped before anything is trusted for long
            self.clear();
            self.linked.store(true, Ordering::Release);
        } else {
            self.linked.store(false, Ordering::Release);
            self.clear();
        }
    }

    fn missed(&self) {
        self.clear();
    }
}

impl Store {
    /// Keeps users' records in memory (a cluster node hearing change events; see
    /// [`UserCache`](crate::user_cache)). Returns the listener the bus must tell of other
    /// nodes' account changes and of its own state.
    pub fn cache_users(&self) -> std::sync::Arc<dyn ChangeListener> {
        self.inner.users.on.store(true, Ordering::Release);
        self.inner.users.clone()
    }

    /// Hits, misses and evictions of the user cache (this process; all zero while off).
    pub fn user_cache_counters(&self) -> CacheCounters {
        self.inner.users.counters()
    }
}

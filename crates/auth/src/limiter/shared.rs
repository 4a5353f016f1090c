//! The limiter's counts in the shared database (cluster mode): every node counts each
//! failure in [`FailureCounts`] and judges an attempt by the counts the database returns, so
//! guesses spread over the nodes behind a load balancer are throttled like guesses sent to
//! one. The node's own tables keep a copy of the last counts it saw, for the checks that
//! must not cost a query ([`RateLimiter::check`](super::RateLimiter::check): a cached
//! sign-in; [`check_addr`](super::RateLimiter::check_addr): an app password).
//!
//! A count is capped one above its refusal threshold, where its time stops moving: an
//! attempt refused for being over the limit does not extend the window (as on one node).
//! Unlike one node, an attempt refused by one count still counts against the other (the
//! database changes both in one statement). When the database cannot be reached the node
//! counts alone and says so in the log.

use super::{AddrKey, Limits, PairKey};
use nas_engine::{FailureCount, FailureCounts, FailureKey};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shared counts of one limiter (its `scope` keeps them apart from another limiter's
/// over the same database: sign-ins and share passwords).
pub(super) struct Shared {
    counts: Arc<dyn FailureCounts>,
    scope: &'static str,
    /// When this node last deleted expired counts.
    pruned: Mutex<Option<Instant>>,
}

/// A count as the limiter reads it: failures and the time since the last one.
pub(super) type Count = (u32, Duration);

fn key(scope: &str, kind: u8, bytes: &[u8]) -> FailureKey {
    let mut h = blake3::Hasher::new();
    h.update(b"silent-nas failures\0");
    h.update(scope.as_bytes());
    h.update(&[0, kind]);
    h.update(bytes);
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    k
}

fn addr_bytes(a: &AddrKey) -> Vec<u8> {
    match a {
        AddrKey::V4(v) => [&[4u8][..], &v.to_be_bytes()].concat(),
        AddrKey::V6(v) => [&[6u8][..], &v.to_be_bytes()].concat(),
    }
}

/// The count as [`judge`](super::judge) wants it: the one before the failure just counted
/// (a count at its cap stayed there, which still reads as over the limit).
pub(super) fn before(c: FailureCount) -> Option<Count> {
    (c.failures > 1).then(|| (c.failures - 1, age(c)))
}

/// The count after the failure, as the node's copy keeps it.
pub(super) fn after(c: FailureCount) -> Count {
    (c.failures, age(c))
}

fn age(c: FailureCount) -> Duration {
    Duration::from_nanos(c.age_ns.max(0) as u64)
}

impl Shared {
    pub(super) fn new(counts: Arc<dyn FailureCounts>, scope: &'static str) -> Shared {
        Shared {
            counts,
            scope,
            pruned: Mutex::new(None),
        }
    }

    fn addr_key(&self, a: &AddrKey) -> FailureKey {
        key(self.scope, b'a', &addr_bytes(a))
    }

    fn pair_key(&self, p: &PairKey) -> FailureKey {
        key(
            self.scope,
            b'p',
            &[addr_bytes(&p.0).as_slice(), &p.1].concat(),
        )
    }

    /// Counts a failure of the address and, with `pair`, of the pair too, in one
    /// statement; the counts after (address, pair), or `None` when the database failed.
    pub(super) fn count(
        &self,
        addr: &AddrKey,
        pair: Option<&PairKey>,
        l: &Limits,
    ) -> Option<(FailureCount, Option<FailureCount>)> {
        let window = l.window.as_nanos() as i64;
        let mut keys = vec![(self.addr_key(addr), l.addr_refuse.saturating_add(1))];
        if let Some(p) = pair {
            keys.push((self.pair_key(p), l.pair_refuse.saturating_add(1)));
        }
        self.prune(l);
        match self.counts.count_failures(&keys, window) {
            Ok(c) if c.len() == keys.len() => Some((c[0], c.get(1).copied())),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "failed sign-ins cannot be counted in the shared database; this node counts alone");
                None
            }
        }
    }

    /// Gives back one failure of the address and forgets the pair's.
    pub(super) fn forgive(&self, addr: &AddrKey, pair: &PairKey) {
        if let Err(e) = self
            .counts
            .forgive(&self.addr_key(addr), &self.pair_key(pair))
        {
            tracing::warn!(error = %e, "a successful sign-in could not clear its failures in the shared database");
        }
    }

    /// Deletes expired counts, at most once a window per node.
    fn prune(&self, l: &Limits) {
        let Ok(mut last) = self.pruned.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < l.window) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        if let Err(e) = self.counts.prune_failures(l.window.as_nanos() as i64) {
            tracing::warn!(error = %e, "expired sign-in failures could not be deleted");
        }
    }
}

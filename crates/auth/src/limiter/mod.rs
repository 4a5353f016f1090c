//! Throttling of failed sign-ins, modelled on Nextcloud's brute-force protection: failures
//! are counted per client address and per (client address, user name) pair — never per
//! user alone, so nobody can lock a victim out from their own address. An address that has
//! not failed is never slowed or refused.
//!
//! The rules (the defaults of [`Limits`]):
//! - a pair's first 3 failures cost nothing; from then on every attempt of that pair waits
//!   100 ms, 200 ms, 400 ms … (doubling, at most 2 s) before it is checked — right password
//!   or not (the caller sleeps; [`Throttle::Delay`]);
//! - at 10 failures the pair is refused ([`Throttle::Refuse`], HTTP 429 with `Retry-After`);
//! - at 30 failures of one address, whatever the user names, the address is refused;
//! - a count is forgotten 15 minutes after its last failure (refused attempts are not
//!   failures: they do not renew it); a successful sign-in clears its pair, not the address.
//!
//! IPv6 clients are counted by their /64 (a host usually holds a whole /64); IPv4-mapped
//! IPv6 addresses count as the IPv4 address. Each table holds at most
//! [`Limits::max_entries`] entries (user names are kept as a 128-bit hash): when full, the
//! entries whose last failure is oldest go first.

//!
//! In cluster mode ([`RateLimiter::sharing`]) the counts live in the shared database, so
//! every node sees every node's failures (see `shared`).

mod shared;

use nas_engine::FailureCounts;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Check it now.
    Allow,
    /// Check it after this pause (do not block a runtime thread while waiting).
    Delay(Duration),
    /// Refuse it without checking; the client may retry after this long.
    Refuse(Duration),
}

/// The thresholds of a [`RateLimiter`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of a pair that cost no delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures of a pair at which it is refused.
    pub pair_refuse: u32,
    /// Failures of an address (all user names) at which it is refused.
    pub addr_refuse: u32,
    /// How long a count lives after its last failure.
    pub window: Duration,
    /// Entries per table.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            free_failures: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            pair_refuse: 10,
            addr_refuse: 30,
            window: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

/// A client address as counted: IPv4, or the /64 of IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddrKey {
    V4(u32),
    V6(u64),
}

fn addr_key(ip: IpAddr) -> AddrKey {
    match ip {
        IpAddr::V4(v4) => AddrKey::V4(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => AddrKey::V4(u32::from(v4)),
            None => AddrKey::V6((u128::from(v6) >> 64) as u64),
        },
    }
}

/// (address, 128-bit hash of the user name): bounded size whatever name a client sends.
type PairKey = (AddrKey, [u8; 16]);

fn pair_key(user: &str, ip: IpAddr) -> PairKey {
    let h = blake3::hash(user.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.as_bytes()[..16]);
    (addr_key(ip), k)
}

/// Failures and the time of the last one.
type Table<K> = Mutex<HashMap<K, (u32, Instant)>>;

/// Counts failed sign-ins and says how to treat the next attempt (see the module docs).
pub struct RateLimiter {
    limits: Limits,
    by_pair: Table<PairKey>,
    by_addr: Table<AddrKey>,
    /// The counts every node shares, when they are shared (the tables are then this
    /// node's copy of the last counts it saw).
    shared: Option<shared::Shared>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(Limits::default())
    }
}

/// The live failure count of `k` and the time since its last failure.
fn count<K: Hash + Eq>(
    m: &HashMap<K, (u32, Instant)>,
    k: &K,
    window: Duration,
) -> Option<(u32, Duration)> {
    let (n, last) = m.get(k)?;
    let age = last.elapsed();
    (age < window).then_some((*n, age))
}

fn bump<K: Hash + Eq + Copy>(m: &mut HashMap<K, (u32, Instant)>, k: K, limits: &Limits) {
    if m.len() >= limits.max_entries && !m.contains_key(&k) {
        make_room(m, limits);
    }
    let now = Instant::now();
    let e = m.entry(k).or_insert((0, now));
    if now.duration_since(e.1) >= limits.window {
        e.0 = 0;
    }
    *e = (e.0.saturating_add(1), now);
}

/// Replaces `k`'s entry by a count read from the shared database.
fn set<K: Hash + Eq + Copy>(
    m: &mut HashMap<K, (u32, Instant)>,
    k: K,
    (n, age): (u32, Duration),
    limits: &Limits,
) {
    if m.len() >= limits.max_entries && !m.contains_key(&k) {
        make_room(m, limits);
    }
    let now = Instant::now();
    m.insert(k, (n, now.checked_sub(age).unwrap_or(now)));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Drops expired entries; if that frees too little, the tenth with the oldest failures.
fn make_room<K: Hash + Eq + Copy>(m: &mut HashMap<K, (u32, Instant)>, limits: &Limits) {
    m.retain(|_, (_, last)| last.elapsed() < limits.window);
    let target = limits.max_entries - limits.max_entries / 10;
    if m.len() < target.max(1) {
        return;
    }
    let mut times: Vec<Instant> = m.values().map(|(_, t)| *t).collect();
    let cut = m.len() - target;
    let idx = cut.min(times.len() - 1);
    let (_, nth, _) = times.select_nth_unstable(idx);
    let cutoff = *nth;
    m.retain(|_, (_, last)| *last > cutoff);
}

impl RateLimiter {
    /// A limiter with these thresholds.
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            by_pair: Mutex::default(),
            by_addr: Mutex::default(),
            shared: None,
        }
    }

    /// This limiter with its counts in `counts`, shared by every node of a cluster, apart
    /// from other limiters' by `scope`.
    pub fn sharing(mut self, counts: Arc<dyn FailureCounts>, scope: &'static str) -> Self {
        self.shared = Some(shared::Shared::new(counts, scope));
        self
    }

    /// Its thresholds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// [`attempt`](Self::attempt) for async code: when counting is a query of the shared
    /// database, it runs off the runtime's threads (a task that failed refuses for a second).
    pub async fn attempt_async(self: &Arc<Self>, user: &str, addr: IpAddr) -> Throttle {
        if self.shared.is_none() {
            return self.attempt(user, addr);
        }
        let (me, user) = (self.clone(), user.to_owned());
        tokio::task::spawn_blocking(move || me.attempt(&user, addr))
            .await
            .unwrap_or(Throttle::Refuse(Duration::from_secs(1)))
    }

    /// Keeps counts read from the shared database in this node's tables.
    fn keep(&self, addr: IpAddr, a: shared::Count, pair: Option<(&str, shared::Count)>) {
        set(&mut lock(&self.by_addr), addr_key(addr), a, &self.limits);
        if let Some((user, p)) = pair {
            set(
                &mut lock(&self.by_pair),
                pair_key(user, addr),
                p,
                &self.limits,
            );
        }
    }

    /// Counts a failure of the address (and the pair, with `user`) in the shared
    /// database, keeping what it returns; `None` when not shared or it failed.
    fn count_shared(
        &self,
        user: Option<&str>,
        addr: IpAddr,
    ) -> Option<(nas_engine::FailureCount, Option<nas_engine::FailureCount>)> {
        let s = self.shared.as_ref()?;
        let pk = user.map(|u| pair_key(u, addr));
        let (a, p) = s.count(&addr_key(addr), pk.as_ref(), &self.limits)?;
        let pair = user.zip(p.map(shared::after));
        self.keep(addr, shared::after(a), pair);
        Some((a, p))
    }

    /// How to treat a sign-in attempt of `user` from `addr` (counts nothing).
    pub fn check(&self, user: &str, addr: IpAddr) -> Throttle {
        let a = lock(&self.by_addr);
        let p = lock(&self.by_pair);
        self.judge(&a, &p, user, addr)
    }

    /// [`check`](Self::check), and unless refused, counts the attempt as a failure at once
    /// (in the same critical section): parallel attempts see each other, so a burst of
    /// guesses is throttled like a sequence. A success gives it back
    /// ([`succeed`](Self::succeed)).
    pub fn attempt(&self, user: &str, addr: IpAddr) -> Throttle {
        if let Some((a, p)) = self.count_shared(Some(user), addr) {
            return judge(&self.limits, shared::before(a), p.and_then(shared::before));
        }
        let mut a = lock(&self.by_addr);
        let mut p = lock(&self.by_pair);
        let t = self.judge(&a, &p, user, addr);
        if !matches!(t, Refuse(_)) {
            bump(&mut p, pair_key(user, addr), &self.limits);
            bump(&mut a, addr_key(addr), &self.limits);
        }
        t
    }

    fn judge(
        &self,
        a: &HashMap<AddrKey, (u32, Instant)>,
        p: &HashMap<PairKey, (u32, Instant)>,
        user: &str,
        addr: IpAddr,
    ) -> Throttle {
        let w = self.limits.window;
        judge(
            &self.limits,
            count(a, &addr_key(addr), w),
            count(p, &pair_key(user, addr), w),
        )
    }

    /// How to treat an attempt from `addr` that names no user (an app password sent as a
    /// Bearer token): refused when the address is, never delayed.
    pub fn check_addr(&self, addr: IpAddr) -> Throttle {
        let l = &self.limits;
        match count(&lock(&self.by_addr), &addr_key(addr), l.window) {
            Some((n, age)) if n >= l.addr_refuse => Refuse(l.window.saturating_sub(age)),
            _ => Throttle::Allow,
        }
    }

    /// Records a failure of `user` from `addr` (one not counted by [`attempt`](Self::attempt)).
    pub fn fail(&self, user: &str, addr: IpAddr) {
        if self.count_shared(Some(user), addr).is_some() {
            return;
        }
        bump(&mut lock(&self.by_pair), pair_key(user, addr), &self.limits);
        self.fail_addr(addr);
    }

    /// Records a failure from `addr` that names no user.
    pub fn fail_addr(&self, addr: IpAddr) {
        if self.count_shared(None, addr).is_some() {
            return;
        }
        bump(&mut lock(&self.by_addr), addr_key(addr), &self.limits);
    }

    /// Records that an [`attempt`](Self::attempt) succeeded: the pair's failures are
    /// forgotten and the address gets back the one the attempt counted (not the others, so
    /// an attacker with one account of their own cannot reset their count).
    pub fn succeed(&self, user: &str, addr: IpAddr) {
        if let Some(s) = &self.shared {
            s.forgive(&addr_key(addr), &pair_key(user, addr));
        }
        let mut a = lock(&self.by_addr);
        if let Some(e) = a.get_mut(&addr_key(addr)) {
            e.0 = e.0.saturating_sub(1);
        }
        lock(&self.by_pair).remove(&pair_key(user, addr));
    }

    /// Entries held (pairs, addresses): for tests of the bound.
    pub fn entries(&self) -> (usize, usize) {
        let p = lock(&self.by_pair).len();
        let a = lock(&self.by_addr).len();
        (p, a)
    }
}

/// The rules of the module docs, on an address's count and a pair's (failures, time
/// since the last one) before the attempt.
fn judge(l: &Limits, addr: Option<(u32, Duration)>, pair: Option<(u32, Duration)>) -> Throttle {
    if let Some((n, age)) = addr
        && n >= l.addr_refuse
    {
        return Refuse(l.window.saturating_sub(age));
    }
    let Some((n, age)) = pair else {
        return Throttle::Allow;
    };
    if n >= l.pair_refuse {
        return Refuse(l.window.saturating_sub(age));
    }
    if n < l.free_failures {
        return Throttle::Allow;
    }
    let steps = (n - l.free_failures).min(16);
    Throttle::Delay((l.base_delay * (1u32 << steps)).min(l.max_delay))
}

use Throttle::Refuse;

#[cfg(test)]
mod tests;

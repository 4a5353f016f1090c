//! Rate limiting of failed sign-ins, per user name and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures in a sliding window; past `max_failures` a key is refused until the
/// window since its first failure has passed. A success clears the user's count.
pub struct RateLimiter {
    max_failures: u32,
    window: Duration,
    by_user: Mutex<HashMap<String, (u32, Instant)>>,
    by_addr: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(10, Duration::from_secs(300))
    }
}

fn blocked<K: std::hash::Hash + Eq>(
    m: &Mutex<HashMap<K, (u32, Instant)>>,
    k: &K,
    max: u32,
    window: Duration,
) -> Option<Duration> {
    let m = m.lock().ok()?;
    let (n, first) = m.get(k)?;
    let age = first.elapsed();
    (*n >= max && age < window).then(|| window - age)
}

fn bump<K: std::hash::Hash + Eq>(m: &Mutex<HashMap<K, (u32, Instant)>>, k: K, window: Duration) {
    if let Ok(mut m) = m.lock() {
        if m.len() > 100_000 {
            m.retain(|_, (_, first)| first.elapsed() < window);
        }
        let e = m.entry(k).or_insert((0, Instant::now()));
        if e.1.elapsed() >= window {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }
}

impl RateLimiter {
    /// A limiter allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        RateLimiter {
            max_failures,
            window,
            by_user: Mutex::default(),
            by_addr: Mutex::default(),
        }
    }

    /// `Err(retry_after)` when the user or the address is currently blocked.
    pub fn check(&self, user: &str, addr: IpAddr) -> Result<(), Duration> {
        let u = blocked(
            &self.by_user,
            &user.to_owned(),
            self.max_failures,
            self.window,
        );
        let a = blocked(&self.by_addr, &addr, self.max_failures * 3, self.window);
        match u.into_iter().chain(a).max() {
            Some(d) => Err(d),
            None => Ok(()),
        }
    }

    /// Records a failure.
    pub fn fail(&self, user: &str, addr: IpAddr) {
        bump(&self.by_user, user.to_owned(), self.window);
        bump(&self.by_addr, addr, self.window);
    }

    /// Records a success (clears the user's failures).
    pub fn succeed(&self, user: &str, _addr: IpAddr) {
        if let Ok(mut m) = self.by_user.lock() {
            m.remove(user);
        }
    }
}

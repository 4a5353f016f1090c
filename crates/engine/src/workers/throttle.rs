//! Pacing for a scan that must not starve the disk: a byte budget per second.

use std::time::{Duration, Instant};

/// Keeps a reader at or under `rate` bytes per second on average since it started.
#[derive(Debug, Clone)]
pub struct Throttle {
    rate: Option<u64>,
    start: Instant,
    bytes: u64,
}

/// How long a reader that has read `bytes` in `elapsed` must wait to be back at `rate`.
fn pace(bytes: u64, rate: u64, elapsed: Duration) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let due = Duration::try_from_secs_f64(bytes as f64 / rate as f64).unwrap_or(Duration::MAX);
    due.saturating_sub(elapsed)
}

impl Throttle {
    /// A throttle at `rate` bytes per second (`None`: unlimited).
    pub fn new(rate: Option<u64>) -> Throttle {
        Throttle {
            rate,
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// Counts `bytes` more and says how long to pause before reading on.
    pub fn after(&mut self, bytes: u64) -> Duration {
        self.bytes = self.bytes.saturating_add(bytes);
        match self.rate {
            Some(r) => pace(self.bytes, r, self.start.elapsed()),
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_waits_for_the_budget_to_catch_up() {
        let mib = 1 << 20;
        // 10 MiB at 5 MiB/s is due after 2 s: after 0.5 s the reader waits 1.5 s
        assert_eq!(
            pace(10 * mib, 5 * mib, Duration::from_millis(500)),
            Duration::from_millis(1500)
        );
        // behind schedule: no wait
        assert_eq!(pace(mib, mib, Duration::from_secs(3)), Duration::ZERO);
        assert_eq!(pace(mib, 0, Duration::ZERO), Duration::ZERO);
        assert_eq!(Throttle::new(None).after(u64::MAX), Duration::ZERO);
        assert!(Throttle::new(Some(1)).after(1000) > Duration::from_secs(900));
    }
}

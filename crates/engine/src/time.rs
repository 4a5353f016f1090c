//! Wall-clock time as nanoseconds since the Unix epoch (what the metadata stores).

use std::time::{SystemTime, UNIX_EPOCH};

/// A duration in nanoseconds, saturating (300 years does not wrap into the past).
pub fn duration_ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

//! Packs' coarse last reads, for cold recompression ("not read for N days").
//!
//! The read path notes the pack of every frame it reads; what it pays is two relaxed
//! atomic loads when the pack is the one it noted last on the same day (a sequential read
//! stays in one pack for many chunks), else one uncontended lock and a map update. Nothing
//! is written on the read path: the marks (one day number per pack) are written to the
//! metadata store in one batch when cold recompression looks for cold packs
//! ([`crate::Store::flush_read_marks`]). A mark lost in a crash only makes a pack look
//! colder than it is (its chunks may be recompressed while still read: slower, never
//! wrong). Design: `docs/design/delta.md`, "Cold recompression".

use nas_types::PackId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Today, as days since the epoch.
pub(crate) fn today() -> i64 {
    crate::time::now_ns() / NS_PER_DAY
}

/// Reads noted since the last flush, and the last one noted (the fast path).
#[derive(Default)]
pub(crate) struct ReadMarks {
    last_pack: AtomicU64,
    last_day: AtomicI64,
    pending: Mutex<HashMap<PackId, i64>>,
}

impl ReadMarks {
    /// Notes a read of a frame in `pack`, today.
    pub(crate) fn note(&self, pack: PackId) {
        let day = today();
        if self.last_pack.load(Ordering::Relaxed) == pack.0
            && self.last_day.load(Ordering::Relaxed) == day
        {
            return;
        }
        {
            let mut m = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let e = m.entry(pack).or_insert(day);
            *e = (*e).max(day);
        }
        self.last_day.store(day, Ordering::Relaxed);
        self.last_pack.store(pack.0, Ordering::Relaxed);
    }

    /// Takes the marks noted since the last call.
    pub(crate) fn take(&self) -> Vec<(PackId, i64)> {
        let mut m = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // the fast path must note the next read of the last pack again
        self.last_day.store(i64::MIN, Ordering::Relaxed);
        m.drain().collect()
    }

    /// Puts back marks a failed flush took.
    pub(crate) fn restore(&self, marks: Vec<(PackId, i64)>) {
        let mut m = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (pack, day) in marks {
            let e = m.entry(pack).or_insert(day);
            *e = (*e).max(day);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_noted_once_per_pack_and_taken_in_a_batch() {
        let m = ReadMarks::default();
        for _ in 0..3 {
            m.note(PackId(7));
        }
        m.note(PackId(8));
        m.note(PackId(7));
        let mut got = m.take();
        got.sort();
        assert_eq!(got, vec![(PackId(7), today()), (PackId(8), today())]);
        assert!(m.take().is_empty());
        // after a take, the same pack is noted again
        m.note(PackId(8));
        assert_eq!(m.take(), vec![(PackId(8), today())]);
        m.restore(vec![(PackId(9), 3)]);
        assert_eq!(m.take(), vec![(PackId(9), 3)]);
    }
}

//! Progress of a long store operation (GC, scrub, retention, trash expiry): how much is done,
//! of how much when that is known, in which unit. The operations report it through a
//! callback (`&mut dyn FnMut(Progress)`); the worker runner keeps the latest figure of each
//! running worker (see [`crate::workers::RunContext::report`]).
//!
//! ```
//! use nas_engine::{Progress, ProgressUnit};
//! let p = Progress::new(3 << 20, Some(12 << 20), ProgressUnit::Bytes);
//! assert_eq!(p.ratio(), Some(0.25));
//! assert_eq!(p.unit.as_str(), "bytes");
//! ```

/// What a [`Progress`] counts. An operation with phases changes unit from one phase to the
/// next (GC: chunks, then packs; retention: files examined, then versions deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressUnit {
    /// Stored bytes (a scrub reading chunks back).
    Bytes,
    /// Chunk index rows.
    Chunks,
    /// Pack files.
    Packs,
    /// Files.
    Files,
    /// File versions.
    Versions,
    /// Trash entries, uploads and other entries.
    Entries,
    /// Anything else.
    Items,
}

impl ProgressUnit {
    /// Its name in the admin API and the metrics' `unit` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressUnit::Bytes => "bytes",
            ProgressUnit::Chunks => "chunks",
            ProgressUnit::Packs => "packs",
            ProgressUnit::Files => "files",
            ProgressUnit::Versions => "versions",
            ProgressUnit::Entries => "entries",
            ProgressUnit::Items => "items",
        }
    }
}

/// How far an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Done so far (in this phase).
    pub done: u64,
    /// How much there is in all (in this phase), when known.
    pub total: Option<u64>,
    /// What `done` and `total` count.
    pub unit: ProgressUnit,
}

impl Progress {
    /// `done` of `total` `unit`s.
    pub fn new(done: u64, total: Option<u64>, unit: ProgressUnit) -> Progress {
        Progress { done, total, unit }
    }

    /// `done / total` in 0..=1, when the total is known (an empty total is complete).
    pub fn ratio(&self) -> Option<f64> {
        let total = self.total?;
        if total == 0 {
            return Some(1.0);
        }
        Some((self.done as f64 / total as f64).clamp(0.0, 1.0))
    }

    /// True when the total is known and reached.
    pub fn is_complete(&self) -> bool {
        self.total.is_some_and(|t| self.done >= t)
    }
}

/// A progress callback that ignores what it is told.
pub(crate) fn ignore(_: Progress) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        let p = |done, total| Progress::new(done, total, ProgressUnit::Items);
        assert_eq!(p(1, Some(4)).ratio(), Some(0.25));
        assert_eq!(p(0, Some(0)).ratio(), Some(1.0));
        assert_eq!(p(9, Some(4)).ratio(), Some(1.0), "clamped");
        assert_eq!(p(9, None).ratio(), None);
        assert!(p(4, Some(4)).is_complete() && !p(3, Some(4)).is_complete());
        assert!(!p(3, None).is_complete());
    }
}

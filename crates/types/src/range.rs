//! Byte ranges of a file, half-open: `start..end`.

use serde::{Deserialize, Serialize};

/// A half-open byte range `start..end` within one file version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte included.
    pub start: u64,
    /// First byte not included.
    pub end: u64,
}

impl ByteRange {
    /// The whole of a file of `len` bytes.
    pub fn full(len: u64) -> Self {
        Self { start: 0, end: len }
    }

    /// `start..end`, clamped so that `start <= end <= len`.
    pub fn clamped(start: u64, end: u64, len: u64) -> Self {
        let end = end.min(len);
        Self {
            start: start.min(end),
            end,
        }
    }

    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True when the range holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps() {
        let r = ByteRange::clamped(5, 100, 10);
        assert_eq!((r.start, r.end, r.len()), (5, 10, 5));
        let r = ByteRange::clamped(50, 100, 10);
        assert!(r.is_empty());
        assert_eq!(ByteRange::full(7).len(), 7);
    }
}

//! Byte ranges of a file, half-open: `start..end`, and the one rule every door applies to
//! a `Range: bytes=…` header (RFC 9110 §14):
//!
//! - a header in another unit, with a malformed spec, or with more than [`MAX_RANGES`]
//!   specs is ignored: the answer is 200 with the whole file (§14.2 allows ignoring Range);
//! - a spec that selects no byte (starts at or past the end, `-0`) is dropped; when none
//!   is left the answer is 416;
//! - multi-range answers (WebDAV's `multipart/byteranges`, [`RangeRequest::plan`]) sort
//!   and merge overlapping or adjacent ranges, and fall back to the whole file when the
//!   parts and their framing would be at least as large as the file — so no request can
//!   make the server send more than about the file's size;
//! - single-range doors (REST, S3 — AWS answers the same, [`RangeRequest::plan_single`])
//!   serve one range with 206 and answer a header with several specs with the whole file.

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

/// Most ranges one `Range` header may ask for; a header with more is ignored (Apache's
/// limit).
pub const MAX_RANGES: usize = 200;

/// Bytes a multipart answer spends per part besides the part's data (boundary and part
/// headers), counted when deciding whether a multi-range answer would outgrow the file.
pub const MULTIPART_PART_OVERHEAD: u64 = 100;

/// One range of a `Range: bytes=` header, before the file size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last` (both included).
    FromTo(u64, u64),
    /// `first-`: to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// The bytes of a file of `size` bytes this spec selects; `None` when it selects none
    /// (starts at or past the end, or `-0`).
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        let (start, end) = match self {
            RangeSpec::FromTo(a, b) => (a, b.saturating_add(1)),
            RangeSpec::From(a) => (a, size),
            RangeSpec::Suffix(n) => (size.saturating_sub(n), size),
        };
        (start < size && start < end).then(|| ByteRange::clamped(start, end, size))
    }
}

/// What to answer a `Range` request with, for a file of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangePlan {
    /// Ignore the `Range`: 200 with the whole file.
    Whole,
    /// 416: no range selects a byte of the file.
    Unsatisfiable,
    /// 206 with these ranges: sorted, disjoint, not adjacent, never empty.
    Ranges(Vec<ByteRange>),
}

/// A parsed `Range: bytes=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    specs: Vec<RangeSpec>,
}

impl RangeRequest {
    /// Parses a `Range` header value. `None` — ignore the header and answer with the whole
    /// file — for another unit, a malformed spec, no spec, or more than [`MAX_RANGES`].
    pub fn parse(header: &str) -> Option<RangeRequest> {
        let (unit, set) = header.trim().split_once('=')?;
        if !unit.trim().eq_ignore_ascii_case("bytes") {
            return None;
        }
        let mut specs = Vec::new();
        for part in set.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if specs.len() == MAX_RANGES {
                return None;
            }
            let (a, b) = part.split_once('-')?;
            let (a, b) = (a.trim(), b.trim());
            let num = |s: &str| -> Option<u64> {
                (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| s.parse().ok())
                    .flatten()
            };
            let spec = match (a.is_empty(), b.is_empty()) {
                (false, false) => {
                    let (first, last) = (num(a)?, num(b)?);
                    if last < first {
                        return None;
                    }
                    RangeSpec::FromTo(first, last)
                }
                (false, true) => RangeSpec::From(num(a)?),
                (true, false) => RangeSpec::Suffix(num(b)?),
                (true, true) => return None,
            };
            specs.push(spec);
        }
        (!specs.is_empty()).then_some(RangeRequest { specs })
    }

    /// The specs, in the order the header gave them.
    pub fn specs(&self) -> &[RangeSpec] {
        &self.specs
    }

    /// The multi-range answer for a file of `size` bytes: the selected ranges sorted and
    /// merged where they overlap or touch; [`RangePlan::Unsatisfiable`] when none selects a
    /// byte; [`RangePlan::Whole`] when several merged ranges plus their multipart framing
    /// would be at least as large as the file itself.
    pub fn plan(&self, size: u64) -> RangePlan {
        let mut rs: Vec<ByteRange> = self.specs.iter().filter_map(|s| s.resolve(size)).collect();
        if rs.is_empty() {
            return RangePlan::Unsatisfiable;
        }
        rs.sort_by_key(|r| r.start);
        let mut merged: Vec<ByteRange> = Vec::with_capacity(rs.len());
        for r in rs {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        if merged.len() > 1 {
            let framed = merged.iter().map(ByteRange::len).sum::<u64>()
                + MULTIPART_PART_OVERHEAD * merged.len() as u64;
            if framed >= size {
                return RangePlan::Whole;
            }
        }
        RangePlan::Ranges(merged)
    }

    /// The single-range answer (REST and S3 serve one range or the whole file): the one
    /// spec resolved, and [`RangePlan::Whole`] for a header with more than one spec.
    pub fn plan_single(&self, size: u64) -> RangePlan {
        match self.specs.as_slice() {
            [one] => match one.resolve(size) {
                Some(r) => RangePlan::Ranges(vec![r]),
                None => RangePlan::Unsatisfiable,
            },
            _ => RangePlan::Whole,
        }
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

    fn plan(h: &str, size: u64) -> Option<RangePlan> {
        RangeRequest::parse(h).map(|r| r.plan(size))
    }

    fn rs(v: &[(u64, u64)]) -> RangePlan {
        RangePlan::Ranges(
            v.iter()
                .map(|&(start, end)| ByteRange { start, end })
                .collect(),
        )
    }

    #[test]
    fn parses_specs_and_ignores_what_it_cannot_read() {
        let r = RangeRequest::parse("bytes=0-9, 5-, -3").unwrap();
        assert_eq!(
            r.specs(),
            [
                RangeSpec::FromTo(0, 9),
                RangeSpec::From(5),
                RangeSpec::Suffix(3)
            ]
        );
        assert!(RangeRequest::parse("Bytes = 1-2").is_some());
        for ignored in [
            "items=0-1",
            "bytes=",
            "bytes=,",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=1",
            "bytes=+1-2",
            "bytes=1-2-3",
            "0-1",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(RangeRequest::parse(ignored), None, "{ignored}");
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES].join(","));
        assert!(RangeRequest::parse(&many).is_some());
        let too_many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(RangeRequest::parse(&too_many), None);
    }

    #[test]
    fn resolves_against_the_size() {
        assert_eq!(plan("bytes=0-9", 100), Some(rs(&[(0, 10)])));
        assert_eq!(plan("bytes=90-", 100), Some(rs(&[(90, 100)])));
        assert_eq!(plan("bytes=-10", 100), Some(rs(&[(90, 100)])));
        assert_eq!(plan("bytes=-1000", 100), Some(rs(&[(0, 100)])));
        assert_eq!(plan("bytes=95-200", 100), Some(rs(&[(95, 100)])));
        assert_eq!(plan("bytes=100-", 100), Some(RangePlan::Unsatisfiable));
        assert_eq!(plan("bytes=-0", 100), Some(RangePlan::Unsatisfiable));
        assert_eq!(plan("bytes=0-", 0), Some(RangePlan::Unsatisfiable));
        // an unsatisfiable spec next to a good one is dropped
        assert_eq!(plan("bytes=500-600,0-4", 100), Some(rs(&[(0, 5)])));
    }

    #[test]
    fn merges_and_never_amplifies() {
        assert_eq!(plan("bytes=0-9,5-19,20-29", 1000), Some(rs(&[(0, 30)])));
        assert_eq!(
            plan("bytes=50-59,0-9", 1000),
            Some(rs(&[(0, 10), (50, 60)]))
        );
        // 1,000 overlapping ranges of a 1 MB file are too many: ignored
        let size = 1_000_000;
        let h = format!(
            "bytes={}",
            (0..1000)
                .map(|i| format!("{i}-{}", size - 1000 + i))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(RangeRequest::parse(&h), None);
        // 200 overlapping ranges merge into one
        let h = format!(
            "bytes={}",
            (0..200)
                .map(|i| format!("{i}-{}", size - 1000 + i))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(plan(&h, size), Some(rs(&[(0, size - 800)])));
        // parts plus framing as large as the file: the whole file instead
        assert_eq!(plan("bytes=0-0,2-2,4-4", 300), Some(RangePlan::Whole));
        assert_eq!(
            plan("bytes=0-0,2-2,4-4", 304),
            Some(rs(&[(0, 1), (2, 3), (4, 5)]))
        );
    }

    proptest::proptest! {
        /// Whatever the header, a multi-range answer is sorted, disjoint, inside the file,
        /// and (with its framing) smaller than the file unless it is a single range.
        #[test]
        fn plans_never_amplify(
            size in 0u64..5000,
            specs in proptest::collection::vec((0u64..6000, 0u64..6000, 0u8..3), 1..40),
        ) {
            let h = format!("bytes={}", specs.iter().map(|&(a, b, k)| match k {
                0 => format!("{}-{}", a.min(b), a.max(b)),
                1 => format!("{a}-"),
                _ => format!("-{b}"),
            }).collect::<Vec<_>>().join(","));
            let plan = RangeRequest::parse(&h).unwrap().plan(size);
            if let RangePlan::Ranges(rs) = plan {
                proptest::prop_assert!(!rs.is_empty());
                for w in rs.windows(2) {
                    proptest::prop_assert!(w[0].end < w[1].start);
                }
                for r in &rs {
                    proptest::prop_assert!(r.start < r.end && r.end <= size);
                }
                let total: u64 = rs.iter().map(ByteRange::len).sum();
                if rs.len() > 1 {
                    let framed = total + MULTIPART_PART_OVERHEAD * (rs.len() as u64);
                    proptest::prop_assert!(framed < size);
                }
            }
        }

        /// Arbitrary header text never panics the parser.
        #[test]
        fn parsing_never_panics(h in ".{0,200}") {
            if let Some(r) = RangeRequest::parse(&h) {
                let _ = (r.plan(1000), r.plan_single(1000));
            }
        }
    }

    #[test]
    fn single_range_doors_serve_one_spec_or_the_whole_file() {
        let single = |h: &str, size| RangeRequest::parse(h).map(|r| r.plan_single(size));
        assert_eq!(single("bytes=10-19", 100), Some(rs(&[(10, 20)])));
        assert_eq!(single("bytes=0-1,5-6", 100), Some(RangePlan::Whole));
        assert_eq!(single("bytes=200-", 100), Some(RangePlan::Unsatisfiable));
    }
}

//! Test kit for Silent-NAS (dev only): deterministic test content, the protocol of the
//! `torture` child process used by the crash test, and a real S3-compatible server for
//! the object-storage tier's tests ([`rclone::S3Server`]), a throwaway PostgreSQL server
//! for the metadata store's ([`pg::TestPg`]), and a real NATS server for change events
//! ([`nats::NatsServer`]).
//!
//! The torture child appends one line per step to its log *before* (`B`) and *after* (`D`)
//! each operation; it is killed with SIGKILL at random moments. A `B` without its `D` is
//! the one operation that may or may not have committed.
//!
//! ```
//! let a = nas_testkit::content(7, 1000);
//! assert_eq!(a, nas_testkit::content(7, 1000));
//! ```

pub mod nats;
pub mod pg;
pub mod rclone;

use rand::{Rng, SeedableRng, rngs::StdRng};

/// Deterministic content for `seed`: a mix of random and repetitive (compressible) runs,
/// so chunks both dedup and compress.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let run = rng.random_range(1..200_000).min(len - v.len());
        if rng.random_bool(0.5) {
            let start = v.len();
            v.resize(start + run, 0);
            rng.fill(&mut v[start..]);
        } else {
            let b: u8 = rng.random();
            v.extend(std::iter::repeat_n(b, run));
        }
    }
    v
}

/// Paths the torture child works on.
pub fn torture_paths() -> Vec<String> {
    (0..3)
        .flat_map(|d| (0..5).map(move |f| format!("/d{d}/f{f}")))
        .collect()
}

/// One line of the torture log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    /// A new child process started.
    Run,
    /// About to write `hash` to `path`.
    BeginWrite { path: String, hash: String },
    /// Committed `hash` to `path` as version `num`.
    DoneWrite {
        path: String,
        num: u64,
        hash: String,
    },
    /// About to delete `path`.
    BeginDelete { path: String },
    /// Deleted `path` (to the trash).
    DoneDelete { path: String },
    /// About to run GC.
    BeginGc,
    /// GC finished.
    DoneGc,
}

impl LogLine {
    /// Renders a line (without newline).
    pub fn render(&self) -> String {
        match self {
            LogLine::Run => "RUN".into(),
            LogLine::BeginWrite { path, hash } => format!("B W {path} {hash}"),
            LogLine::DoneWrite { path, num, hash } => format!("D W {path} {num} {hash}"),
            LogLine::BeginDelete { path } => format!("B R {path}"),
            LogLine::DoneDelete { path } => format!("D R {path}"),
            LogLine::BeginGc => "B G".into(),
            LogLine::DoneGc => "D G".into(),
        }
    }

    /// Parses a line; `None` for a torn last line.
    pub fn parse(s: &str) -> Option<LogLine> {
        let f: Vec<&str> = s.split(' ').collect();
        Some(match f.as_slice() {
            ["RUN"] => LogLine::Run,
            ["B", "W", p, h] if h.len() == 64 => LogLine::BeginWrite {
                path: p.to_string(),
                hash: h.to_string(),
            },
            ["D", "W", p, n, h] if h.len() == 64 => LogLine::DoneWrite {
                path: p.to_string(),
                num: n.parse().ok()?,
                hash: h.to_string(),
            },
            ["B", "R", p] => LogLine::BeginDelete {
                path: p.to_string(),
            },
            ["D", "R", p] => LogLine::DoneDelete {
                path: p.to_string(),
            },
            ["B", "G"] => LogLine::BeginGc,
            ["D", "G"] => LogLine::DoneGc,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_round_trip() {
        let h = "a".repeat(64);
        for l in [
            LogLine::Run,
            LogLine::BeginWrite {
                path: "/d0/f1".into(),
                hash: h.clone(),
            },
            LogLine::DoneWrite {
                path: "/d0/f1".into(),
                num: 3,
                hash: h,
            },
            LogLine::BeginDelete { path: "/x".into() },
            LogLine::DoneDelete { path: "/x".into() },
            LogLine::BeginGc,
            LogLine::DoneGc,
        ] {
            assert_eq!(LogLine::parse(&l.render()), Some(l));
        }
        assert_eq!(LogLine::parse("D W /x 1 abc"), None);
    }
}

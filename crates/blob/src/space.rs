//! [`SpaceGuard`]: the free-space reserve of a pack store. New frames are refused while
//! writing them would leave less than the reserve free on the store's file system, so the
//! metadata database (its WAL), deletes, trash purges and GC always find room on a disk
//! that user data filled. The refusal is a full-disk error (`ErrorKind::StorageFull`),
//! handled exactly as a real ENOSPC from a write.
//!
//! `statvfs` is asked again when the estimate (the last answer minus the bytes appended
//! since) comes within [`RESTAT_MARGIN`] of the reserve, or when the last answer is older
//! than [`RESTAT_AFTER`] (others write to the same file system); far from the reserve an
//! append costs a clock read.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Free space of a store's file system, and the reserve it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use (`f_bavail × f_frsize`).
    pub free: u64,
    /// Bytes new data never takes (0: no reserve).
    pub reserve: u64,
}

/// A store counts as full when less than this is left above its reserve: the next large
/// upload (or a few chunks of one) would be refused.
pub const FULL_MARGIN: u64 = 1 << 20;

impl Space {
    /// True when new data is (about to be) refused: less than [`FULL_MARGIN`] above the
    /// reserve.
    pub fn is_full(&self) -> bool {
        self.free < self.reserve.saturating_add(FULL_MARGIN)
    }
}

/// Within this much of the reserve, every append asks the file system again.
pub const RESTAT_MARGIN: u64 = 64 << 20;
/// An estimate older than this is refreshed.
pub const RESTAT_AFTER: Duration = Duration::from_secs(1);

struct Estimate {
    free: u64,
    at: Instant,
}

/// Checks appends against the reserve (see the module docs).
pub(crate) struct SpaceGuard {
    root: PathBuf,
    reserve: u64,
    estimate: Mutex<Option<Estimate>>,
}

/// Free bytes on the file system holding `path`.
pub(crate) fn free_bytes(path: &Path) -> io::Result<u64> {
    let s = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

impl SpaceGuard {
    pub(crate) fn new(root: &Path, reserve: u64) -> SpaceGuard {
        SpaceGuard {
            root: root.to_path_buf(),
            reserve,
            estimate: Mutex::new(None),
        }
    }

    pub(crate) fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Free space now (asks the file system).
    pub(crate) fn space(&self) -> io::Result<Space> {
        let free = free_bytes(&self.root)?;
        *self.lock() = Some(Estimate {
            free,
            at: Instant::now(),
        });
        Ok(Space {
            free,
            reserve: self.reserve,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Estimate>> {
        self.estimate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `need` bytes, or refuses with `StorageFull` when that would leave less than
    /// the reserve free — half of it for GC's compaction (`gc`), which gives space back.
    /// A file system that cannot be asked is not refused (a real ENOSPC still is, by the
    /// write).
    pub(crate) fn take(&self, need: u64, gc: bool) -> io::Result<()> {
        if self.reserve == 0 {
            return Ok(());
        }
        let keep = if gc { self.reserve / 2 } else { self.reserve };
        let floor = keep.saturating_add(need);
        let mut est = self.lock();
        let stale = match est.as_ref() {
            None => true,
            Some(e) => {
                e.at.elapsed() > RESTAT_AFTER || e.free < floor.saturating_add(RESTAT_MARGIN)
            }
        };
        if stale {
            match free_bytes(&self.root) {
                Ok(free) => {
                    *est = Some(Estimate {
                        free,
                        at: Instant::now(),
                    })
                }
                Err(_) => return Ok(()),
            }
        }
        let Some(e) = est.as_mut() else {
            return Ok(());
        };
        if e.free < floor {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{} bytes free on the data directory's file system; new data keeps {} \
                     bytes free for metadata, deletes and GC",
                    e.free, self.reserve
                ),
            ));
        }
        e.free -= need;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_everything() {
        let dir = tempfile::tempdir().unwrap();
        let g = SpaceGuard::new(dir.path(), u64::MAX / 4);
        let e = g.take(10, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(g.space().unwrap().is_full());
        let none = SpaceGuard::new(dir.path(), 0);
        none.take(10, false).unwrap();
        let free = none.space().unwrap().free;
        assert!(free > 0);
        // a reserve just under what is free: a small frame fits, a larger one does not
        let g = SpaceGuard::new(dir.path(), free.saturating_sub(64 << 10));
        assert!(
            g.take(1 << 30, false).is_err(),
            "1 GiB does not fit above the reserve"
        );
        // GC's compaction may use half of the reserve
        let g = SpaceGuard::new(dir.path(), free.saturating_mul(3));
        assert!(g.take(1 << 10, false).is_err());
        assert!(g.take(1 << 10, true).is_err());
        let g = SpaceGuard::new(dir.path(), free.saturating_add(free / 4).min(u64::MAX / 4));
        assert!(g.take(1 << 10, false).is_err());
        g.take(1 << 10, true).unwrap();
    }
}

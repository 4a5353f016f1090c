//! [`FaultPlan`]: failures injected at the pack store's system calls, so tests can prove
//! what the store and the engine above it do when a disk fails — a write that errors, a
//! short write, a full disk, an fsync that reports lost writeback — at a chosen call.
//! The real syscall path runs around the injection point (a short write really writes
//! part of the record; an injected fsync failure skips the real fsync, as a kernel that
//! dropped the dirty pages would leave the data unwritten). A store opened without a plan
//! pays one `Option` check per write.

use std::sync::Mutex;

/// One failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The write of a record fails with EIO, nothing written.
    WriteError,
    /// Half the record is written, then the write fails with EIO.
    ShortWrite,
    /// The write fails with ENOSPC, nothing written.
    NoSpace,
    /// An fsync of a pack fails with EIO (its data is not written).
    SyncError,
}

impl Fault {
    fn on_sync(self) -> bool {
        self == Fault::SyncError
    }
}

/// Failures planned for future calls: each fires once, at the `n`th matching call (1: the
/// next one) after it was planned.
#[derive(Debug, Default)]
pub struct FaultPlan {
    planned: Mutex<Vec<(Fault, u64)>>,
    fired: Mutex<Vec<Fault>>,
}

impl FaultPlan {
    /// A plan with nothing planned.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Makes the `n`th call (from now) of the kind `fault` applies to (record writes, or
    /// fsyncs) fail that way. `n` is at least 1.
    pub fn fail(&self, fault: Fault, n: u64) {
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((fault, n.max(1)));
    }

    /// The faults that fired so far, oldest first.
    pub fn fired(&self) -> Vec<Fault> {
        self.fired.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn next(&self, sync: bool) -> Option<Fault> {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        let mut hit = None;
        for (f, n) in planned.iter_mut().filter(|(f, _)| f.on_sync() == sync) {
            *n -= 1;
            if *n == 0 && hit.is_none() {
                hit = Some(*f);
            }
        }
        planned.retain(|(_, n)| *n > 0);
        if let Some(f) = hit {
            self.fired.lock().unwrap_or_else(|p| p.into_inner()).push(f);
        }
        hit
    }

    /// Consulted before a record write.
    pub(crate) fn on_write(&self) -> Option<Fault> {
        self.next(false)
    }

    /// Consulted before an fsync of a pack: true to fail it.
    pub(crate) fn on_sync(&self) -> bool {
        self.next(true).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_fires_once_at_its_call() {
        let p = FaultPlan::new();
        p.fail(Fault::ShortWrite, 2);
        p.fail(Fault::SyncError, 1);
        assert_eq!(p.on_write(), None);
        assert!(p.on_sync());
        assert!(!p.on_sync());
        assert_eq!(p.on_write(), Some(Fault::ShortWrite));
        assert_eq!(p.on_write(), None);
        assert_eq!(p.fired(), vec![Fault::SyncError, Fault::ShortWrite]);
    }
}

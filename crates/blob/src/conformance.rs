//! The `BlobStore` conformance suite: what every implementation must do, written once
//! against the trait. Local packs pass it (`tests/conformance.rs`); an object-storage store
//! will run the same functions. Each check panics with what broke.
//!
//! An implementation is given to the suite as a way to open it over a directory (for
//! local state: packs, a cache) with an optional [`FaultPlan`]: opening again over the
//! same directory is a restart, and the plan's failures must be honoured (a failed write
//! or fsync retires the pack — the fsync rule of the trait).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed check is a failed test

use crate::{BlobError, BlobStore, Fault, FaultPlan};
use nas_types::ChunkId;
use std::path::Path;
use std::sync::Arc;

/// Opens an implementation over a directory, with faults to inject.
pub trait Open: Fn(&Path, Option<Arc<FaultPlan>>) -> Box<dyn BlobStore> + Sync {}
impl<F: Fn(&Path, Option<Arc<FaultPlan>>) -> Box<dyn BlobStore> + Sync> Open for F {}

fn frame(i: u32, len: usize) -> Vec<u8> {
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Runs every check, each in a fresh directory.
pub fn run_all(open: &dyn Open) {
    append_read_and_parts(open);
    synced_frames_survive_a_restart(open);
    packs_records_and_deletion(open);
    seal_starts_a_new_pack(open);
    reading_past_the_end_is_missing(open);
    a_failed_write_or_fsync_retires_the_pack(open);
    concurrent_appends_and_syncs(open);
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A frame reads back as written; parts are joined; empty parts are nothing.
pub fn append_read_and_parts(open: &dyn Open) {
    let d = dir();
    let s = open(d.path(), None);
    let f = frame(1, 10_000);
    let loc = s.append(&ChunkId::of(&f), &f).unwrap();
    assert_eq!(loc.len as usize, f.len());
    assert_eq!(s.read(&loc).unwrap(), f, "readable before sync");
    let loc2 = s
        .append_parts(&ChunkId::of(b"ab"), &[b"a", b"", b"b"])
        .unwrap();
    s.sync().unwrap();
    assert_eq!(s.read(&loc2).unwrap(), b"ab");
    assert_eq!(s.read(&loc).unwrap(), f);
}

/// What `sync` covered is there after the store is opened again.
pub fn synced_frames_survive_a_restart(open: &dyn Open) {
    let d = dir();
    let locs: Vec<_> = {
        let s = open(d.path(), None);
        let locs = (0..50)
            .map(|i| {
                let f = frame(i, 3000 + i as usize);
                s.append(&ChunkId::of(&f), &f).unwrap()
            })
            .collect();
        s.sync().unwrap();
        locs
    };
    let s = open(d.path(), None);
    for (i, loc) in locs.iter().enumerate() {
        assert_eq!(s.read(loc).unwrap(), frame(i as u32, 3000 + i));
    }
}

/// `packs` lists what exists with one active pack, `records` lists every frame of a pack
/// in order, the active pack cannot be deleted, a deleted pack's frames are `Missing`, and
/// deleting twice is fine.
pub fn packs_records_and_deletion(open: &dyn Open) {
    let d = dir();
    let s = open(d.path(), None);
    let frames: Vec<_> = (0..10).map(|i| frame(i, 1000)).collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.sync().unwrap();
    let packs = s.packs().unwrap();
    assert_eq!(packs.iter().filter(|p| p.active).count(), 1);
    let pack = locs[0].pack;
    let recs = s.records(pack).unwrap();
    let in_pack: Vec<_> = locs.iter().filter(|l| l.pack == pack).collect();
    assert_eq!(recs.len(), in_pack.len());
    for ((id, loc), want) in recs.iter().zip(in_pack) {
        assert_eq!(loc, want);
        assert_eq!(ChunkId::of(&s.read(loc).unwrap()), *id);
    }
    assert!(
        s.delete_pack(pack).is_err(),
        "the active pack is never deleted"
    );
    s.seal().unwrap();
    s.delete_pack(pack).unwrap();
    s.delete_pack(pack).unwrap();
    assert!(matches!(s.read(&locs[0]), Err(BlobError::Missing { .. })));
    assert!(s.packs().unwrap().iter().all(|p| p.id != pack));
}

/// After `seal`, the next frame goes to another pack.
pub fn seal_starts_a_new_pack(open: &dyn Open) {
    let d = dir();
    let s = open(d.path(), None);
    let a = s.append(&ChunkId::of(b"a"), b"a").unwrap();
    s.seal().unwrap();
    let b = s.append(&ChunkId::of(b"b"), b"b").unwrap();
    assert_ne!(a.pack, b.pack);
    assert!(
        !s.packs()
            .unwrap()
            .iter()
            .find(|p| p.id == a.pack)
            .unwrap()
            .active
    );
}

/// A location past a pack's end, or in a pack that never existed, is `Missing`.
pub fn reading_past_the_end_is_missing(open: &dyn Open) {
    let d = dir();
    let s = open(d.path(), None);
    let mut loc = s.append(&ChunkId::of(b"abc"), b"abc").unwrap();
    s.sync().unwrap();
    loc.offset += 1 << 20;
    assert!(matches!(s.read(&loc), Err(BlobError::Missing { .. })));
    loc.pack = nas_types::PackId(loc.pack.0 ^ 1);
    assert!(matches!(s.read(&loc), Err(BlobError::Missing { .. })));
}

/// A failed write or fsync retires the pack: `PackFailed`, `is_failed`, never used again;
/// frames synced before stay readable; the next frame goes to a new pack.
pub fn a_failed_write_or_fsync_retires_the_pack(open: &dyn Open) {
    for fault in [
        Fault::WriteError,
        Fault::ShortWrite,
        Fault::NoSpace,
        Fault::SyncError,
    ] {
        let d = dir();
        let plan = Arc::new(FaultPlan::new());
        let s = open(d.path(), Some(plan.clone()));
        let kept = s.append(&ChunkId::of(b"kept"), b"kept").unwrap();
        s.sync().unwrap();
        plan.fail(fault, 1);
        let failed_pack = if fault == Fault::SyncError {
            s.append(&ChunkId::of(b"x"), b"x").unwrap();
            let e = s.sync().unwrap_err();
            assert!(matches!(e, BlobError::PackFailed { .. }), "{fault:?}: {e}");
            kept.pack
        } else {
            let e = s.append(&ChunkId::of(b"x"), b"x").unwrap_err();
            let BlobError::PackFailed { pack, .. } = e else {
                panic!("{fault:?}: {e}")
            };
            assert_eq!(e_is_full(fault), e.is_storage_full(), "{fault:?}");
            pack
        };
        assert!(s.is_failed(failed_pack), "{fault:?}");
        // a full disk retires the pack too, but lost nothing durable: not a failure
        let failed = usize::from(!e_is_full(fault));
        assert_eq!(s.failed_packs(), failed, "{fault:?}");
        assert_eq!(s.read(&kept).unwrap(), b"kept", "synced before the failure");
        let next = s.append(&ChunkId::of(b"y"), b"y").unwrap();
        assert_ne!(
            next.pack, failed_pack,
            "{fault:?}: a retired pack is never written"
        );
        s.sync().unwrap();
        assert!(!s.is_failed(next.pack));
    }
}

fn e_is_full(fault: Fault) -> bool {
    fault == Fault::NoSpace
}

/// Eight threads append and sync at once: every frame reads back, and `records` of every
/// pack agrees with what was appended.
pub fn concurrent_appends_and_syncs(open: &dyn Open) {
    let d = dir();
    let s: Arc<dyn BlobStore> = Arc::from(open(d.path(), None));
    let all: Vec<_> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                let s = s.clone();
                sc.spawn(move || {
                    (0..50u32)
                        .map(|i| {
                            let f = frame(t * 1000 + i, 500 + (i as usize * 37) % 3000);
                            let loc = s.append(&ChunkId::of(&f), &f).unwrap();
                            if i % 10 == 9 {
                                s.sync().unwrap();
                            }
                            (f, loc)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    s.sync().unwrap();
    let mut by_pack = std::collections::HashMap::new();
    for (f, loc) in &all {
        assert_eq!(&s.read(loc).unwrap(), f);
        by_pack.entry(loc.pack).or_insert_with(Vec::new).push(*loc);
    }
    for (pack, mut locs) in by_pack {
        locs.sort_by_key(|l| l.offset);
        let recs: Vec<_> = s.records(pack).unwrap().into_iter().map(|r| r.1).collect();
        assert_eq!(recs, locs);
    }
}

//! Tests of [`super::LocalPackStore`] beyond the conformance suite: rotation, torn tails,
//! what a retired pack keeps, the free-space reserve.

use super::*;

#[test]
fn append_read_rotate_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalPackStore::open(dir.path(), 1 << 16).unwrap();
    let frames: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 5000]).collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.sync().unwrap();
    for (f, l) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(l).unwrap(), f);
    }
    let packs = s.packs().unwrap();
    assert!(packs.len() >= 3, "rotation at the target size");
    assert_eq!(packs.iter().filter(|p| p.active).count(), 1);
    let sealed = packs.iter().find(|p| !p.active).unwrap().id;
    let recs = s.records(sealed).unwrap();
    assert!(!recs.is_empty());
    for (id, loc) in &recs {
        assert_eq!(&ChunkId::of(&s.read(loc).unwrap()), id);
    }
    // a frame given in parts is stored as one (empty parts are nothing)
    let loc = s
        .append_parts(&ChunkId::of(b"xyz"), &[b"head", b"", b"-and-body"])
        .unwrap();
    s.sync().unwrap();
    assert_eq!(s.read(&loc).unwrap(), b"head-and-body");
    s.delete_pack(sealed).unwrap();
    s.delete_pack(sealed).unwrap();
    let gone = locs.iter().find(|l| l.pack == sealed).unwrap();
    assert!(matches!(s.read(gone), Err(BlobError::Missing { .. })));
    let active = packs.iter().find(|p| p.active).unwrap().id;
    assert!(s.delete_pack(active).is_err());
}

fn size_of(s: &LocalPackStore, pack: PackId) -> Option<u64> {
    fs::metadata(s.pack_path(pack)).ok().map(|m| m.len())
}

#[test]
fn a_retired_pack_keeps_only_its_durable_prefix() {
    for fault in [Fault::NoSpace, Fault::WriteError, Fault::SyncError] {
        let dir = tempfile::tempdir().unwrap();
        let plan = Arc::new(FaultPlan::new());
        let s = LocalPackStore::open_with_faults(dir.path(), 64 << 20, Some(plan.clone())).unwrap();
        let kept = s.append(&ChunkId::of(b"kept"), b"kept").unwrap();
        s.sync().unwrap();
        let durable = kept.offset + u64::from(kept.len);
        // 3 MiB of a write that will never commit, then the failure
        for i in 0..3u8 {
            let f = vec![i; 1 << 20];
            s.append(&ChunkId::of(&f), &f).unwrap();
        }
        assert!(size_of(&s, kept.pack).unwrap() > 3 << 20);
        plan.fail(fault, 1);
        if fault == Fault::SyncError {
            s.sync().unwrap_err();
        } else {
            s.append(&ChunkId::of(b"x"), b"x").unwrap_err();
        }
        assert!(s.is_failed(kept.pack));
        assert_eq!(size_of(&s, kept.pack), Some(durable), "{fault:?}: cut back");
        assert_eq!(s.read(&kept).unwrap(), b"kept");
        assert_eq!(s.records(kept.pack).unwrap().len(), 1);
    }
}

#[test]
fn a_pack_with_nothing_durable_is_deleted_when_retired() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(FaultPlan::new());
    let s = LocalPackStore::open_with_faults(dir.path(), 64 << 20, Some(plan.clone())).unwrap();
    let loc = s.append(&ChunkId::of(b"never"), &[7; 100_000]).unwrap();
    plan.fail(Fault::NoSpace, 1);
    let e = s.append(&ChunkId::of(b"x"), b"x").unwrap_err();
    assert!(e.is_storage_full());
    assert_eq!(size_of(&s, loc.pack), None, "nothing of it was durable");
    assert!(s.packs().unwrap().is_empty());
    assert_eq!(s.failed_packs(), 0, "a full disk is not a failed disk");
}

#[test]
fn the_reserve_refuses_new_frames_and_gives_back_the_unsynced_tail() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalPackStore::open(dir.path(), 64 << 20).unwrap();
    let kept = s.append(&ChunkId::of(b"kept"), b"kept").unwrap();
    s.sync().unwrap();
    let big = vec![1u8; 1 << 20];
    s.append(&ChunkId::of(&big), &big).unwrap();
    // a reserve above what is free: as if the disk had filled meanwhile
    let s = LocalPackStore {
        space: SpaceGuard::new(&s.root, u64::MAX / 4),
        ..s
    };
    let e = s.append(&ChunkId::of(b"y"), b"y").unwrap_err();
    assert!(e.is_storage_full(), "{e}");
    assert!(s.is_failed(kept.pack) && s.is_full(kept.pack));
    assert_eq!(s.failed_packs(), 0);
    assert_eq!(
        size_of(&s, kept.pack),
        Some(kept.offset + u64::from(kept.len))
    );
    // with nothing unsynced, a refusal retires nothing
    let e = s.append(&ChunkId::of(b"z"), b"z").unwrap_err();
    assert!(e.is_storage_full() && !matches!(e, BlobError::PackFailed { .. }));
    let sp = s.space().unwrap();
    assert!(sp.is_full() && sp.reserve == u64::MAX / 4);
    assert_eq!(s.read(&kept).unwrap(), b"kept");
}

#[test]
fn torn_tail_is_ignored_by_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalPackStore::open(dir.path(), 1 << 20).unwrap();
    let loc = s.append(&ChunkId::of(b"abc"), b"abc").unwrap();
    s.append(&ChunkId::of(&[9; 100]), &[9; 100]).unwrap();
    s.seal().unwrap();
    let path = s.pack_path(loc.pack);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 10).unwrap();
    let recs = s.records(loc.pack).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].1, loc);
    let past = BlobLocation {
        pack: loc.pack,
        offset: len - 50,
        len: 100,
    };
    assert!(matches!(s.read(&past), Err(BlobError::Missing { .. })));
}

//! A full disk, injected at the pack store's writes ([`nas_blob::Fault::NoSpace`]): the
//! write fails with [`EngineError::StorageFull`] (which every door answers as 507), the
//! space its frames took is given back at once — not at the next GC — and so is the space
//! of any abandoned write; writes that fit succeed afterwards, and a full disk is not
//! counted as a failed one. (The free-space reserve and SQLite's "database or disk is
//! full" are tested on a real small file system: `crates/cli/tests/disk_full.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{p, random_bytes};
use nas_blob::{Fault, FaultPlan};
use nas_engine::{EngineError, Store, StoreOptions, WriteOptions};
use std::sync::Arc;

/// Small packs (64 KiB): a multi-megabyte upload spans dozens of them.
fn faulty_store(dir: &std::path::Path) -> (Store, Arc<FaultPlan>) {
    let plan = Arc::new(FaultPlan::new());
    let opts = StoreOptions {
        faults: Some(plan.clone()),
        pack_size: 64 << 10,
        ..Default::default()
    };
    (Store::open(dir, opts).unwrap(), plan)
}

/// Bytes of every pack file on disk.
fn pack_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for sub in std::fs::read_dir(dir.join("packs")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            total += f.unwrap().metadata().unwrap().len();
        }
    }
    total
}

fn reopen_clean(dir: &std::path::Path, files: &[(&str, &[u8])]) {
    let s = Store::open(dir, StoreOptions::default()).unwrap();
    let h = s.home("test").unwrap();
    for (path, bytes) in files {
        assert_eq!(&h.read_all(&p(path), None).unwrap(), bytes, "{path}");
    }
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn a_full_disk_is_storage_full_and_the_failed_upload_takes_no_space() {
    let dir = tempfile::tempdir().unwrap();
    let (s, plan) = faulty_store(dir.path());
    let h = s.home("test").unwrap();
    let before = random_bytes(100_000, 1);
    h.write_all(&p("/before"), &before, WriteOptions::default())
        .unwrap();
    let used = pack_bytes(dir.path());
    // 4 MiB whose 60th frame (about 2 MiB in, across ~30 packs) finds the disk full
    plan.fail(Fault::NoSpace, 60);
    let big = random_bytes(4 << 20, 2);
    let err = h
        .write_all(&p("/big"), &big, WriteOptions::default())
        .unwrap_err();
    assert!(matches!(err, EngineError::StorageFull(_)), "{err}");
    assert_eq!(plan.fired(), vec![Fault::NoSpace]);
    assert!(
        pack_bytes(dir.path()) <= used,
        "the failed upload's frames are gone at once: {} bytes of packs, {used} before",
        pack_bytes(dir.path())
    );
    assert_eq!(s.failed_packs(), 0, "a full disk is not a failed disk");
    assert!(matches!(
        h.read_all(&p("/big"), None),
        Err(EngineError::NotFound(_))
    ));
    // what fits is written afterwards
    h.write_all(&p("/small"), b"small\n", WriteOptions::default())
        .unwrap();
    assert_eq!(h.read_all(&p("/before"), None).unwrap(), before);
    drop((h, s));
    reopen_clean(dir.path(), &[("/before", &before), ("/small", b"small\n")]);
}

#[test]
fn a_write_in_flight_in_a_pack_given_up_for_space_fails_as_storage_full() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(FaultPlan::new());
    let opts = StoreOptions {
        faults: Some(plan.clone()),
        ..Default::default()
    };
    let s = Store::open(dir.path(), opts).unwrap();
    let h = s.home("test").unwrap();
    // 6 MiB: more than the chunks a writer keeps waiting for their dedup lookup (at most
    // 4 MiB), so some of its frames are in the active pack
    let one = random_bytes(6 << 20, 3);
    let mut w1 = h.writer(&p("/one"), WriteOptions::default()).unwrap();
    w1.write(&one).unwrap();
    plan.fail(Fault::NoSpace, 1);
    let err = h
        .write_all(
            &p("/two"),
            &random_bytes(1 << 20, 4),
            WriteOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::StorageFull(_)), "{err}");
    // writer 1's frames were in the pack given up (and cut off): it fails the same way
    let err = w1.commit().unwrap_err();
    assert!(matches!(err, EngineError::StorageFull(_)), "{err}");
    // the pack given up is gone; what writer 1 stored at its commit (the chunks waiting
    // for their lookup, ≤ 4 MiB, and the chunker's last ≤ 128 KiB) went to a new pack, the
    // active one, which later writes go on filling
    assert!(
        pack_bytes(dir.path()) <= (4 << 20) + (160 << 10),
        "{} bytes of packs",
        pack_bytes(dir.path())
    );
    let three = random_bytes(300_000, 5);
    h.write_all(&p("/three"), &three, WriteOptions::default())
        .unwrap();
    drop((h, s));
    reopen_clean(dir.path(), &[("/three", &three)]);
}

#[test]
fn an_abandoned_write_gives_its_packs_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _plan) = faulty_store(dir.path());
    let h = s.home("test").unwrap();
    let kept = random_bytes(200_000, 6);
    h.write_all(&p("/kept"), &kept, WriteOptions::default())
        .unwrap();
    let used = pack_bytes(dir.path());
    // a client that goes away after 3 MiB: its writer is dropped uncommitted
    let mut w = h.writer(&p("/cut"), WriteOptions::default()).unwrap();
    w.write(&random_bytes(3 << 20, 7)).unwrap();
    assert!(pack_bytes(dir.path()) > used + (2 << 20));
    drop(w);
    // what is left of it is at most the active pack it was filling (64 KiB here)
    assert!(
        pack_bytes(dir.path()) <= used + (64 << 10),
        "{} bytes of packs, {used} before",
        pack_bytes(dir.path())
    );
    // a write in flight keeps its packs: GC-style checks under the pin lock
    let mut w2 = h.writer(&p("/slow"), WriteOptions::default()).unwrap();
    w2.write(&random_bytes(1 << 20, 8)).unwrap();
    let mut w3 = h.writer(&p("/gone"), WriteOptions::default()).unwrap();
    w3.write(&random_bytes(1 << 20, 9)).unwrap();
    drop(w3);
    let slow = random_bytes(1 << 20, 8);
    w2.commit().unwrap();
    assert_eq!(h.read_all(&p("/slow"), None).unwrap(), slow);
    drop((h, s));
    reopen_clean(dir.path(), &[("/kept", &kept), ("/slow", &slow)]);
}

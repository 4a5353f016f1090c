//! Online scrub: a scrub runs in a loop while writers overwrite, delete and purge files and
//! GC frees chunks, deletes packs and compacts them (small packs, so this happens all the
//! time). A scrub reads against a snapshot of the index that goes stale under it; none of
//! that staleness may be reported as damage: every scrub of an undamaged store is clean.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::WriteOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn a_scrub_during_writes_and_gc_reports_no_damage() {
    let (_dir, s) = store_with_packs(256 << 10);
    let stop = Arc::new(AtomicBool::new(false));
    let gc = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut packs, mut compacted) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let r = s.gc(false).unwrap();
                packs += r.packs_deleted;
                compacted += r.packs_compacted;
            }
            (packs, compacted)
        })
    };
    let scrub = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut runs = 0u32;
            while !stop.load(Ordering::Relaxed) || runs < 3 {
                let r = s.scrub(&mut |_, _| true).unwrap();
                assert!(!r.interrupted);
                assert!(r.is_clean(), "scrub {runs}: {:?}", r.problems);
                runs += 1;
            }
            runs
        })
    };
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let h = s.home("test").unwrap();
                for i in 0..25u64 {
                    let keep = p(&format!("/w{w}-kept"));
                    let gone = p(&format!("/w{w}-gone-{i}"));
                    // overwrite (old versions keep their chunks), add and drop a file
                    h.write_all(
                        &keep,
                        &random_bytes(150_000, w * 1000 + i),
                        WriteOptions::default(),
                    )
                    .unwrap();
                    h.write_all(
                        &gone,
                        &random_bytes(150_000, w * 1000 + i + 500),
                        WriteOptions::default(),
                    )
                    .unwrap();
                    let t = h.delete(&gone).unwrap();
                    h.trash_purge(t.id).unwrap();
                    // prune all but the newest version now and then
                    if i % 5 == 4 {
                        for v in h.versions(&keep).unwrap().iter().rev().skip(1) {
                            h.delete_version(&keep, v.num).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (packs, compacted) = gc.join().unwrap();
    let runs = scrub.join().unwrap();
    assert!(runs >= 3, "scrubbed {runs} times");
    assert!(
        packs + compacted > 0,
        "GC deleted or compacted packs under the scrubs"
    );
    // and offline, with nothing moving, fsck agrees
    let r = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(r.is_clean(), "{:?}", r.problems);
}

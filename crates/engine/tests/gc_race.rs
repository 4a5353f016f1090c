//! GC race test: GC runs in a loop while writers deduplicate against chunks that GC is
//! about to free. Each writer, over and over: stores a file, starts a slow second write of
//! the same content (its chunks are found in the index: deduplicated), deletes and purges
//! the first file (now every chunk has no reference — GC wants them), waits while GC runs,
//! then finishes and commits the second write. Nothing referenced may ever be lost: every
//! commit succeeds, every file reads back byte-exact, and fsck is clean.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::WriteOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn gc_concurrent_with_deduplicating_writers_loses_nothing() {
    let (_d, s) = store();
    let stop = Arc::new(AtomicBool::new(false));
    let gc = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut runs, mut freed, mut pinned) = (0u32, 0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let r = s.gc(false).unwrap();
                freed += r.chunks_freed;
                pinned += r.chunks_pinned;
                runs += 1;
            }
            (runs, freed, pinned)
        })
    };
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let h = s.home("test").unwrap();
                h.mkdir_all(&p(&format!("/w{w}"))).unwrap();
                let (src, dst) = (p(&format!("/w{w}/src")), p(&format!("/w{w}/dst")));
                let mut last = Vec::new();
                for i in 0..10u64 {
                    let data = random_bytes(2_000_000, w * 1000 + i);
                    h.write_all(&src, &data, WriteOptions::default()).unwrap();
                    let mut slow = h.writer(&dst, WriteOptions::default()).unwrap();
                    let half = data.len() / 2;
                    slow.write(&data[..half]).unwrap(); // dedup lookups happen here
                    let t = h.delete(&src).unwrap();
                    h.trash_purge(t.id).unwrap(); // src's versions gone: refs drop to 0
                    std::thread::sleep(Duration::from_millis(15)); // GC runs meanwhile
                    slow.write(&data[half..]).unwrap();
                    slow.commit()
                        .unwrap_or_else(|e| panic!("writer {w} step {i}: {e}"));
                    assert_eq!(h.read_all(&dst, None).unwrap(), data, "writer {w} step {i}");
                    last = data;
                }
                last
            })
        })
        .collect();
    let finals: Vec<Vec<u8>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let (runs, freed, pinned) = gc.join().unwrap();
    assert!(runs > 10, "gc ran {runs} times");
    assert!(
        freed > 0,
        "gc freed the older versions' chunks while writers ran"
    );
    assert!(
        pinned > 0,
        "gc met chunks pinned by writes in flight ({runs} runs)"
    );
    s.gc(false).unwrap();
    let h = home(&s);
    for (w, data) in finals.iter().enumerate() {
        assert_eq!(&h.read_all(&p(&format!("/w{w}/dst")), None).unwrap(), data);
        for v in h.versions(&p(&format!("/w{w}/dst"))).unwrap() {
            h.read_all(&p(&format!("/w{w}/dst")), Some(v.num)).unwrap();
        }
    }
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

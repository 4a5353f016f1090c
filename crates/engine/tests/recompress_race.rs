//! Cold recompression racing everything else on one store (small packs, delta chunks on
//! for writes too, over files and copies first stored whole): a recompression loop, a GC loop (which compacts the packs the old
//! frames leave dead), writers storing edited versions of text files (whose new chunks look
//! for bases among the chunks recompression is turning into deltas), and readers. Nothing
//! may fail or read wrong: every write commits, every read is byte-exact, no base is ever
//! itself a delta or freed while a delta needs it (fsck with data verification is clean),
//! and recompression did shrink the store and make deltas. And on a disk too full for the
//! new frames, a batch appends nothing and says why.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{ChunkRow, RecompressOptions, Store, StoreOptions, WriteOptions};
use nas_types::VersionNum;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `base` with one byte changed every `every` bytes.
fn edited(base: &[u8], every: usize, salt: u8) -> Vec<u8> {
    let mut v = base.to_vec();
    let mut at = every / 3;
    while at < v.len() {
        v[at] = b'a' + (v[at].wrapping_add(salt) % 26);
        at += every;
    }
    v
}

/// One full pass of recompression over every pack; returns (re-encoded, as deltas).
fn pass(s: &Store) -> (u64, u64) {
    recompress_all(s, 16)
}

#[test]
fn recompression_racing_writers_readers_and_gc_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let open = |delta| {
        let opts = StoreOptions {
            pack_size: 256 << 10,
            delta,
            ..Default::default()
        };
        Store::open(dir.path(), opts).unwrap()
    };
    // the first versions, and an edited copy of each, stored whole (LZ4) before anything
    // runs: recompression finds each copy's chunks similar to the original's
    let firsts: Vec<Vec<u8>> = (0..3u64).map(|w| text_bytes(600_000, w)).collect();
    {
        let s = open(false);
        let h = home(&s);
        for (w, data) in firsts.iter().enumerate() {
            h.write_all(&p(&format!("/f{w}")), data, WriteOptions::default())
                .unwrap();
            let copy = edited(data, 40_000, 9);
            h.write_all(&p(&format!("/g{w}")), &copy, WriteOptions::default())
                .unwrap();
        }
    }
    let s = open(true);
    let h = home(&s);
    let before = s.stats().unwrap().stored_bytes;
    let stop = Arc::new(AtomicBool::new(false));
    let background = |f: fn(&Store) -> (u64, u64)| {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut runs, mut n, mut d) = (0u32, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let (a, b) = f(&s);
                (n, d) = (n + a, d + b);
                runs += 1;
            }
            (runs, n, d)
        })
    };
    let recompress = background(pass);
    let gc = background(|s| {
        s.gc(false).unwrap();
        (0, 0)
    });
    let writers: Vec<_> = firsts
        .iter()
        .enumerate()
        .map(|(w, first)| {
            let (s, first) = (s.clone(), first.clone());
            std::thread::spawn(move || {
                let h = home(&s);
                let path = p(&format!("/f{w}"));
                let mut versions = vec![first];
                for i in 0..8u8 {
                    let next = edited(versions.last().unwrap(), 50_000, i + 1);
                    h.write_all(&path, &next, WriteOptions::default())
                        .unwrap_or_else(|e| panic!("writer {w} version {i}: {e}"));
                    // the newest and a random older version read back exact
                    assert!(h.read_all(&path, None).unwrap() == next);
                    versions.push(next);
                    std::thread::sleep(Duration::from_millis(20));
                }
                versions
            })
        })
        .collect();
    let reader = {
        let (s, stop, firsts) = (s.clone(), stop.clone(), firsts.clone());
        std::thread::spawn(move || {
            let h = home(&s);
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for (w, first) in firsts.iter().enumerate() {
                    let got = h
                        .read_all(&p(&format!("/f{w}")), Some(VersionNum(1)))
                        .unwrap();
                    assert!(got == *first, "version 1 of /f{w} read back different");
                    reads += 1;
                }
            }
            reads
        })
    };
    let all: Vec<Vec<Vec<u8>>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    // let recompression catch up with the last versions while GC and the reader go on
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (runs, recoded, deltas) = recompress.join().unwrap();
    gc.join().unwrap();
    assert!(reader.join().unwrap() > 0);
    assert!(
        runs > 1 && recoded > 0,
        "{runs} passes re-encoded {recoded} chunks"
    );
    let (_, d) = pass(&s);
    eprintln!(
        "{runs} passes while writers ran: {recoded} chunks re-encoded, {deltas} as deltas; last pass {d} deltas"
    );
    s.gc(false).unwrap();
    assert!(deltas + d > 0, "recompression made no delta");
    for (w, versions) in all.iter().enumerate() {
        let path = p(&format!("/f{w}"));
        let listed = h.versions(&path).unwrap();
        assert_eq!(listed.len(), versions.len());
        for v in &listed {
            let want = &versions[(v.num.0 - 1) as usize];
            assert!(
                h.read_all(&path, Some(v.num)).unwrap() == *want,
                "/f{w} version {}",
                v.num
            );
        }
    }
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // LZ4 text became zstd: the store holds 9 versions of each file in less than the
    // first versions took before
    let after = s.stats().unwrap().stored_bytes;
    assert!(after < before, "stored {before} -> {after}");
}

/// On a disk too full for its new frames (less free than half the reserve plus what a
/// batch would append), a batch appends nothing, says why, and leaves every row as it was.
#[test]
fn a_full_disk_stops_recompression_before_it_appends() {
    let dir = tempfile::tempdir().unwrap();
    let data = text_bytes(400_000, 7);
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        home(&s)
            .write_all(&p("/f"), &data, WriteOptions::default())
            .unwrap();
    }
    // a reserve larger than any disk: the file system is "full" for new data
    let s = Store::open(
        dir.path(),
        StoreOptions {
            reserve: u64::MAX / 4,
            ..Default::default()
        },
    )
    .unwrap();
    let before = (
        s.stats().unwrap().stored_bytes,
        s.stats().unwrap().pack_bytes,
    );
    let opts = RecompressOptions {
        cold_after: Duration::ZERO,
        ..RecompressOptions::default()
    };
    let cold = s.cold_packs(opts.cold_after).unwrap();
    assert!(!cold.is_empty());
    let stopped = s.recompress_batch(ChunkRow(0), &cold, &opts).unwrap();
    let why = stopped.expect_err("the batch must not append on a full disk");
    assert!(why.0.contains("reserve"), "{why:?}");
    let st = s.stats().unwrap();
    assert_eq!((st.stored_bytes, st.pack_bytes), before);
    assert_eq!(s.recompress_counters().chunks, 0);
    assert!(home(&s).read_all(&p("/f"), None).unwrap() == data);
}

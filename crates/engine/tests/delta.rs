//! Delta chunks end to end in the engine: versions of an edited file are stored as deltas
//! against the previous version's chunks (or against similar chunks of other files) and
//! read back byte-exact; a differential run with GC agrees with a model; GC racing writers
//! that hold a base never frees it; fsck names every file whose delta needs a damaged base.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{Home, Store, StoreOptions, WriteOptions};
use nas_types::VersionNum;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn delta_store(dir: &Path) -> Store {
    let opts = StoreOptions {
        delta: true,
        pack_size: 1 << 20,
        ..Default::default()
    };
    Store::open(dir, opts).unwrap()
}

/// `data` with one byte changed every `every` bytes (from `seed`): most chunks differ
/// from the original a little.
fn edited(data: &[u8], every: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = data.to_vec();
    let mut at = rng.random_range(0..every);
    while at < v.len() {
        v[at] = v[at].wrapping_add(1 + rng.random_range(0..200u8));
        at += every;
    }
    v
}

fn check_all(h: &Home, model: &BTreeMap<String, Vec<(VersionNum, Vec<u8>)>>, when: &str) {
    for (path, versions) in model {
        let listed: Vec<VersionNum> = h
            .versions(&p(path))
            .unwrap()
            .iter()
            .map(|v| v.num)
            .collect();
        assert_eq!(
            listed,
            versions.iter().map(|v| v.0).collect::<Vec<_>>(),
            "{path}: versions {when}"
        );
        for (num, data) in versions {
            let got = h.read_all(&p(path), Some(*num)).unwrap();
            assert!(&got == data, "{path} version {num} differs {when}");
            // a range read inside the file decodes only what it needs
            let r = h.open(&p(path), Some(*num)).unwrap();
            let (a, b) = (data.len() / 3, data.len() / 3 + 5000.min(data.len() / 2));
            let part = r
                .range(nas_types::ByteRange::clamped(
                    a as u64,
                    b as u64,
                    data.len() as u64,
                ))
                .read_to_vec()
                .unwrap();
            assert!(part == data[a..b], "{path} version {num} range {when}");
        }
    }
}

#[test]
fn versions_of_an_edited_file_are_stored_as_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let s = delta_store(dir.path());
    let h = home(&s);
    let v1 = random_bytes(2 << 20, 1);
    h.write_all(&p("/img"), &v1, WriteOptions::default())
        .unwrap();
    let before = s.stats().unwrap();
    assert_eq!(before.delta_chunks, 0);
    let v2 = edited(&v1, 40_000, 2);
    h.write_all(&p("/img"), &v2, WriteOptions::default())
        .unwrap();
    let after = s.stats().unwrap();
    assert!(after.delta_chunks > 20, "{after:?}");
    // random data: stored whole, v2 would add ~2 MiB; as deltas only a little
    let grew = after.stored_bytes - before.stored_bytes;
    assert!(grew < 200_000, "the second version added {grew} bytes");
    assert!(after.saved_by_delta > 1_500_000, "{after:?}");
    assert_eq!(h.read_all(&p("/img"), Some(VersionNum(1))).unwrap(), v1);
    assert_eq!(h.read_all(&p("/img"), None).unwrap(), v2);
    // a third version is a delta against v1's chunks again (depth 1), never against v2's
    let v3 = edited(&v2, 50_000, 3);
    h.write_all(&p("/img"), &v3, WriteOptions::default())
        .unwrap();
    assert_eq!(h.read_all(&p("/img"), None).unwrap(), v3);
    let c = Connection::open(dir.path().join("meta.sqlite")).unwrap();
    let chained: i64 = c
        .query_row(
            "SELECT count(*) FROM chunks d JOIN chunks b ON b.id = d.base WHERE b.base IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(chained, 0, "no delta has a delta as its base");
    let rep = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(rep.is_clean(), "{:?}", rep.problems);
}

/// A delta that is clearly small is kept without compressing its chunk alone: the plain
/// frame recorded for the savings is then estimated from the base's frame. On compressible
/// text it stays close to what compressing the chunks alone gives (a store without delta).
#[test]
fn the_plain_frame_of_a_tiny_delta_is_estimated_close_to_the_real_one() {
    let v1 = text_bytes(2 << 20, 11);
    let v2 = edited(&v1, 100_000, 12);
    let grow = |delta: bool| {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(
            dir.path(),
            StoreOptions {
                delta,
                ..Default::default()
            },
        )
        .unwrap();
        let h = home(&s);
        h.write_all(&p("/t"), &v1, WriteOptions::default()).unwrap();
        let before = s.stats().unwrap();
        h.write_all(&p("/t"), &v2, WriteOptions::default()).unwrap();
        assert_eq!(h.read_all(&p("/t"), None).unwrap(), v2);
        let after = s.stats().unwrap();
        (after, after.stored_bytes - before.stored_bytes)
    };
    let (with, delta_frames) = grow(true);
    let (_, plain_frames) = grow(false);
    assert!(with.delta_chunks > 10, "{with:?}");
    // every new chunk became a delta: what they would take whole is their frames plus the
    // saving, as recorded (estimated) at write time
    let recorded = with.saved_by_delta + delta_frames;
    let (lo, hi) = (plain_frames * 9 / 10, plain_frames * 11 / 10);
    assert!(
        (lo..=hi).contains(&recorded),
        "recorded {recorded}, compressed alone {plain_frames}"
    );
}

#[test]
fn a_store_without_delta_reads_deltas_and_stores_none() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = random_bytes(1 << 20, 4);
    let v2 = edited(&v1, 30_000, 5);
    {
        let s = delta_store(dir.path());
        let h = home(&s);
        h.write_all(&p("/f"), &v1, WriteOptions::default()).unwrap();
        h.write_all(&p("/f"), &v2, WriteOptions::default()).unwrap();
        assert!(s.stats().unwrap().delta_chunks > 0);
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = home(&s);
    assert_eq!(h.read_all(&p("/f"), None).unwrap(), v2);
    let n = s.stats().unwrap().delta_chunks;
    h.write_all(&p("/f"), &edited(&v2, 30_000, 6), WriteOptions::default())
        .unwrap();
    assert_eq!(
        s.stats().unwrap().delta_chunks,
        n,
        "delta off: no new delta"
    );
}

/// Random writes (edits of a file's newest version, of another file, or fresh), version
/// deletes, deletes with purge and GC runs; after each step every version of every file
/// reads back as the model says, and fsck (with reference counts) is clean at the end.
#[test]
fn differential_with_deltas_and_gc() {
    for seed in [11u64, 12] {
        let dir = tempfile::tempdir().unwrap();
        let s = delta_store(dir.path());
        let h = home(&s);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model: BTreeMap<String, Vec<(VersionNum, Vec<u8>)>> = BTreeMap::new();
        let paths = ["/a", "/b", "/c"];
        for step in 0..40 {
            let path = paths[rng.random_range(0..paths.len())].to_owned();
            match rng.random_range(0..10) {
                0..=5 => {
                    let from = match model.get(&path).and_then(|v| v.last()) {
                        Some((_, d)) if rng.random_bool(0.8) => d.clone(),
                        _ => match model.values().flatten().next() {
                            Some((_, d)) if rng.random_bool(0.5) => d.clone(),
                            _ => random_bytes(rng.random_range(10_000..400_000), rng.random()),
                        },
                    };
                    let data = edited(&from, rng.random_range(5_000..80_000), rng.random());
                    let v = h
                        .write_all(&p(&path), &data, WriteOptions::default())
                        .unwrap();
                    model.entry(path).or_default().push((v.num, data));
                }
                6 | 7 => {
                    if let Some(vs) = model.get_mut(&path)
                        && vs.len() > 1
                    {
                        let (num, _) = vs.remove(rng.random_range(0..vs.len() - 1));
                        h.delete_version(&p(&path), num).unwrap();
                    }
                }
                8 => {
                    if model.remove(&path).is_some() {
                        let t = h.delete(&p(&path)).unwrap();
                        h.trash_purge(t.id).unwrap();
                    }
                }
                _ => {
                    s.gc(false).unwrap();
                }
            }
            check_all(&h, &model, &format!("after step {step} (seed {seed})"));
        }
        s.gc(false).unwrap();
        s.gc(false).unwrap();
        check_all(&h, &model, &format!("after the last GC (seed {seed})"));
        assert!(
            s.stats().unwrap().delta_chunks > 0,
            "seed {seed} made deltas"
        );
        let rep = s.fsck(true, &mut |_, _| {}).unwrap();
        assert!(rep.is_clean(), "seed {seed}: {:?}", rep.problems);
        // everything deleted: GC frees every chunk, bases with their last delta
        for path in model.keys() {
            let t = h.delete(&p(path)).unwrap();
            h.trash_purge(t.id).unwrap();
        }
        s.gc(false).unwrap();
        assert_eq!(s.stats().unwrap().chunks, 0, "seed {seed}");
    }
}

/// Writers store files as deltas against another file's chunks (found by sketch), and
/// that file is deleted and purged while the write is half done, with GC running in a
/// loop: the bases are pinned, then referenced by the commit, so nothing is lost.
#[test]
fn gc_never_frees_a_base_a_writer_relies_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = delta_store(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let gc = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut runs, mut pinned) = (0u32, 0usize);
            while !stop.load(Ordering::Relaxed) {
                pinned += s.gc(false).unwrap().chunks_pinned;
                runs += 1;
            }
            (runs, pinned)
        })
    };
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let h = s.home("test").unwrap();
                h.mkdir_all(&p(&format!("/w{w}"))).unwrap();
                let (src, dst) = (p(&format!("/w{w}/src")), p(&format!("/w{w}/dst{w}")));
                let mut out = Vec::new();
                for i in 0..6u64 {
                    // 6 MB: the first half is more than a batch of dedup lookups (64
                    // chunks), so some chunks have chosen (and pinned) their bases
                    // before the purge
                    let base = random_bytes(6_000_000, w * 1000 + i);
                    h.write_all(&src, &base, WriteOptions::default()).unwrap();
                    let data = edited(&base, 20_000, i);
                    let dst = p(&format!("{dst}-{i}"));
                    let mut slow = h.writer(&dst, WriteOptions::default()).unwrap();
                    let half = data.len() / 2;
                    slow.write(&data[..half]).unwrap(); // bases chosen and pinned here
                    let t = h.delete(&src).unwrap();
                    h.trash_purge(t.id).unwrap(); // the bases lose their last version
                    std::thread::sleep(Duration::from_millis(15)); // GC runs meanwhile
                    slow.write(&data[half..]).unwrap();
                    slow.commit()
                        .unwrap_or_else(|e| panic!("writer {w} step {i}: {e}"));
                    out.push((dst, data));
                }
                out
            })
        })
        .collect();
    let files: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    let (runs, pinned) = gc.join().unwrap();
    assert!(runs > 5, "gc ran {runs} times");
    assert!(pinned > 0, "gc met pinned bases");
    s.gc(false).unwrap();
    let st = s.stats().unwrap();
    assert!(st.delta_chunks > 10, "{st:?}");
    let h = home(&s);
    for (path, data) in &files {
        assert!(&h.read_all(path, None).unwrap() == data, "{path}");
    }
    let rep = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(rep.is_clean(), "{:?}", rep.problems);
}

/// One base chunk, three files with deltas against it (found by sketch): a byte flipped
/// in the base's frame makes fsck name the base's file and every dependent file, and
/// reading a dependent file fails as damaged, never with wrong bytes.
#[test]
fn a_damaged_base_is_reported_for_every_file_whose_delta_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = random_bytes(6000, 77); // one chunk (below the chunker's minimum)
    {
        let s = delta_store(d);
        let h = home(&s);
        h.write_all(&p("/base"), &base, WriteOptions::default())
            .unwrap();
        for (i, name) in ["/one", "/two", "/three"].iter().enumerate() {
            let data = edited(&base, 2000, i as u64);
            h.write_all(&p(name), &data, WriteOptions::default())
                .unwrap();
        }
        h.write_all(
            &p("/other"),
            &random_bytes(6000, 78),
            WriteOptions::default(),
        )
        .unwrap();
        assert_eq!(s.stats().unwrap().delta_chunks, 3);
        assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
    }
    let c = Connection::open(d.join("meta.sqlite")).unwrap();
    let (pack, off, len): (i64, i64, i64) = c
        .query_row(
            "SELECT pack, offset, stored_len FROM chunks WHERE hash = ?1",
            [&nas_types::ChunkId::of(&base).0[..]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let name = format!("{:016x}", pack as u64);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(
            d.join("packs")
                .join(&name[..2])
                .join(format!("{name}.pack")),
        )
        .unwrap();
    let at = (off + len / 2) as u64;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], at).unwrap();
    let s = delta_store(d);
    let rep = s.fsck(true, &mut |_, _| {}).unwrap();
    let named: Vec<&str> = rep.damaged_files.iter().map(String::as_str).collect();
    assert_eq!(
        named,
        ["/base", "/one", "/three", "/two"],
        "{:?}",
        rep.problems
    );
    for name in ["/one", "/two", "/three"] {
        let why = rep
            .problems
            .iter()
            .find(|p| p.path.as_deref().is_some_and(|x| x.starts_with(name)))
            .unwrap();
        assert!(why.detail.contains("base chunk"), "{why:?}");
        assert!(matches!(
            home(&s).read_all(&p(name), None),
            Err(nas_engine::EngineError::Corrupt { .. })
        ));
    }
    assert_eq!(
        home(&s).read_all(&p("/other"), None).unwrap(),
        random_bytes(6000, 78)
    );
}

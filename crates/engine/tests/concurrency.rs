//! Concurrency: many writers and readers on one store. Two writers to the same path each
//! commit a complete version (last commit newest); a reader always sees one whole version,
//! never a mix. Also: the async facade works from a tokio runtime, and the frames of writes
//! that never commit are reclaimed by GC.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{AsyncHome, Store, StoreOptions, Upload, WriteOptions};
use nas_types::ContentHash;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn same_path_writers_commit_whole_versions_and_readers_never_see_a_mix() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/shared.bin");
    let contents: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..8)
            .map(|i| random_bytes(700_000 + i * 10_000, i as u64))
            .collect(),
    );
    let hashes: Arc<HashSet<ContentHash>> =
        Arc::new(contents.iter().map(|c| ContentHash::of(c)).collect());
    h.write_all(&f, &contents[0], WriteOptions::default())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (h, f, hashes, stop) = (h.clone(), f.clone(), hashes.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let data = h.read_all(&f, None).unwrap();
                    assert!(
                        hashes.contains(&ContentHash::of(&data)),
                        "a read returned a mix of versions"
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (h, f, contents) = (h.clone(), f.clone(), contents.clone());
            std::thread::spawn(move || {
                (0..5)
                    .map(|i| {
                        let c = &contents[(w * 5 + i) % contents.len()];
                        let mut wr = h.writer(&f, WriteOptions::default()).unwrap();
                        for piece in c.chunks(50_000) {
                            wr.write(piece).unwrap(); // interleaves with the other writers
                        }
                        let v = wr.commit().unwrap();
                        (v.num, ContentHash::of(c))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut committed: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    committed.sort();
    let versions = h.versions(&f).unwrap();
    assert_eq!(
        versions.len(),
        21,
        "every writer's every commit is a version"
    );
    // each committed version holds exactly what its writer wrote; the last commit is newest
    for (num, hash) in &committed {
        let v = versions.iter().find(|v| v.num == *num).unwrap();
        assert_eq!(&v.hash, hash);
        assert_eq!(ContentHash::of(&h.read_all(&f, Some(*num)).unwrap()), *hash);
    }
    let newest = committed.last().unwrap();
    assert_eq!(h.stat(&f).unwrap().version, Some(newest.0));
    assert_eq!(h.stat(&f).unwrap().hash, Some(newest.1));
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn async_facade_streams_from_a_tokio_runtime() {
    let (_d, s) = store();
    let h = AsyncHome::new(home(&s));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = random_bytes(2_000_000, 77);
    let got = rt.block_on(async {
        let upload = |frames: Vec<Vec<u8>>| {
            let w = home(&s)
                .writer(&p("/a.bin"), WriteOptions::default())
                .unwrap();
            let mut up = Upload::new(w);
            async move {
                for f in frames {
                    up.push(bytes::Bytes::from(f)).await.unwrap();
                }
                up
            }
        };
        let frames: Vec<Vec<u8>> = data.chunks(100_000).map(|c| c.to_vec()).collect();
        let v = upload(frames).await.finish(None, None).await.unwrap();
        assert_eq!(v.size, 2_000_000);
        // an upload dropped before its end (a body that broke off) commits nothing, small
        // or large
        drop(upload(vec![vec![1u8; 1000]]).await);
        drop(upload(vec![vec![2u8; 300_000]; 3]).await);
        let sync = home(&s);
        assert_eq!(sync.stat(&p("/a.bin")).unwrap().version.unwrap().0, 1);
        let (_, mut rx) = h
            .read(
                p("/a.bin"),
                None,
                Some(nas_types::ByteRange {
                    start: 10,
                    end: 1_500_000,
                }),
            )
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(buf) = rx.recv().await {
            out.extend(buf.unwrap());
        }
        out
    });
    assert_eq!(got, &data[10..1_500_000]);
}

#[test]
fn frames_of_writes_that_never_commit_are_reclaimed() {
    let (_dir, s) = store_with_packs(1 << 20);
    let h = home(&s);
    h.write_all(&p("/keep"), b"kept", WriteOptions::default())
        .unwrap();
    let mut w = h.writer(&p("/lost"), WriteOptions::default()).unwrap();
    // 9 MB: all but the chunks waiting for their dedup lookup (at most 4 MiB) are stored
    w.write(&random_bytes(9_000_000, 3)).unwrap();
    let during = s.stats().unwrap();
    assert!(
        during.pack_bytes > 4_000_000,
        "the frames are on disk: {}",
        during.pack_bytes
    );
    drop(w); // the client went away
    // its full packs are given back at once; only the active pack, which later writes go
    // on filling, still holds some of its frames (GC compacts it once sealed)
    let after = s.stats().unwrap();
    assert!(
        after.pack_bytes < 2_000_000,
        "abandoned packs reclaimed at once: {} left",
        after.pack_bytes
    );
    assert!(!h.exists(&p("/lost")).unwrap());
    s.gc(false).unwrap();
    assert!(s.stats().unwrap().pack_bytes <= after.pack_bytes);
    assert_eq!(h.read_all(&p("/keep"), None).unwrap(), b"kept");
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn concurrent_commits_are_grouped_and_a_bad_one_fails_alone() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir(&p("/ok")).unwrap();
    h.mkdir(&p("/doomed")).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(17));
    let handles: Vec<_> = (0..17)
        .map(|i| {
            let (h, barrier) = (h.clone(), barrier.clone());
            std::thread::spawn(move || {
                let path = if i == 16 {
                    p("/doomed/x")
                } else {
                    p(&format!("/ok/f{i}"))
                };
                let mut w = h.writer(&path, WriteOptions::default()).unwrap();
                w.write(&random_bytes(3000 + i, i as u64)).unwrap();
                barrier.wait();
                if i == 16 {
                    // its folder disappears just before it commits
                    h.delete(&p("/doomed")).unwrap();
                }
                (i, w.commit())
            })
        })
        .collect();
    for t in handles {
        let (i, r) = t.join().unwrap();
        if i == 16 {
            assert!(
                matches!(r, Err(nas_engine::EngineError::NotFound(_))),
                "{r:?}"
            );
        } else {
            r.unwrap();
            assert_eq!(
                h.read_all(&p(&format!("/ok/f{i}")), None).unwrap(),
                random_bytes(3000 + i, i as u64)
            );
        }
    }
    assert_eq!(h.list(&p("/ok"), None, 100).unwrap().entries.len(), 16);
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn async_commits_go_through_the_committer_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = home(&s);
    h.mkdir(&p("/ok")).unwrap();
    h.mkdir(&p("/doomed")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let big = random_bytes(3_000_000, 9); // past the committer's own limit: stored off it
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..40u64 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                let w = h
                    .writer(&p(&format!("/ok/f{i}")), WriteOptions::default())
                    .unwrap();
                w.commit_async(random_bytes(4096, i)).await
            }));
        }
        let doomed = h.writer(&p("/doomed/x"), WriteOptions::default()).unwrap();
        h.delete(&p("/doomed")).unwrap(); // its folder goes before it commits
        let bad = doomed.commit_async(b"lost".to_vec()).await;
        assert!(
            matches!(bad, Err(nas_engine::EngineError::NotFound(_))),
            "{bad:?}"
        );
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().size, 4096);
        }
        let mut w = h.writer(&p("/big"), WriteOptions::default()).unwrap();
        w.write(&big[..1_000_000]).unwrap();
        let v = w.commit_async(big[1_000_000..].to_vec()).await.unwrap();
        assert_eq!(v.size, 3_000_000);
    });
    for i in 0..40u64 {
        assert_eq!(
            h.read_all(&p(&format!("/ok/f{i}")), None).unwrap(),
            random_bytes(4096, i)
        );
    }
    assert_eq!(h.read_all(&p("/big"), None).unwrap(), big);
    assert!(!h.exists(&p("/doomed/x")).unwrap());
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
    // the committer holds nothing of the store once every answer is out: it reopens at once
    drop((h, s, rt));
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(home(&s).read_all(&p("/big"), None).unwrap(), big);
}

#[test]
fn async_reads_small_and_large_agree_with_the_blocking_read() {
    // AsyncHome::read reads a range of up to SMALL_READ bytes in the trip that opens the
    // file and streams larger ones: both, and the edges, give the same bytes as read_all.
    let (_d, s) = store();
    let h = home(&s);
    let small = nas_engine::SMALL_READ as usize;
    let files = [
        ("/empty", Vec::new()),
        ("/tiny", random_bytes(4096, 1)),
        ("/at-limit", random_bytes(small, 2)),
        ("/over-limit", random_bytes(small + 1, 3)),
        ("/large", random_bytes(3_000_000, 4)),
    ];
    for (name, data) in &files {
        h.write_all(&p(name), data, WriteOptions::default())
            .unwrap();
    }
    let a = AsyncHome::new(h.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let collect = |path: &str, range: Option<nas_types::ByteRange>| {
        rt.block_on(async {
            let (v, mut rx) = a.read(p(path), None, range).await.unwrap();
            let mut out = Vec::new();
            let mut pieces = 0;
            while let Some(buf) = rx.recv().await {
                let buf = buf.unwrap();
                assert!(!buf.is_empty(), "an empty buffer was sent");
                out.extend_from_slice(&buf);
                pieces += 1;
            }
            (v.size, out, pieces)
        })
    };
    for (name, data) in &files {
        let (size, got, pieces) = collect(name, None);
        assert_eq!(size, data.len() as u64, "{name}: version size");
        assert_eq!(&got, data, "{name}: whole file");
        if data.is_empty() {
            assert_eq!(pieces, 0, "{name}: nothing to send");
        }
        if !data.is_empty() && data.len() <= small {
            assert_eq!(pieces, 1, "{name}: a small file is one buffer");
        }
    }
    let large = &files[4].1;
    for (start, end) in [
        (0, 10),
        (100, 100 + small as u64),
        (2_999_000, 3_000_000),
        (5, 2_500_000),
    ] {
        let (_, got, _) = collect("/large", Some(nas_types::ByteRange { start, end }));
        assert_eq!(
            got,
            large[start as usize..end as usize],
            "range {start}..{end}"
        );
    }
    let (_, got, pieces) = collect("/tiny", Some(nas_types::ByteRange { start: 7, end: 7 }));
    assert!(
        got.is_empty() && pieces == 0,
        "an empty range sends nothing"
    );
}

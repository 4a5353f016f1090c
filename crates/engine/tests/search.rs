//! Name search with its index: results equal a walk of the live tree (the definition of
//! search) at every moment — while the index lags, after renames, moves, copies, the trash
//! and purges — and SQLite's integrity check (run by every scrub) stays clean while files
//! are created, renamed and deleted from several threads with the indexer, GC and scrubs
//! running.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::workers::{SEARCH_INDEX, WorkerRunner, search_index_worker};
use nas_engine::{Entry, Home, NodeKind, SearchFilter, WriteOptions};
use nas_types::NasPath;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Every live entry below `dir`.
fn walk(h: &Home, dir: &NasPath, out: &mut Vec<Entry>) {
    let mut after: Option<String> = None;
    loop {
        let page = h.list(dir, after.as_deref(), 500).unwrap();
        for e in &page.entries {
            out.push(e.clone());
            if e.kind == NodeKind::Dir {
                walk(h, &e.path, out);
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => return,
        }
    }
}

/// What a search must answer: the live entries whose name contains the needle (ASCII
/// letters in either case) and that pass the filter, in id order.
fn expected(h: &Home, f: &SearchFilter) -> Vec<(u64, String)> {
    let mut all = Vec::new();
    walk(h, &NasPath::root(), &mut all);
    let needle = f.needle.to_ascii_lowercase();
    let mut out: Vec<(u64, String)> = all
        .into_iter()
        .filter(|e| e.name().to_ascii_lowercase().contains(&needle))
        .filter(|e| f.kind.is_none_or(|k| e.kind == k))
        .filter(|e| {
            f.min_size
                .is_none_or(|m| e.kind == NodeKind::File && e.size >= m)
        })
        .filter(|e| {
            f.max_size
                .is_none_or(|m| e.kind == NodeKind::File && e.size <= m)
        })
        .filter(|e| f.modified_after.is_none_or(|t| e.mtime_ns >= t))
        .filter(|e| f.modified_before.is_none_or(|t| e.mtime_ns < t))
        .map(|e| (e.id.0 as u64, e.path.to_string()))
        .collect();
    out.sort();
    out
}

/// Every page of the search, walked with page size `limit`.
fn searched(h: &Home, f: &SearchFilter, limit: usize) -> Vec<(u64, String)> {
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let page = h.search(f, after, limit).unwrap();
        out.extend(
            page.entries
                .iter()
                .map(|e| (e.id.0 as u64, e.path.to_string())),
        );
        match page.next_after {
            Some(a) => after = Some(a),
            None => return out,
        }
    }
}

const ALPHABET: [char; 12] = ['a', 'b', 'A', 'B', 'c', 'é', 'É', '%', '_', ' ', '-', '.'];

fn name(r: &mut StdRng) -> String {
    let n: String = (0..1 + r.random_range(0..7))
        .map(|_| ALPHABET[r.random_range(0..ALPHABET.len())])
        .collect();
    format!("x{n}") // never "." or ".."
}

fn needle(r: &mut StdRng) -> String {
    (0..1 + r.random_range(0..4))
        .map(|_| ALPHABET[r.random_range(0..ALPHABET.len())])
        .collect()
}

fn check(h: &Home, r: &mut StdRng) {
    for _ in 0..6 {
        let f = SearchFilter {
            needle: needle(r),
            kind: [None, Some(NodeKind::File), Some(NodeKind::Dir)][r.random_range(0..3)],
            min_size: [None, Some(2)][r.random_range(0..2)],
            ..SearchFilter::default()
        };
        let limit = r.random_range(1..8);
        assert_eq!(searched(h, &f, limit), expected(h, &f), "{f:?}");
    }
}

/// A random path below an existing folder (or `/`).
fn under(h: &Home, r: &mut StdRng) -> NasPath {
    let mut dirs = vec![NasPath::root()];
    let mut all = Vec::new();
    walk(h, &NasPath::root(), &mut all);
    dirs.extend(
        all.iter()
            .filter(|e| e.kind == NodeKind::Dir)
            .map(|e| e.path.clone()),
    );
    dirs[r.random_range(0..dirs.len())].join(&name(r)).unwrap()
}

fn any_entry(h: &Home, r: &mut StdRng) -> Option<NasPath> {
    let mut all = Vec::new();
    walk(h, &NasPath::root(), &mut all);
    (!all.is_empty()).then(|| all[r.random_range(0..all.len())].path.clone())
}

#[test]
fn search_equals_a_walk_of_the_tree_while_the_index_catches_up() {
    let (_d, s) = store();
    let h = home(&s);
    let other = s.home("other").unwrap();
    other
        .write_all(&p("/xaa"), b"elsewhere", WriteOptions::default())
        .unwrap();
    let mut r = StdRng::seed_from_u64(7);
    for step in 0..300 {
        // failures (a taken name, a folder moved into itself) are part of the workload
        match r.random_range(0..100) {
            0..=34 => {
                let size = r.random_range(0..4);
                let _ = h.write_all(
                    &under(&h, &mut r),
                    &vec![1u8; size],
                    WriteOptions::default(),
                );
            }
            35..=44 => {
                let _ = h.mkdir(&under(&h, &mut r));
            }
            45..=59 => {
                if let Some(from) = any_entry(&h, &mut r) {
                    let _ = h.rename(&from, &under(&h, &mut r), false);
                }
            }
            60..=67 => {
                if let Some(e) = any_entry(&h, &mut r) {
                    h.delete(&e).unwrap();
                }
            }
            68..=71 => {
                if let Some(t) = h.trash_list().unwrap().first() {
                    let _ = h.trash_restore(t.id, None);
                }
            }
            72..=76 => {
                if let Some(t) = h.trash_list().unwrap().last() {
                    h.trash_purge(t.id).unwrap();
                }
            }
            77..=80 => {
                if let Some(from) = any_entry(&h, &mut r) {
                    let _ = h.copy(&from, &under(&h, &mut r), false);
                }
            }
            81..=90 => {
                s.index_names(&mut || true).unwrap();
            }
            91..=94 => {
                s.prune_name_index(nas_types::NodeId(0), 1000).unwrap();
            }
            _ => check(&h, &mut r),
        }
        if step % 50 == 49 {
            check(&h, &mut r);
        }
    }
    check(&h, &mut r);
    s.index_names(&mut || true).unwrap();
    assert!(s.name_index_status().unwrap().is_current());
    check(&h, &mut r);
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn the_index_stays_consistent_under_concurrent_writes_renames_gc_and_scrubs() {
    let (_dir, s) = store_with_packs(256 << 10);
    let runner = WorkerRunner::new(None);
    runner
        .add(search_index_worker(&s, Duration::from_millis(20)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let background: Vec<_> = [false, true]
        .into_iter()
        .map(|scrubs| {
            let (s, stop) = (s.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut runs = 0u32;
                while !stop.load(Ordering::Relaxed) || runs < 2 {
                    if scrubs {
                        let r = s.scrub(&mut |_, _| true).unwrap();
                        assert!(r.is_clean(), "scrub {runs}: {:?}", r.problems);
                    } else {
                        s.gc(false).unwrap();
                    }
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let h = s.home("test").unwrap();
                let dir = p(&format!("/w{w}"));
                h.mkdir_all(&dir).unwrap();
                for i in 0..150u64 {
                    let f = dir.join(&format!("file-{i:03}.txt")).unwrap();
                    h.write_all(
                        &f,
                        &random_bytes(2000, w * 1000 + i),
                        WriteOptions::default(),
                    )
                    .unwrap();
                    match i % 5 {
                        1 => {
                            let to = dir.join(&format!("renamed-{i:03}.doc")).unwrap();
                            h.rename(&f, &to, false).unwrap();
                        }
                        2 => {
                            let t = h.delete(&f).unwrap();
                            h.trash_purge(t.id).unwrap();
                        }
                        3 => {
                            h.delete(&f).unwrap();
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for b in background {
        assert!(b.join().unwrap() >= 2);
    }
    let h = home(&s);
    let f = |needle: &str| SearchFilter {
        needle: needle.into(),
        ..SearchFilter::default()
    };
    // while the worker may still lag, and once it has caught up
    for needle in ["file-", "renamed-", "e-01", "FILE-14", ".doc", "le"] {
        assert_eq!(searched(&h, &f(needle), 37), expected(&h, &f(needle)));
    }
    let until = Instant::now() + Duration::from_secs(60);
    while !s.name_index_status().unwrap().is_current() {
        assert!(Instant::now() < until, "{:?}", s.name_index_status());
        std::thread::sleep(Duration::from_millis(20));
    }
    for needle in ["file-", "renamed-", "e-01", "FILE-14", ".doc", "le"] {
        assert_eq!(searched(&h, &f(needle), 100), expected(&h, &f(needle)));
    }
    assert_eq!(expected(&h, &f("file-")).len(), 3 * 60);
    assert_eq!(expected(&h, &f("renamed-")).len(), 3 * 30);
    let st = runner
        .states()
        .into_iter()
        .find(|w| w.name == SEARCH_INDEX)
        .unwrap();
    assert_eq!(st.failures, 0, "{:?}", st.last_error);
    runner.stop();
    let r = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(r.is_clean(), "{:?}", r.problems);
}

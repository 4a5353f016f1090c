//! The read cache (`read_cache.rs`): a version's extent list and its chunks' records are
//! kept after a read, so the next read of the same version skips those lookups. It must
//! never make a read wrong: what changes (mtime, attributes, a new version, a deleted
//! one) shows at once, and a chunk whose frame moved (recompression, then GC deleting
//! the old pack) is found where it went.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{Store, StoreOptions, WriteOptions};
use nas_types::{ByteRange, VersionNum};

/// A store with small packs and the read cache `on` (the default) or off; no decoded
/// chunks kept, so that every read goes through the chunk records.
fn cached_store(pack_size: u64, on: bool) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        pack_size,
        read_cache: on,
        chunk_cache: 0,
        ..Default::default()
    };
    let s = Store::open(dir.path(), opts).unwrap();
    (dir, s)
}

#[test]
fn a_second_read_comes_from_the_cache_and_every_change_still_shows() {
    let (_d, s) = cached_store(64 << 20, true);
    let h = home(&s);
    let f = p("/f");
    let one = random_bytes(300_000, 1);
    h.write_all(&f, &one, WriteOptions::default()).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), one);
    let (v0, c0) = s.read_cache_counters();
    assert_eq!(h.read_all(&f, None).unwrap(), one);
    let (v1, c1) = s.read_cache_counters();
    assert_eq!(
        v1.hits,
        v0.hits + 1,
        "the version's extents came from the cache"
    );
    assert_eq!(v1.misses, v0.misses);
    assert!(c1.hits > c0.hits, "so did its chunks' records");
    assert_eq!(c1.misses, c0.misses);

    // what can change is never taken from the cache
    h.set_mtime(&f, 1_000_000_000).unwrap();
    let r = h.open(&f, None).unwrap();
    assert_eq!(r.version().mtime_ns, 1_000_000_000);
    let entry = h.stat(&f).unwrap();
    assert_eq!(
        h.open_entry(&entry).unwrap().version().mtime_ns,
        1_000_000_000
    );
    assert_eq!(
        s.read_cache_counters().0.hits,
        v1.hits + 2,
        "both from the cache"
    );

    // a new version is read, not the cached one
    let two = random_bytes(200_000, 2);
    h.write_all(&f, &two, WriteOptions::default()).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), two);
    assert_eq!(h.read_all(&f, Some(VersionNum(1))).unwrap(), one);
    // a deleted version is gone, though its extents were cached
    h.delete_version(&f, VersionNum(1)).unwrap();
    assert!(h.open(&f, Some(VersionNum(1))).is_err());
    s.gc(false).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), two);
}

#[test]
fn a_cached_chunk_record_whose_frame_moved_still_reads_right() {
    let (_d, s) = cached_store(256 << 10, true);
    let h = home(&s);
    let files: Vec<Vec<u8>> = (0..3).map(|i| text_bytes(500_000, i)).collect();
    for (i, data) in files.iter().enumerate() {
        h.write_all(&p(&format!("/t{i}")), data, WriteOptions::default())
            .unwrap();
    }
    for (i, data) in files.iter().enumerate() {
        assert_eq!(&h.read_all(&p(&format!("/t{i}")), None).unwrap(), data);
    }
    // every frame re-encoded into new packs, the old packs deleted by GC
    let before = s.stats().unwrap().pack_bytes;
    assert!(
        recompress_all(&s, 16).0 > 0,
        "recompression re-encoded the chunks"
    );
    s.gc(false).unwrap();
    assert!(
        s.stats().unwrap().pack_bytes < before,
        "the old packs are gone"
    );
    let (_, c0) = s.read_cache_counters();
    for (i, data) in files.iter().enumerate() {
        assert_eq!(
            &h.read_all(&p(&format!("/t{i}")), None).unwrap(),
            data,
            "/t{i} reads byte-exact through its cached records"
        );
    }
    let (_, c1) = s.read_cache_counters();
    assert!(c1.hits > c0.hits, "the cached (outdated) records were used");
    // and a second read uses the records looked up again: no further lookups
    for (i, data) in files.iter().enumerate() {
        assert_eq!(&h.read_all(&p(&format!("/t{i}")), None).unwrap(), data);
    }
    assert_eq!(s.read_cache_counters().1.misses, c1.misses);
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn switched_off_it_keeps_nothing() {
    let (_d, s) = cached_store(64 << 20, false);
    let h = home(&s);
    h.write_all(&p("/f"), b"data", WriteOptions::default())
        .unwrap();
    for _ in 0..3 {
        assert_eq!(h.read_all(&p("/f"), None).unwrap(), b"data");
    }
    let (v, c) = s.read_cache_counters();
    assert_eq!((v.hits, v.misses, c.hits, c.misses), (0, 0, 0, 0));
    assert_eq!(s.chunk_cache_counters().bytes, 0);
}

#[test]
fn decoded_chunks_kept_are_served_again_and_changes_still_show() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        chunk_cache: 8 << 20,
        ..Default::default()
    };
    let s = Store::open(dir.path(), opts).unwrap();
    let h = home(&s);
    let f = p("/f");
    let one = text_bytes(1_000_000, 1);
    h.write_all(&f, &one, WriteOptions::default()).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), one);
    let before = s.chunk_cache_counters();
    assert!(
        before.misses > 0 && before.bytes > 0,
        "kept on the first read"
    );
    assert_eq!(h.read_all(&f, None).unwrap(), one);
    let after = s.chunk_cache_counters();
    assert!(after.hits > before.hits, "served again from the cache");
    assert_eq!(after.misses, before.misses);
    // in place, as an async door reads a hot file
    let range = ByteRange {
        start: 10,
        end: 200_000,
    };
    let mut r = h.open(&f, None).unwrap().range(range);
    assert_eq!(r.read_cached(1 << 20).unwrap(), &one[10..200_000]);
    // a new version is read, not the chunks of the old one
    let two = text_bytes(1_000_000, 2);
    h.write_all(&f, &two, WriteOptions::default()).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), two);
    assert!(
        s.chunk_cache_counters().bytes <= 8 << 20,
        "within its bound"
    );
}

//! Corruption test: damage stored data and metadata behind the engine's back — flip a byte
//! in a chunk frame, delete a chunk from the index, truncate a pack, shrink a version's
//! chunk list — and check that reads fail naming the file, and fsck reports each damaged
//! file by path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_chunker::{ChunkerParams, chunk_lengths};
use nas_engine::{EngineError, Store, WriteOptions};
use nas_types::ChunkId;
use rusqlite::{Connection, params};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn first_chunk_id(data: &[u8]) -> ChunkId {
    let n = chunk_lengths(ChunkerParams::DEFAULT, data)[0];
    ChunkId::of(&data[..n])
}

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("meta.sqlite")).unwrap()
}

fn pack_path(dir: &Path, pack: i64) -> PathBuf {
    let name = format!("{:016x}", pack as u64);
    dir.join("packs")
        .join(&name[..2])
        .join(format!("{name}.pack"))
}

fn locate(dir: &Path, id: &ChunkId) -> (i64, u64, i64) {
    db(dir)
        .query_row(
            "SELECT pack, offset, stored_len FROM chunks WHERE hash = ?1",
            [&id.0[..]],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)),
        )
        .unwrap()
}

fn expect_corrupt(s: &Store, path: &str) {
    let h = home(s);
    match h.read_all(&p(path), None) {
        Err(EngineError::Corrupt {
            path: named,
            detail,
        }) => {
            assert!(
                named.contains(path),
                "error names {named:?}, expected {path}: {detail}"
            )
        }
        other => panic!(
            "{path}: expected a corruption error, got {:?}",
            other.map(|v| v.len())
        ),
    }
}

#[test]
fn each_kind_of_damage_is_reported_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                format!("/f{i}"),
                random_bytes(300_000 + i * 1000, 100 + i as u64),
            )
        })
        .collect();
    {
        let s = Store::open(d, Default::default()).unwrap();
        let h = home(&s);
        for (name, data) in &files {
            h.write_all(&p(name), data, WriteOptions::default())
                .unwrap();
        }
        h.write_all(&p("/f3"), b"second version", WriteOptions::default())
            .unwrap();
        assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
    }
    // 1. flip a byte inside f0's first frame
    let (pack, off, len) = locate(d, &first_chunk_id(&files[0].1));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(pack_path(d, pack))
        .unwrap();
    let mut b = [0u8; 1];
    let at = off + (len as u64) / 2;
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], at).unwrap();
    // 2. delete f1's first chunk from the index
    db(d)
        .execute(
            "DELETE FROM chunks WHERE hash = ?1",
            [&first_chunk_id(&files[1].1).0[..]],
        )
        .unwrap();
    // 3. shrink f2's chunk list (drop its last extent)
    let conn = db(d);
    let node: i64 = conn
        .query_row("SELECT id FROM nodes WHERE name = 'f2'", [], |r| r.get(0))
        .unwrap();
    let blob: Vec<u8> = conn
        .query_row(
            "SELECT extents FROM versions WHERE node = ?1",
            [node],
            |r| r.get(0),
        )
        .unwrap();
    let list = nas_meta::decode_extents(&blob).unwrap();
    let shorter = nas_meta::encode_extents(list[..list.len() - 1].iter().map(|e| (e.chunk, e.len)));
    conn.execute(
        "UPDATE versions SET extents = ?1 WHERE node = ?2",
        params![shorter, node],
    )
    .unwrap();
    // 4. truncate the pack holding f4's first chunk to just before that chunk's end
    let (pack4, off4, len4) = locate(d, &first_chunk_id(&files[4].1));

    let s = Store::open(d, Default::default()).unwrap();
    // a read in place (the OS has the damaged page cached) declines rather than serve it
    let mut in_place = home(&s).open(&p("/f0"), None).unwrap().reader();
    assert!(
        in_place.read_cached(1 << 20).is_none(),
        "a damaged frame read in place"
    );
    drop(in_place); // it holds the store open
    expect_corrupt(&s, "/f0");
    expect_corrupt(&s, "/f1");
    expect_corrupt(&s, "/f2");
    // the structural check sees 2 and 3 without reading data
    let structural = s.fsck(false, &mut |_, _| {}).unwrap();
    assert!(
        structural.damaged_files.contains("/f1"),
        "{:?}",
        structural.problems
    );
    assert!(
        structural.damaged_files.contains("/f2"),
        "{:?}",
        structural.problems
    );
    assert!(
        structural
            .problems
            .iter()
            .any(|p| p.detail.contains("reference count")),
        "refcount of the deleted row's neighbours"
    );
    drop(s);
    let f = OpenOptions::new()
        .write(true)
        .open(pack_path(d, pack4))
        .unwrap();
    f.set_len(off4 + len4 as u64 - 1).unwrap();
    let s = Store::open(d, Default::default()).unwrap();
    expect_corrupt(&s, "/f4");
    let full = s.fsck(true, &mut |_, _| {}).unwrap();
    for name in ["/f0", "/f1", "/f2", "/f4"] {
        assert!(
            full.damaged_files.contains(name),
            "{name} not reported: {:?}",
            full.problems
        );
    }
    assert!(!full.is_clean());
    // the truncation also cut every frame written after f4's (f3's second version)
    expect_corrupt(&s, "/f3");
    assert!(full.damaged_files.contains("/f3"));
    assert_eq!(full.damaged_files.len(), 5);
}

#[test]
fn gc_never_repairs_damage_into_empty_files() {
    let (d, s) = store();
    let h = home(&s);
    let data = random_bytes(200_000, 1);
    h.write_all(&p("/x"), &data, WriteOptions::default())
        .unwrap();
    db(d.path()).execute("DELETE FROM chunks", []).unwrap();
    s.gc(false).unwrap();
    expect_corrupt(&s, "/x");
    assert_eq!(
        h.stat(&p("/x")).unwrap().size,
        200_000,
        "size is not rewritten"
    );
    assert!(!s.fsck(false, &mut |_, _| {}).unwrap().is_clean());
}

//! Many small writes at once: `Home::prepare_many` (one chunk-index lookup for a batch),
//! `Home::writer_in` (a known folder, no lookups) and `Home::mkdir_all_deferred` (folders
//! without an fsync each), as import uses them, and the committer's groups of small PUTs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{EngineError, Entry, Home, PreparedWrite, Store, StoreOptions, WriteOptions};
use nas_types::ContentHash;

fn read(h: &Home, path: &str) -> Vec<u8> {
    h.read_all(&p(path), None).unwrap()
}

/// `contents[i]` prepared as `dir/f{i:03}`, in one `prepare_many`.
fn prepare_files(h: &Home, dir: &Entry, contents: &[Vec<u8>]) -> Vec<PreparedWrite> {
    let items = contents
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = h
                .writer_in(dir, &format!("f{i:03}"), WriteOptions::default())
                .unwrap();
            (w, c.clone())
        })
        .collect();
    h.prepare_many(items)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn prepare_many_stores_each_content_once_and_dedups_against_the_store() {
    let (_d, s) = store();
    let h = home(&s);
    // already in the store before the batch: one content the batch repeats
    h.write_all(&p("/old.txt"), b"shared content", WriteOptions::default())
        .unwrap();
    let dir = h.mkdir_all_deferred(&p("/batch/sub")).unwrap();
    let mut contents: Vec<Vec<u8>> = (0..40)
        .map(|i| text_bytes(100 + i * 97, i as u64))
        .collect();
    contents.push(b"shared content".to_vec()); // present in the store: no new chunk
    contents.push(text_bytes(300, 7)); // a prefix of item 7: a chunk of its own
    contents.push(contents[3].clone()); // twice in one batch: read back right either way
    contents.push(Vec::new()); // empty: no chunk at all
    contents.push(random_bytes(100_000, 9)); // several chunks: looked up one by one
    let prepared = prepare_files(&h, &dir, &contents);
    let before = s.stats().unwrap().chunks;
    assert_eq!(
        before, 1,
        "nothing of the batch is in the index before its commit"
    );
    let versions = h.commit_batch(prepared).unwrap();
    assert_eq!(versions.len(), contents.len());
    for (v, c) in versions.iter().zip(&contents) {
        assert_eq!(
            v.hash,
            ContentHash::of(c),
            "content hash of a {}-byte file",
            c.len()
        );
        assert_eq!(v.size, c.len() as u64);
    }
    for (i, c) in contents.iter().enumerate() {
        assert_eq!(&read(&h, &format!("/batch/sub/f{i:03}")), c, "file {i}");
    }
    // every distinct content is one chunk row (the big one several), the shared one reused
    let distinct_small: std::collections::HashSet<&Vec<u8>> =
        contents[..44].iter().filter(|c| !c.is_empty()).collect();
    let chunks = s.stats().unwrap().chunks;
    assert!(
        chunks > distinct_small.len() as u64 && chunks <= distinct_small.len() as u64 + 16,
        "{chunks} chunks for {} distinct small contents plus one large file",
        distinct_small.len()
    );

    // a second batch of the same contents adds versions but no chunk and no pack bytes
    let packs = s.stats().unwrap().pack_bytes;
    let prepared = prepare_files(&h, &dir, &contents);
    let versions = h.commit_batch(prepared).unwrap();
    assert!(versions.iter().all(|v| v.num.0 == 2 || v.size == 0));
    assert_eq!(s.stats().unwrap().chunks, chunks);
    assert_eq!(s.stats().unwrap().pack_bytes, packs);
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn writer_in_a_folder_that_vanished_fails_its_commit_and_nothing_else() {
    let (_d, s) = store();
    let h = home(&s);
    let gone = h.mkdir_all_deferred(&p("/gone")).unwrap();
    let kept = h.mkdir_all_deferred(&p("/kept")).unwrap();
    let w = h
        .writer_in(&gone, "a.txt", WriteOptions::default())
        .unwrap();
    h.delete(&p("/gone")).unwrap();
    let mut prepared = h.prepare_many(vec![(w, b"lost".to_vec())]);
    let err = h.commit_batch(vec![prepared.pop().unwrap().unwrap()]);
    assert!(matches!(err, Err(EngineError::NotFound(_))), "{err:?}");
    let w = h
        .writer_in(&kept, "b.txt", WriteOptions::default())
        .unwrap();
    let ok = h.prepare_many(vec![(w, b"kept".to_vec())]);
    h.commit_batch(ok.into_iter().collect::<Result<_, _>>().unwrap())
        .unwrap();
    assert_eq!(read(&h, "/kept/b.txt"), b"kept");
    // a file is not a folder to write into, and a folder is not a file to overwrite
    let file = h.stat(&p("/kept/b.txt")).unwrap();
    assert!(matches!(
        h.writer_in(&file, "x", WriteOptions::default()),
        Err(EngineError::NotADirectory(_))
    ));
    let root = h.stat(&p("/")).unwrap();
    let w = h.writer_in(&root, "kept", WriteOptions::default()).unwrap();
    let prepared = h.prepare_many(vec![(w, b"x".to_vec())]);
    let err = h.commit_batch(prepared.into_iter().collect::<Result<_, _>>().unwrap());
    assert!(matches!(err, Err(EngineError::IsADirectory(_))), "{err:?}");
}

#[test]
fn deferred_folders_exist_after_reopen_once_a_commit_followed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let h = home(&s);
        let d = h.mkdir_all_deferred(&p("/a/b/c")).unwrap();
        assert_eq!(d.path, p("/a/b/c"));
        // existing folders are returned as they are, and a file on the way is refused
        assert_eq!(
            h.mkdir_all_deferred(&p("/a/b")).unwrap().id,
            h.stat(&p("/a/b")).unwrap().id
        );
        let w = h.writer_in(&d, "f", WriteOptions::default()).unwrap();
        let prepared = h.prepare_many(vec![(w, b"in c".to_vec())]);
        h.commit_batch(prepared.into_iter().collect::<Result<_, _>>().unwrap())
            .unwrap();
        assert!(matches!(
            h.mkdir_all_deferred(&p("/a/b/c/f/g")),
            Err(EngineError::NotADirectory(_))
        ));
        // folders made after the last commit are made durable on request
        h.mkdir_all_deferred(&p("/empty/at/the/end")).unwrap();
        h.sync_deferred().unwrap();
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = home(&s);
    assert_eq!(read(&h, "/a/b/c/f"), b"in c");
    assert!(h.stat(&p("/empty/at/the/end")).is_ok());
    // a plain mkdir after deferred ones is durable on its own, as always
    h.mkdir(&p("/a/plain")).unwrap();
    assert!(h.exists(&p("/a/plain")).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_of_small_puts_dedups_and_answers_each_write() {
    let (_d, s) = store();
    let h = home(&s);
    h.write_all(&p("/seed"), b"same small body", WriteOptions::default())
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u64 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = if i % 2 == 0 {
                b"same small body".to_vec()
            } else {
                text_bytes(1000 + i as usize, i)
            };
            let w = h
                .writer(&p(&format!("/put{i:02}")), WriteOptions::default())
                .unwrap();
            let v = w.commit_async(body.clone()).await.unwrap();
            (i, body, v)
        }));
    }
    for t in tasks {
        let (i, body, v) = t.await.unwrap();
        assert_eq!(v.size, body.len() as u64);
        assert_eq!(read(&h, &format!("/put{i:02}")), body);
    }
    // the 32 copies of the seed's body share its chunk: 1 + 32 distinct others
    assert_eq!(s.stats().unwrap().chunks, 33);
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

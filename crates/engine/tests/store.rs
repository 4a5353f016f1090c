//! The store as a whole: homes, settings that persist, group commits, metadata backup.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{Compression, EngineError, Store, StoreOptions, WriteOptions};
use std::io::Write;

#[test]
fn homes_are_separate_trees_with_valid_names() {
    let (_d, s) = store();
    let a = s.home("alice").unwrap();
    let b = s.home("bob").unwrap();
    a.write_all(&p("/f"), b"alice's", WriteOptions::default())
        .unwrap();
    assert!(!b.exists(&p("/f")).unwrap());
    assert_eq!(s.homes().unwrap(), vec!["alice", "bob"]);
    assert_eq!(a.name(), "alice");
    for bad in ["", "a/b", "x\ny"] {
        assert!(
            matches!(s.home(bad), Err(EngineError::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn compression_setting_persists_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_bytes(500_000, 1);
    {
        let s = Store::open(
            dir.path(),
            StoreOptions {
                compression: Some(Compression::Zstd(3)),
                ..Default::default()
            },
        )
        .unwrap();
        s.set_default_compression(Compression::Zstd(3)).unwrap();
        home(&s)
            .write_all(&p("/z"), &text, WriteOptions::default())
            .unwrap();
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.compression(), Compression::Zstd(3));
    let zstd_stored = s.stats().unwrap().stored_bytes;
    drop(s);
    let other = tempfile::tempdir().unwrap();
    let s2 = Store::open(other.path(), StoreOptions::default()).unwrap();
    assert_eq!(
        s2.compression(),
        Compression::Lz4,
        "a new store defaults to LZ4"
    );
    home(&s2)
        .write_all(&p("/z"), &text, WriteOptions::default())
        .unwrap();
    assert!(
        zstd_stored < s2.stats().unwrap().stored_bytes,
        "zstd shrinks text more than lz4"
    );
    let s3 = Store::open(
        tempfile::tempdir().unwrap().path(),
        StoreOptions {
            compression: Some(Compression::None),
            ..Default::default()
        },
    )
    .unwrap();
    home(&s3)
        .write_all(&p("/z"), &text, WriteOptions::default())
        .unwrap();
    let r = s3.stats().unwrap().compression_ratio;
    assert!(r > 0.99 && r <= 1.0, "stored raw (plus frame headers): {r}");
}

#[test]
fn group_commit_is_all_or_nothing() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir(&p("/gone")).unwrap();
    let mut w1 = h.writer(&p("/a"), WriteOptions::default()).unwrap();
    w1.write_all(b"first file").unwrap();
    let mut w2 = h.writer(&p("/gone/b"), WriteOptions::default()).unwrap();
    w2.write(b"second").unwrap();
    let (p1, p2) = (w1.prepare().unwrap(), w2.prepare().unwrap());
    assert_eq!(p1.size(), 10);
    h.delete(&p("/gone")).unwrap(); // the second file's folder disappears before commit
    assert!(matches!(
        h.commit_batch(vec![p1, p2]),
        Err(EngineError::NotFound(_))
    ));
    assert!(
        !h.exists(&p("/a")).unwrap(),
        "nothing of a failed group is visible"
    );
    // a good group commits every file
    let mut batch = Vec::new();
    for i in 0..20 {
        let mut w = h
            .writer(&p(&format!("/f{i}")), WriteOptions::default())
            .unwrap();
        w.write(&random_bytes(1000 + i, i as u64)).unwrap();
        batch.push(w.prepare().unwrap());
    }
    let vs = h.commit_batch(batch).unwrap();
    assert_eq!(vs.len(), 20);
    assert_eq!(h.read_all(&p("/f7"), None).unwrap(), random_bytes(1007, 7));
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn write_from_a_reader_and_version_at_a_time() {
    let (_d, s) = store();
    let h = home(&s);
    let data = random_bytes(1_500_000, 4);
    let v1 = h
        .write_from(&p("/r"), &data[..], WriteOptions::default())
        .unwrap();
    assert_eq!(v1.size, 1_500_000);
    let v2 = h
        .write_from(&p("/r"), &b"later"[..], WriteOptions::default())
        .unwrap();
    assert_eq!(
        h.version_at(&p("/r"), v1.created_ns).unwrap().unwrap().num,
        v1.num
    );
    assert_eq!(
        h.version_at(&p("/r"), v2.created_ns).unwrap().unwrap().num,
        v2.num
    );
    assert!(h.version_at(&p("/r"), v1.created_ns - 1).unwrap().is_none());
    assert!(matches!(
        h.versions(&p("/")),
        Err(EngineError::IsADirectory(_))
    ));
    assert!(matches!(
        h.open(&p("/"), None),
        Err(EngineError::IsADirectory(_))
    ));
}

#[test]
fn metadata_backup_is_consistent_and_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("meta-backup.sqlite");
    let content = random_bytes(400_000, 8);
    {
        let s = Store::open(&data, StoreOptions::default()).unwrap();
        home(&s)
            .write_all(&p("/keep.bin"), &content, WriteOptions::default())
            .unwrap();
        s.backup_meta(&backup).unwrap(); // while the store is open
        home(&s)
            .write_all(
                &p("/after.bin"),
                b"not in the backup",
                WriteOptions::default(),
            )
            .unwrap();
    }
    // the documented restore: replace the database (and drop its WAL) with the backup
    for f in ["meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(&backup, data.join("meta.sqlite")).unwrap();
    let s = Store::open(&data, StoreOptions::default()).unwrap();
    let h = home(&s);
    assert_eq!(h.read_all(&p("/keep.bin"), None).unwrap(), content);
    assert!(!h.exists(&p("/after.bin")).unwrap());
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
    // the chunks written after the backup are unindexed dead space; gc leaves live data alone
    s.gc(false).unwrap();
    assert_eq!(h.read_all(&p("/keep.bin"), None).unwrap(), content);
}

#[test]
fn dead_props_accounts_and_lock_table_through_the_facade() {
    use nas_engine::{DeadProp, LockRecord, PropOp, UserRecord};
    let (d, s) = store();
    let h = home(&s);
    h.write_all(&p("/f"), b"x", WriteOptions::default())
        .unwrap();
    assert!(
        h.props(&p("/f")).unwrap().is_empty(),
        "no dead property anywhere yet"
    );
    let prop = DeadProp {
        ns: "urn:a".into(),
        prefix: "a".into(),
        name: "n".into(),
        value: b"<a:n>1</a:n>".to_vec(),
    };
    h.patch_props(&p("/f"), &[PropOp::Set(prop.clone())])
        .unwrap();
    assert_eq!(h.props(&p("/f")).unwrap(), vec![prop.clone()]);
    h.copy(&p("/f"), &p("/g"), false).unwrap();
    assert_eq!(h.props(&p("/g")).unwrap(), vec![prop]);

    let acc = nas_engine::Accounts::open(d.path()).unwrap();
    acc.create(&UserRecord {
        name: "u".into(),
        password: "h".into(),
        role: "user".into(),
        quota: None,
        disabled: false,
        created_ns: 0,
        keep_versions: None,
        keep_days: None,
        sessions_epoch: 0,
    })
    .unwrap();
    assert_eq!(
        s.accounts().list().unwrap().len(),
        1,
        "both views share one database"
    );
    assert!(nas_engine::Accounts::open(&d.path().join("nowhere")).is_err());

    let locks = s.locks();
    assert!(locks.list(Some("u")).unwrap().is_empty());
    let rec = LockRecord {
        token: "t".into(),
        space: "u".into(),
        path: "/f".into(),
        href: "/dav/f".into(),
        principal: None,
        owner: None,
        shared: true,
        deep: false,
        timeout_ns: None,
        expires_ns: None,
        created_ns: 0,
    };
    locks.exclusive(|| locks.insert(&rec)).unwrap().unwrap();
    assert_eq!(locks.list(Some("u")).unwrap(), vec![rec.clone()]);
    // another process (the CLI) breaks it: seen at once
    assert!(
        nas_engine::LockTable::open(d.path())
            .unwrap()
            .remove("t")
            .unwrap()
    );
    assert!(locks.list(Some("u")).unwrap().is_empty());
    locks.insert(&rec).unwrap();
    assert!(locks.refresh("t", Some(1), Some(i64::MAX)).unwrap());
    locks.remove_below("u", "/").unwrap();
    assert!(locks.list(None).unwrap().is_empty());
}

#[test]
fn conditional_writes_are_checked_atomically_with_the_commit() {
    use nas_engine::Expect;
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/doc.txt");
    let expect = |e| WriteOptions {
        expect: Some(e),
        ..Default::default()
    };
    // create-only: the first succeeds, a second create-only fails
    h.write_all(&f, b"one", expect(Expect::Absent)).unwrap();
    assert!(matches!(
        h.write_all(&f, b"two", expect(Expect::Absent)),
        Err(EngineError::PreconditionFailed(_))
    ));
    let v1 = h.stat(&f).unwrap().version.unwrap();
    // a writer that saw v1, overtaken by another write before it commits, stores nothing
    let mut slow = h.writer(&f, expect(Expect::Head(v1))).unwrap();
    slow.write(b"slow").unwrap();
    h.write_all(&f, b"fast", WriteOptions::default()).unwrap();
    assert!(matches!(
        slow.commit(),
        Err(EngineError::PreconditionFailed(_))
    ));
    assert_eq!(h.read_all(&f, None).unwrap(), b"fast");
    let v2 = h.stat(&f).unwrap().version.unwrap();
    h.write_all(&f, b"next", expect(Expect::Head(v2))).unwrap();
    assert_eq!(h.read_all(&f, None).unwrap(), b"next");
    assert_eq!(h.versions(&f).unwrap().len(), 3, "one, fast, next");
}

#[test]
fn compose_shares_the_parts_chunks_and_hashes_the_whole() {
    let (_d, s) = store();
    let h = home(&s);
    let staging = s.home("staging").unwrap();
    let (a, b) = (random_bytes(300_000, 1), random_bytes(200_000, 2));
    staging
        .write_all(&p("/a"), &a, WriteOptions::default())
        .unwrap();
    staging
        .write_all(&p("/b"), &b, WriteOptions::default())
        .unwrap();
    let chunks_before = s.stats().unwrap().chunks;
    let parts = [
        staging.open(&p("/a"), None).unwrap(),
        staging.open(&p("/b"), None).unwrap(),
    ];
    let mut seen = 0usize;
    let c = h
        .compose(&p("/whole"), &parts, &mut |piece| seen += piece.len())
        .unwrap();
    assert_eq!(seen, a.len() + b.len(), "every byte goes past the tap");
    let whole = [a.clone(), b.clone()].concat();
    assert_eq!(c.hash().to_hex(), blake3::hash(&whole).to_hex().to_string());
    c.commit(WriteOptions::default()).unwrap();
    assert_eq!(h.read_all(&p("/whole"), None).unwrap(), whole);
    assert_eq!(
        s.stats().unwrap().chunks,
        chunks_before,
        "no chunk was written"
    );
    // the parts can go: the composed file keeps the chunks alive through GC
    staging.delete(&p("/a")).unwrap();
    staging.delete(&p("/b")).unwrap();
    staging.trash_purge_all().unwrap();
    s.gc(false).unwrap();
    assert_eq!(h.read_all(&p("/whole"), None).unwrap(), whole);
}

#[test]
fn find_content_looks_in_one_home_only_and_share_reads_nothing() {
    let (_d, s) = store();
    let alice = s.home("alice").unwrap();
    let bob = s.home("bob").unwrap();
    let data = random_bytes(400_000, 9);
    let v = alice
        .write_all(&p("/orig"), &data, WriteOptions::default())
        .unwrap();
    let size = data.len() as u64;
    assert!(
        bob.find_content(&v.hash, size).unwrap().is_none(),
        "bob's home has none"
    );
    assert!(alice.find_content(&v.hash, size + 1).unwrap().is_none());
    let found = alice.find_content(&v.hash, size).unwrap().unwrap();
    assert_eq!(found.version().hash, v.hash);
    let chunks_before = s.stats().unwrap().chunks;
    let c = alice.share(&p("/copy"), &found).unwrap();
    assert_eq!((c.size(), c.hash()), (size, v.hash));
    c.commit(WriteOptions::default()).unwrap();
    assert_eq!(alice.read_all(&p("/copy"), None).unwrap(), data);
    assert_eq!(s.stats().unwrap().chunks, chunks_before);
    // an old version and a trashed file still count: they are alice's
    alice
        .write_all(&p("/orig"), b"other", WriteOptions::default())
        .unwrap();
    alice.delete(&p("/copy")).unwrap();
    assert!(alice.find_content(&v.hash, size).unwrap().is_some());
}

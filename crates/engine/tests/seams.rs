//! The seams other implementations plug into: a store built from its parts
//! (`Store::from_parts`) works end to end, and the coordinator's pieces — pins honoured by
//! GC, keyed locks, hints, small state — do what `docs/design/coordination.md` says.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_blob::{BlobStore, LocalPackStore};
use nas_engine::coord::{Coordinator, Hint};
use nas_engine::{EngineError, LocalCoordinator, Store, StoreOptions, WriteOptions};
use nas_meta::{MetaStore, SqliteMeta};
use nas_types::{ChunkId, VersionNum};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

fn from_parts(dir: &std::path::Path) -> Store {
    let coord: Arc<dyn Coordinator> = Arc::new(LocalCoordinator::lock_dir(dir).unwrap());
    let meta: Arc<dyn MetaStore> = Arc::new(SqliteMeta::open(&dir.join("meta.sqlite")).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalPackStore::open(dir, 1 << 20).unwrap());
    Store::from_parts(dir, meta, blobs, coord, &StoreOptions::default()).unwrap()
}

/// A store over SQLite, local packs and the in-process coordinator given as parts: writes
/// read back, GC frees what is gone and nothing else, the coordinator holds the data
/// directory, and `Store::open` reads the same data afterwards.
#[test]
fn a_store_from_parts_writes_reads_and_collects_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let s = from_parts(dir.path());
    assert!(matches!(
        Store::open(dir.path(), StoreOptions::default()),
        Err(EngineError::Locked(_))
    ));
    let h = s.home("alice").unwrap();
    let (v1, v2) = (random_bytes(3 << 20, 1), random_bytes(2 << 20, 2));
    h.write_all(&p("/big"), &v1, WriteOptions::default())
        .unwrap();
    h.write_all(&p("/big"), &v2, WriteOptions::default())
        .unwrap();
    h.write_all(&p("/small"), b"hello", WriteOptions::default())
        .unwrap();
    assert_eq!(h.read_all(&p("/big"), None).unwrap(), v2);
    assert_eq!(h.read_all(&p("/big"), Some(VersionNum(1))).unwrap(), v1);
    let before = s.stats().unwrap().stored_bytes;
    h.delete_version(&p("/big"), VersionNum(1)).unwrap();
    let report = s.gc(false).unwrap();
    assert!(report.chunks_freed > 0, "{report:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(s.stats().unwrap().stored_bytes < before);
    assert_eq!(h.read_all(&p("/big"), None).unwrap(), v2);
    assert_eq!(h.read_all(&p("/small"), None).unwrap(), b"hello");
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
    drop((h, s));
    let again = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = again.home("alice").unwrap();
    assert_eq!(h.read_all(&p("/big"), None).unwrap(), v2);
    assert_eq!(h.versions(&p("/big")).unwrap().len(), 1);
}

/// A chunk pinned through the store's coordinator survives GC although nothing refers to
/// it; unpinned, the next GC frees it.
#[test]
fn gc_honours_pins_held_in_the_coordinator() {
    let (_d, s) = store();
    let h = home(&s);
    let content = b"a small file: one chunk";
    h.write_all(&p("/f"), content, WriteOptions::default())
        .unwrap();
    let id = ChunkId::of(content);
    s.coordinator().pin_chunks(&mut std::iter::once(&id));
    h.purge(&p("/f")).unwrap();
    let kept = s.gc(false).unwrap();
    assert_eq!((kept.chunks_freed, kept.chunks_pinned), (0, 1));
    s.coordinator().unpin(&mut std::iter::once(&id), &[]);
    let freed = s.gc(false).unwrap();
    assert_eq!((freed.chunks_freed, freed.chunks_pinned), (1, 0));
}

/// One holder per (scope, key): a second taker of the same key waits for the release;
/// another key, or the same key in another scope, does not wait.
#[test]
fn keyed_locks_exclude_per_key_within_a_scope() {
    let (_d, s) = store();
    let uploads = s.keyed_locks("uploads");
    let held = uploads.lock("a").unwrap();
    let (tx, rx) = mpsc::channel();
    let got = Arc::new(AtomicBool::new(false));
    std::thread::scope(|sc| {
        let (u, got2, tx2) = (uploads.clone(), got.clone(), tx.clone());
        sc.spawn(move || {
            let _g = u.lock("a").unwrap();
            got2.store(true, Ordering::SeqCst);
            tx2.send("a").unwrap();
        });
        let (u, other, tx3) = (uploads.clone(), s.keyed_locks("elsewhere"), tx);
        sc.spawn(move || {
            let _b = u.lock("b").unwrap();
            let _a = other.lock("a").unwrap();
            tx3.send("b and elsewhere/a").unwrap();
        });
        let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(first, "b and elsewhere/a", "not blocked by uploads/a");
        std::thread::sleep(Duration::from_millis(100));
        assert!(!got.load(Ordering::SeqCst), "uploads/a is held");
        drop(held);
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), "a");
    });
}

/// A hint starts unknown; an answer read before a creation is not recorded; a creation
/// makes it "some may exist". WebDAV locks and dead properties use it through the store.
#[test]
fn hints_never_record_an_answer_older_than_a_creation() {
    let dir = tempfile::tempdir().unwrap();
    let c = LocalCoordinator::unlocked(dir.path());
    let seen = c.hint(Hint::DeadProps);
    assert_eq!(seen.known, None);
    c.note_created(Hint::DeadProps); // a PROPPATCH while the reader queried
    c.settle_hint(Hint::DeadProps, seen.generation, false);
    assert_eq!(
        c.hint(Hint::DeadProps).known,
        Some(true),
        "stale answer ignored"
    );
    let now = c.hint(Hint::Locks);
    c.settle_hint(Hint::Locks, now.generation, false);
    assert_eq!(c.hint(Hint::Locks).known, Some(false));
    assert_eq!(
        c.hint(Hint::DeadProps).known,
        Some(true),
        "hints are separate"
    );
    // through the store: a set property is seen at once
    let (_d, s) = store();
    let h = home(&s);
    h.write_all(&p("/f"), b"x", WriteOptions::default())
        .unwrap();
    assert!(h.props(&p("/f")).unwrap().is_empty());
    assert_eq!(s.coordinator().hint(Hint::DeadProps).known, Some(false));
    let prop = nas_engine::DeadProp {
        ns: "urn:x".into(),
        prefix: "x".into(),
        name: "p".into(),
        value: b"<x:p>1</x:p>".to_vec(),
    };
    h.patch_props(&p("/f"), &[nas_engine::PropOp::Set(prop.clone())])
        .unwrap();
    assert_eq!(h.props(&p("/f")).unwrap(), [prop]);
}

/// Small state: a document reads back whole after replacement; a secret is made once
/// (mode 0600) and is the same for every later caller; names cannot leave the directory.
#[test]
fn small_state_is_replaced_whole_and_secrets_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let c = LocalCoordinator::unlocked(dir.path());
    assert_eq!(c.load_state("doc.json").unwrap(), None);
    c.store_state("doc.json", b"first").unwrap();
    c.store_state("doc.json", b"second, longer").unwrap();
    assert_eq!(
        c.load_state("doc.json").unwrap().unwrap(),
        b"second, longer"
    );
    let mode = std::fs::metadata(dir.path().join("doc.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let k = c.secret("key").unwrap();
    assert_eq!(
        LocalCoordinator::unlocked(dir.path())
            .secret("key")
            .unwrap(),
        k
    );
    assert_ne!(c.secret("other-key").unwrap(), k);
    for bad in ["", "..", "a/b", "../x", "lock"] {
        assert!(c.store_state(bad, b"x").is_err(), "{bad:?}");
        assert!(c.secret(bad).is_err(), "{bad:?}");
    }
    std::fs::write(dir.path().join("short"), b"123").unwrap();
    let e = c.secret("short").unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
}

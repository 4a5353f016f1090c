//! What the conformance suite leaves to the PostgreSQL store itself: its schema version
//! and migration, `backup`, calls from inside a tokio runtime, the quota under concurrent
//! writers (the isolation rule), and round trips: how many a walk, a window of chunk
//! lookups and the usage cost, and that they do not grow with the store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nas_blob::BlobLocation;
use nas_meta::{
    ChunkIndex, CommitRequest, FileAttrs, MetaError, MetaStore, Namespace, NewChunk, PgMeta,
    SCHEMA_VERSION, UserRecord, Users, Versions,
};
use nas_testkit::pg::TestPg;
use nas_types::{ChunkId, ContentHash, NodeId, PackId};

fn fresh() -> (String, PgMeta) {
    let url = TestPg::shared().fresh_db();
    let m = PgMeta::connect(&url).unwrap();
    (url, m)
}

const ONE: ChunkId = ChunkId([7; 32]);
const EXTENTS: &[(ChunkId, u32)] = &[(ONE, 1)];
const CHUNK: &[NewChunk] = &[NewChunk {
    id: ONE,
    raw_len: 1,
    codec: 0,
    loc: BlobLocation {
        pack: PackId(1),
        offset: 0,
        len: 1,
    },
    base: None,
    whole_len: 0,
    sketch: None,
}];

/// Commits `parent/name` claiming `size` bytes (one 1-byte chunk: the store does not check).
fn put(m: &PgMeta, parent: NodeId, name: &str, size: u64) -> Result<(), MetaError> {
    m.commit_version(&CommitRequest {
        expect: None,
        parent,
        name,
        path: "",
        extents: EXTENTS,
        new_chunks: CHUNK,
        size,
        hash: ContentHash::of(&size.to_le_bytes()),
        mtime_ns: 5,
        now_ns: 6,
        attrs: FileAttrs::default(),
        author: None,
        lock: Default::default(),
    })
    .map(|_| ())
}

fn account(m: &PgMeta, name: &str, quota: u64) {
    m.create_user(&UserRecord {
        name: name.into(),
        password: "$argon2id$x".into(),
        role: "user".into(),
        quota: Some(quota),
        disabled: false,
        created_ns: 1,
        keep_versions: None,
        keep_days: None,
        sessions_epoch: 0,
    })
    .unwrap();
}

#[test]
fn the_schema_is_made_once_recorded_and_a_newer_one_refused() {
    let (url, m) = fresh();
    let pg = TestPg::shared();
    assert_eq!(
        pg.psql(&url, "SELECT value FROM meta WHERE key = 'schema_version'"),
        SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        pg.psql(
            &url,
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"
        ),
        "1"
    );
    let h = m.create_home("a", "a", 0).unwrap();
    drop(m);
    // re-opening a migrated database changes nothing
    let m = PgMeta::connect(&url).unwrap();
    assert_eq!(m.home("a").unwrap().unwrap().root, h.root);
    drop(m);
    pg.psql(
        &url,
        "UPDATE meta SET value = value + 1 WHERE key = 'schema_version'",
    );
    match PgMeta::connect(&url) {
        Err(MetaError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[test]
fn two_stores_opening_a_new_database_at_once_migrate_it_once() {
    let url = TestPg::shared().fresh_db();
    let opened: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| PgMeta::connect(&url))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        opened.iter().all(Result::is_ok),
        "{:?}",
        opened
            .iter()
            .filter_map(|r| r.as_ref().err())
            .collect::<Vec<_>>()
    );
}

#[test]
fn backup_says_to_use_pg_dump_and_writes_nothing() {
    let (_url, m) = fresh();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("meta.backup");
    let e = m.backup(&dest).unwrap_err();
    assert!(
        matches!(e, MetaError::Invalid(_)) && e.to_string().contains("pg_dump"),
        "{e}"
    );
    assert!(!dest.exists());
}

#[test]
fn calls_work_from_a_runtime_worker_and_the_blocking_pool() {
    let (_url, m) = fresh();
    let m = std::sync::Arc::new(m);
    let h = m.create_home("a", "a", 0).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let m2 = m.clone();
    rt.block_on(async move {
        // on the runtime's own thread (a caller should not, but it must not panic)
        m2.mkdir(h.root, "from-async", 0).unwrap();
        let m3 = m2.clone();
        tokio::task::spawn_blocking(move || m3.mkdir(h.root, "from-blocking", 0).unwrap())
            .await
            .unwrap();
    });
    assert!(m.child(h.root, "from-async").unwrap().is_some());
    assert!(m.child(h.root, "from-blocking").unwrap().is_some());
}

/// Writers racing on one account from four stores (as four servers would: one store's
/// own writes take turns): exactly as many commits pass as the quota allows, and the
/// counters equal a recount — in a user's home (one counter row) and across two staging
/// homes of one account (a sum over rows no single update locks).
#[test]
fn concurrent_writers_never_take_an_account_over_its_quota() {
    let (url, m) = fresh();
    let stores: Vec<PgMeta> = (0..4).map(|_| PgMeta::connect(&url).unwrap()).collect();
    account(&m, "u", 100);
    for homes in [vec!["u"], vec![".a.u", ".b.u"]] {
        let roots: Vec<NodeId> = homes
            .iter()
            .map(|h| m.create_home(h, "u", 0).unwrap().root)
            .collect();
        let passed: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|t| {
                    let (m, roots) = (&stores[t % 4], &roots);
                    s.spawn(move || {
                        (0..5)
                            .filter(|i| {
                                let root = roots[(t + i) % roots.len()];
                                match put(m, root, &format!("f{t}-{i}"), 10) {
                                    Ok(()) => true,
                                    Err(MetaError::QuotaExceeded { .. }) => false,
                                    Err(e) => panic!("{e}"),
                                }
                            })
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(passed, 10, "{homes:?}: 10 files of 10 bytes fit in 100");
        let used: u64 = homes
            .iter()
            .map(|h| {
                m.usage(m.home(h).unwrap().unwrap().id)
                    .unwrap()
                    .current_bytes
            })
            .max()
            .unwrap();
        assert_eq!(used, 100, "{homes:?}");
        assert_eq!(m.check_usage().unwrap(), Vec::<String>::new());
        // make room for the next round
        for (h, root) in homes.iter().zip(&roots) {
            for n in m.list(*root, None, 1000).unwrap() {
                nas_meta::TrashStore::trash(&m, n.id, &format!("/{h}/{}", n.name), 1).unwrap();
            }
        }
    }
    let retries: u64 = stores.iter().map(PgMeta::retries).sum();
    eprintln!("quota race: {retries} retries between the stores");
}

/// A small commit and a stat cost the same number of round trips in an empty store and
/// in one with many files (the later cluster tests hold the whole server to this).
#[test]
fn round_trips_per_commit_and_stat_do_not_grow_with_the_store() {
    let (_url, m) = fresh();
    let h = m.create_home("a", "a", 0).unwrap();
    let cost = |m: &PgMeta, name: &str| {
        let before = m.queries();
        put(m, h.root, name, 3).unwrap();
        let commit = m.queries() - before;
        let before = m.queries();
        m.walk(h.root, &[name]).unwrap().unwrap();
        m.find_chunk(&ONE).unwrap().unwrap();
        (commit, m.queries() - before)
    };
    // prepares the statements (the second: those of a chunk already indexed)
    cost(&m, "warm-up");
    cost(&m, "warm-up-2");
    let small = cost(&m, "first");
    for i in 0..300 {
        put(&m, h.root, &format!("f{i}"), 3).unwrap();
    }
    let big = cost(&m, "last");
    assert_eq!(small, big, "(commit, stat) round trips");
    eprintln!(
        "round trips: a new small file's commit {}, a walk + chunk lookup {}",
        big.0, big.1
    );
}

/// A commit's new chunks cost round trips per 1,024 rows, not per chunk, and a commit
/// checks its folder and name in one statement (issue 17: a large PUT in cluster mode).
#[test]
fn a_commit_of_many_new_chunks_costs_round_trips_per_thousand_rows() {
    let (_url, m) = fresh();
    let h = m.create_home("a", "a", 0).unwrap();
    let d = m.mkdir(h.root, "d", 1).unwrap();
    let chunks = |from: u32, n: u32| -> Vec<NewChunk> {
        (from..from + n)
            .map(|i| NewChunk {
                id: ChunkId::of(&i.to_le_bytes()),
                loc: BlobLocation {
                    pack: PackId(1),
                    offset: u64::from(i),
                    len: 1,
                },
                ..CHUNK[0]
            })
            .collect()
    };
    let cost = |name: &str, new: &[NewChunk]| {
        let extents: Vec<(ChunkId, u32)> = new.iter().map(|c| (c.id, 1)).collect();
        let before = m.queries();
        m.commit_version(&CommitRequest {
            expect: None,
            parent: d.id,
            name,
            path: "",
            extents: &extents,
            new_chunks: new,
            size: extents.len() as u64,
            hash: ContentHash::of(name.as_bytes()),
            mtime_ns: 5,
            now_ns: 6,
            attrs: FileAttrs::default(),
            author: None,
            lock: Default::default(),
        })
        .unwrap();
        m.queries() - before
    };
    cost("warm-up", &chunks(0, 1)); // prepares the statements
    let one = cost("one", &chunks(10, 1));
    let many = cost("many", &chunks(100, 3_000));
    eprintln!("round trips: a commit of 1 new chunk {one}, of 3,000 {many}");
    assert!(
        one <= 10,
        "a small file's commit: {one} round trips (was 12)"
    );
    assert!(
        many <= one + 2 + 1, // two more insert statements, one preparation
        "a commit of 3,000 new chunks: {many} round trips (one of 1: {one})"
    );
}

/// A walk down a path of any depth, a window of chunk lookups and a home's usage each
/// cost one round trip: one statement, no transaction around it (issue 17's "fewer round
/// trips per request"; a walk was `BEGIN` + a `SELECT` per name + `COMMIT`).
#[test]
fn a_walk_a_window_of_chunks_and_the_usage_are_one_round_trip_each() {
    let (_url, m) = fresh();
    let h = m.create_home("a", "a", 0).unwrap();
    let mut dir = h.root;
    let mut names = Vec::new();
    for i in 0..6 {
        let name = format!("d{i}");
        dir = m.mkdir(dir, &name, 1).unwrap().id;
        names.push(name);
    }
    put(&m, dir, "f", 3).unwrap();
    names.push("f".into());
    let path: Vec<&str> = names.iter().map(String::as_str).collect();
    let row = m.find_chunk(&ONE).unwrap().unwrap().row;
    let rows = vec![row; 64];
    let cost = |f: &dyn Fn()| {
        f(); // prepares the statement on this connection
        let before = m.queries();
        f();
        m.queries() - before
    };
    let walk = || assert!(m.walk(h.root, &path).unwrap().is_some());
    let missing = || assert!(m.walk(h.root, &["d0", "nope", "f"]).unwrap().is_none());
    let through_a_file = || {
        assert!(
            m.walk(h.root, &[&path[..], &["x"]].concat())
                .unwrap()
                .is_none()
        )
    };
    let window = || assert_eq!(m.chunks(&rows).unwrap().len(), 64);
    let usage = || assert_eq!(m.usage(h.id).unwrap().current_bytes, 3);
    assert_eq!(cost(&walk), 1, "a walk of 7 names");
    assert_eq!(cost(&missing), 1, "a walk that stops at a gap");
    assert_eq!(cost(&through_a_file), 1, "a walk that stops at a file");
    assert_eq!(cost(&window), 1, "64 chunk lookups");
    assert_eq!(cost(&usage), 1, "the usage");
}

/// The consistency queries see damage the schema allows: a head that is no version of its
/// node, a negative reference count.
#[test]
fn integrity_check_reports_broken_heads_and_counts() {
    let (url, m) = fresh();
    let h = m.create_home("a", "a", 0).unwrap();
    put(&m, h.root, "f", 3).unwrap();
    assert_eq!(m.integrity_check().unwrap(), Vec::<String>::new());
    let pg = TestPg::shared();
    pg.psql(
        &url,
        "UPDATE nodes SET head = head + 1000 WHERE head IS NOT NULL",
    );
    pg.psql(&url, "UPDATE chunks SET refs = -1");
    let found = m.integrity_check().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("head") && found[1].contains("negative"),
        "{found:?}"
    );
}

/// Four stores (as four servers would) with two writer threads each commit into one home
/// and into homes of their own at once: serialization failures between the stores are
/// retried, never returned, and every file, version and counter is there afterwards.
#[test]
fn several_stores_writing_at_once_all_commit() {
    let url = TestPg::shared().fresh_db();
    let stores: Vec<PgMeta> = (0..4).map(|_| PgMeta::connect(&url).unwrap()).collect();
    let roots: Vec<NodeId> = (0..5)
        .map(|i| {
            stores[0]
                .create_home(&format!("h{i}"), "x", 0)
                .unwrap()
                .root
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..8usize {
            let (m, roots) = (&stores[t % 4], &roots);
            s.spawn(move || {
                for i in 0..25 {
                    // half into the shared home, half into the thread's store's own
                    let root = if i % 2 == 0 {
                        roots[0]
                    } else {
                        roots[1 + t % 4]
                    };
                    put(m, root, &format!("f{t}-{i}"), 1 + i as u64).unwrap();
                }
            });
        }
    });
    let m = &stores[0];
    let files: usize = roots
        .iter()
        .map(|r| m.list(*r, None, 1000).unwrap().len())
        .sum();
    assert_eq!(files, 200);
    assert_eq!(m.check_usage().unwrap(), Vec::<String>::new());
    assert_eq!(
        m.find_chunk(&ONE).unwrap().unwrap().refs,
        200,
        "one reference per version"
    );
    let retries: u64 = stores.iter().map(PgMeta::retries).sum();
    eprintln!("retries between the stores: {retries}");
}

/// Connections the server closed while idle (a restart, `pg_terminate_backend`) are
/// dropped from the pool, not handed to the next call.
#[test]
fn connections_closed_by_the_server_are_replaced() {
    let (url, m) = fresh();
    let h = m.create_home("a", "a", 0).unwrap();
    let db = url.rsplit('/').next().unwrap();
    let killed = TestPg::shared().psql(
        &url,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ),
    );
    assert_ne!(
        killed, "0",
        "the store's idle connection was there to close"
    );
    std::thread::sleep(std::time::Duration::from_millis(200)); // the socket's EOF is seen
    assert_eq!(m.home("a").unwrap().unwrap().root, h.root);
    m.mkdir(h.root, "after", 0).unwrap();
}

/// An advisory lock excludes holders in other stores (other nodes): `try_lock` of a held
/// key fails, `lock` waits until the holder drops it, other keys are free; the
/// connection it was held on goes back to the pool unlocked; a holder whose session ends
/// (its node died) releases it.
#[test]
fn advisory_locks_exclude_other_stores_and_end_with_their_holder() {
    use nas_meta::AdvisoryLocks;
    use std::sync::mpsc;
    use std::time::Duration;
    let (url, a) = fresh();
    let b = PgMeta::connect(&url).unwrap();
    let held = a.lock(7).unwrap();
    assert!(b.try_lock(7).unwrap().is_none(), "held by a");
    assert!(
        a.try_lock(7).unwrap().is_none(),
        "another session of a, too"
    );
    assert!(b.try_lock(8).unwrap().is_some(), "another key is free");
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let g = b.lock(7).unwrap();
        tx.send(()).unwrap();
        drop(g);
        b
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "lock waits while a holds the key"
    );
    drop(held);
    rx.recv_timeout(Duration::from_secs(10))
        .expect("lock returns once a drops the key");
    let b = waiter.join().unwrap();
    // every pooled connection is free of the lock: each try from a succeeds
    for _ in 0..4 {
        assert!(a.try_lock(7).unwrap().is_some());
    }
    // a holder whose connection ends (the node died) releases the key
    let _g = a.lock(9).unwrap();
    assert!(b.try_lock(9).unwrap().is_none());
    let db = url.rsplit('/').next().unwrap();
    TestPg::shared().psql(
        &url,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks l JOIN pg_stat_activity s
             USING (pid) WHERE l.locktype = 'advisory' AND s.datname = '{db}'"
        ),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        b.try_lock(9).unwrap().is_some(),
        "released with its session"
    );
}

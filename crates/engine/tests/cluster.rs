//! Several stores ("nodes") on one PostgreSQL database, each with its own data directory,
//! as cluster mode runs them: their coordinator (`ClusterCoordinator`) makes keyed locks
//! and worker leases exclude across nodes, shares the small state, and never trusts an
//! absence hint another node could have made stale.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use nas_engine::coord::Hint;
use nas_engine::workers::{LEASED_ELSEWHERE, Outcome, Worker, WorkerRunner};
use nas_engine::{MetaLocation, Store, StoreOptions};
use nas_testkit::pg::TestPg;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Two nodes on one fresh database (and their data directories, kept alive).
fn two_nodes() -> (tempfile::TempDir, Store, Store) {
    let url = TestPg::shared().fresh_db();
    let dirs = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        let opts = StoreOptions {
            meta: MetaLocation::parse(&url).unwrap(),
            ..StoreOptions::default()
        };
        Store::open(&dirs.path().join(name), opts).unwrap()
    };
    let (a, b) = (open("a"), open("b"));
    (dirs, a, b)
}

/// A key held on one node makes the same key wait on the other, and only that key.
#[test]
fn keyed_locks_exclude_across_nodes() {
    let (_d, a, b) = two_nodes();
    let (on_a, on_b) = (a.keyed_locks("s3-uploads"), b.keyed_locks("s3-uploads"));
    let tus_b = b.keyed_locks("tus-uploads");
    let held = on_a.lock("u1").unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|sc| {
        let waiter = on_b.clone();
        sc.spawn(move || {
            let _g = waiter.lock("u1").unwrap();
            tx.send(()).unwrap();
        });
        let _other = on_b.lock("u2").unwrap();
        let _elsewhere = tus_b.lock("u1").unwrap();
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "u1 is held on node a"
        );
        drop(held);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("u1 is taken on node b once a lets it go");
    });
}

/// One node at a time holds a worker's lease; it is free again once dropped.
#[test]
fn a_lease_is_held_by_one_node_at_a_time() {
    let (_d, a, b) = two_nodes();
    let held = a.coordinator().lease("gc").unwrap().expect("free");
    assert!(b.coordinator().lease("gc").unwrap().is_none(), "held on a");
    assert!(a.coordinator().lease("gc").unwrap().is_none(), "and on a");
    assert!(b.coordinator().lease("scrub").unwrap().is_some());
    drop(held);
    assert!(b.coordinator().lease("gc").unwrap().is_some());
}

/// Two nodes' runners with the same worker: while it runs on one, the other's turn is
/// skipped (and says so); afterwards the other runs it.
#[test]
fn a_worker_runs_on_one_node_at_a_time() {
    let (_d, a, b) = two_nodes();
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let ra = WorkerRunner::new(None).leased_by(a.coordinator().clone());
    ra.add(Worker::new("job", Duration::from_secs(3600), move |_| {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(Duration::from_secs(30)).ok();
        Ok(Outcome::summary("ran on a"))
    }))
    .unwrap();
    let rb = WorkerRunner::new(None).leased_by(b.coordinator().clone());
    rb.add(Worker::new("job", Duration::from_secs(3600), |_| {
        Ok(Outcome::summary("ran on b"))
    }))
    .unwrap();
    let summary = |r: &WorkerRunner| -> Option<String> {
        let st = r.states().remove(0);
        st.last_outcome.map(|o| o.summary)
    };
    let wait_for = |r: &WorkerRunner, runs: u64| {
        let until = Instant::now() + Duration::from_secs(20);
        while r.states()[0].runs < runs {
            assert!(Instant::now() < until, "run {runs} of the worker");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    ra.run_now("job").unwrap();
    started.recv_timeout(Duration::from_secs(20)).unwrap();
    rb.run_now("job").unwrap();
    wait_for(&rb, 1);
    assert_eq!(summary(&rb).as_deref(), Some(LEASED_ELSEWHERE));
    release.send(()).unwrap();
    wait_for(&ra, 1);
    assert_eq!(summary(&ra).as_deref(), Some("ran on a"));
    rb.run_now("job").unwrap();
    wait_for(&rb, 2);
    assert_eq!(summary(&rb).as_deref(), Some("ran on b"));
}

/// Secrets and documents are the same bytes on every node; a document's version moves
/// with each replacement; hints never claim that nothing exists.
#[test]
fn small_state_is_shared_and_hints_are_never_trusted() {
    let (_d, a, b) = two_nodes();
    let (ca, cb) = (a.coordinator(), b.coordinator());
    assert!(ca.shared() && cb.shared());
    let key = ca.secret("k").unwrap();
    assert_eq!(cb.secret("k").unwrap(), key, "one key signs on every node");
    assert_ne!(ca.secret("other").unwrap(), key);
    assert_eq!(cb.load_state("s").unwrap(), None);
    ca.store_state("s", b"one").unwrap();
    let v1 = cb.state_version("s").unwrap().unwrap();
    assert_eq!(cb.load_state("s").unwrap().as_deref(), Some(&b"one"[..]));
    cb.store_state("s", b"two").unwrap();
    assert!(ca.state_version("s").unwrap().unwrap() > v1);
    assert_eq!(ca.load_state("s").unwrap().as_deref(), Some(&b"two"[..]));
    let seen = cb.hint(Hint::Locks);
    cb.settle_hint(Hint::Locks, seen.generation, false);
    assert_eq!(cb.hint(Hint::Locks).known, None, "never settled to none");
}

/// A GC run on one node waits while another node's run holds GC's cluster lock (the lock
/// every run takes, a worker's and `silent-nas gc`'s alike), then runs.
#[test]
fn gc_runs_one_node_at_a_time() {
    let (_d, a, b) = two_nodes();
    let gc_runs = a.keyed_locks("gc");
    let held = gc_runs.lock("run").unwrap(); // as a's GC does for its run
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let report = b.gc(false).unwrap();
            tx.send(report.errors.len()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "b's GC waits for a's run"
        );
        drop(held);
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), 0);
    });
}

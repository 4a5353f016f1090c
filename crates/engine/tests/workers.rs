//! The maintenance workers on a real store: retention (with each user's own policy), trash
//! expiry, GC and scrub each do what the matching offline command does, report their
//! progress while they run and their outcome in their state, and a throttled scrub stops
//! at shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::workers::{
    GC, MaintenanceConfig, Outcome, Progress, ProgressUnit, RETENTION, SCRUB, SEARCH_INDEX, TRASH,
    WorkerObserver, WorkerRunner, WorkerState, maintenance_workers,
};
use nas_engine::{RetentionPolicy, Store, StoreOptions, UserRecord, UserRetention, WriteOptions};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

fn small_packs(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        StoreOptions {
            pack_size: 64 << 10,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Runs `name` now and waits (generously) for that run to finish.
fn run(r: &WorkerRunner, name: &str) -> WorkerState {
    let before = state(r, name).runs;
    r.run_now(name).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let st = state(r, name);
        if st.runs > before && !st.running {
            return st;
        }
        assert!(Instant::now() < until, "{name} did not finish: {st:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn state(r: &WorkerRunner, name: &str) -> WorkerState {
    r.states().into_iter().find(|s| s.name == name).unwrap()
}

fn all_on(keep_last: usize) -> MaintenanceConfig {
    MaintenanceConfig {
        gc_interval: Some(HOUR),
        retention: RetentionPolicy {
            keep_last: Some(keep_last),
            keep_within: None,
        },
        retention_interval: Some(HOUR),
        trash_retention: Some(Duration::ZERO),
        trash_interval: HOUR,
        scrub_interval: Some(HOUR),
        scrub_rate: None,
        search_index_interval: Some(HOUR),
    }
}

#[test]
fn retention_trash_gc_and_scrub_workers_do_their_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_packs(dir.path());
    let h = home(&s);
    for i in 0..3 {
        h.write_all(
            &p("/kept"),
            &random_bytes(200_000, i),
            WriteOptions::default(),
        )
        .unwrap();
    }
    h.write_all(
        &p("/gone"),
        &random_bytes(200_000, 9),
        WriteOptions::default(),
    )
    .unwrap();
    h.delete(&p("/gone")).unwrap();
    let r = WorkerRunner::new(None);
    for w in maintenance_workers(&s, &all_on(1)) {
        r.add(w).unwrap();
    }
    let names: Vec<_> = r.states().into_iter().map(|s| s.name).collect();
    assert_eq!(names, [GC, RETENTION, TRASH, SCRUB, SEARCH_INDEX]);

    let st = run(&r, RETENTION);
    assert_eq!(st.last_outcome.unwrap().items, 2, "{:?}", st.last_error);
    assert_eq!(h.versions(&p("/kept")).unwrap().len(), 1);

    let st = run(&r, TRASH);
    assert_eq!(st.last_outcome.unwrap().items, 1, "{:?}", st.last_error);
    assert!(h.trash_list().unwrap().is_empty());

    let packs_before = s.stats().unwrap().pack_bytes;
    let st = run(&r, GC);
    let freed = st.last_outcome.unwrap().freed_bytes;
    assert!(freed > 0, "{:?}", st.last_error);
    assert_eq!(s.stats().unwrap().pack_bytes, packs_before - freed);
    assert_eq!(
        h.read_all(&p("/kept"), None).unwrap(),
        random_bytes(200_000, 2)
    );

    let st = run(&r, SCRUB);
    let o = st.last_outcome.unwrap();
    assert_eq!(o.damage, 0, "{}", o.summary);
    assert_eq!(o.items, s.stats().unwrap().chunks);
    assert_eq!((st.runs, st.failures), (1, 0));
    r.stop();
}

#[test]
fn disabled_workers_are_not_added() {
    let (_d, s) = store();
    let none = MaintenanceConfig {
        gc_interval: None,
        retention: RetentionPolicy::default(),
        retention_interval: None,
        trash_retention: None,
        trash_interval: HOUR,
        scrub_interval: None,
        scrub_rate: None,
        search_index_interval: None,
    };
    assert!(maintenance_workers(&s, &none).is_empty());
    let default: Vec<_> = maintenance_workers(&s, &MaintenanceConfig::default())
        .iter()
        .map(|w| w.name().to_owned())
        .collect();
    assert_eq!(
        default,
        [GC, RETENTION, TRASH, SCRUB, SEARCH_INDEX],
        "retention runs without a server rule: accounts may have their own"
    );
}

/// The last progress each worker reported, and every unit it reported in.
#[derive(Default)]
struct Heard(Mutex<HashMap<String, (Progress, Vec<ProgressUnit>)>>);

impl WorkerObserver for Heard {
    fn progress(&self, name: &str, p: &Progress) {
        let mut m = self.0.lock().unwrap();
        let e = m.entry(name.to_owned()).or_insert((*p, Vec::new()));
        e.0 = *p;
        if !e.1.contains(&p.unit) {
            e.1.push(p.unit);
        }
    }
    fn finished(&self, _: &str, _: &WorkerState, _: &Result<Outcome, String>, _: Duration) {}
}

#[test]
fn each_maintenance_worker_reports_its_progress() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_packs(dir.path());
    let h = home(&s);
    for i in 0..4 {
        h.write_all(&p("/f"), &random_bytes(150_000, i), WriteOptions::default())
            .unwrap();
    }
    h.write_all(&p("/t"), &random_bytes(10_000, 7), WriteOptions::default())
        .unwrap();
    h.delete(&p("/t")).unwrap();
    let heard = Arc::new(Heard::default());
    let r = WorkerRunner::new(Some(heard.clone()));
    for w in maintenance_workers(&s, &all_on(1)) {
        r.add(w).unwrap();
    }
    let last = |name: &str| heard.0.lock().unwrap().get(name).cloned().unwrap();

    let stored = s.stats().unwrap().stored_bytes;
    let st = run(&r, SCRUB);
    assert_eq!(st.progress, None, "cleared at the end");
    let (p, units) = last(SCRUB);
    assert_eq!(units, [ProgressUnit::Bytes]);
    assert_eq!(p, Progress::new(stored, Some(stored), ProgressUnit::Bytes));

    run(&r, RETENTION);
    let (p, units) = last(RETENTION);
    assert_eq!(units, [ProgressUnit::Files, ProgressUnit::Versions]);
    assert_eq!(p, Progress::new(3, Some(3), ProgressUnit::Versions));

    run(&r, TRASH);
    let (p, units) = last(TRASH);
    assert_eq!(units, [ProgressUnit::Entries]);
    assert_eq!(p, Progress::new(1, Some(1), ProgressUnit::Entries));

    let st = run(&r, GC);
    let chunks = st.last_outcome.unwrap().items;
    assert!(chunks > 0);
    let (p, units) = last(GC);
    assert_eq!(units, [ProgressUnit::Chunks, ProgressUnit::Packs]);
    assert!(p.is_complete(), "{p:?}");
    r.stop();
}

fn account(name: &str, keep_versions: Option<u32>, keep_days: Option<u32>) -> UserRecord {
    UserRecord {
        name: name.into(),
        password: "$argon2id$x".into(),
        role: "user".into(),
        quota: None,
        disabled: false,
        created_ns: 0,
        keep_versions,
        keep_days,
        sessions_epoch: 0,
    }
}

#[test]
fn one_retention_run_applies_each_users_policy_to_their_home() {
    let (_d, s) = store();
    let accounts = s.accounts();
    // the server keeps 3 versions; alice keeps 1; bob keeps everything; carol follows the
    // server; dave keeps 10 days by age only (every version here is younger)
    accounts.create(&account("alice", Some(1), None)).unwrap();
    accounts.create(&account("bob", Some(0), Some(0))).unwrap();
    accounts.create(&account("carol", None, None)).unwrap();
    accounts
        .create(&account("dave", Some(0), Some(10)))
        .unwrap();
    let homes = ["alice", "bob", "carol", "dave", "not-a-user"];
    for name in homes {
        let h = s.home(name).unwrap();
        for i in 0..5 {
            h.write_all(&p("/f"), &random_bytes(1000, i), WriteOptions::default())
                .unwrap();
        }
    }
    let cfg = MaintenanceConfig {
        gc_interval: None,
        retention: RetentionPolicy {
            keep_last: Some(3),
            keep_within: None,
        },
        retention_interval: Some(HOUR),
        trash_retention: None,
        trash_interval: HOUR,
        scrub_interval: None,
        scrub_rate: None,
        search_index_interval: None,
    };
    let r = WorkerRunner::new(None);
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    let st = run(&r, RETENTION);
    assert_eq!(st.runs, 1);
    let left = |name: &str| {
        let h = s.home(name).unwrap();
        h.versions(&p("/f"))
            .unwrap()
            .iter()
            .map(|v| v.num.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(left("alice"), [5]);
    assert_eq!(left("bob"), [1, 2, 3, 4, 5]);
    assert_eq!(left("carol"), [3, 4, 5]);
    assert_eq!(left("dave"), [1, 2, 3, 4, 5]);
    assert_eq!(
        left("not-a-user"),
        [3, 4, 5],
        "homes without an account: the server's"
    );
    assert_eq!(st.last_outcome.unwrap().items, 4 + 2 + 2);
    // a change to an account applies at the next run, without a restart
    let mut bob = accounts.get("bob").unwrap().unwrap();
    UserRetention {
        keep_versions: Some(2),
        keep_days: None,
    }
    .store_in(&mut bob);
    accounts.update(&bob).unwrap();
    assert_eq!(accounts.get("bob").unwrap().unwrap().keep_versions, Some(2));
    run(&r, RETENTION);
    assert_eq!(left("bob"), [4, 5]);
    assert_eq!(left("alice"), [5]);
    r.stop();
}

#[test]
fn scrub_reports_damage_it_finds() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        home(&s)
            .write_all(&p("/f"), &random_bytes(100_000, 1), WriteOptions::default())
            .unwrap();
    }
    // flip a byte near the end of every pack: inside the last frame's payload
    for pack in walk(&dir.path().join("packs")) {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pack)
            .unwrap();
        let len = f.metadata().unwrap().len();
        let mut b = [0u8];
        f.read_exact_at(&mut b, len - 10).unwrap();
        f.write_all_at(&[b[0] ^ 0xff], len - 10).unwrap();
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let r = WorkerRunner::new(None);
    let cfg = MaintenanceConfig {
        gc_interval: None,
        trash_retention: None,
        ..MaintenanceConfig::default()
    };
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    let st = run(&r, SCRUB);
    let o = st.last_outcome.unwrap();
    assert!(o.damage >= 1, "{}", o.summary);
    assert!(o.summary.contains("/f"), "{}", o.summary);
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "pack") {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_throttled_scrub_stops_at_shutdown() {
    let (_d, s) = store();
    home(&s)
        .write_all(&p("/f"), &random_bytes(300_000, 3), WriteOptions::default())
        .unwrap();
    let r = WorkerRunner::new(None);
    let cfg = MaintenanceConfig {
        gc_interval: None,
        trash_retention: None,
        scrub_rate: Some(1), // one byte a second: the first chunk alone takes days
        ..MaintenanceConfig::default()
    };
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    r.run_now(SCRUB).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !state(&r, SCRUB).running {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(5));
    }
    r.stop();
    let st = state(&r, SCRUB);
    assert_eq!((st.runs, st.failures), (1, 1));
    assert!(st.last_error.unwrap().contains("interrupted"));
}

#[test]
fn schedules_survive_a_restart() {
    let (dir, s) = store();
    let cfg = MaintenanceConfig {
        gc_interval: Some(HOUR),
        trash_retention: None,
        scrub_interval: None,
        ..MaintenanceConfig::default()
    };
    // a fresh store: the first GC is one interval away
    let r = WorkerRunner::new(None);
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    let now = std::time::SystemTime::now();
    let next = state(&r, GC).next_run.unwrap();
    assert!(next > now + HOUR - Duration::from_secs(60), "{next:?}");
    r.stop();
    // GC last succeeded 30 minutes ago (as recorded by a previous run): due in about 30
    let db = rusqlite::Connection::open(dir.path().join("meta.sqlite")).unwrap();
    let set = |ago: Duration| {
        let at = nas_engine::now_ns() - ago.as_nanos() as i64;
        db.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('worker.gc.last_success_ns', ?1)",
            [at.to_string()],
        )
        .unwrap();
    };
    set(HOUR / 2);
    let r = WorkerRunner::new(None);
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    let now = std::time::SystemTime::now();
    let next = state(&r, GC).next_run.unwrap();
    assert!(next > now + Duration::from_secs(25 * 60) && next < now + Duration::from_secs(35 * 60));
    // a run records its end: the next runner counts from it
    let st = run(&r, GC);
    r.stop();
    let recorded: i64 = db
        .query_row(
            "SELECT value FROM settings WHERE key = 'worker.gc.last_success_ns'",
            [],
            |row| row.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let end = st
        .last_end
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!((recorded - end.as_nanos() as i64).abs() < 5_000_000_000);
    // overdue (two intervals ago): runs within a minute of start-up
    set(2 * HOUR);
    let r = WorkerRunner::new(None);
    for w in maintenance_workers(&s, &cfg) {
        r.add(w).unwrap();
    }
    let next = state(&r, GC).next_run.unwrap();
    assert!(next <= std::time::SystemTime::now() + Duration::from_secs(60));
}

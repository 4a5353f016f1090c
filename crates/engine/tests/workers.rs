//! The maintenance workers on a real store: retention, trash expiry, GC and scrub each do
//! what the matching offline command does, report it in their state, and a throttled scrub
//! stops at shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::workers::{
    GC, MaintenanceConfig, RETENTION, SCRUB, SEARCH_INDEX, TRASH, WorkerRunner, WorkerState,
    maintenance_workers,
};
use nas_engine::{RetentionPolicy, Store, StoreOptions, WriteOptions};
use std::os::unix::fs::FileExt;
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
        retention_interval: Some(HOUR),
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
        [GC, TRASH, SCRUB, SEARCH_INDEX],
        "retention is off by default"
    );
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

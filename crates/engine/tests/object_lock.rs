//! Object lock (WORM) in the engine: a version under a running retention or a legal hold
//! is refused to every destructive path — a version delete, a trash purge, emptying the
//! trash, trash expiry, retention pruning, lifecycle expiry, the empty-placeholder
//! replacement — while overwriting or deleting the file stays allowed; GC keeps its
//! chunks; compliance only lengthens, governance gives way to a bypass only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{
    EngineError, LifecycleRule, LockChange, ObjectLock, Retention, RetentionMode, RetentionPolicy,
    WriteOptions, now_ns,
};
use nas_types::VersionNum;
use std::time::Duration;

const HOUR_NS: i64 = 3_600_000_000_000;

fn retention(mode: RetentionMode, from_now_ns: i64) -> Retention {
    Retention {
        mode,
        until_ns: now_ns() + from_now_ns,
    }
}

fn locked(mode: RetentionMode) -> WriteOptions {
    WriteOptions {
        lock: ObjectLock {
            retention: Some(retention(mode, HOUR_NS)),
            legal_hold: false,
        },
        ..WriteOptions::default()
    }
}

fn is_retained<T: std::fmt::Debug>(r: Result<T, EngineError>) -> bool {
    matches!(r, Err(EngineError::Retained(_)))
}

#[test]
fn a_locked_version_cannot_be_deleted_but_the_file_can_be_overwritten_and_deleted() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/f");
    let v1 = h
        .write_all(&f, b"locked", locked(RetentionMode::Compliance))
        .unwrap();
    assert!(h.versions(&f).unwrap()[0].lock.is_locked(now_ns()));
    // an overwrite makes a new version; the locked one stays in the history
    let v2 = h.write_all(&f, b"new", WriteOptions::default()).unwrap();
    assert!(is_retained(h.delete_version(&f, v1.num)));
    assert!(
        is_retained(h.delete_version_bypassing_governance(&f, v1.num)),
        "compliance is not bypassed"
    );
    h.delete_version(&f, v2.num)
        .unwrap_or_else(|e| panic!("{e}"));
    h.write_all(&f, b"again", WriteOptions::default()).unwrap();
    // the file goes to the trash; the trash cannot be purged of it
    let t = h.delete(&f).unwrap();
    assert!(is_retained(h.trash_purge(t.id)));
    assert!(is_retained(h.trash_delete_version(t.id, v1.num)));
    let r = h.trash_purge_all().unwrap();
    assert_eq!((r.purged, r.retained), (0, 1));
    assert_eq!(s.expire_trash(Duration::ZERO).unwrap(), 0);
    assert_eq!(h.trash_list().unwrap().len(), 1, "the entry is still there");
    // GC frees nothing the locked version uses: it still reads back
    s.gc(false).unwrap();
    h.trash_restore(t.id, None).unwrap();
    assert_eq!(h.read_all(&f, Some(v1.num)).unwrap(), b"locked");
}

#[test]
fn governance_gives_way_to_a_bypass_and_a_legal_hold_to_nothing_but_its_lifting() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/g");
    let v1 = h
        .write_all(&f, b"one", locked(RetentionMode::Governance))
        .unwrap();
    h.write_all(&f, b"two", WriteOptions::default()).unwrap();
    assert!(is_retained(h.delete_version(&f, v1.num)));
    // shortening needs the bypass; lengthening does not
    let shorter = LockChange::Retention(Some(retention(RetentionMode::Governance, 60)));
    assert!(is_retained(h.set_version_lock(
        &f,
        Some(v1.num),
        shorter,
        false
    )));
    let longer = LockChange::Retention(Some(retention(RetentionMode::Governance, 2 * HOUR_NS)));
    h.set_version_lock(&f, Some(v1.num), longer, false).unwrap();
    // a legal hold stops even a bypass, until lifted
    h.set_version_lock(&f, Some(v1.num), LockChange::LegalHold(true), false)
        .unwrap();
    assert!(is_retained(
        h.delete_version_bypassing_governance(&f, v1.num)
    ));
    h.set_version_lock(&f, Some(v1.num), LockChange::LegalHold(false), false)
        .unwrap();
    h.delete_version_bypassing_governance(&f, v1.num).unwrap();
    assert_eq!(h.versions(&f).unwrap().len(), 1);
}

#[test]
fn compliance_only_lengthens_and_ends_at_its_date() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/c");
    let short = WriteOptions {
        lock: ObjectLock {
            retention: Some(retention(RetentionMode::Compliance, 1_500_000_000)),
            legal_hold: false,
        },
        ..WriteOptions::default()
    };
    let v1 = h.write_all(&f, b"one", short).unwrap();
    h.write_all(&f, b"two", WriteOptions::default()).unwrap();
    let none = LockChange::Retention(None);
    assert!(is_retained(h.set_version_lock(
        &f,
        Some(v1.num),
        none,
        true
    )));
    let gov = LockChange::Retention(Some(retention(RetentionMode::Governance, HOUR_NS)));
    assert!(is_retained(h.set_version_lock(&f, Some(v1.num), gov, true)));
    assert!(is_retained(h.delete_version(&f, v1.num)));
    // past its date the version is an ordinary one again
    std::thread::sleep(Duration::from_millis(1_600));
    h.delete_version(&f, v1.num).unwrap();
}

#[test]
fn retention_and_lifecycle_skip_locked_versions_and_retention_counts_them() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir(&p("/b")).unwrap();
    let f = p("/b/k");
    let v1 = h
        .write_all(&f, b"one", locked(RetentionMode::Governance))
        .unwrap();
    let v2 = h.write_all(&f, b"two", WriteOptions::default()).unwrap();
    h.write_all(&f, b"three", WriteOptions::default()).unwrap();
    let keep_one = RetentionPolicy {
        keep_last: Some(1),
        keep_within: None,
    };
    let plan = s.retention_plan(&keep_one).unwrap();
    assert_eq!(plan.retained, 1, "the locked version is counted");
    let planned: Vec<VersionNum> = plan.victims.iter().map(|v| v.2).collect();
    assert_eq!(planned, vec![v2.num]);
    assert_eq!(s.retention_execute(&plan).unwrap(), 1);
    // lifecycle: noncurrent versions expire at once (a 1 ns day), the locked one stays
    h.set_lifecycle(
        &p("/b"),
        &[LifecycleRule {
            enabled: true,
            noncurrent_days: Some(1),
            ..LifecycleRule::default()
        }],
    )
    .unwrap();
    let plan = s
        .lifecycle_plan(Duration::from_nanos(1), now_ns() + 1_000)
        .unwrap();
    s.lifecycle_execute(&plan).unwrap();
    let left: Vec<VersionNum> = h.versions(&f).unwrap().iter().map(|v| v.num).collect();
    assert_eq!(
        left.first(),
        Some(&v1.num),
        "the locked version outlives the rules"
    );
    assert_eq!(left.len(), 2);
}

#[test]
fn a_locked_empty_version_is_not_replaced_by_the_next_write() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/empty");
    let hold = WriteOptions {
        lock: ObjectLock {
            retention: None,
            legal_hold: true,
        },
        ..WriteOptions::default()
    };
    h.write_all(&f, b"", hold).unwrap();
    h.write_all(&f, b"content", WriteOptions::default())
        .unwrap();
    assert_eq!(
        h.versions(&f).unwrap().len(),
        2,
        "the held placeholder stays"
    );
    // without a lock the placeholder is replaced, as before
    let g = p("/plain");
    h.write_all(&g, b"", WriteOptions::default()).unwrap();
    h.write_all(&g, b"content", WriteOptions::default())
        .unwrap();
    assert_eq!(h.versions(&g).unwrap().len(), 1);
}

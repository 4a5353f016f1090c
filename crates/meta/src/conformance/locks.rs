//! Checks of object lock: a version under a running retention or a legal hold is refused
//! to every delete of the store (`Retained`), lock changes follow
//! [`crate::ObjectLock::may_become`], and a governance retention gives way to a bypass.

use super::{chunk, commit, refs};
use crate::{LockChange, MetaError, MetaStore, Retention, RetentionMode};
use nas_types::VersionNum;

const FAR: i64 = i64::MAX / 2;

fn retention(mode: RetentionMode, until_ns: i64) -> LockChange {
    LockChange::Retention(Some(Retention { mode, until_ns }))
}

fn retained<T: std::fmt::Debug>(r: Result<T, MetaError>) -> bool {
    matches!(r, Err(MetaError::Retained(_)))
}

/// A locked version cannot be deleted, nor its file purged from the trash; its chunks
/// keep their references; after its date (or with the hold lifted) it can.
pub fn locked_versions_are_never_deleted(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let v1 = commit(m, h.root, "f", &[chunk(1)]);
    commit(m, h.root, "f", &[chunk(2)]);
    let f = v1.node;
    let v = m
        .set_version_lock(
            f,
            VersionNum(1),
            retention(RetentionMode::Compliance, FAR),
            0,
            false,
        )
        .unwrap();
    assert!(v.lock.is_locked(0));
    assert_eq!(m.versions(f).unwrap()[0].lock, v.lock, "the lock is kept");
    assert!(retained(m.delete_version(f, VersionNum(1))));
    assert!(retained(
        m.delete_version_bypassing_governance(f, VersionNum(1))
    ));
    let t = m.trash(f, "/f", 1).unwrap();
    assert!(retained(m.trash_purge(t.id)));
    assert_eq!(refs(m, 1), Some(1), "its chunks stay referenced");
    assert_eq!(m.versions(f).unwrap().len(), 2, "nothing was deleted");
    // a hold alone protects too, until lifted; a retention in the past protects nothing
    let g = commit(m, h.root, "g", &[chunk(3)]).node;
    commit(m, h.root, "g", &[chunk(4)]);
    m.set_version_lock(g, VersionNum(1), LockChange::LegalHold(true), 0, false)
        .unwrap();
    assert!(retained(m.delete_version(g, VersionNum(1))));
    m.set_version_lock(g, VersionNum(1), LockChange::LegalHold(false), 0, false)
        .unwrap();
    m.set_version_lock(
        g,
        VersionNum(1),
        retention(RetentionMode::Compliance, 1),
        0,
        false,
    )
    .unwrap();
    m.delete_version(g, VersionNum(1)).unwrap();
}

/// Compliance only lengthens; governance shortens or goes only with the bypass, and a
/// delete with the bypass passes over it (not over a hold).
pub fn lock_changes_follow_the_modes(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let f = commit(m, h.root, "f", &[chunk(1)]).node;
    commit(m, h.root, "f", &[chunk(2)]);
    let one = VersionNum(1);
    m.set_version_lock(f, one, retention(RetentionMode::Compliance, FAR), 0, false)
        .unwrap();
    for (change, bypass) in [
        (retention(RetentionMode::Compliance, FAR - 1), true),
        (retention(RetentionMode::Governance, FAR + 1), true),
        (LockChange::Retention(None), true),
    ] {
        assert!(
            retained(m.set_version_lock(f, one, change, 0, bypass)),
            "{change:?}"
        );
    }
    m.set_version_lock(
        f,
        one,
        retention(RetentionMode::Compliance, FAR + 1),
        0,
        false,
    )
    .unwrap();
    let g = commit(m, h.root, "g", &[chunk(3)]).node;
    commit(m, h.root, "g", &[chunk(4)]);
    m.set_version_lock(g, one, retention(RetentionMode::Governance, FAR), 0, false)
        .unwrap();
    assert!(retained(m.set_version_lock(
        g,
        one,
        LockChange::Retention(None),
        0,
        false
    )));
    m.set_version_lock(g, one, LockChange::LegalHold(true), 0, false)
        .unwrap();
    assert!(retained(m.delete_version_bypassing_governance(g, one)));
    m.set_version_lock(g, one, LockChange::LegalHold(false), 0, false)
        .unwrap();
    assert!(retained(m.delete_version(g, one)));
    m.delete_version_bypassing_governance(g, one).unwrap();
    assert_eq!(m.versions(g).unwrap().len(), 1);
}

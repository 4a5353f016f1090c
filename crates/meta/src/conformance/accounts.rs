//! Account checks: users, S3 keys, app passwords, the sessions epoch; and the small
//! tables every door shares: dead properties, WebDAV locks, the audit log, settings.

use super::{chunk, commit};
use crate::{
    AppPasswordRecord, AuditQuery, AuditRecord, DeadProp, KeyRecord, LockRecord, MetaError,
    MetaStore, ObjectLock, PropOp, UserRecord,
};
use nas_types::NodeId;

pub(crate) fn user(name: &str) -> UserRecord {
    UserRecord {
        name: name.into(),
        password: "$argon2id$x".into(),
        role: "user".into(),
        quota: Some(10),
        disabled: false,
        created_ns: 1,
        keep_versions: None,
        keep_days: None,
        sessions_epoch: 0,
    }
}

fn audit_entry(i: i64, user: &str, door: &str) -> AuditRecord {
    AuditRecord {
        id: 0,
        time_ns: i * 1_000,
        user: Some(user.into()),
        door: door.into(),
        kind: "write".into(),
        client: Some("127.0.0.1".into()),
        method: "PUT".into(),
        path: format!("/dav/f{i}"),
        status: 201,
        destination: None,
        access_key: None,
    }
}

/// Users are created once, listed by name, updated and deleted; S3 keys are stored,
/// listed per user, revoked; deleting a user revokes their keys.
pub fn users_and_keys(m: &dyn MetaStore) {
    m.create_user(&user("ann")).unwrap();
    assert!(matches!(
        m.create_user(&user("ann")),
        Err(MetaError::Exists(_))
    ));
    m.create_user(&user("bob")).unwrap();
    assert_eq!(
        m.users()
            .unwrap()
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>(),
        vec!["ann", "bob"]
    );
    let mut u = m.user("ann").unwrap().unwrap();
    assert_eq!(u, user("ann"), "read back as stored");
    u.role = "readonly".into();
    u.quota = None;
    u.password = "$argon2id$y".into();
    u.keep_versions = Some(3);
    u.keep_days = Some(0);
    m.update_user(&u).unwrap();
    assert_eq!(m.user("ann").unwrap().unwrap(), u);
    assert!(matches!(
        m.update_user(&user("zed")),
        Err(MetaError::NotFound(_))
    ));
    let k = KeyRecord {
        access_key: "AK1".into(),
        secret: "s".into(),
        user: "bob".into(),
        created_ns: 2,
        revoked: false,
        name: Some("backup".into()),
        read_only: true, // read back as stored
    };
    m.create_key(&k).unwrap();
    assert_eq!(m.key("AK1").unwrap().unwrap(), k);
    assert_eq!(m.keys(Some("bob")).unwrap().len(), 1);
    assert_eq!(m.keys(Some("ann")).unwrap().len(), 0);
    assert_eq!(m.keys(None).unwrap().len(), 1);
    assert!(m.revoke_key("AK1").unwrap());
    assert!(m.key("AK1").unwrap().unwrap().revoked);
    assert!(!m.revoke_key("nope").unwrap());
    m.create_key(&KeyRecord {
        access_key: "AK2".into(),
        ..k.clone()
    })
    .unwrap();
    m.delete_user("bob").unwrap();
    assert!(matches!(m.delete_user("bob"), Err(MetaError::NotFound(_))));
    assert!(m.user("bob").unwrap().is_none());
    assert!(
        m.key("AK2").unwrap().unwrap().revoked,
        "a deleted user's keys are revoked"
    );
}

/// Disabling an account raises its sessions epoch, in the database (whoever disables it);
/// other changes, staying disabled and enabling do not, and `update_user` never writes it.
pub fn disabling_a_user_raises_the_sessions_epoch(m: &dyn MetaStore) {
    m.create_user(&user("ann")).unwrap();
    let mut u = m.user("ann").unwrap().unwrap();
    assert_eq!(u.quota, Some(10));
    u.disabled = true;
    m.update_user(&u).unwrap();
    u.sessions_epoch = 1; // disabling raises the sessions epoch, in the database
    assert_eq!(m.user("ann").unwrap().unwrap(), u);
    // other changes, staying disabled, and enabling do not; disabling again does
    m.update_user(&u).unwrap();
    u.disabled = false;
    m.update_user(&u).unwrap();
    assert_eq!(m.user("ann").unwrap().unwrap().sessions_epoch, 1);
    u.disabled = true;
    m.update_user(&u).unwrap();
    assert_eq!(m.user("ann").unwrap().unwrap().sessions_epoch, 2);
    u.sessions_epoch = 99; // not written by update_user
    m.update_user(&u).unwrap();
    assert_eq!(m.user("ann").unwrap().unwrap().sessions_epoch, 2);
    let mut fresh = user("new");
    fresh.sessions_epoch = 7; // not written by create_user either
    m.create_user(&fresh).unwrap();
    assert_eq!(m.user("new").unwrap().unwrap().sessions_epoch, 0);
}

/// App passwords are found by the hash of their secret (unique), listed per owner,
/// deleted only by their owner, touched on use, and go with their user.
pub fn app_passwords_are_found_by_hash_and_go_with_their_user(m: &dyn MetaStore) {
    m.create_user(&user("ann")).unwrap();
    let app = |id: &str, user: &str, h: u8| AppPasswordRecord {
        id: id.into(),
        user: user.into(),
        name: format!("{id} of {user}"),
        hash: [h; 32],
        read_only: h.is_multiple_of(2),
        created_ns: h as i64,
        last_used_ns: None,
    };
    m.create_app_password(&app("a1", "ann", 1)).unwrap();
    m.create_app_password(&app("a2", "ann", 2)).unwrap();
    m.create_app_password(&app("b1", "bob", 3)).unwrap();
    assert!(
        m.create_app_password(&app("a3", "ann", 1)).is_err(),
        "hash is unique"
    );
    assert_eq!(
        m.app_password_by_hash(&[2; 32]).unwrap(),
        Some(app("a2", "ann", 2))
    );
    assert_eq!(m.app_password_by_hash(&[9; 32]).unwrap(), None);
    let ids = |u: &str| -> Vec<String> {
        m.app_passwords(u)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(ids("ann"), ["a1", "a2"]);
    m.touch_app_password("a1", 77).unwrap();
    assert_eq!(m.app_passwords("ann").unwrap()[0].last_used_ns, Some(77));
    // only the owner's id is deleted
    assert!(!m.delete_app_password("ann", "b1").unwrap());
    assert!(m.delete_app_password("ann", "a2").unwrap());
    assert_eq!(ids("ann"), ["a1"]);
    // deleting a user takes their app passwords and revokes their keys
    m.create_key(&KeyRecord {
        access_key: "AK".into(),
        secret: "s".into(),
        user: "ann".into(),
        created_ns: 1,
        revoked: false,
        name: None,
        read_only: false,
    })
    .unwrap();
    m.delete_user("ann").unwrap();
    assert!(ids("ann").is_empty());
    assert!(m.key("AK").unwrap().unwrap().revoked);
    assert_eq!(ids("bob"), ["b1"]);
}

/// PROPPATCH operations apply in order in one call; `any_props` says whether any node has
/// one; copies copy them, purges drop them.
pub fn dead_props_apply_in_order_and_follow_copies(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let f = commit(m, h.root, "f", &[chunk(1)]);
    assert!(!m.any_props().unwrap());
    let prop = |v: &str| DeadProp {
        ns: "urn:x".into(),
        prefix: "x".into(),
        name: "p".into(),
        value: v.as_bytes().to_vec(),
    };
    m.patch_props(
        f.node,
        &[
            PropOp::Set(prop("1")),
            PropOp::Remove("urn:x".into(), "p".into()),
            PropOp::Set(prop("2")),
        ],
    )
    .unwrap();
    assert_eq!(m.props(f.node).unwrap(), vec![prop("2")]);
    assert!(m.any_props().unwrap());
    let c = m
        .copy(f.node, h.root, "g", None, 3, ObjectLock::default())
        .unwrap();
    assert_eq!(
        m.props(c.id).unwrap(),
        vec![prop("2")],
        "copies keep dead properties"
    );
    m.patch_props(f.node, &[PropOp::Remove("urn:x".into(), "p".into())])
        .unwrap();
    assert!(m.props(f.node).unwrap().is_empty());
    let t = m.trash(c.id, "/g", 4).unwrap();
    m.trash_purge(t.id).unwrap();
    assert!(m.props(c.id).unwrap().is_empty(), "purged with their node");
}

/// `child_props` answers the properties of the listed children of one folder at once, by
/// node then (namespace, name), and nothing of a node elsewhere, even when asked for it.
pub fn dead_props_of_a_folders_children_come_in_one_call(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let d = m.mkdir(h.root, "d", 1).unwrap();
    let a = commit(m, d.id, "a", &[chunk(1)]);
    let b = m.mkdir(d.id, "b", 2).unwrap();
    let c = commit(m, d.id, "c", &[chunk(2)]);
    let out = commit(m, h.root, "out", &[chunk(3)]);
    let prop = |ns: &str, name: &str, v: &str| DeadProp {
        ns: ns.into(),
        prefix: "x".into(),
        name: name.into(),
        value: v.as_bytes().to_vec(),
    };
    assert!(m.child_props(d.id, &[a.node, b.id]).unwrap().is_empty());
    assert!(m.child_props(d.id, &[]).unwrap().is_empty());
    let set = |node, props: &[DeadProp]| {
        let ops: Vec<PropOp> = props.iter().cloned().map(PropOp::Set).collect();
        m.patch_props(node, &ops).unwrap();
    };
    set(
        a.node,
        &[prop("urn:y", "p", "a2"), prop("urn:x", "q", "a1")],
    );
    set(b.id, &[prop("urn:x", "p", "b1")]);
    set(c.node, &[prop("urn:x", "p", "c1")]);
    set(out.node, &[prop("urn:x", "p", "out")]);
    let got = m
        .child_props(d.id, &[c.node, b.id, a.node, out.node, NodeId(i64::MAX)])
        .unwrap();
    let mut want = vec![
        (a.node, prop("urn:x", "q", "a1")),
        (a.node, prop("urn:y", "p", "a2")),
        (b.id, prop("urn:x", "p", "b1")),
        (c.node, prop("urn:x", "p", "c1")),
    ];
    want.sort_by_key(|(n, _)| *n); // by node (ids need not follow names)
    assert_eq!(
        got, want,
        "the children asked for, not a node of another folder"
    );
    for (n, p) in &want {
        assert!(m.props(*n).unwrap().contains(p), "the same as props()");
    }
    // only the children asked for
    assert_eq!(
        m.child_props(d.id, &[b.id]).unwrap(),
        vec![(b.id, prop("urn:x", "p", "b1"))]
    );
    // a node moved out of the folder is no longer its child
    m.rename(c.node, h.root, "c2", None).unwrap();
    assert_eq!(m.child_props(d.id, &[c.node]).unwrap(), vec![]);
    assert_eq!(m.child_props(h.root, &[c.node]).unwrap().len(), 1);
}

/// Expired locks are never returned; refresh moves an expiry; deleting below a path takes
/// that path and its descendants, not siblings sharing a prefix.
pub fn locks_expire_refresh_and_go_with_their_subtree(m: &dyn MetaStore) {
    let lock = |token: &str, path: &str, expires: Option<i64>| LockRecord {
        token: token.into(),
        space: "ann".into(),
        path: path.into(),
        href: format!("/dav{path}"),
        principal: Some("ann".into()),
        owner: Some(b"<owner/>".to_vec()),
        shared: false,
        deep: true,
        timeout_ns: expires.map(|e| e - 1),
        expires_ns: expires,
        created_ns: 1,
    };
    m.insert_lock(&lock("t1", "/a", Some(100))).unwrap();
    m.insert_lock(&lock("t2", "/a/b", None)).unwrap();
    m.insert_lock(&lock("t3", "/ab", Some(1_000))).unwrap();
    assert_eq!(m.locks(Some("ann"), 50).unwrap().len(), 3);
    assert_eq!(m.locks(Some("bob"), 50).unwrap().len(), 0);
    // t1 expired at 100: never returned, and deleted
    let live: Vec<_> = m
        .locks(None, 150)
        .unwrap()
        .into_iter()
        .map(|l| l.token)
        .collect();
    assert_eq!(live, vec!["t2", "t3"]);
    assert!(
        !m.refresh_lock("t1", Some(5), Some(500)).unwrap(),
        "gone for good"
    );
    assert!(m.refresh_lock("t3", Some(5), Some(5_000)).unwrap());
    assert_eq!(
        m.locks(None, 2_000).unwrap().len(),
        2,
        "refreshed past its old expiry"
    );
    // DELETE /a removes the locks on /a and below, not on /ab
    m.delete_locks_below("ann", "/a").unwrap();
    let live: Vec<_> = m
        .locks(None, 2_000)
        .unwrap()
        .into_iter()
        .map(|l| l.token)
        .collect();
    assert_eq!(live, vec!["t3"]);
    assert!(m.delete_lock("t3").unwrap());
    assert!(!m.delete_lock("t3").unwrap());
}

/// Appends prune to the newest `keep` and say how many went; pages run newest first
/// with filters and a cursor.
pub fn the_audit_log_keeps_the_newest_entries_and_pages_newest_first(m: &dyn MetaStore) {
    let mut pruned = Vec::new();
    for batch in 0..4 {
        let entries: Vec<_> = (0..10)
            .map(|i| {
                let n = batch * 10 + i;
                audit_entry(n, if n % 2 == 0 { "alice" } else { "bob" }, "webdav")
            })
            .collect();
        pruned.push(m.append_audit(&entries, 25).unwrap());
    }
    assert_eq!(
        pruned,
        [0, 0, 5, 10],
        "each append says how many it deleted"
    );
    assert_eq!(m.append_audit(&[], 25).unwrap(), 0);
    let all = m
        .audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 25, "pruned to the newest 25");
    assert_eq!(all[0].path, "/dav/f39", "newest first");
    assert_eq!(all[24].path, "/dav/f15");
    let page1 = m
        .audit(&AuditQuery {
            user: Some("alice".into()),
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page1.len(), 5);
    assert!(page1.iter().all(|e| e.user.as_deref() == Some("alice")));
    let page2 = m
        .audit(&AuditQuery {
            user: Some("alice".into()),
            before_id: Some(page1[4].id),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        page1.len() + page2.len(),
        12,
        "alice's 12 of the newest 25 (f16, f18 … f38)"
    );
    assert!(page2[0].id < page1[4].id);
    let window = m
        .audit(&AuditQuery {
            since_ns: Some(20_000),
            until_ns: Some(30_000),
            door: Some("webdav".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(window.len(), 10);
    let none = m
        .audit(&AuditQuery {
            door: Some("s3".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
}

/// A setting reads back what was last written; unknown keys are `None`. A fresh store's
/// own consistency check is clean.
pub fn settings_are_kept_and_replaced(m: &dyn MetaStore) {
    assert_eq!(m.setting("x").unwrap(), None);
    m.set_setting("x", "1").unwrap();
    m.set_setting("y", "").unwrap();
    m.set_setting("x", "two").unwrap();
    assert_eq!(m.setting("x").unwrap().as_deref(), Some("two"));
    assert_eq!(m.setting("y").unwrap().as_deref(), Some(""));
    assert_eq!(m.integrity_check().unwrap(), Vec::<String>::new());
}

/// A document reads back what was last stored, its version raised by each replacement;
/// creating one that exists keeps (and returns) the first bytes; names are apart.
pub fn documents_are_replaced_whole_and_created_once(m: &dyn MetaStore) {
    assert_eq!(m.document("a").unwrap(), None);
    assert_eq!(m.document_version("a").unwrap(), None);
    assert_eq!(m.put_document("a", b"one").unwrap(), 1);
    assert_eq!(m.put_document("a", b"two").unwrap(), 2);
    let d = m.document("a").unwrap().unwrap();
    assert_eq!((d.bytes.as_slice(), d.version), (&b"two"[..], 2));
    assert_eq!(m.document_version("a").unwrap(), Some(2));
    assert_eq!(m.create_document("k", b"first").unwrap(), b"first");
    assert_eq!(m.create_document("k", b"second").unwrap(), b"first");
    assert_eq!(m.document("k").unwrap().unwrap().version, 1);
    assert_eq!(m.put_document("empty", b"").unwrap(), 1);
    assert_eq!(m.document("empty").unwrap().unwrap().bytes, b"");
    assert_eq!(
        m.document("a").unwrap().unwrap().bytes,
        b"two",
        "names are apart"
    );
}

/// Failures are counted per key up to its cap (where the time of the last failure stops
/// moving), start again after the window, are read back with their age, forgiven one at a
/// time or cleared, and pruned after the window.
pub fn failures_are_counted_capped_forgiven_and_forgotten(m: &dyn MetaStore) {
    const HOUR: i64 = 3_600_000_000_000;
    let (a, b, c) = ([1u8; 16], [2u8; 16], [3u8; 16]);
    assert_eq!(m.failure_counts(&[a, b], HOUR).unwrap(), vec![None, None]);
    let n = |v: Vec<crate::FailureCount>| v.iter().map(|c| c.failures).collect::<Vec<_>>();
    assert_eq!(
        n(m.count_failures(&[(a, 3), (b, 10)], HOUR).unwrap()),
        [1, 1]
    );
    assert_eq!(
        n(m.count_failures(&[(a, 3), (b, 10)], HOUR).unwrap()),
        [2, 2]
    );
    assert_eq!(n(m.count_failures(&[(a, 3)], HOUR).unwrap()), [3]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let capped = m.count_failures(&[(a, 3)], HOUR).unwrap();
    assert_eq!(capped[0].failures, 3, "a count stays at its cap");
    assert!(
        capped[0].age_ns >= 15_000_000,
        "at the cap, the last failure's time does not move: {capped:?}"
    );
    let read = m.failure_counts(&[a, b, c], HOUR).unwrap();
    assert_eq!(read[0].map(|c| c.failures), Some(3));
    assert_eq!(read[1].map(|c| c.failures), Some(2));
    assert!(read[1].is_some_and(|c| (0..HOUR).contains(&c.age_ns)));
    assert_eq!(read[2], None);
    m.forgive(&b, &a).unwrap();
    let read = m.failure_counts(&[a, b], HOUR).unwrap();
    assert_eq!(read[0], None, "cleared");
    assert_eq!(read[1].map(|c| c.failures), Some(1), "one taken off");
    // a window shorter than the age of the last failure: the count is gone and starts again
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(m.failure_counts(&[b], 10_000_000).unwrap(), vec![None]);
    assert_eq!(n(m.count_failures(&[(b, 10)], 10_000_000).unwrap()), [1]);
    m.count_failures(&[(c, 5)], HOUR).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(m.prune_failures(10_000_000).unwrap(), 2);
    assert_eq!(m.failure_counts(&[b, c], HOUR).unwrap(), vec![None, None]);
}

/// A node's heartbeat records it (its age restarting at 0), tells of another instance that
/// had its name, forgets nodes silent for too long, and a node leaving removes only its
/// own record.
pub fn nodes_announce_themselves_and_leave(m: &dyn MetaStore) {
    const HOUR: i64 = 3_600_000_000_000;
    let node = |name: &str, instance: &str| crate::ClusterNode {
        name: name.into(),
        instance: instance.into(),
        version: "1.0".into(),
        address: format!("http://{name}:8080"),
        started_ns: 42,
        age_ns: 0,
    };
    assert!(m.nodes().unwrap().is_empty());
    assert_eq!(m.heartbeat(&node("b", "b1"), HOUR).unwrap(), None);
    assert_eq!(m.heartbeat(&node("a", "a1"), HOUR).unwrap(), None);
    assert_eq!(m.heartbeat(&node("a", "a1"), HOUR).unwrap(), None, "itself");
    let all = m.nodes().unwrap();
    assert_eq!(
        all.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(all[0].address, "http://a:8080");
    assert_eq!(all[0].started_ns, 42);
    assert!(all.iter().all(|n| (0..HOUR).contains(&n.age_ns)), "{all:?}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    // another process under the name "a": told who had it and how long ago it was heard
    let (was, age) = m.heartbeat(&node("a", "a2"), HOUR).unwrap().unwrap();
    assert_eq!(was, "a1");
    assert!(age >= 15_000_000, "{age}");
    assert!(!m.leave("a", "a1").unwrap(), "a1 no longer holds the name");
    // b, silent for longer than a short forget time, is dropped by a's next heartbeat
    std::thread::sleep(std::time::Duration::from_millis(20));
    m.heartbeat(&node("a", "a2"), 10_000_000).unwrap();
    assert_eq!(m.nodes().unwrap().len(), 1);
    assert!(m.leave("a", "a2").unwrap());
    assert!(m.nodes().unwrap().is_empty());
}

use crate::*;
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, PackId, VersionNum};

fn open() -> (tempfile::TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMeta::open(&dir.path().join("m.sqlite")).unwrap();
    (dir, m)
}

fn chunk(n: u8) -> NewChunk {
    NewChunk {
        id: ChunkId::of(&[n]),
        raw_len: 1,
        codec: 0,
        loc: BlobLocation {
            pack: PackId(1),
            offset: u64::from(n) * 100,
            len: 7,
        },
    }
}

fn commit(
    m: &SqliteMeta,
    parent: nas_types::NodeId,
    name: &str,
    chunks: &[NewChunk],
) -> VersionRecord {
    let extents: Vec<_> = chunks.iter().map(|c| (c.id, 1)).collect();
    m.commit_version(&CommitRequest {
        expect: None,
        parent,
        name,
        extents: &extents,
        new_chunks: chunks,
        size: chunks.len() as u64,
        hash: ContentHash::of(name.as_bytes()),
        mtime_ns: 5,
        now_ns: 6,
        attrs: FileAttrs::default(),
    })
    .unwrap()
}

#[test]
fn schema_is_current_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    SqliteMeta::open(&p)
        .unwrap()
        .create_home("a", "a", 0)
        .unwrap();
    let m = SqliteMeta::open(&p).unwrap();
    assert!(m.home("a").unwrap().is_some());
    assert!(m.integrity_check().unwrap().is_empty());
    let v: i64 = rusqlite::Connection::open(&p)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

/// A version-9 database (keys without `read_only`) is migrated: its keys stay and are
/// not read-only.
#[test]
fn keys_of_a_schema_9_database_survive_migration_as_read_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    SqliteMeta::open(&p)
        .unwrap()
        .create_key(&KeyRecord {
            access_key: "AKOLD".into(),
            secret: "s".into(),
            user: "bob".into(),
            created_ns: 1,
            revoked: false,
            name: None,
            read_only: true,
        })
        .unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(super::quota_tests::UNDO_SCHEMA_12).unwrap();
    c.execute_batch(
        "ALTER TABLE access_keys DROP COLUMN read_only;
         DROP TRIGGER users_disabled; ALTER TABLE users DROP COLUMN sessions_epoch;
         UPDATE meta SET value = 9 WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(c);
    let m = SqliteMeta::open(&p).unwrap();
    let k = m.key("AKOLD").unwrap().unwrap();
    assert_eq!((k.user.as_str(), k.read_only), ("bob", false));
    const { assert!(SCHEMA_VERSION >= 10) };
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.sqlite");
    drop(SqliteMeta::open(&p).unwrap());
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute("UPDATE meta SET value = 999 WHERE key='schema_version'", [])
        .unwrap();
    assert!(matches!(
        SqliteMeta::open(&p),
        Err(MetaError::TooNew { found: 999, .. })
    ));
}

#[test]
fn refs_follow_versions_copies_and_purges() {
    let (_d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    let a = commit(&m, h.root, "a", &[chunk(1), chunk(2)]);
    commit(&m, h.root, "a", &[chunk(2), chunk(3)]);
    let refs = |n: u8| m.find_chunk(&ChunkId::of(&[n])).unwrap().unwrap().refs;
    assert_eq!((refs(1), refs(2), refs(3)), (1, 2, 1));
    let copy = m.copy(a.node, h.root, "b", None, 7).unwrap();
    assert_eq!(copy.head.as_ref().unwrap().num, VersionNum(1));
    assert_eq!((refs(1), refs(2), refs(3)), (1, 3, 2));
    m.delete_version(a.node, VersionNum(1)).unwrap();
    assert_eq!((refs(1), refs(2), refs(3)), (0, 2, 2));
    assert!(matches!(
        m.delete_version(a.node, VersionNum(2)),
        Err(MetaError::Invalid(_))
    ));
    let t = m.trash(a.node, "/a", 9).unwrap();
    m.trash_purge(t.id).unwrap();
    assert_eq!((refs(2), refs(3)), (1, 1));
    let un = m.unreferenced_chunks(ChunkRow(0), 10).unwrap();
    assert_eq!(un.len(), 1);
    let gone = m.delete_unreferenced(&[un[0].row], &|_| false).unwrap();
    assert_eq!(gone.len(), 1);
    assert!(m.find_chunk(&ChunkId::of(&[1])).unwrap().is_none());
}

#[test]
fn rename_refuses_cycles_and_displaces() {
    let (_d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    let a = m.mkdir(h.root, "a", 0).unwrap();
    let b = m.mkdir(a.id, "b", 0).unwrap();
    assert!(matches!(
        m.rename(a.id, b.id, "x", None),
        Err(MetaError::Invalid(_))
    ));
    commit(&m, h.root, "f", &[chunk(1)]);
    let g = commit(&m, h.root, "g", &[chunk(2)]);
    assert!(matches!(
        m.rename(g.node, h.root, "f", None),
        Err(MetaError::Exists(_))
    ));
    let d = Displace {
        path: "/f".into(),
        now_ns: 1,
    };
    m.rename(g.node, h.root, "f", Some(&d)).unwrap();
    assert_eq!(m.trash_list(h.id).unwrap().len(), 1);
    assert_eq!(m.child(h.root, "f").unwrap().unwrap().id, g.node);
    assert_eq!(m.node_path(b.id).unwrap().unwrap(), "/a/b");
}

#[test]
fn backup_is_a_working_database() {
    let (d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    commit(&m, h.root, "f", &[chunk(1)]);
    let dest = d.path().join("copy.sqlite");
    m.backup(&dest).unwrap();
    let copy = SqliteMeta::open(&dest).unwrap();
    let h2 = copy.home("h").unwrap().unwrap();
    assert!(copy.child(h2.root, "f").unwrap().is_some());
}

fn user(name: &str) -> UserRecord {
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

#[test]
fn users_and_keys() {
    let (_d, m) = open();
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
    assert_eq!(u.quota, Some(10));
    u.role = "readonly".into();
    u.quota = None;
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
    m.delete_user("bob").unwrap();
    assert!(matches!(m.delete_user("bob"), Err(MetaError::NotFound(_))));
    assert!(m.user("bob").unwrap().is_none());
}

#[test]
fn app_passwords_are_found_by_hash_and_go_with_their_user() {
    let (_d, m) = open();
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

#[test]
fn dead_props_apply_in_order_and_follow_copies() {
    let (_d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    let f = commit(&m, h.root, "f", &[chunk(1)]);
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
    let c = m.copy(f.node, h.root, "g", None, 3).unwrap();
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

#[test]
fn locks_expire_refresh_and_go_with_their_subtree() {
    let (_d, m) = open();
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

#[test]
fn the_audit_log_keeps_the_newest_entries_and_pages_newest_first() {
    let (_d, m) = open();
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

#[test]
fn sorted_listings_page_every_child_once_in_order() {
    let (_d, m) = open();
    let h = m.create_home("h", "h", 0).unwrap();
    let chunks: Vec<NewChunk> = (0..4).map(chunk).collect();
    for i in 0..40u32 {
        // sizes 0..=3 (many ties), names not in size order
        let name = format!("f{:02}", (i * 17) % 40);
        commit(&m, h.root, &name, &chunks[..(i % 4) as usize]);
    }
    for (i, name) in ["d1", "zz", "a"].iter().enumerate() {
        m.mkdir(h.root, name, 100 + i as i64).unwrap();
    }
    let all = m.list(h.root, None, 1000).unwrap();
    assert_eq!(all.len(), 43);
    let value = |n: &NodeRecord, key: ListKey| match key {
        ListKey::Name => 0,
        ListKey::Size => n.head.as_ref().map_or(0, |v| v.size as i64),
        ListKey::Mtime => n.head.as_ref().map_or(n.mtime_ns, |v| v.mtime_ns),
    };
    for key in [ListKey::Name, ListKey::Size, ListKey::Mtime] {
        for desc in [false, true] {
            let mut want: Vec<(i64, String)> = all
                .iter()
                .map(|n| (value(n, key), n.name.clone()))
                .collect();
            want.sort();
            if desc {
                want.reverse();
            }
            let mut got = Vec::new();
            let mut after: Option<(i64, String)> = None;
            loop {
                let page = m
                    .list_sorted(
                        h.root,
                        key,
                        desc,
                        after.as_ref().map(|(v, n)| (*v, n.as_str())),
                        7,
                    )
                    .unwrap();
                got.extend(page.iter().map(|n| (value(n, key), n.name.clone())));
                if page.len() < 7 {
                    break;
                }
                let last = page.last().unwrap();
                after = Some((value(last, key), last.name.clone()));
            }
            assert_eq!(got, want, "{key:?} desc={desc}");
        }
    }
}

#[test]
fn walk_follows_folders_and_stops_at_files_and_gaps() {
    let (_d, m) = open();
    let h = m.create_home("w", "w", 0).unwrap();
    let a = m.mkdir(h.root, "a", 1).unwrap();
    let b = m.mkdir(a.id, "b", 1).unwrap();
    commit(&m, b.id, "f", &[chunk(1)]);
    commit(&m, a.id, "file", &[chunk(2)]);
    assert_eq!(m.walk(h.root, &[]).unwrap().unwrap().id, h.root);
    assert_eq!(m.walk(h.root, &["a"]).unwrap().unwrap().id, a.id);
    let f = m.walk(h.root, &["a", "b", "f"]).unwrap().unwrap();
    assert_eq!((f.name.as_str(), f.kind), ("f", NodeKind::File));
    assert!(m.walk(h.root, &["a", "missing", "f"]).unwrap().is_none());
    assert!(m.walk(h.root, &["a", "b", "g"]).unwrap().is_none());
    // a file in the middle of a path is not a folder to walk through
    assert!(m.walk(h.root, &["a", "file", "f"]).unwrap().is_none());
    assert!(m.walk(h.root, &["a", "file", "file"]).unwrap().is_none());
}

#[test]
fn chunk_ids_by_row_in_order_with_gaps() {
    let (_d, m) = open();
    let h = m.create_home("c", "c", 0).unwrap();
    commit(&m, h.root, "f", &[chunk(1), chunk(2)]);
    let a = m.find_chunk(&chunk(1).id).unwrap().unwrap().row;
    let b = m.find_chunk(&chunk(2).id).unwrap().unwrap().row;
    let got = m.chunk_ids(&[b, ChunkRow(999_999), a]).unwrap();
    assert_eq!(got, vec![Some(chunk(2).id), None, Some(chunk(1).id)]);
}

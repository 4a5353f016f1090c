//! Version checks: commits (alone, grouped, conditional, racing), empty heads, restore,
//! deletion, lookup by content hash, retention's list and fsck's scan.

use super::{chunk, commit, content_hash, refs, req};
use crate::{Expect, MetaError, MetaStore, NodeKind, ObjectLock, Retention, RetentionMode};
use nas_types::{ContentHash, VersionNum};

/// The first commit creates the file at version 1, each next one appends a version and
/// moves the head; a version's extents carry offsets (prefix sums of the lengths).
pub fn commits_create_files_and_append_versions(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let (a, b) = (chunk(1), chunk(2));
    let ext = [(a.id, 10), (b.id, 20), (a.id, 10)];
    let new = [a, b];
    let mut r = req(h.root, "f", &ext, &new);
    r.mtime_ns = 111;
    r.now_ns = 222;
    r.attrs.content_type = Some("text/plain".into());
    let v1 = m.commit_version(&r).unwrap();
    assert_eq!(
        (v1.num, v1.size, v1.mtime_ns, v1.created_ns),
        (VersionNum(1), 40, 111, 222)
    );
    assert_eq!(v1.hash, content_hash(&ext));
    assert_eq!(v1.attrs.content_type.as_deref(), Some("text/plain"));
    let node = m.node(v1.node).unwrap().unwrap();
    assert_eq!(
        (node.kind, node.parent, node.head),
        (NodeKind::File, Some(h.root), Some(v1.clone()))
    );
    let (head, extents) = m.version(v1.node, None).unwrap().unwrap();
    assert_eq!(head, v1);
    let offsets: Vec<_> = extents.iter().map(|e| (e.offset, e.len)).collect();
    assert_eq!(offsets, [(0, 10), (10, 20), (30, 10)]);
    assert_eq!(
        extents[0].chunk, extents[2].chunk,
        "one row per distinct chunk"
    );
    assert_eq!(
        refs(m, 1),
        Some(2),
        "a chunk used twice is referenced twice"
    );
    let v2 = commit(m, h.root, "f", &[chunk(3)]);
    assert_eq!((v2.node, v2.num), (v1.node, VersionNum(2)));
    let nums: Vec<_> = m
        .versions(v1.node)
        .unwrap()
        .iter()
        .map(|v| v.num.0)
        .collect();
    assert_eq!(nums, [1, 2], "oldest first");
    assert_eq!(
        m.version(v1.node, Some(VersionNum(1))).unwrap().unwrap().0,
        v1
    );
    assert_eq!(m.version(v1.node, None).unwrap().unwrap().0, v2);
    assert!(m.version(v1.node, Some(VersionNum(9))).unwrap().is_none());
    // where a commit cannot go
    let d = m.mkdir(h.root, "d", 0).unwrap();
    assert!(matches!(
        m.commit_version(&req(h.root, "d", &[], &[])),
        Err(MetaError::IsADirectory(_))
    ));
    assert!(matches!(
        m.commit_version(&req(v1.node, "x", &[], &[])),
        Err(MetaError::NotADirectory(_))
    ));
    m.trash(d.id, "/d", 1).unwrap();
    assert!(matches!(
        m.commit_version(&req(d.id, "x", &[], &[])),
        Err(MetaError::NotFound(_))
    ));
    // an extent naming a chunk that is neither indexed nor new is refused
    let stray = [(chunk(99).id, 1)];
    assert!(
        m.commit_version(&req(h.root, "stray", &stray, &[]))
            .is_err()
    );
    assert!(m.child(h.root, "stray").unwrap().is_none());
}

/// Several commits in one call are one transaction: one failure and none is visible, none
/// of their new chunks is indexed.
pub fn a_group_commit_is_all_or_none(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let file = commit(m, h.root, "file", &[chunk(1)]);
    let (c2, c3) = (chunk(2), chunk(3));
    let (e2, e3) = ([(c2.id, 1)], [(c3.id, 1)]);
    let (n2, n3) = ([c2], [c3]);
    let bad = [
        req(h.root, "a", &e2, &n2),
        req(h.root, "b", &e3, &n3),
        req(file.node, "c", &e3, &[]), // a file is no folder
    ];
    assert!(m.commit_versions(&bad).is_err());
    assert!(m.child(h.root, "a").unwrap().is_none());
    assert!(m.child(h.root, "b").unwrap().is_none());
    assert_eq!((refs(m, 2), refs(m, 3)), (None, None));
    let mut exists = req(h.root, "file", &e2, &n2);
    exists.expect = Some(Expect::Absent);
    assert!(matches!(
        m.commit_versions(&[req(h.root, "a", &e2, &n2), exists]),
        Err(MetaError::Precondition(_))
    ));
    assert!(m.child(h.root, "a").unwrap().is_none());
    let good = [
        req(h.root, "a", &e2, &n2),
        req(h.root, "b", &e3, &n3),
        req(h.root, "a", &e3, &[]), // the same file twice: two versions, in order
    ];
    let out = m.commit_versions(&good).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!((out[0].node, out[0].num.0), (out[2].node, 1));
    assert_eq!(out[2].num.0, 2);
    assert_eq!((refs(m, 2), refs(m, 3)), (Some(1), Some(2)));
}

/// `Expect::Absent` and `Expect::Head` are checked inside the commit; when one fails
/// nothing is written.
pub fn expectations_are_checked_inside_the_commit(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let c = chunk(1);
    let e = [(c.id, 1)];
    let with = |expect| {
        let new = [c];
        let mut r = req(h.root, "f", &e, &new);
        r.expect = Some(expect);
        m.commit_version(&r)
    };
    assert!(matches!(
        with(Expect::Head(VersionNum(1))),
        Err(MetaError::Precondition(_))
    ));
    assert_eq!(refs(m, 1), None, "nothing written");
    let v1 = with(Expect::Absent).unwrap();
    assert!(matches!(
        with(Expect::Absent),
        Err(MetaError::Precondition(_))
    ));
    assert!(matches!(
        with(Expect::Head(VersionNum(2))),
        Err(MetaError::Precondition(_))
    ));
    assert_eq!(m.versions(v1.node).unwrap().len(), 1);
    assert_eq!(refs(m, 1), Some(1));
    let v2 = with(Expect::Head(VersionNum(1))).unwrap();
    assert_eq!(v2.num, VersionNum(2));
    assert!(matches!(
        with(Expect::Head(VersionNum(1))),
        Err(MetaError::Precondition(_))
    ));
    m.mkdir(h.root, "d", 0).unwrap();
    let mut r = req(h.root, "d", &[], &[]);
    r.expect = Some(Expect::Absent);
    assert!(
        matches!(m.commit_version(&r), Err(MetaError::Precondition(_))),
        "a folder is there"
    );
}

/// Eight threads commit the same new name with `Expect::Absent`: exactly one succeeds.
pub fn concurrent_absent_commits_admit_exactly_one(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u32)
            .map(|i| {
                s.spawn(move || {
                    let c = chunk(100 + i);
                    let e = [(c.id, 1)];
                    let new = [c];
                    let mut r = req(h.root, "race", &e, &new);
                    r.expect = Some(Expect::Absent);
                    m.commit_version(&r).map(|_| i)
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(MetaError::Precondition(_))),
            "{r:?}"
        );
    }
    let f = m.child(h.root, "race").unwrap().unwrap();
    assert_eq!(m.versions(f.id).unwrap().len(), 1);
    assert_eq!(refs(m, 100 + *won[0]), Some(1));
}

/// An empty head version is never kept as history: the next commit replaces it (clients
/// create a 0-byte file, then write it). An empty version after content is kept.
pub fn an_empty_head_is_replaced_not_kept(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let empty = m.commit_version(&req(h.root, "f", &[], &[])).unwrap();
    assert_eq!(empty.size, 0);
    let full = commit(m, h.root, "f", &[chunk(1)]);
    assert_eq!(full.node, empty.node);
    let vs = m.versions(full.node).unwrap();
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0], full);
    assert!(full.num > empty.num, "version numbers are never reused");
    let again = m.commit_version(&req(h.root, "f", &[], &[])).unwrap();
    assert_eq!(
        m.versions(full.node).unwrap().len(),
        2,
        "content is history"
    );
    let last = commit(m, h.root, "f", &[chunk(2)]);
    let nums: Vec<_> = m
        .versions(full.node)
        .unwrap()
        .iter()
        .map(|v| v.num)
        .collect();
    assert_eq!(nums, [full.num, last.num]);
    assert!(last.num > again.num);
}

/// `restore_version` appends a new version with the old one's content (its chunks gain a
/// reference), timed now.
pub fn restore_makes_an_old_version_the_newest(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let v1 = commit(m, h.root, "f", &[chunk(1), chunk(2)]);
    commit(m, h.root, "f", &[chunk(3)]);
    let v3 = m
        .restore_version(v1.node, VersionNum(1), 999, None, ObjectLock::default())
        .unwrap();
    assert_eq!(
        (v3.num, v3.size, v3.hash),
        (VersionNum(3), v1.size, v1.hash)
    );
    assert_eq!((v3.created_ns, v3.mtime_ns), (999, 999));
    assert_eq!(m.node(v1.node).unwrap().unwrap().head, Some(v3.clone()));
    let (_, ext) = m.version(v1.node, None).unwrap().unwrap();
    let (_, old) = m.version(v1.node, Some(VersionNum(1))).unwrap().unwrap();
    assert_eq!(ext, old);
    assert_eq!(
        (refs(m, 1), refs(m, 2), refs(m, 3)),
        (Some(2), Some(2), Some(1))
    );
    assert!(matches!(
        m.restore_version(v1.node, VersionNum(7), 1, None, ObjectLock::default()),
        Err(MetaError::NotFound(_))
    ));
    // the new version starts with the lock given (a folder's default retention), never
    // the old one's; so does every version a copy makes
    let lock = ObjectLock {
        retention: Some(Retention {
            mode: RetentionMode::Governance,
            until_ns: i64::MAX,
        }),
        legal_hold: false,
    };
    let v4 = m
        .restore_version(v1.node, VersionNum(2), 1_000, None, lock)
        .unwrap();
    assert_eq!(v4.lock, lock);
    assert_eq!(m.version(v1.node, None).unwrap().unwrap().0.lock, lock);
    let v5 = m
        .restore_version(v1.node, VersionNum(4), 1_001, None, ObjectLock::default())
        .unwrap();
    assert_eq!(v5.lock, ObjectLock::default());
    let copy = m.copy(v1.node, h.root, "g", None, 1_002, lock).unwrap();
    assert_eq!(copy.head.unwrap().lock, lock);
    assert_eq!(m.versions(copy.id).unwrap()[0].lock, lock);
}

/// Each version records who made it: the commit's author, the restorer for a restored
/// version; a copy keeps its source's author; every read of the version returns it.
pub fn versions_record_their_author(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let chunks = [chunk(1)];
    let extents = [(chunks[0].id, 1)];
    let mut r = req(h.root, "f", &extents, &chunks);
    r.author = Some("alice");
    let v1 = m.commit_version(&r).unwrap();
    assert_eq!(v1.author.as_deref(), Some("alice"));
    let mut r = req(h.root, "f", &extents, &[]);
    r.author = Some("share:0123abcd");
    let v2 = m.commit_version(&r).unwrap();
    let v3 = m
        .restore_version(
            v1.node,
            VersionNum(1),
            9,
            Some("bob"),
            ObjectLock::default(),
        )
        .unwrap();
    let authors: Vec<Option<String>> = m
        .versions(v1.node)
        .unwrap()
        .into_iter()
        .map(|v| v.author)
        .collect();
    assert_eq!(
        authors,
        [
            Some("alice".into()),
            Some("share:0123abcd".into()),
            Some("bob".into())
        ]
    );
    assert_eq!(m.node(v1.node).unwrap().unwrap().head, Some(v3.clone()));
    let (head, _) = m.version(v1.node, None).unwrap().unwrap();
    assert_eq!(head.author.as_deref(), Some("bob"));
    let (second, _) = m.version(v1.node, Some(v2.num)).unwrap().unwrap();
    assert_eq!(second.author.as_deref(), Some("share:0123abcd"));
    let copy = m
        .copy(v1.node, h.root, "g", None, 10, ObjectLock::default())
        .unwrap();
    let copied = copy.head.unwrap();
    assert_eq!(copied.author.as_deref(), Some("bob"));
}

/// Deleting a version releases its references and, for the head, makes the newest
/// remaining version the head; the only version cannot be deleted.
pub fn deleting_a_version_releases_its_chunks_and_moves_the_head(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let v1 = commit(m, h.root, "f", &[chunk(1)]);
    let v2 = commit(m, h.root, "f", &[chunk(2)]);
    commit(m, h.root, "f", &[chunk(3)]);
    m.delete_version(v1.node, VersionNum(3)).unwrap();
    assert_eq!(refs(m, 3), Some(0));
    assert_eq!(m.node(v1.node).unwrap().unwrap().head, Some(v2));
    m.delete_version(v1.node, VersionNum(1)).unwrap();
    assert_eq!((refs(m, 1), refs(m, 2)), (Some(0), Some(1)));
    assert!(matches!(
        m.delete_version(v1.node, VersionNum(1)),
        Err(MetaError::NotFound(_))
    ));
    assert!(matches!(
        m.delete_version(v1.node, VersionNum(2)),
        Err(MetaError::Invalid(_))
    ));
    assert_eq!(m.versions(v1.node).unwrap().len(), 1);
    assert_eq!(refs(m, 2), Some(1));
    let next = commit(m, h.root, "f", &[chunk(4)]);
    assert_eq!(next.num, VersionNum(4), "numbers are never reused");
}

/// `set_version_attrs` replaces one version's attributes: no version is added, the others
/// and the content stay; a missing version is `NotFound`.
pub fn a_versions_attrs_change_in_place(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let v1 = commit(m, h.root, "f", &[chunk(1)]);
    let v2 = commit(m, h.root, "f", &[chunk(2)]);
    let mut a = crate::FileAttrs {
        content_type: Some("text/x".into()),
        ..Default::default()
    };
    a.user.insert("k".into(), "v".into());
    m.set_version_attrs(v1.node, VersionNum(1), &a).unwrap();
    let all = m.versions(v1.node).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].attrs, a);
    assert_eq!(all[0].hash, v1.hash);
    assert_eq!(all[1], v2, "the other version untouched");
    assert_eq!(m.node(v1.node).unwrap().unwrap().head, Some(v2));
    assert!(matches!(
        m.set_version_attrs(v1.node, VersionNum(9), &a),
        Err(MetaError::NotFound(_))
    ));
}

/// `find_version_by_hash` looks in one home only, matches size too, prefers live files to
/// trashed ones and newer versions to older ones.
pub fn versions_are_found_by_content_hash_within_one_home(m: &dyn MetaStore) {
    let a = m.create_home("a", "a", 0).unwrap();
    let b = m.create_home("b", "b", 0).unwrap();
    let content = [chunk(1), chunk(2)];
    let hash = content_hash(&content.map(|c| (c.id, 1)));
    let old = commit(m, a.root, "old", &content);
    commit(m, a.root, "old", &[chunk(3)]); // the content stays as version 1
    let live = commit(m, a.root, "live", &content);
    let gone = commit(m, a.root, "gone", &content);
    m.trash(gone.node, "/gone", 1).unwrap();
    let (v, ext) = m.find_version_by_hash(a.id, &hash, 2).unwrap().unwrap();
    assert_eq!(v, live, "the newest live version first");
    assert_eq!(ext.len(), 2);
    assert!(
        m.find_version_by_hash(a.id, &hash, 3).unwrap().is_none(),
        "size must match"
    );
    assert!(
        m.find_version_by_hash(b.id, &hash, 2).unwrap().is_none(),
        "other home"
    );
    let t = m.trash(live.node, "/live", 2).unwrap();
    let (v, _) = m.find_version_by_hash(a.id, &hash, 2).unwrap().unwrap();
    assert_eq!(v, old, "a live file's old version before any trashed file");
    m.trash(old.node, "/old", 3).unwrap();
    let (v, _) = m.find_version_by_hash(a.id, &hash, 2).unwrap().unwrap();
    assert!(
        v.node == live.node || v.node == gone.node,
        "trashed files count too"
    );
    m.trash_purge(t.id).unwrap();
    let nothing = ContentHash::of(b"nothing");
    assert!(m.find_version_by_hash(a.id, &nothing, 2).unwrap().is_none());
}

/// `files_with_versions_over` lists the files (with their home) that have more versions
/// than asked; `for_each_version` visits every version, trashed ones included.
pub fn files_over_a_version_count_and_the_version_scan(m: &dyn MetaStore) {
    let a = m.create_home("a", "a", 0).unwrap();
    let b = m.create_home("b", "b", 0).unwrap();
    let one = commit(m, a.root, "one", &[chunk(1)]);
    for i in 0..3 {
        commit(m, a.root, "three", &[chunk(10 + i)]);
        commit(m, b.root, "three", &[chunk(20 + i)]);
    }
    commit(m, a.root, "two", &[chunk(30)]);
    let two = commit(m, a.root, "two", &[chunk(31)]);
    m.trash(two.node, "/two", 1).unwrap();
    let three_a = m.child(a.root, "three").unwrap().unwrap().id;
    let three_b = m.child(b.root, "three").unwrap().unwrap().id;
    let mut over1 = m.files_with_versions_over(1).unwrap();
    over1.sort();
    let mut want = vec![(three_a, a.id), (three_b, b.id), (two.node, a.id)];
    want.sort();
    assert_eq!(over1, want);
    let mut over2 = m.files_with_versions_over(2).unwrap();
    over2.sort();
    assert_eq!(over2.len(), 2);
    assert!(m.files_with_versions_over(3).unwrap().is_empty());
    let mut seen = Vec::new();
    m.for_each_version(&mut |s| {
        let ext = s.extents.expect("decodes");
        assert_eq!(ext.len() as u64, s.version.size);
        seen.push((s.version.node, s.version.num.0));
        Ok(())
    })
    .unwrap();
    seen.sort();
    assert_eq!(seen.len(), 1 + 3 + 3 + 2);
    assert!(seen.contains(&(one.node, 1)) && seen.contains(&(two.node, 2)));
}

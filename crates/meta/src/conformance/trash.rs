//! Trash checks: detaching, listing, restoring and purging subtrees.

use super::{chunk, commit, refs, req};
use crate::{MetaError, MetaStore, NodeKind};
use nas_types::VersionNum;

/// A trashed node leaves its folder (still readable by id), is listed newest first, can be
/// restored under any free name, or purged with its whole subtree.
pub fn trash_detaches_lists_restores_and_purges(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let d = m.mkdir(h.root, "d", 0).unwrap();
    let f = commit(m, d.id, "f", &[chunk(1)]);
    let g = commit(m, h.root, "g", &[chunk(2)]);
    let td = m.trash(d.id, "/d", 10).unwrap();
    assert_eq!(
        (td.home, td.node, td.path.as_str(), td.deleted_ns, td.kind),
        (h.id, d.id, "/d", 10, NodeKind::Dir)
    );
    let tg = m.trash(g.node, "/g", 20).unwrap();
    assert_eq!(tg.kind, NodeKind::File);
    assert!(m.child(h.root, "d").unwrap().is_none());
    assert!(
        m.node(f.node).unwrap().is_some(),
        "a trashed node is still there by id"
    );
    let ids: Vec<_> = m.trash_list(h.id).unwrap().iter().map(|t| t.id).collect();
    assert_eq!(ids, [tg.id, td.id], "newest first");
    assert_eq!(m.trash_entry(td.id).unwrap(), Some(td.clone()));
    assert!(
        matches!(m.trash(d.id, "/d", 11), Err(MetaError::NotFound(_))),
        "already trashed"
    );
    assert!(
        matches!(m.trash(h.root, "/", 11), Err(MetaError::Invalid(_))),
        "a root"
    );
    // restore under another name
    let back = m.trash_restore(td.id, h.root, "d2").unwrap();
    assert_eq!(
        (back.id, back.name.as_str(), back.parent),
        (d.id, "d2", Some(h.root))
    );
    assert!(m.is_live(f.node).unwrap());
    assert_eq!(m.node_path(f.node).unwrap().as_deref(), Some("/d2/f"));
    assert_eq!(m.trash_entry(td.id).unwrap(), None);
    // purge the subtree of the other entry: nodes, versions, references go
    let t2 = m.trash(back.id, "/d2", 30).unwrap();
    m.trash_purge(t2.id).unwrap();
    assert_eq!(m.node(f.node).unwrap(), None);
    assert_eq!(m.node(d.id).unwrap(), None);
    assert!(m.versions(f.node).unwrap().is_empty());
    assert_eq!(refs(m, 1), Some(0));
    assert_eq!(refs(m, 2), Some(1), "the other entry is untouched");
    assert!(matches!(m.trash_purge(t2.id), Err(MetaError::NotFound(_))));
    assert_eq!(m.trash_list(h.id).unwrap().len(), 1);
}

/// Entries age out by deletion time across homes; a restore onto a taken name, into
/// another home, or of an unknown entry is refused and changes nothing.
pub fn trash_entries_age_and_refuse_bad_restores(m: &dyn MetaStore) {
    let a = m.create_home("a", "a", 0).unwrap();
    let b = m.create_home("b", "b", 0).unwrap();
    let f = commit(m, a.root, "f", &[chunk(1)]);
    let t1 = m.trash(f.node, "/f", 100).unwrap();
    let g = commit(m, b.root, "g", &[chunk(2)]);
    let t2 = m.trash(g.node, "/g", 200).unwrap();
    let ids = |before| -> Vec<_> {
        let mut v: Vec<_> = m
            .trash_older_than(before)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(100), []);
    assert_eq!(ids(101), [t1.id]);
    let mut both = vec![t1.id, t2.id];
    both.sort();
    assert_eq!(ids(201), both);
    commit(m, a.root, "f", &[chunk(3)]);
    assert!(matches!(
        m.trash_restore(t1.id, a.root, "f"),
        Err(MetaError::Exists(_))
    ));
    assert!(matches!(
        m.trash_restore(t1.id, b.root, "f"),
        Err(MetaError::Invalid(_))
    ));
    let missing = nas_types::TrashId(i64::MAX - 1);
    assert!(matches!(
        m.trash_restore(missing, a.root, "x"),
        Err(MetaError::NotFound(_))
    ));
    assert_eq!(m.trash_entry(t1.id).unwrap(), Some(t1.clone()));
    assert!(!m.is_live(f.node).unwrap());
    let other = m.trash_restore(t1.id, a.root, "f (restored)").unwrap();
    assert_eq!(other.id, f.node);
    assert_eq!(m.trash_list(a.id).unwrap(), []);
    assert_eq!(m.trash_list(b.id).unwrap(), [t2]);
}

/// A file a trash entry holds may lose its last version (a live file may not): the entry
/// stays, holding none (S3's delete marker with nothing behind it); it cannot be restored,
/// only purged, and a file made at its path numbers on from every number the deleted one
/// used, so no number of the path's history is used twice.
pub fn a_trashed_file_may_lose_its_last_version(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let (one, two) = ([chunk(1)], [chunk(2)]);
    let (e1, e2) = ([(one[0].id, 1)], [(two[0].id, 1)]);
    let mut r = req(h.root, "f", &e1, &one);
    r.path = "/f";
    let v1 = m.commit_version(&r).unwrap();
    let mut r = req(h.root, "f", &e1, &[]);
    r.path = "/f";
    m.commit_version(&r).unwrap();
    m.delete_version(v1.node, VersionNum(2)).unwrap();
    assert!(
        matches!(
            m.delete_version(v1.node, VersionNum(1)),
            Err(MetaError::Invalid(_))
        ),
        "the only version of a live file"
    );
    let t = m.trash(v1.node, "/f", 10).unwrap();
    m.delete_version(v1.node, VersionNum(1)).unwrap();
    assert!(m.versions(v1.node).unwrap().is_empty());
    assert_eq!(m.node(v1.node).unwrap().unwrap().head, None);
    assert_eq!(m.trash_entry(t.id).unwrap(), Some(t.clone()));
    assert_eq!(refs(m, 1), Some(0));
    assert!(matches!(
        m.trash_restore(t.id, h.root, "f"),
        Err(MetaError::Invalid(_))
    ));
    // numbers 1 and 2 were used (2 deleted while live, 1 in the trash): the next is 3
    let mut r = req(h.root, "f", &e2, &two);
    r.path = "/f";
    assert_eq!(m.commit_version(&r).unwrap().num, VersionNum(3));
    m.trash_purge(t.id).unwrap();
    assert_eq!(m.trash_list(h.id).unwrap(), []);
    assert_eq!(m.node(v1.node).unwrap(), None);
}

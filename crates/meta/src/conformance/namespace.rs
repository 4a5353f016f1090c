//! Namespace checks: homes, folders, walks, listings, rename, copy, times, paths.

use super::{chunk, commit, refs};
use crate::{Displace, FileAttrs, ListKey, MetaError, MetaStore, NodeKind, NodeRecord, ObjectLock};

/// `create_home` returns the same home every time; a home's root is a live folder at `/`.
pub fn homes_are_created_once(m: &dyn MetaStore) {
    let a = m.create_home("alice", "alice", 1).unwrap();
    assert_eq!(m.create_home("alice", "alice", 2).unwrap(), a);
    let b = m.create_home("bob", "bob", 3).unwrap();
    assert_ne!((a.id, a.root), (b.id, b.root));
    assert_eq!(m.home("alice").unwrap(), Some(a.clone()));
    assert_eq!(m.home("carol").unwrap(), None);
    let mut names: Vec<_> = m.homes().unwrap().into_iter().map(|h| h.name).collect();
    names.sort();
    assert_eq!(names, ["alice", "bob"]);
    let root = m.node(a.root).unwrap().unwrap();
    assert_eq!(
        (root.kind, root.parent, root.home),
        (NodeKind::Dir, None, a.id)
    );
    assert!(m.is_live(a.root).unwrap());
    assert_eq!(m.node_path(a.root).unwrap().as_deref(), Some("/"));
    assert!(m.list(a.root, None, 10).unwrap().is_empty());
}

/// `mkdir` creates a folder once; `child` finds it; a file or a trashed folder cannot
/// hold a new one.
pub fn mkdir_and_child_name_the_tree(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let docs = m.mkdir(h.root, "docs", 7).unwrap();
    assert_eq!(
        (docs.kind, docs.parent, docs.name.as_str(), docs.mtime_ns),
        (NodeKind::Dir, Some(h.root), "docs", 7)
    );
    assert_eq!(m.child(h.root, "docs").unwrap(), Some(docs.clone()));
    assert_eq!(m.node(docs.id).unwrap(), Some(docs.clone()));
    assert!(
        m.child(h.root, "Docs").unwrap().is_none(),
        "names are case-sensitive"
    );
    assert!(matches!(
        m.mkdir(h.root, "docs", 8),
        Err(MetaError::Exists(_))
    ));
    let f = commit(m, docs.id, "f", &[chunk(1)]);
    assert!(matches!(
        m.mkdir(f.node, "x", 8),
        Err(MetaError::NotADirectory(_))
    ));
    let gone = m.mkdir(h.root, "gone", 8).unwrap();
    m.trash(gone.id, "/gone", 9).unwrap();
    assert!(matches!(
        m.mkdir(gone.id, "x", 10),
        Err(MetaError::NotFound(_))
    ));
    let file = m.child(docs.id, "f").unwrap().unwrap();
    assert_eq!((file.kind, file.head.unwrap().num.0), (NodeKind::File, 1));
}

/// `walk` follows folders, and is `None` at a gap or through a file.
pub fn walk_follows_folders_and_stops_at_files_and_gaps(m: &dyn MetaStore) {
    let h = m.create_home("w", "w", 0).unwrap();
    let a = m.mkdir(h.root, "a", 1).unwrap();
    let b = m.mkdir(a.id, "b", 1).unwrap();
    commit(m, b.id, "f", &[chunk(1)]);
    commit(m, a.id, "file", &[chunk(2)]);
    assert_eq!(m.walk(h.root, &[]).unwrap().unwrap().id, h.root);
    assert_eq!(m.walk(h.root, &["a"]).unwrap().unwrap().id, a.id);
    let f = m.walk(h.root, &["a", "b", "f"]).unwrap().unwrap();
    assert_eq!((f.name.as_str(), f.kind), ("f", NodeKind::File));
    assert_eq!(m.walk(a.id, &["b", "f"]).unwrap().unwrap().id, f.id);
    assert!(m.walk(h.root, &["a", "missing", "f"]).unwrap().is_none());
    assert!(m.walk(h.root, &["a", "b", "g"]).unwrap().is_none());
    // a file in the middle of a path is not a folder to walk through
    assert!(m.walk(h.root, &["a", "file", "f"]).unwrap().is_none());
    assert!(m.walk(h.root, &["a", "file", "file"]).unwrap().is_none());
}

/// `walk_parent` finds a path's folder and its child of the last name (or no child), the
/// last folder of any kind, and `None` through a gap or a file before it.
pub fn walk_parent_finds_the_folder_and_the_child(m: &dyn MetaStore) {
    let h = m.create_home("w", "w", 0).unwrap();
    let a = m.mkdir(h.root, "a", 1).unwrap();
    let b = m.mkdir(a.id, "b", 1).unwrap();
    commit(m, b.id, "f", &[chunk(1)]);
    commit(m, a.id, "file", &[chunk(2)]);
    let ids = |names: &[&str]| {
        m.walk_parent(h.root, names)
            .unwrap()
            .map(|(p, c)| (p.id, c.map(|c| c.name)))
    };
    let f = Some("f".to_owned());
    assert_eq!(ids(&["a", "b", "f"]), Some((b.id, f.clone())));
    assert_eq!(ids(&["a", "b", "new"]), Some((b.id, None)));
    assert_eq!(ids(&["a"]), Some((h.root, Some("a".to_owned()))));
    assert_eq!(ids(&["new"]), Some((h.root, None)));
    assert_eq!(
        m.walk_parent(a.id, &["b", "f"]).unwrap().unwrap().0.id,
        b.id
    );
    // the last folder may be a file: found, without a child
    let (p, c) = m.walk_parent(h.root, &["a", "file", "x"]).unwrap().unwrap();
    assert_eq!((p.name.as_str(), p.kind, c), ("file", NodeKind::File, None));
    // a gap, or a file before the last folder
    assert_eq!(ids(&["a", "missing", "f"]), None);
    assert_eq!(ids(&["a", "file", "x", "y"]), None);
    assert_eq!(ids(&["missing", "b", "f"]), None);
    assert!(m.walk_parent(h.root, &[]).is_err());
}

/// `list` returns children sorted bytewise by name, after a cursor, a page at a time.
pub fn listings_page_by_name_bytewise(m: &dyn MetaStore) {
    let h = m.create_home("l", "l", 0).unwrap();
    let names = ["b", "B", "a", "é", "a b", "_", "Z", "10", "9"];
    for n in names {
        m.mkdir(h.root, n, 0).unwrap();
    }
    let mut want: Vec<&str> = names.to_vec();
    want.sort(); // bytewise, as Rust sorts str
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = m.list(h.root, after.as_deref(), 2).unwrap();
        assert!(page.len() <= 2);
        got.extend(page.iter().map(|n| n.name.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.name.clone()),
            _ => break,
        }
    }
    assert_eq!(got, want);
    let other = m.create_home("other", "other", 0).unwrap();
    assert!(
        m.list(other.root, None, 100).unwrap().is_empty(),
        "per folder"
    );
}

/// `list_sorted` pages by size, mtime or name, both ways, each child exactly once.
pub fn sorted_listings_page_every_child_once_in_order(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let chunks: Vec<_> = (0..4).map(chunk).collect();
    for i in 0..40u32 {
        // sizes 0..=3 (many ties), names not in size order
        let name = format!("f{:02}", (i * 17) % 40);
        commit(m, h.root, &name, &chunks[..(i % 4) as usize]);
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

/// A rename moves a node (a folder with everything below it); a folder cannot move into
/// itself, a root cannot move, nothing moves to another home.
pub fn rename_moves_and_refuses_cycles_roots_and_other_homes(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let a = m.mkdir(h.root, "a", 0).unwrap();
    let b = m.mkdir(a.id, "b", 0).unwrap();
    let f = commit(m, b.id, "f", &[chunk(1)]);
    for dest in [a.id, b.id] {
        assert!(matches!(
            m.rename(a.id, dest, "x", None),
            Err(MetaError::Invalid(_))
        ));
    }
    assert!(matches!(
        m.rename(h.root, a.id, "x", None),
        Err(MetaError::Invalid(_))
    ));
    let other = m.create_home("other", "other", 0).unwrap();
    assert!(matches!(
        m.rename(b.id, other.root, "b", None),
        Err(MetaError::Invalid(_))
    ));
    let moved = m.rename(b.id, h.root, "b2", None).unwrap();
    assert_eq!(
        (moved.id, moved.parent, moved.name.as_str()),
        (b.id, Some(h.root), "b2")
    );
    assert_eq!(m.node_path(f.node).unwrap().as_deref(), Some("/b2/f"));
    assert!(m.child(a.id, "b").unwrap().is_none());
    // renaming onto its own name is no change
    let same = m.rename(b.id, h.root, "b2", None).unwrap();
    assert_eq!(same.id, b.id);
    // a file keeps its id and its versions
    let g = m.rename(f.node, a.id, "g", None).unwrap();
    assert_eq!(g.id, f.node);
    assert_eq!(m.versions(f.node).unwrap().len(), 1);
}

/// Renaming onto a taken name fails with `Exists`, or trashes what was there when told to
/// displace it (remembering the path given).
pub fn rename_onto_an_existing_name_displaces_it_or_fails(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let f = commit(m, h.root, "f", &[chunk(1)]);
    let g = commit(m, h.root, "g", &[chunk(2)]);
    assert!(matches!(
        m.rename(g.node, h.root, "f", None),
        Err(MetaError::Exists(_))
    ));
    let d = Displace {
        path: "/f".into(),
        now_ns: 1,
    };
    m.rename(g.node, h.root, "f", Some(&d)).unwrap();
    let trash = m.trash_list(h.id).unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!((trash[0].node, trash[0].path.as_str()), (f.node, "/f"));
    assert_eq!(m.child(h.root, "f").unwrap().unwrap().id, g.node);
    assert!(m.child(h.root, "g").unwrap().is_none());
    assert!(!m.is_live(f.node).unwrap());
    assert_eq!(
        refs(m, 1),
        Some(1),
        "a displaced file keeps its chunks (trash)"
    );
}

/// A copy shares chunks (one more reference each), copies a folder's whole tree and its
/// dead properties, and refuses a copy into itself or onto itself.
pub fn copy_shares_chunks_and_copies_whole_trees(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let src = m.mkdir(h.root, "src", 3).unwrap();
    let sub = m.mkdir(src.id, "sub", 3).unwrap();
    let f = commit(m, src.id, "f", &[chunk(1), chunk(2)]);
    commit(m, src.id, "f", &[chunk(2), chunk(3)]);
    commit(m, sub.id, "g", &[chunk(3)]);
    let c = m
        .copy(f.node, h.root, "f-copy", None, 50, ObjectLock::default())
        .unwrap();
    assert_ne!(c.id, f.node);
    let head = c.head.clone().unwrap();
    assert_eq!((head.num.0, head.size, head.created_ns), (1, 2, 50));
    assert_eq!(
        head.hash,
        m.node(f.node).unwrap().unwrap().head.unwrap().hash
    );
    assert_eq!(
        m.versions(c.id).unwrap().len(),
        1,
        "only the head is copied"
    );
    assert_eq!(
        (refs(m, 1), refs(m, 2), refs(m, 3)),
        (Some(1), Some(3), Some(3))
    );
    let tree = m
        .copy(src.id, h.root, "dst", None, 60, ObjectLock::default())
        .unwrap();
    assert_eq!(tree.kind, NodeKind::Dir);
    let g = m.walk(tree.id, &["sub", "g"]).unwrap().unwrap();
    assert_ne!(g.id, m.walk(src.id, &["sub", "g"]).unwrap().unwrap().id);
    assert_eq!(m.tree_bytes(tree.id).unwrap(), 3);
    assert_eq!((refs(m, 2), refs(m, 3)), (Some(4), Some(5)));
    assert!(matches!(
        m.copy(src.id, sub.id, "loop", None, 70, ObjectLock::default()),
        Err(MetaError::Invalid(_))
    ));
    assert!(matches!(
        m.copy(f.node, src.id, "f", None, 70, ObjectLock::default()),
        Err(MetaError::Invalid(_))
    ));
    assert!(matches!(
        m.copy(f.node, h.root, "f-copy", None, 70, ObjectLock::default()),
        Err(MetaError::Exists(_))
    ));
    let d = Displace {
        path: "/f-copy".into(),
        now_ns: 71,
    };
    let again = m
        .copy(
            f.node,
            h.root,
            "f-copy",
            Some(&d),
            71,
            ObjectLock::default(),
        )
        .unwrap();
    assert_ne!(again.id, c.id);
    assert_eq!(m.trash_list(h.id).unwrap()[0].node, c.id);
    let other = m.create_home("other", "other", 0).unwrap();
    assert!(matches!(
        m.copy(f.node, other.root, "f", None, 72, ObjectLock::default()),
        Err(MetaError::Invalid(_))
    ));
}

/// `set_mtime` sets a folder's time or a file's head version's; `set_attrs` replaces the
/// head's content type and user metadata, and is refused on a folder.
pub fn mtime_and_attrs_are_set_on_the_head(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let d = m.mkdir(h.root, "d", 1).unwrap();
    commit(m, h.root, "f", &[chunk(1)]);
    let f = commit(m, h.root, "f", &[chunk(2)]);
    m.set_mtime(d.id, 1234).unwrap();
    assert_eq!(m.node(d.id).unwrap().unwrap().mtime_ns, 1234);
    m.set_mtime(f.node, 5678).unwrap();
    let vs = m.versions(f.node).unwrap();
    assert_eq!((vs[0].mtime_ns, vs[1].mtime_ns), (5, 5678), "the head only");
    let mut attrs = FileAttrs {
        content_type: Some("text/plain".into()),
        ..FileAttrs::default()
    };
    attrs.user.insert("color".into(), "blue".into());
    m.set_attrs(f.node, &attrs).unwrap();
    assert_eq!(m.node(f.node).unwrap().unwrap().head.unwrap().attrs, attrs);
    assert_eq!(m.versions(f.node).unwrap()[0].attrs, FileAttrs::default());
    assert!(matches!(
        m.set_attrs(d.id, &attrs),
        Err(MetaError::IsADirectory(_))
    ));
}

/// `node_path` names live nodes from their home's root and trashed ones by their trash
/// entry (never starting with `/`); `tree_bytes` sums current sizes; `is_live` is false
/// in the trash and for unknown ids.
pub fn paths_sizes_and_liveness(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let a = m.mkdir(h.root, "a", 0).unwrap();
    let b = m.mkdir(a.id, "b", 0).unwrap();
    commit(m, b.id, "old", &[chunk(1), chunk(2), chunk(3)]);
    let f = commit(m, b.id, "old", &[chunk(1)]);
    commit(m, a.id, "two", &[chunk(4), chunk(5)]);
    assert_eq!(m.node_path(f.node).unwrap().as_deref(), Some("/a/b/old"));
    assert_eq!(m.node_path(b.id).unwrap().as_deref(), Some("/a/b"));
    assert_eq!(m.tree_bytes(h.root).unwrap(), 3, "current versions only");
    assert_eq!(m.tree_bytes(b.id).unwrap(), 1);
    assert_eq!(m.tree_bytes(f.node).unwrap(), 1);
    assert!(m.is_live(f.node).unwrap());
    let t = m.trash(b.id, "/a/b", 9).unwrap();
    assert!(!m.is_live(b.id).unwrap());
    assert!(!m.is_live(f.node).unwrap(), "below a trashed folder");
    let p = m.node_path(f.node).unwrap().unwrap();
    assert!(!p.starts_with('/'), "{p}");
    assert!(
        p.contains(&t.id.to_string()) && p.ends_with("/a/b/old"),
        "{p}"
    );
    assert_eq!(m.tree_bytes(h.root).unwrap(), 2);
    let unknown = nas_types::NodeId(i64::MAX - 1);
    assert!(!m.is_live(unknown).unwrap());
    assert_eq!(m.node_path(unknown).unwrap(), None);
    assert_eq!(m.node(unknown).unwrap(), None);
}

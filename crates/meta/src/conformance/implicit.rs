//! Implicit-folder checks: a folder made only to hold something goes with its last child.

use super::{chunk, commit};
use crate::MetaStore;

/// An implicit folder is removed by `prune_implicit` only while live and empty, and its
/// implicit parents with it; an explicit folder, a folder with a child, or one marked
/// explicit stays; one marked implicit goes.
pub fn implicit_folders_go_with_their_last_child(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let bucket = m.mkdir(h.root, "bucket", 0).unwrap();
    let a = m.mkdir_implicit(bucket.id, "a", 0).unwrap();
    let b = m.mkdir_implicit(a.id, "b", 0).unwrap();
    assert!(m.is_implicit(a.id).unwrap() && m.is_implicit(b.id).unwrap());
    assert!(
        !m.is_implicit(bucket.id).unwrap(),
        "mkdir makes explicit folders"
    );
    let f = commit(m, b.id, "f", &[chunk(1)]);
    assert_eq!(m.prune_implicit(b.id).unwrap(), 0, "b holds a file");
    m.trash(f.node, "/bucket/a/b/f", 1).unwrap();
    assert_eq!(m.prune_implicit(b.id).unwrap(), 2, "b, then a");
    assert!(m.child(bucket.id, "a").unwrap().is_none());
    assert_eq!(m.node(b.id).unwrap(), None);
    assert!(!m.is_implicit(a.id).unwrap());
    assert_eq!(
        m.prune_implicit(bucket.id).unwrap(),
        0,
        "an explicit folder stays"
    );
    assert!(m.child(h.root, "bucket").unwrap().is_some());
    // a sibling keeps the parent; a folder marked explicit stays
    let a = m.mkdir_implicit(bucket.id, "a", 0).unwrap();
    let b = m.mkdir_implicit(a.id, "b", 0).unwrap();
    let c = m.mkdir_implicit(a.id, "c", 0).unwrap();
    assert_eq!(m.prune_implicit(b.id).unwrap(), 1, "only b: a holds c");
    m.set_implicit(c.id, false).unwrap();
    m.set_implicit(c.id, false).unwrap();
    assert!(!m.is_implicit(c.id).unwrap());
    assert_eq!(m.prune_implicit(c.id).unwrap(), 0);
    assert!(m.child(a.id, "c").unwrap().is_some());
    // and back: an explicit folder marked implicit goes once empty
    let d = m.mkdir(c.id, "d", 0).unwrap();
    m.set_implicit(d.id, true).unwrap();
    assert!(m.is_implicit(d.id).unwrap());
    assert_eq!(m.prune_implicit(d.id).unwrap(), 1, "d only: c is explicit");
    assert!(m.set_implicit(d.id, true).is_err(), "a folder that is gone");
    // a trashed implicit folder is not pruned (it is the trash's), and a purge forgets it
    let t = m.trash(a.id, "/bucket/a", 2).unwrap();
    assert_eq!(m.prune_implicit(a.id).unwrap(), 0);
    assert!(m.node(a.id).unwrap().is_some());
    m.trash_purge(t.id).unwrap();
    assert!(!m.is_implicit(a.id).unwrap());
}

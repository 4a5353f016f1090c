//! Usage counters and the quota rule: every change of usage keeps the counters equal to a
//! recount, and a change that takes an account over its quota changes nothing.

use crate::*;
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, NodeId, PackId};

fn account(m: &dyn MetaStore, name: &str, quota: Option<u64>) {
    m.create_user(&UserRecord {
        name: name.into(),
        password: "$argon2id$x".into(),
        role: "user".into(),
        quota,
        disabled: false,
        created_ns: 1,
        keep_versions: None,
        keep_days: None,
        sessions_epoch: 0,
    })
    .unwrap();
}

fn req<'a>(parent: NodeId, name: &'a str, size: u64, chunk: &'a [NewChunk]) -> CommitRequest<'a> {
    CommitRequest {
        expect: None,
        parent,
        name,
        path: "",
        extents: EXTENTS,
        new_chunks: chunk,
        size,
        hash: ContentHash::of(&size.to_le_bytes()),
        mtime_ns: 5,
        now_ns: 6,
        attrs: FileAttrs::default(),
        author: None,
        lock: Default::default(),
    }
}

const ONE: ChunkId = ChunkId([7; 32]);
const EXTENTS: &[(ChunkId, u32)] = &[(ONE, 1)];

fn the_chunk() -> [NewChunk; 1] {
    [NewChunk {
        id: ONE,
        raw_len: 1,
        codec: 0,
        loc: BlobLocation {
            pack: PackId(1),
            offset: 0,
            len: 1,
        },
        base: None,
        whole_len: 0,
        sketch: None,
    }]
}

/// Commits `parent/name` claiming `size` bytes (one 1-byte chunk: the store does not check).
pub(crate) fn put(
    m: &dyn MetaStore,
    parent: NodeId,
    name: &str,
    size: u64,
) -> MetaResult<VersionRecord> {
    m.commit_version(&req(parent, name, size, &the_chunk()))
}

/// The counters equal a recount: head sizes of live files, and sizes of every version.
fn assert_counted(m: &dyn MetaStore, home: &HomeRecord) {
    let u = m.usage(home.id).unwrap();
    assert_eq!(u.current_bytes, m.tree_bytes(home.root).unwrap(), "current");
    let mut all = 0;
    m.for_each_version(&mut |v| {
        if m.node(v.version.node)?.is_some_and(|n| n.home == home.id) {
            all += v.version.size;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(u.all_bytes, all, "all");
    assert_eq!(m.check_usage().unwrap(), Vec::<String>::new());
}

pub fn counters_follow_every_change_of_usage(m: &dyn MetaStore) {
    let h = m.create_home("a", "a", 0).unwrap();
    let d = m.mkdir(h.root, "d", 0).unwrap();
    put(m, h.root, "f", 100).unwrap();
    put(m, d.id, "g", 30).unwrap();
    assert_counted(m, &h);
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 130);
    let v2 = put(m, h.root, "f", 40).unwrap(); // overwrite: 130 - 100 + 40
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 70);
    assert_eq!(m.usage(h.id).unwrap().all_bytes, 170);
    m.restore_version(v2.node, VersionNum(1), 7, None, ObjectLock::default())
        .unwrap(); // back to 100
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 130);
    assert_counted(m, &h);
    m.delete_version(v2.node, VersionNum(3)).unwrap(); // the head goes: 40 again
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 70);
    assert_counted(m, &h);
    m.copy(d.id, h.root, "d2", None, 8, ObjectLock::default())
        .unwrap();
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 100);
    let displace = Displace {
        path: "/d2".into(),
        now_ns: 9,
    };
    m.rename(d.id, h.root, "d2", Some(&displace)).unwrap(); // the copy is trashed
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 70);
    assert_counted(m, &h);
    let t = m.trash(d.id, "/d2", 10).unwrap();
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 40);
    m.trash_restore(t.id, h.root, "back").unwrap();
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 70);
    assert_counted(m, &h);
    let t = m.trash(d.id, "/back", 11).unwrap();
    m.trash_purge(t.id).unwrap();
    for t in m.trash_list(h.id).unwrap() {
        m.trash_purge(t.id).unwrap();
    }
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 40);
    assert_counted(m, &h);
}

pub fn a_commit_over_the_quota_changes_nothing(m: &dyn MetaStore) {
    account(m, "a", Some(100));
    let h = m.create_home("a", "a", 0).unwrap();
    put(m, h.root, "f", 60).unwrap();
    let refs = m.find_chunk(&ONE).unwrap().unwrap().refs;
    let e = put(m, h.root, "g", 41).unwrap_err();
    assert!(
        matches!(
            e,
            MetaError::QuotaExceeded {
                quota: 100,
                used: 60,
                adding: 41
            }
        ),
        "{e:?}"
    );
    assert!(m.child(h.root, "g").unwrap().is_none());
    assert_eq!(m.find_chunk(&ONE).unwrap().unwrap().refs, refs);
    put(m, h.root, "g", 40).unwrap(); // exactly full is allowed
    // replacing a file counts the difference only
    put(m, h.root, "f", 59).unwrap();
    assert!(put(m, h.root, "f", 62).is_err());
    // a copy that does not fit is refused; so is a group that does not fit as a whole
    assert!(matches!(
        m.copy(
            m.child(h.root, "g").unwrap().unwrap().id,
            h.root,
            "g2",
            None,
            1,
            ObjectLock::default()
        ),
        Err(MetaError::QuotaExceeded { .. })
    ));
    let c = the_chunk();
    let group = [req(h.root, "x", 1, &c), req(h.root, "y", 1, &c)];
    assert!(m.commit_versions(&group).is_err());
    assert!(m.child(h.root, "x").unwrap().is_none());
    // over a lowered quota, what shrinks usage still passes
    let mut u = m.user("a").unwrap().unwrap();
    u.quota = Some(10);
    m.update_user(&u).unwrap();
    put(m, h.root, "f", 1).unwrap();
    let f = m.child(h.root, "f").unwrap().unwrap();
    m.trash(f.id, "/f", 3).unwrap();
    assert_counted(m, &h);
}

pub fn restoring_from_the_trash_is_checked(m: &dyn MetaStore) {
    account(m, "a", Some(100));
    let h = m.create_home("a", "a", 0).unwrap();
    let v = put(m, h.root, "f", 80).unwrap();
    let t = m.trash(v.node, "/f", 1).unwrap();
    put(m, h.root, "g", 80).unwrap();
    assert!(matches!(
        m.trash_restore(t.id, h.root, "f"),
        Err(MetaError::QuotaExceeded { .. })
    ));
    assert_eq!(m.trash_list(h.id).unwrap().len(), 1);
    assert_counted(m, &h);
}

pub fn staging_homes_count_with_their_account(m: &dyn MetaStore) {
    account(m, "bob", Some(100));
    let h = m.create_home("bob", "bob", 0).unwrap();
    let s = m.create_home(".s3-uploads.bob", "bob", 0).unwrap();
    put(m, s.root, "part1", 70).unwrap();
    // the home counts alone: completing an upload whose pieces are still staged fits
    assert_eq!(m.usage(h.id).unwrap().current_bytes, 0);
    put(m, h.root, "f", 30).unwrap();
    // a staged piece counts everything the account holds
    assert_eq!(m.usage(s.id).unwrap().used(), 100);
    assert!(matches!(
        put(m, s.root, "part2", 1),
        Err(MetaError::QuotaExceeded { used: 100, .. })
    ));
}

pub fn counting_every_version_refuses_a_new_version_at_the_quota(m: &dyn MetaStore) {
    account(m, "a", Some(100));
    m.set_setting(QuotaCounts::SETTING, QuotaCounts::All.as_str())
        .unwrap();
    let h = m.create_home("a", "a", 0).unwrap();
    let v = put(m, h.root, "f", 60).unwrap();
    assert!(put(m, h.root, "f", 60).is_err()); // 120 kept in all
    put(m, h.root, "f", 40).unwrap();
    let u = m.usage(h.id).unwrap();
    assert_eq!((u.current_bytes, u.all_bytes, u.used()), (40, 100, 100));
    // the trash counts too: deleting frees nothing until purged
    let t = m.trash(v.node, "/f", 1).unwrap();
    assert!(put(m, h.root, "g", 1).is_err());
    m.trash_purge(t.id).unwrap();
    put(m, h.root, "g", 1).unwrap();
    assert_counted(m, &h);
}

//! Share link checks: found by the token's hash only, listed and revoked by their owner,
//! downloads counted atomically up to the limit, gone with their owner.

use super::{accounts_user as user, chunk, commit};
use crate::{MetaStore, ShareKind, ShareRecord};
use nas_types::NodeId;

fn share(id: &str, owner: &str, node: NodeId, h: u8, max: Option<u64>) -> ShareRecord {
    ShareRecord {
        id: id.into(),
        owner: owner.into(),
        node,
        kind: if h.is_multiple_of(2) {
            ShareKind::Drop
        } else {
            ShareKind::Read
        },
        token_hash: [h; 32],
        password: (h == 3).then(|| "$argon2id$x".into()),
        expires_ns: (h == 3).then_some(99),
        max_downloads: max,
        downloads: 0,
        created_ns: i64::from(h),
    }
}

/// Shares are looked up by the hash of their token (unique, as is the id), listed per
/// owner oldest first, deleted only by their owner, count downloads up to their limit and
/// never past it, and go with their owner's account.
pub fn shares_are_found_by_hash_counted_and_go_with_their_owner(m: &dyn MetaStore) {
    m.create_user(&user("ann")).unwrap();
    let home = m.create_home("ann", "ann", 0).unwrap();
    let file = commit(m, home.root, "f.txt", &[chunk(1)]).node;
    m.create_share(&share("s1", "ann", file, 1, Some(2)))
        .unwrap();
    m.create_share(&share("s2", "ann", home.root, 2, None))
        .unwrap();
    m.create_share(&share("s3", "bob", file, 3, None)).unwrap();
    assert!(
        m.create_share(&share("s4", "ann", file, 1, None)).is_err(),
        "token hash is unique"
    );
    assert!(
        m.create_share(&share("s1", "ann", file, 7, None)).is_err(),
        "id is unique"
    );
    assert_eq!(
        m.share_by_hash(&[3; 32]).unwrap(),
        Some(share("s3", "bob", file, 3, None))
    );
    assert_eq!(m.share_by_hash(&[9; 32]).unwrap(), None);
    let ids = |o: &str| -> Vec<String> { m.shares(o).unwrap().into_iter().map(|s| s.id).collect() };
    assert_eq!(ids("ann"), ["s1", "s2"]);
    // downloads: counted until the limit, then refused; no limit counts forever
    assert!(m.take_share_download("s1").unwrap());
    assert!(m.take_share_download("s1").unwrap());
    assert!(!m.take_share_download("s1").unwrap(), "past the limit");
    assert_eq!(m.share_by_hash(&[1; 32]).unwrap().unwrap().downloads, 2);
    for _ in 0..3 {
        assert!(m.take_share_download("s2").unwrap());
    }
    assert_eq!(m.share_by_hash(&[2; 32]).unwrap().unwrap().downloads, 3);
    assert!(!m.take_share_download("nope").unwrap());
    // only the owner's share is deleted; a deleted share is not found by its hash
    assert!(!m.delete_share("ann", "s3").unwrap());
    assert!(m.delete_share("ann", "s2").unwrap());
    assert_eq!(m.share_by_hash(&[2; 32]).unwrap(), None);
    assert_eq!(ids("ann"), ["s1"]);
    // deleting the account deletes its shares
    m.delete_user("ann").unwrap();
    assert_eq!(ids("ann"), Vec::<String>::new());
    assert_eq!(m.share_by_hash(&[1; 32]).unwrap(), None);
    assert!(m.share_by_hash(&[3; 32]).unwrap().is_some(), "bob's stays");
}

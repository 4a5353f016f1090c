//! The share rules: a share follows its target, dies with it, expires, counts downloads up
//! to its limit, is refused while its owner is disabled, and a drop never overwrites.
#![allow(clippy::unwrap_used)]

use crate::{Accounts, NewShare, ShareError, ShareKind, Store, UserRecord, WriteOptions};
use nas_types::NasPath;

fn p(s: &str) -> NasPath {
    NasPath::parse(s).unwrap()
}

fn store_with(user: &str) -> (tempfile::TempDir, Store, Accounts) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let accounts = Accounts::open(dir.path()).unwrap();
    accounts
        .create(&UserRecord {
            name: user.into(),
            password: String::new(),
            role: "user".into(),
            quota: None,
            disabled: false,
            created_ns: 0,
            keep_versions: None,
            keep_days: None,
            sessions_epoch: 0,
        })
        .unwrap();
    (dir, store, accounts)
}

#[test]
fn a_share_follows_its_target_and_dies_with_it() {
    let (_d, store, _a) = store_with("ann");
    let home = store.home("ann").unwrap();
    home.mkdir(&p("/docs")).unwrap();
    home.write_all(&p("/docs/a.txt"), b"a", WriteOptions::default())
        .unwrap();
    let (rec, token) = home.create_share(&p("/docs"), NewShare::read()).unwrap();
    assert_eq!(token.len(), crate::SHARE_TOKEN_LEN);
    assert_eq!(rec.token_hash, crate::share_token_hash(&token));
    home.rename(&p("/docs"), &p("/papers"), false).unwrap();
    let open = store.open_share(&token).unwrap();
    assert_eq!(open.root, p("/papers"));
    assert_eq!(open.path(&p("/a.txt")).unwrap(), p("/papers/a.txt"));
    let listed = home.shares().unwrap();
    assert_eq!(listed[0].path, Some(p("/papers")));
    assert!(listed[0].is_dir);
    // in the trash: unknown, and the owner sees no path
    let t = home.delete(&p("/papers")).unwrap();
    assert!(matches!(store.open_share(&token), Err(ShareError::Unknown)));
    assert_eq!(home.shares().unwrap()[0].path, None);
    // restored: works again (the node is the same)
    home.trash_restore(t.id, None).unwrap();
    assert!(store.open_share(&token).is_ok());
    // revoked: unknown at once
    assert!(home.revoke_share(&rec.id).unwrap());
    assert!(matches!(store.open_share(&token), Err(ShareError::Unknown)));
    assert!(matches!(
        store.open_share("not-a-token"),
        Err(ShareError::Unknown)
    ));
}

#[test]
fn expiry_limits_and_the_owner_are_checked() {
    let (_d, store, accounts) = store_with("ann");
    let home = store.home("ann").unwrap();
    home.write_all(&p("/f"), b"x", WriteOptions::default())
        .unwrap();
    let now = crate::now_ns();
    let past = NewShare {
        expires_ns: Some(now - 1),
        ..NewShare::read()
    };
    assert!(home.create_share(&p("/f"), past).is_err());
    let soon = NewShare {
        expires_ns: Some(now + 200_000_000),
        ..NewShare::read()
    };
    let (_, t_exp) = home.create_share(&p("/f"), soon).unwrap();
    let limited = NewShare {
        max_downloads: Some(2),
        ..NewShare::read()
    };
    let (_, t_lim) = home.create_share(&p("/f"), limited).unwrap();
    let open = store.open_share(&t_lim).unwrap();
    open.take_download().unwrap();
    open.take_download().unwrap();
    assert!(matches!(open.take_download(), Err(ShareError::Exhausted)));
    assert!(matches!(
        store.open_share(&t_lim),
        Err(ShareError::Exhausted)
    ));
    assert!(store.open_share(&t_exp).is_ok());
    std::thread::sleep(std::time::Duration::from_millis(250));
    assert!(matches!(store.open_share(&t_exp), Err(ShareError::Expired)));
    // a disabled owner's links are refused
    let (_, t) = home.create_share(&p("/f"), NewShare::read()).unwrap();
    let mut u = accounts.get("ann").unwrap().unwrap();
    u.disabled = true;
    accounts.update(&u).unwrap();
    assert!(matches!(store.open_share(&t), Err(ShareError::Unknown)));
}

#[test]
fn a_drop_needs_a_folder_and_never_takes_a_used_name() {
    let (_d, store, _a) = store_with("ann");
    let home = store.home("ann").unwrap();
    home.mkdir(&p("/in")).unwrap();
    home.write_all(&p("/in/a.txt"), b"1", WriteOptions::default())
        .unwrap();
    home.write_all(&p("/in/a (2).txt"), b"2", WriteOptions::default())
        .unwrap();
    let drop = NewShare {
        kind: ShareKind::Drop,
        ..NewShare::read()
    };
    assert!(home.create_share(&p("/in/a.txt"), drop.clone()).is_err());
    let (_, t) = home.create_share(&p("/in"), drop).unwrap();
    let open = store.open_share(&t).unwrap();
    assert_eq!(open.free_name("b.txt").unwrap(), p("/in/b.txt"));
    assert_eq!(open.free_name("a.txt").unwrap(), p("/in/a (3).txt"));
}

#[test]
fn the_whole_home_can_be_shared_and_listed_with_its_path() {
    let (_d, store, _a) = store_with("ann");
    let home = store.home("ann").unwrap();
    home.write_all(&p("/x.txt"), b"x", WriteOptions::default())
        .unwrap();
    let (_, t) = home
        .create_share(&NasPath::root(), NewShare::read())
        .unwrap();
    let open = store.open_share(&t).unwrap();
    assert!(open.root.is_root());
    assert_eq!(open.path(&p("/x.txt")).unwrap(), p("/x.txt"));
    assert_eq!(home.shares().unwrap()[0].path, Some(NasPath::root()));
    // another account's home is not reachable through a share
    assert!(store.home("bob").unwrap().shares().unwrap().is_empty());
    assert!(
        !store
            .home("bob")
            .unwrap()
            .revoke_share(&home.shares().unwrap()[0].record.id)
            .unwrap()
    );
}

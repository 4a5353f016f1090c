use super::*;

fn setup() -> (tempfile::TempDir, Authenticator) {
    let dir = tempfile::tempdir().unwrap();
    let store = nas_engine::Store::open(dir.path(), Default::default()).unwrap();
    add_user(
        &store.accounts(),
        "bob",
        "s3cret!",
        Role::ReadOnly,
        Some(1000),
    )
    .unwrap();
    (dir, Authenticator::new(store.accounts()))
}

fn ip() -> IpAddr {
    "10.0.0.1".parse().unwrap()
}

#[test]
fn hashes_verify_and_differ() {
    let a = hash_password("pw");
    let b = hash_password("pw");
    assert_ne!(a, b, "salted");
    assert!(a.starts_with("$argon2id$"));
    assert!(verify_password("pw", &a));
    assert!(!verify_password("pw2", &a));
    assert!(!verify_password("pw", "not a hash"));
    assert!(!verify_password("x", dummy_hash()));
    assert!(dummy_hash().starts_with("$argon2id$"));
    let g = generate_password();
    assert_eq!(g.len(), 24);
    assert_ne!(g, generate_password());
}

#[test]
fn verify_roles_domain_names_and_changes() {
    let (_d, auth) = setup();
    assert!(
        auth.verify_cached("bob", "s3cret!", ip()).is_none(),
        "nothing cached yet"
    );
    let p = auth.verify("bob", "s3cret!", ip()).unwrap();
    assert_eq!(auth.verify_cached("bob", "s3cret!", ip()), Some(p.clone()));
    assert!(auth.verify_cached("bob", "wrong", ip()).is_none());
    assert_eq!((p.role, p.quota), (Role::ReadOnly, Some(1000)));
    assert!(!p.role.can_write());
    assert_eq!(
        auth.verify("WORKGROUP\\bob", "s3cret!", ip()).unwrap().name,
        "bob"
    );
    assert!(matches!(
        auth.verify("nobody", "x", ip()),
        Err(AuthError::Invalid)
    ));
    // a password change applies at once, even with a cached verification
    let mut u = auth.accounts().get("bob").unwrap().unwrap();
    u.password = hash_password("new");
    auth.accounts().update(&u).unwrap();
    assert!(matches!(
        auth.verify("bob", "s3cret!", ip()),
        Err(AuthError::Invalid)
    ));
    assert!(auth.verify("bob", "new", ip()).is_ok());
    u = auth.accounts().get("bob").unwrap().unwrap();
    u.disabled = true;
    auth.accounts().update(&u).unwrap();
    assert!(matches!(
        auth.verify("bob", "new", ip()),
        Err(AuthError::Invalid)
    ));
}

#[test]
fn failures_are_rate_limited() {
    let (_d, auth) = setup();
    for _ in 0..10 {
        assert!(matches!(
            auth.verify("bob", "wrong", ip()),
            Err(AuthError::Invalid)
        ));
    }
    assert!(matches!(
        auth.verify("bob", "s3cret!", ip()),
        Err(AuthError::RateLimited(_))
    ));
    // another user from another address is not affected
    let l = RateLimiter::new(2, Duration::from_secs(60));
    l.fail("x", ip());
    l.fail("x", ip());
    assert!(l.check("x", "10.0.0.2".parse().unwrap()).is_err());
    assert!(l.check("y", "10.0.0.2".parse().unwrap()).is_ok());
}

#[test]
fn names_are_checked() {
    assert!(valid_name("alice.b-2_x"));
    for bad in ["", ".hidden", "a/b", "a b", "a\\b", &"x".repeat(65)] {
        assert!(!valid_name(bad), "{bad:?}");
    }
    assert_eq!(Role::parse("admin"), Some(Role::Admin));
    assert_eq!(Role::parse("root"), None);
}

#[test]
fn access_keys_belong_to_users_and_can_be_revoked() {
    let (_d, auth) = setup();
    let a = auth.accounts();
    assert!(matches!(create_key(a, "nobody"), Err(AuthError::Invalid)));
    let (id, secret) = create_key(a, "bob").unwrap();
    assert!(id.starts_with("SN") && id.len() == 20);
    assert_eq!(secret.len(), 40);
    let (who, s) = key_owner(a, &id).unwrap();
    assert_eq!((who.name.as_str(), s.as_str()), ("bob", secret.as_str()));
    assert!(a.revoke_key(&id).unwrap());
    assert!(matches!(key_owner(a, &id), Err(AuthError::Invalid)));
    assert!(matches!(key_owner(a, "SNUNKNOWN"), Err(AuthError::Invalid)));
}

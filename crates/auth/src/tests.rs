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
fn failures_are_throttled_per_address_never_per_user() {
    let (_d, auth) = setup();
    for _ in 0..10 {
        assert!(matches!(
            auth.verify("bob", "wrong", ip()),
            Err(AuthError::Invalid)
        ));
    }
    // the guessing address is refused, even with the right password
    assert!(matches!(
        auth.verify("bob", "s3cret!", ip()),
        Err(AuthError::RateLimited(_))
    ));
    // bob, from an address that has not failed, signs in at once
    let t = Instant::now();
    assert!(
        auth.verify("bob", "s3cret!", "10.0.0.2".parse().unwrap())
            .is_ok()
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn client_addresses_come_from_trusted_proxies_only() {
    let proxy: IpAddr = "127.0.0.1".parse().unwrap();
    let other: IpAddr = "192.0.2.9".parse().unwrap();
    let trusted = [proxy];
    // an untrusted peer's X-Forwarded-For is ignored
    assert_eq!(client_address(other, ["10.0.0.1"], &trusted), other);
    // the right-most untrusted hop is the client; what it prepended is not believed
    assert_eq!(
        client_address(proxy, ["10.0.0.2, 10.0.0.1"], &trusted),
        ip()
    );
    assert_eq!(
        client_address(proxy, ["10.0.0.2", "10.0.0.1, 127.0.0.1"], &trusted),
        ip()
    );
    assert_eq!(client_address(proxy, ["junk, 10.0.0.1"], &trusted), ip());
    assert_eq!(client_address(proxy, ["10.0.0.1, junk"], &trusted), proxy);
    assert_eq!(client_address(proxy, Vec::<&str>::new(), &trusted), proxy);
}

#[test]
fn a_readonly_accounts_credentials_are_read_only() {
    let (_d, auth) = setup(); // bob is readonly
    let a = auth.accounts();
    let k = create_named_key(a, "bob", None, false).unwrap();
    assert!(k.read_only);
    let (app, _) = create_app_password(a, "bob", "phone", false).unwrap();
    assert!(app.read_only);
    add_user(a, "carol", "pw-carol-1", Role::User, None).unwrap();
    assert!(!create_named_key(a, "carol", None, false).unwrap().read_only);
    assert!(create_named_key(a, "carol", None, true).unwrap().read_only);
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

#[test]
fn app_passwords_sign_in_as_their_owner_until_deleted() {
    let (_d, auth) = setup();
    let acc = auth.accounts().clone();
    add_user(&acc, "ann", "ann-password", Role::Admin, None).unwrap();
    let (rec, secret) = create_app_password(&acc, "ann", " phone ", false).unwrap();
    assert_eq!(rec.name, "phone");
    assert!(looks_like_app_password(&secret), "{secret}");
    assert_ne!(rec.hash, [0; 32]);
    let (ro, ro_secret) = create_app_password(&acc, "ann", "backup", true).unwrap();
    // Basic (name + app password), cached path and full path alike
    let p = auth.verify_cached("ann", &secret, ip()).unwrap();
    assert_eq!(
        (p.role, p.app_password.as_deref()),
        (Role::Admin, Some(rec.id.as_str()))
    );
    assert_eq!(auth.verify("ann", &secret, ip()).unwrap(), p);
    assert_eq!(
        auth.verify("DOM\\ann", &ro_secret, ip()).unwrap().role,
        Role::ReadOnly
    );
    // Bearer (no name)
    assert_eq!(auth.verify_app_token(&secret, ip()).unwrap().name, "ann");
    // another user's name with ann's app password is refused
    assert!(auth.verify_cached("bob", &secret, ip()).is_none());
    assert!(matches!(
        auth.verify("bob", &secret, ip()),
        Err(AuthError::Invalid)
    ));
    // the account password is not an app token, a near miss is nothing
    assert!(auth.verify_app_token("ann-password", ip()).is_err());
    let mut wrong = secret.clone();
    wrong.pop();
    wrong.push(if secret.ends_with('a') { 'b' } else { 'a' });
    assert!(auth.verify_app_token(&wrong, ip()).is_err());
    assert!(matches!(
        auth.verify("ann", &wrong, ip()),
        Err(AuthError::Invalid)
    ));
    // deleting one stops it at once, the other goes on
    assert!(acc.delete_app_password("ann", &rec.id).unwrap());
    assert!(auth.verify_cached("ann", &secret, ip()).is_none());
    assert!(auth.verify_app_token(&secret, ip()).is_err());
    assert!(auth.verify_app_token(&ro_secret, ip()).is_ok());
    // a disabled owner signs in with none
    let mut u = acc.get("ann").unwrap().unwrap();
    u.disabled = true;
    acc.update(&u).unwrap();
    assert!(auth.verify_app_token(&ro_secret, ip()).is_err());
    assert!(
        acc.app_passwords("ann")
            .unwrap()
            .iter()
            .any(|a| a.id == ro.id)
    );
    // bad names, unknown owners
    assert!(matches!(
        create_app_password(&acc, "bob", "  ", false),
        Err(AuthError::BadCredentialName)
    ));
    assert!(matches!(
        create_app_password(&acc, "bob", &"x".repeat(MAX_APP_NAME + 1), false),
        Err(AuthError::BadCredentialName)
    ));
    assert!(matches!(
        create_app_password(&acc, "nobody", "x", false),
        Err(AuthError::Invalid)
    ));
}

/// A burst of sign-ins with the same good credentials (a client opening many connections
/// at once) all succeed: they wait for one verification instead of each counting as a
/// failure until it succeeds (which refused the burst with 429).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_the_same_good_credentials_is_never_throttled() {
    let (_d, a) = setup();
    let a = Arc::new(a);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.sign_in("bob".into(), "s3cret!".into(), ip()).await })
        })
        .collect();
    for t in tasks {
        let who = t
            .await
            .unwrap()
            .expect("every sign-in of the burst succeeds");
        assert_eq!(who.name, "bob");
    }
    // wrong passwords are still throttled, burst or not
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move { a.sign_in("bob".into(), format!("wrong-{i}"), ip()).await })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(AuthError::RateLimited(_)) => refused += 1,
            Err(AuthError::Invalid) => {}
            other => panic!("a wrong password: {other:?}"),
        }
    }
    assert!(
        refused > 0,
        "20 wrong passwords from one address are refused at some point"
    );
    assert!(
        a.inflight.lock().unwrap().is_empty(),
        "no gate is left behind"
    );
}

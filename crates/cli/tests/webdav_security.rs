//! Security of the WebDAV door: every user is confined to their own home whatever the path
//! spelling; read-only users cannot write; quotas refuse and store nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

const SECRET: &[u8] = b"alice's secret";

fn setup() -> (Server, String, String) {
    let s = Server::start();
    s.add_user("alice", "alice-password", &[]);
    s.add_user("bob", "bob-password", &[]);
    let (a, b) = (auth("alice", "alice-password"), auth("bob", "bob-password"));
    assert_eq!(
        curl(&["-u", &a, "-X", "MKCOL", &s.url("/dav/private")], None).status,
        201
    );
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/private/secret.txt")],
            Some(SECRET)
        )
        .status,
        201
    );
    (s, a, b)
}

#[test]
fn a_user_cannot_reach_another_home_by_any_spelling() {
    let (s, _a, b) = setup();
    let spellings = [
        "/dav/private/secret.txt",
        "/dav/../alice/private/secret.txt",
        "/dav/%2e%2e/alice/private/secret.txt",
        "/dav/%2E%2E/%2E%2E/alice/private/secret.txt",
        "/dav/..%2falice%2fprivate%2fsecret.txt",
        "/dav/%252e%252e/alice/private/secret.txt",
        "/dav/private%00/secret.txt",
        "/dav/%c0%ae%c0%ae/alice/private/secret.txt",
        "/dav//alice/private/secret.txt",
        "/alice/private/secret.txt",
        "/dav/./private/secret.txt",
    ];
    for path in spellings {
        let r = curl(&["-u", &b, &s.url(path)], None);
        assert!(
            r.body.windows(SECRET.len()).all(|w| w != SECRET),
            "{path} leaked alice's file"
        );
        assert!(r.status >= 400, "{path}: {}", r.status);
        let l = propfind(&b, &s.url(path), "1", None);
        assert!(!l.text().contains("secret"), "{path} listed alice's file");
    }
    // writes land in bob's own home, never in alice's
    assert_eq!(
        curl(
            &[
                "-u",
                &b,
                "-T",
                "-",
                &s.url("/dav/%2e%2e/alice/private/evil.txt")
            ],
            Some(b"evil")
        )
        .status
            / 100,
        4
    );
    assert_eq!(
        curl(
            &["-u", &b, "-T", "-", &s.url("/dav/mine.txt")],
            Some(b"bob")
        )
        .status,
        201
    );
    for dest in [
        "http://127.0.0.1:1/dav/../alice/private/evil.txt".to_owned(),
        "https://nas.example.com/dav/%2e%2e/alice/private/evil.txt".to_owned(),
        s.url("/dav/../alice/private/evil.txt"),
    ] {
        let r = curl(
            &[
                "-u",
                &b,
                "-X",
                "COPY",
                "-H",
                &format!("Destination: {dest}"),
                &s.url("/dav/mine.txt"),
            ],
            None,
        );
        assert!(r.status >= 400, "COPY to {dest}: {}", r.status);
        let r = curl(
            &[
                "-u",
                &b,
                "-X",
                "MOVE",
                "-H",
                &format!("Destination: {dest}"),
                &s.url("/dav/mine.txt"),
            ],
            None,
        );
        assert!(r.status >= 400, "MOVE to {dest}: {}", r.status);
    }
    let listing = curl(
        &[
            "-u",
            &auth("alice", "alice-password"),
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 1",
            &s.url("/dav/private/"),
        ],
        None,
    )
    .text();
    assert!(
        !listing.contains("evil"),
        "nothing reached alice's home: {listing}"
    );
    // bob's own files are where he expects them; alice's file is unchanged
    assert_eq!(
        curl(&["-u", &b, &s.url("/dav/mine.txt")], None).body,
        b"bob"
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &auth("alice", "alice-password"),
                &s.url("/dav/private/secret.txt")
            ],
            None
        )
        .body,
        SECRET
    );
}

#[test]
fn destination_is_compared_by_path_behind_a_proxy() {
    let (s, a, _b) = setup();
    // a TLS proxy forwards to us (naming the public host in X-Forwarded-Host) and the
    // client names its public https URL
    let r = curl(
        &[
            "-u",
            &a,
            "-X",
            "COPY",
            "-H",
            "Destination: https://nas.example.com/dav/private/copy.txt",
            "-H",
            "X-Forwarded-Host: nas.example.com",
            &s.url("/dav/private/secret.txt"),
        ],
        None,
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/private/copy.txt")], None).body,
        SECRET
    );
}

#[test]
fn read_only_users_cannot_write() {
    let (s, _a, _b) = setup();
    s.add_user("reader", "reader-password", &["--role", "readonly"]);
    let r = auth("reader", "reader-password");
    assert_eq!(
        curl(&["-u", &r, "-X", "PROPFIND", &s.url("/dav/")], None).status,
        207
    );
    assert_eq!(
        curl(&["-u", &r, "-T", "-", &s.url("/dav/x.txt")], Some(b"x")).status,
        403
    );
    assert_eq!(
        curl(&["-u", &r, "-X", "MKCOL", &s.url("/dav/d")], None).status,
        403
    );
    assert_eq!(
        curl(&["-u", &r, "-X", "DELETE", &s.url("/dav/x.txt")], None).status,
        403
    );
    assert_eq!(
        curl(&["-u", &r, "-X", "PROPPATCH", &s.url("/dav/")], None).status,
        403
    );
}

#[test]
fn quota_exceeded_is_507_and_stores_nothing() {
    let s = Server::start();
    s.add_user("small", "small-password", &["--quota", "1K"]);
    let u = auth("small", "small-password");
    assert_eq!(
        curl(
            &["-u", &u, "-T", "-", &s.url("/dav/ok.txt")],
            Some(&[1u8; 600])
        )
        .status,
        201
    );
    let r = curl(
        &["-u", &u, "-T", "-", &s.url("/dav/big.bin")],
        Some(&[2u8; 2000]),
    );
    assert_eq!(r.status, 507);
    assert_eq!(
        curl(&["-u", &u, &s.url("/dav/big.bin")], None).status,
        404,
        "nothing stored"
    );
    // replacing a file counts the new size, not old + new
    assert_eq!(
        curl(
            &["-u", &u, "-T", "-", &s.url("/dav/ok.txt")],
            Some(&[3u8; 900])
        )
        .status,
        204
    );
    let body = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/><d:quota-used-bytes/></d:prop></d:propfind>"#;
    let q = propfind(&u, &s.url("/dav/"), "0", Some(body)).text();
    assert!(q.contains("quota-used-bytes>900<"), "{q}");
    // a large body refused part way: the client still sending gets the 507 (the rest of
    // the body is read and discarded), and nothing is stored
    s.add_user("mid", "mid-password-1", &["--quota", "1M"]);
    let m = auth("mid", "mid-password-1");
    let big = content(8 << 20, 3);
    let r = curl(&["-u", &m, "-T", "-", &s.url("/dav/big.bin")], Some(&big));
    assert_eq!(r.status, 507);
    assert_eq!(curl(&["-u", &m, &s.url("/dav/big.bin")], None).status, 404);
    let fits = &big[..600 << 10];
    assert_eq!(
        curl(&["-u", &m, "-T", "-", &s.url("/dav/big.bin")], Some(fits)).status,
        201
    );
}

#[test]
fn failed_sign_ins_are_limited_per_client_even_behind_a_trusted_proxy() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "trusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let url = s.url("/dav/");
    // an attacker (10.0.0.66, as the proxy reports) guesses passwords for many names
    let mut limited = false;
    for i in 0..40 {
        let r = curl(
            &[
                "-u",
                &format!("user{i}:guess"),
                "-H",
                "X-Forwarded-For: 10.0.0.66",
                &url,
            ],
            None,
        );
        if r.status == 429 {
            limited = true;
            assert!(r.header("retry-after").is_some());
            break;
        }
        assert_eq!(r.status, 401);
    }
    assert!(limited, "the attacker's address gets 429");
    // the attacker is refused even with a right password; another client behind the same
    // proxy is not affected
    assert_eq!(
        curl(
            &[
                "-u",
                &format!("admin:{ADMIN_PW}"),
                "-H",
                "X-Forwarded-For: 10.0.0.66",
                &url
            ],
            None
        )
        .status,
        429
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &format!("admin:{ADMIN_PW}"),
                "-H",
                "X-Forwarded-For: 10.0.0.7",
                "-X",
                "PROPFIND",
                &url
            ],
            None
        )
        .status,
        207
    );
}

//! Two servers ("nodes") on one PostgreSQL database, each with its own data directory — the
//! shape of cluster mode (issue 17) — asked through both at once with real clients: what
//! one node does, the other honours. A REST sign-in on one node works on the other, a
//! logout on either ends it on both; a WebDAV lock taken on one node is enforced by the
//! other and can be released there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_testkit::pg::TestPg;
use std::time::{Duration, Instant};

/// Nodes a and b on one fresh database (and the directory of their data directories).
fn two_nodes() -> (tempfile::TempDir, Server, Server) {
    let url = TestPg::shared().fresh_db();
    let t = tempfile::tempdir().unwrap();
    let a = Server::start_pg(&t.path().join("a"), &url, &[]);
    let b = Server::start_pg(&t.path().join("b"), &url, &[]);
    (t, a, b)
}

fn post(s: &Server, token: Option<&str>, path: &str, body: &str) -> Reply {
    let bearer = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["-X", "POST", "-H", "Content-Type: application/json"];
    if let Some(h) = &bearer {
        args.extend(["-H", h]);
    }
    args.extend(["--data-binary", body]);
    let url = s.url(path);
    args.push(&url);
    curl(&args, None)
}

fn me(s: &Server, token: &str) -> u16 {
    let h = format!("Authorization: Bearer {token}");
    curl(&["-H", &h, &s.url("/api/v1/me")], None).status
}

/// A token signed on one node is accepted by the other (one shared signing key, and the
/// session is found on a miss), a refresh on either works on both, and a logout on one
/// node ends the session on the other too.
#[test]
fn a_rest_session_is_shared_by_the_nodes_and_ended_on_both() {
    let (_t, a, b) = two_nodes();
    let login = serde_json::json!({"username": "admin", "password": ADMIN_PW}).to_string();
    let r = post(&a, None, "/api/v1/auth/login", &login);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    let (access, refresh) = (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(me(&b, &access), 200, "signed on a, accepted on b at once");
    let body = serde_json::json!({ "refresh_token": refresh }).to_string();
    let r = post(&b, None, "/api/v1/auth/refresh", &body);
    assert_eq!(r.status, 200, "refresh on b: {}", r.text());
    let renewed = json(&r)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&a, &renewed), 200, "refreshed on b, accepted on a");
    // the old refresh token was rotated on b: replayed on a, it ends the session
    let replay = post(&a, None, "/api/v1/auth/refresh", &body);
    assert_eq!(replay.status, 401, "{}", replay.text());
    // a new session, ended by a logout on b, is refused on a (within a second or two)
    let r = post(&a, None, "/api/v1/auth/login", &login);
    let access = json(&r)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&a, &access), 200);
    assert_eq!(me(&b, &access), 200);
    let out = post(&b, Some(&access), "/api/v1/auth/logout", "");
    assert!(matches!(out.status, 200 | 204), "logout: {}", out.status);
    assert_eq!(me(&b, &access), 401, "ended on b at once");
    let until = Instant::now() + Duration::from_secs(10);
    while me(&a, &access) != 401 {
        assert!(Instant::now() < until, "the logout on b never reached a");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>test</D:href></D:owner></D:lockinfo>"#;

/// A lock taken on node a refuses a write without its token on node b — even after b
/// answered queries while no lock existed — accepts one with it, and b can release it.
#[test]
fn a_webdav_lock_taken_on_one_node_is_enforced_on_the_other() {
    let (_t, a, b) = two_nodes();
    let adm = auth("admin", ADMIN_PW);
    put(&b, "f.txt", b"first");
    // b answers while no lock exists anywhere (a single server would remember "none")
    assert_eq!(propfind(&adm, &b.url("/dav/"), "1", None).status, 207);
    assert_eq!(
        curl(
            &["-u", &adm, "-T", "-", &b.url("/dav/f.txt")],
            Some(b"second")
        )
        .status,
        204
    );
    let lock = curl(
        &[
            "-u",
            &adm,
            "-X",
            "LOCK",
            "--data-binary",
            LOCKINFO,
            &a.url("/dav/f.txt"),
        ],
        None,
    );
    assert_eq!(lock.status, 200, "LOCK on a: {}", lock.text());
    let token = lock.header("lock-token").unwrap();
    let url_b = b.url("/dav/f.txt");
    assert_eq!(
        curl(&["-u", &adm, "-T", "-", &url_b], Some(b"no token")).status,
        423,
        "locked on a, refused on b"
    );
    assert_eq!(
        curl(&["-u", &adm, "-X", "DELETE", &url_b], None).status,
        423
    );
    let with = format!("If: ({token})");
    assert_eq!(
        curl(
            &["-u", &adm, "-T", "-", "-H", &with, &url_b],
            Some(b"third")
        )
        .status,
        204
    );
    let unlock = format!("Lock-Token: {token}");
    assert_eq!(
        curl(&["-u", &adm, "-X", "UNLOCK", "-H", &unlock, &url_b], None).status,
        204,
        "released on b"
    );
    assert_eq!(
        curl(
            &["-u", &adm, "-T", "-", &a.url("/dav/f.txt")],
            Some(b"fourth")
        )
        .status,
        204,
        "free on a"
    );
}

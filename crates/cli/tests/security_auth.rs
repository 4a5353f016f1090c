//! Security of accounts, sessions and REST bodies (issue 18), against the real server over
//! real sockets: nobody can lock a victim out by failing for them (findings 7), disabling
//! an account or changing its password ends its sessions for good (9), a read-only
//! account's credentials are read-only and refresh tokens rotate with reuse detection
//! (12), and JSON bodies have size and depth limits (1). Two client addresses are played
//! through a trusted proxy: the server trusts 127.0.0.1, so `X-Forwarded-For` names the
//! client (attacker A = 10.0.0.66, victim B = 10.0.0.7).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const A: &str = "X-Forwarded-For: 10.0.0.66";
const B: &str = "X-Forwarded-For: 10.0.0.7";
const VICTIM_PW: &str = "victim-password-1";

fn parse(r: &Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

/// A server that trusts 127.0.0.1 as its reverse proxy, with the user `victim`.
fn behind_proxy() -> (tempfile::TempDir, Server) {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "trusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    s.add_user("victim", VICTIM_PW, &[]);
    (t, s)
}

/// POST of a JSON body (`headers` added), from the proxy.
fn post_json(s: &Server, path: &str, headers: &[&str], body: &str) -> Reply {
    let mut args = vec!["-X", "POST", "-H", "Content-Type: application/json"];
    for h in headers {
        args.extend(["-H", h]);
    }
    let url = s.url(path);
    args.extend(["--data-binary", body, &url]);
    curl(&args, None)
}

fn login(s: &Server, user: &str, pw: &str, from: &str) -> Reply {
    let body = json!({"username": user, "password": pw}).to_string();
    post_json(s, "/api/v1/auth/login", &[from], &body)
}

/// (access, refresh) of a new session.
fn tokens(s: &Server, user: &str, pw: &str) -> (String, String) {
    let r = login(s, user, pw, B);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = parse(&r);
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn me(s: &Server, access: &str) -> u16 {
    let h = format!("Authorization: Bearer {access}");
    curl(&["-H", &h, &s.url("/api/v1/me")], None).status
}

fn refresh(s: &Server, refresh: &str) -> Reply {
    let body = json!({ "refresh_token": refresh }).to_string();
    post_json(s, "/api/v1/auth/refresh", &[], &body)
}

/// `silent-nas ARGS --data DIR` while the server runs, with `stdin` as standard input.
fn nas(s: &Server, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut c = Command::new(bin())
        .args(args)
        .args(["--data", s.data.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{stdin}").unwrap();
    assert!(c.wait().unwrap().success(), "silent-nas {args:?}");
}

/// Every door that takes the victim's password (or an app password of theirs), from `from`:
/// the statuses of REST login, REST Basic, WebDAV Basic, and the app password over WebDAV
/// Basic and as a REST Bearer token.
fn every_door(s: &Server, from: &str, app: &str) -> Vec<u16> {
    let basic = auth("victim", VICTIM_PW);
    let app_basic = auth("victim", app);
    let app_bearer = format!("Authorization: Bearer {app}");
    vec![
        login(s, "victim", VICTIM_PW, from).status,
        curl(&["-u", &basic, "-H", from, &s.url("/api/v1/me")], None).status,
        propfind(&basic, from, &s.url("/dav/")),
        propfind(&app_basic, from, &s.url("/dav/")),
        curl(&["-H", &app_bearer, "-H", from, &s.url("/api/v1/me")], None).status,
    ]
}

fn propfind(user_pw: &str, from: &str, url: &str) -> u16 {
    let args = [
        "-u", user_pw, "-H", from, "-X", "PROPFIND", "-H", "Depth: 0", url,
    ];
    curl(&args, None).status
}

fn app_password(s: &Server, user: &str, pw: &str, body: &str) -> Value {
    let r = curl(
        &[
            "-u",
            &auth(user, pw),
            "-H",
            B,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
            &s.url("/api/v1/me/app-passwords"),
        ],
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    parse(&r)
}

#[test]
fn wrong_passwords_for_a_victim_slow_and_refuse_the_guesser_never_the_victim() {
    let (_t, s) = behind_proxy();
    let app = app_password(&s, "victim", VICTIM_PW, r#"{"name":"phone"}"#)["password"]
        .as_str()
        .unwrap()
        .to_owned();
    // A guesses the victim's password 20 times
    let started = Instant::now();
    let mut statuses = Vec::new();
    for i in 0..20 {
        let r = login(&s, "victim", &format!("guess-{i}"), A);
        if r.status == 429 {
            let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=15 * 60).contains(&wait), "{wait}");
        }
        statuses.push(r.status);
    }
    let guessing = started.elapsed();
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");
    // slowed down before being refused: 100 ms, 200 ms … 2 s per try after the third
    assert!(guessing >= Duration::from_secs(3), "{guessing:?}");
    // the victim, from an address that has not failed, signs in at once at every door
    assert_eq!(every_door(&s, B, &app), [200, 200, 207, 207, 200]);
    // the guesser is refused even with the right password, at every door of that name
    let a = every_door(&s, A, &app);
    assert_eq!(a[..4], [429, 429, 429, 429], "{a:?}");
    assert_eq!(
        a[4], 200,
        "a Bearer app password names no user: only a refused address stops it"
    );
    // another name from the guesser's address is not refused (that would be spraying)
    let admin = curl(
        &[
            "-u",
            &auth("admin", ADMIN_PW),
            "-H",
            A,
            &s.url("/api/v1/me"),
        ],
        None,
    );
    assert_eq!(admin.status, 200);
}

#[test]
fn x_forwarded_for_is_believed_only_from_a_trusted_proxy_and_only_its_last_hop() {
    // no trusted proxy: a rotating X-Forwarded-For changes nothing, the peer is the client
    let plain = Server::start();
    plain.add_user("victim", VICTIM_PW, &[]);
    let mut statuses = Vec::new();
    for i in 0..11 {
        let spoof = format!("X-Forwarded-For: 10.9.{i}.1");
        statuses.push(login(&plain, "victim", "wrong-guess", &spoof).status);
    }
    assert_eq!(statuses[10], 429, "{statuses:?}");
    // behind a trusted proxy, what the client prepends is not believed: the proxy's
    // appended hop (10.0.0.66) is the client, whatever comes before it
    let (_t, s) = behind_proxy();
    let mut statuses = Vec::new();
    for i in 0..11 {
        let spoof = format!("X-Forwarded-For: 10.9.{i}.1, 10.0.0.66");
        statuses.push(login(&s, "victim", "wrong-guess", &spoof).status);
    }
    assert_eq!(statuses[10], 429, "{statuses:?}");
    // nor can the guesser pass for the victim's address
    let spoof = "X-Forwarded-For: 10.0.0.7, 10.0.0.66";
    assert_eq!(login(&s, "victim", VICTIM_PW, spoof).status, 429);
    assert_eq!(login(&s, "victim", VICTIM_PW, B).status, 200);
}

#[test]
fn an_address_failing_for_many_names_or_app_passwords_is_refused_with_retry_after() {
    let (_t, s) = behind_proxy();
    // wrong app passwords as Bearer tokens count against the address (no argon2 involved)
    for i in 0..30 {
        let fake = format!("Authorization: Bearer snap_{:032}", i);
        let r = curl(&["-H", &fake, "-H", A, &s.url("/api/v1/me")], None);
        assert_eq!(r.status, 401, "try {i}: {}", r.text());
    }
    let fake = format!("Authorization: Bearer snap_{:032}", 99);
    let r = curl(&["-H", &fake, "-H", A, &s.url("/api/v1/me")], None);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // the address is refused for every name and door now, right password or not
    assert_eq!(login(&s, "admin", ADMIN_PW, A).status, 429);
    assert_eq!(propfind(&auth("admin", ADMIN_PW), A, &s.url("/dav/")), 429);
    // other clients are not
    assert_eq!(login(&s, "admin", ADMIN_PW, B).status, 200);
}

#[test]
fn disabling_an_account_ends_its_sessions_for_good() {
    let (_t, s) = behind_proxy();
    s.add_user("tok", "tok-password-1", &[]);
    // with the CLI while the server runs
    let (access, refresh_token) = tokens(&s, "tok", "tok-password-1");
    assert_eq!(me(&s, &access), 200);
    nas(&s, &["user", "set", "tok", "--disable"], "");
    assert_eq!(me(&s, &access), 401);
    nas(&s, &["user", "set", "tok", "--enable"], "");
    assert_eq!(me(&s, &access), 401, "re-enabling revives no access token");
    assert_eq!(
        refresh(&s, &refresh_token).status,
        401,
        "nor a refresh token"
    );
    // the account itself works again, with new sessions
    let (access2, refresh2) = tokens(&s, "tok", "tok-password-1");
    assert_eq!(me(&s, &access2), 200);
    // the same through the REST door's admin route
    let (admin, _) = tokens(&s, "admin", ADMIN_PW);
    let h = format!("Authorization: Bearer {admin}");
    for disabled in [true, false] {
        let r = curl(
            &[
                "-X",
                "PATCH",
                "-H",
                &h,
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &json!({ "disabled": disabled }).to_string(),
                &s.url("/api/v1/admin/users/tok"),
            ],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(me(&s, &access2), 401);
    assert_eq!(refresh(&s, &refresh2).status, 401);
    assert_eq!(me(&s, &tokens(&s, "tok", "tok-password-1").0), 200);
}

#[test]
fn a_password_change_ends_every_session() {
    let (_t, s) = behind_proxy();
    s.add_user("pat", "pat-password-1", &[]);
    let (access, refresh_token) = tokens(&s, "pat", "pat-password-1");
    let (other, _) = tokens(&s, "pat", "pat-password-1");
    nas(
        &s,
        &["user", "passwd", "pat", "--password-stdin"],
        "pat-password-2",
    );
    assert_eq!(me(&s, &access), 401);
    assert_eq!(me(&s, &other), 401);
    assert_eq!(refresh(&s, &refresh_token).status, 401);
    assert_eq!(login(&s, "pat", "pat-password-1", B).status, 401);
    let (new, _) = tokens(&s, "pat", "pat-password-2");
    assert_eq!(me(&s, &new), 200);
}

#[test]
fn a_read_only_accounts_credentials_are_read_only_whatever_is_asked() {
    let (_t, s) = behind_proxy();
    s.add_user("ro", "ro-password-1", &["--role", "readonly"]);
    // an app password
    let app = app_password(
        &s,
        "ro",
        "ro-password-1",
        r#"{"name":"x","read_only":false}"#,
    );
    assert_eq!(app["read_only"], true, "{app}");
    let put = curl(
        &[
            "-u",
            &format!("ro:{}", app["password"].as_str().unwrap()),
            "-T",
            "-",
            &s.url("/dav/w.txt"),
        ],
        Some(b"x"),
    );
    assert_eq!(put.status, 403);
    // its own S3 key
    let key = curl(
        &[
            "-u",
            &auth("ro", "ro-password-1"),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"name":"k","read_only":false}"#,
            &s.url("/api/v1/me/keys"),
        ],
        None,
    );
    assert_eq!(key.status, 201, "{}", key.text());
    assert_eq!(parse(&key)["read_only"], true);
    // a key an administrator makes for it, over REST and with the CLI
    let admin_key = curl(
        &[
            "-u",
            &auth("admin", ADMIN_PW),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"user":"ro","read_only":false}"#,
            &s.url("/api/v1/admin/keys"),
        ],
        None,
    );
    assert_eq!(admin_key.status, 201, "{}", admin_key.text());
    assert_eq!(parse(&admin_key)["read_only"], true);
    s.s3_key("ro");
    let out = Command::new(bin())
        .args(["key", "list", "--json", "--data", s.data.to_str().unwrap()])
        .output()
        .unwrap();
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ro_keys: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["user"] == "ro")
        .collect();
    assert_eq!(ro_keys.len(), 3);
    assert!(ro_keys.iter().all(|k| k["read_only"] == true), "{keys}");
    // an account that may write still chooses
    let w = app_password(&s, "victim", VICTIM_PW, r#"{"name":"w","read_only":false}"#);
    assert_eq!(w["read_only"], false);
}

#[test]
fn refresh_tokens_rotate_and_a_replayed_one_ends_the_session() {
    let (_t, s) = behind_proxy();
    let (_, r0) = tokens(&s, "victim", VICTIM_PW);
    let first = refresh(&s, &r0);
    assert_eq!(first.status, 200, "{}", first.text());
    let v = parse(&first);
    let (a1, r1) = (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(r1, r0, "a new refresh token");
    assert!(v["refresh_expires_in"].as_i64().unwrap() > 0);
    assert_eq!(me(&s, &a1), 200);
    let second = refresh(&s, &r1);
    assert_eq!(second.status, 200);
    let r2 = parse(&second)["refresh_token"].as_str().unwrap().to_owned();
    // r1 is spent: presenting it again (a thief, or the owner after a theft) ends the session
    let replay = refresh(&s, &r1);
    assert_eq!(replay.status, 401);
    assert!(replay.text().contains("already used"), "{}", replay.text());
    assert_eq!(refresh(&s, &r2).status, 401, "the whole session is over");
    assert_eq!(me(&s, &a1), 401);
    // other sessions are untouched
    let (a, r) = tokens(&s, "victim", VICTIM_PW);
    assert_eq!(refresh(&s, &r).status, 200);
    assert_eq!(me(&s, &a), 200);
}

#[test]
fn json_bodies_beyond_the_depth_or_size_limit_are_refused_and_the_server_keeps_serving() {
    let (_t, s) = behind_proxy();
    let (admin, _) = tokens(&s, "admin", ADMIN_PW);
    let h = format!("Authorization: Bearer {admin}");
    let deep = "[".repeat(100_000).into_bytes();
    let mut big = br#"{"name":""#.to_vec();
    big.resize(2 << 20, b'x');
    big.extend_from_slice(br#""}"#);
    let routes = [
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/me/keys"),
        ("POST", "/api/v1/me/app-passwords"),
        ("POST", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/victim"),
        ("POST", "/api/v1/admin/keys"),
        ("POST", "/api/v1/move"),
        ("POST", "/api/v1/copy"),
        ("POST", "/api/v1/trash/restore"),
        ("POST", "/api/v1/versions/a.txt/restore"),
        ("POST", "/api/v1/instant/a.txt"),
    ];
    for (method, path) in routes {
        let url = s.url(path);
        let base = [
            "-X",
            method,
            "-H",
            &h,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ];
        let r = curl(&[&base[..], &[&url]].concat(), Some(&deep));
        assert_eq!(r.status, 400, "{method} {path} deep: {}", r.text());
        assert_eq!(parse(&r)["error"]["code"], "bad_request");
        let r = curl(&[&base[..], &[&url]].concat(), Some(&big));
        assert_eq!(r.status, 413, "{method} {path} big: {}", r.text());
        assert_eq!(parse(&r)["error"]["code"], "too_large");
        // without a Content-Length, the limit holds while reading
        let chunked = [&base[..], &["-H", "Transfer-Encoding: chunked", &url]].concat();
        assert_eq!(curl(&chunked, Some(&big)).status, 413, "{method} {path}");
    }
    // a normal body still works, and the server still serves
    assert_eq!(me(&s, &admin), 200);
    assert_eq!(login(&s, "victim", VICTIM_PW, B).status, 200);
}

#[test]
fn a_user_cannot_grow_their_credentials_without_bound() {
    let (_t, s) = behind_proxy();
    let me_basic = auth("victim", VICTIM_PW);
    let create = |path: &str, body: &str| post_json_as(&s, &me_basic, path, body);
    for (path, what) in [
        ("/api/v1/me/app-passwords", "app password"),
        ("/api/v1/me/keys", "key"),
    ] {
        let mut first_id = String::new();
        for i in 0..100 {
            let r = create(path, &json!({ "name": format!("n{i}") }).to_string());
            assert_eq!(r.status, 201, "{what} {i}: {}", r.text());
            if i == 0 {
                let v = parse(&r);
                first_id = v["id"]
                    .as_str()
                    .or(v["access_key_id"].as_str())
                    .unwrap()
                    .to_owned();
            }
        }
        let r = create(path, r#"{"name":"one too many"}"#);
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert!(r.text().contains("at most 100"), "{}", r.text());
        // deleting (revoking) one makes room
        let del = format!("{path}/{first_id}");
        let r = curl(&["-u", &me_basic, "-X", "DELETE", &s.url(&del)], None);
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(create(path, r#"{"name":"again"}"#).status, 201, "{what}");
    }
}

#[test]
fn a_burst_of_parallel_guesses_gets_no_more_tries_than_a_sequence() {
    let (_t, s) = behind_proxy();
    let s = std::sync::Arc::new(s);
    let statuses: Vec<u16> = (0..30)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || login(&s, "victim", &format!("burst-{i}"), A).status)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let wrong = statuses.iter().filter(|&&c| c == 401).count();
    let refused = statuses.iter().filter(|&&c| c == 429).count();
    assert_eq!((wrong, refused), (10, 20), "{statuses:?}");
    assert_eq!(login(&s, "victim", VICTIM_PW, B).status, 200);
}

#[test]
fn names_a_client_invents_are_cut_before_they_reach_the_audit_log() {
    let (_t, s) = behind_proxy();
    let long = "u".repeat(100_000);
    assert_eq!(login(&s, &long, "whatever-pw", B).status, 401);
    let basic = format!("{}:pw", "w".repeat(20_000));
    assert_eq!(propfind(&basic, B, &s.url("/dav/")), 401);
    let (admin, _) = tokens(&s, "admin", ADMIN_PW);
    let h = format!("Authorization: Bearer {admin}");
    let r = curl(&["-H", &h, &s.url("/api/v1/admin/audit?limit=1000")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.len() < 64 << 10, "{} bytes", r.body.len());
    let v = parse(&r);
    let users: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["user"].as_str())
        .collect();
    for prefix in ["uuuu", "wwww"] {
        let u = users.iter().find(|u| u.starts_with(prefix)).expect(prefix);
        assert!(u.len() <= 1024, "{prefix}: {} bytes", u.len());
    }
}

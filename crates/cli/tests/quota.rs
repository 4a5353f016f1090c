//! The quota is an engine rule (issue 11): every path that adds content — WebDAV PUT and
//! COPY, REST upload, copy, version restore and trash restore, concurrent uploads — is held
//! to it by the commit itself, and what `/api/v1/me` reports is the counter the commit
//! keeps, which `fsck` checks against a recount.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

const MB: usize = 1_000_000;

fn me_used(s: &Server, u: &str) -> u64 {
    let r = curl(&["-u", u, &s.url("/api/v1/me")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["used_bytes"].as_u64().unwrap()
}

fn put(s: &Server, u: &str, path: &str, len: usize, seed: u64) -> u16 {
    curl(
        &["-u", u, "-T", "-", &s.url(&format!("/dav{path}"))],
        Some(&content(len, seed)),
    )
    .status
}

fn dav(s: &Server, u: &str, method: &str, from: &str, to: &str) -> u16 {
    let dest = format!("Destination: {}", s.url(&format!("/dav{to}")));
    curl(
        &[
            "-u",
            u,
            "-X",
            method,
            "-H",
            &dest,
            &s.url(&format!("/dav{from}")),
        ],
        None,
    )
    .status
}

/// The issue's first finding, per path: bob has 10 MiB, holds a 6 MB file, and every way
/// of making a second copy of it is refused — nothing is stored — while moving it is free.
#[test]
fn no_path_adds_content_past_the_quota() {
    let s = Server::start();
    s.add_user("bob", "bob-password-1", &["--quota", "10M"]);
    let u = auth("bob", "bob-password-1");
    assert_eq!(put(&s, &u, "/a.bin", 6 * MB, 1), 201);
    assert_eq!(put(&s, &u, "/b.bin", 6 * MB, 2), 507);
    // the 507 names RFC 4331's precondition and says how much is in use
    let r = curl(
        &["-u", &u, "-T", "-", &s.url("/dav/b.bin")],
        Some(&content(6 * MB, 2)),
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("<D:quota-not-exceeded/>"), "{}", r.text());
    assert!(
        r.text().contains("6000000 of 10485760 bytes in use"),
        "{}",
        r.text()
    );
    for i in 0..3 {
        assert_eq!(dav(&s, &u, "COPY", "/a.bin", &format!("/copy{i}.bin")), 507);
    }
    assert_eq!(me_used(&s, &u), 6 * MB as u64, "WebDAV COPY stored nothing");
    let r = post_json_as(&s, &u, "/api/v1/copy", r#"{"from":"/a.bin","to":"/c.bin"}"#);
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("quota_exceeded"), "{}", r.text());
    assert!(
        r.text().contains("6000000 of 10485760 bytes in use"),
        "the message says why: {}",
        r.text()
    );
    // moving is free: usage does not change
    assert_eq!(dav(&s, &u, "MOVE", "/a.bin", "/moved.bin"), 201);
    assert_eq!(me_used(&s, &u), 6 * MB as u64);

    // an old version that no longer fits cannot become current again
    assert_eq!(put(&s, &u, "/moved.bin", MB, 3), 204);
    assert_eq!(me_used(&s, &u), MB as u64);
    assert_eq!(put(&s, &u, "/other.bin", 5 * MB, 4), 201);
    let r = post_json_as(
        &s,
        &u,
        "/api/v1/versions/moved.bin/restore",
        r#"{"version":1}"#,
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert_eq!(me_used(&s, &u), 6 * MB as u64);

    // a deleted file that no longer fits cannot come back from the trash
    let del = curl(&["-u", &u, "-X", "DELETE", &s.url("/dav/other.bin")], None);
    assert_eq!(del.status, 204);
    assert_eq!(me_used(&s, &u), MB as u64, "the trash does not count");
    assert_eq!(put(&s, &u, "/new.bin", 5 * MB, 5), 201);
    let trash = curl(&["-u", &u, &s.url("/api/v1/trash")], None);
    let v: serde_json::Value = serde_json::from_slice(&trash.body).unwrap();
    let id = v["entries"][0]["id"].as_i64().unwrap();
    let r = post_json_as(
        &s,
        &u,
        "/api/v1/trash/restore",
        &format!(r#"{{"ids":[{id}]}}"#),
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert_eq!(me_used(&s, &u), 6 * MB as u64);
    // what fits goes through every path
    assert_eq!(dav(&s, &u, "COPY", "/moved.bin", "/small-copy.bin"), 201);
    assert_eq!(me_used(&s, &u), 7 * MB as u64);
}

/// Eight 2 MB uploads race into an empty 10 MiB quota (the issue measured 16 MB stored):
/// the commits that fit succeed, the others get 507, and the usage never passes the quota.
#[test]
fn parallel_uploads_cannot_overrun_the_quota_together() {
    let s = Server::start();
    s.add_user("racer", "racer-password-1", &["--quota", "10M"]);
    let u = auth("racer", "racer-password-1");
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (s, u) = (&s, &u);
                sc.spawn(move || put(s, u, &format!("/f{i}.bin"), 2 * MB, 10 + i))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|&&c| c == 201).count();
    let full = statuses.iter().filter(|&&c| c == 507).count();
    assert_eq!(ok + full, 8, "{statuses:?}");
    assert_eq!(ok, 5, "10 MiB holds five 2 MB files: {statuses:?}");
    assert_eq!(me_used(&s, &u), 10 * MB as u64);
    let listing = propfind(&u, &s.url("/dav/"), "1", None).text();
    assert_eq!(listing.matches(".bin</").count(), 5, "{listing}");
}

/// The counter `/api/v1/me` reports is the one the commits keep, and `fsck` finds it equal
/// to a recount after creates, overwrites, copies, moves, deletes and restores.
#[test]
fn fsck_finds_the_counters_equal_to_a_recount() {
    let mut s = Server::start();
    s.add_user("carol", "carol-password-1", &[]);
    let u = auth("carol", "carol-password-1");
    assert_eq!(
        curl(&["-u", &u, "-X", "MKCOL", &s.url("/dav/d")], None).status,
        201
    );
    assert_eq!(put(&s, &u, "/d/a.bin", 300_000, 1), 201);
    assert_eq!(put(&s, &u, "/d/a.bin", 100_000, 2), 204);
    assert_eq!(dav(&s, &u, "COPY", "/d", "/e"), 201);
    assert_eq!(dav(&s, &u, "MOVE", "/e/a.bin", "/b.bin"), 201);
    assert_eq!(
        curl(&["-u", &u, "-X", "DELETE", &s.url("/dav/d")], None).status,
        204
    );
    assert_eq!(me_used(&s, &u), 100_000);
    let r = post_json_as(&s, &u, "/api/v1/versions/b.bin/restore", r#"{"version":1}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(me_used(&s, &u), 100_000, "a copy starts with one version");
    s.kill9();
    let out = nas_ok(&["fsck", "--data", s.data.to_str().unwrap()]);
    assert!(!out.contains("PROBLEM"), "{out}");
}

//! The server with its metadata in PostgreSQL (`--meta postgres://…`, issue 17): the real
//! binary against a real PostgreSQL (`nas_testkit::pg::TestPg`, one database per test),
//! with the clients the SQLite server is tested with — litmus, boto3, rclone, curl on the
//! REST door — plus what only PostgreSQL has: the database going away and coming back,
//! the URL's password kept out of the log, and the commands that refuse (`backup`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_testkit::pg::TestPg;
use std::path::Path;
use std::process::Command;

/// `silent-nas ARGS… --data DIR --meta URL` (the store the server `s` uses).
fn nas_on(s: &Server, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .args(s.data_args())
        .output()
        .unwrap()
}

#[test]
fn litmus_passes_all_104_tests_on_postgres() {
    let url = TestPg::shared().fresh_db();
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "propfind_infinity = true\n").unwrap();
    let s = Server::start_pg(
        &t.path().join("data"),
        &url,
        &["--config", cfg.to_str().unwrap()],
    );
    let (passed, failed, text) = litmus(&s.url("/dav/"), "admin", ADMIN_PW);
    assert_eq!((passed, failed), (104, 0), "litmus:\n{text}");
    assert!(
        !s.data.join("meta.sqlite").exists(),
        "the metadata went to PostgreSQL, not the data directory"
    );
}

#[test]
fn boto3_suites_pass_on_postgres() {
    let url = TestPg::shared().fresh_db();
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_pg(
        &t.path().join("data"),
        &url,
        &["--s3-listen", "127.0.0.1:0"],
    );
    s3_script(&s, "test_boto3.py", &[]);
    s3_script(&s, "test_boto3_multipart.py", &[]);
}

fn rclone(s: &Server, args: &[&str]) -> String {
    rclone_dav(&s.url("/dav/"), args)
}

fn same_trees(a: &Path, b: &Path) {
    let out = Command::new("diff")
        .args(["-r", "-q"])
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trees differ: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn rclone_copy_and_check_on_postgres() {
    let url = TestPg::shared().fresh_db();
    let t = tempfile::tempdir().unwrap();
    let src = make_corpus(&t.path().join("corpus"), 150);
    let s = Server::start_pg(&t.path().join("data"), &url, &[]);
    let src_s = src.to_str().unwrap();
    rclone(&s, &["copy", src_s, "nas:corpus"]);
    rclone(&s, &["check", src_s, "nas:corpus", "--download"]);
    let back = t.path().join("back");
    rclone(&s, &["copy", "nas:corpus", back.to_str().unwrap()]);
    same_trees(&src, &back);
}

// ---- the REST door, a restart and fsck ----

fn login(s: &Server, user: &str, pw: &str) -> String {
    let body = serde_json::json!({"username": user, "password": pw}).to_string();
    let r = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &s.url("/api/v1/auth/login"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "login: {}", r.text());
    json(&r)["access_token"].as_str().unwrap().to_owned()
}

fn rest(s: &Server, token: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
    let b = format!("Authorization: Bearer {token}");
    let url = s.url(path);
    let mut args = vec!["-X", method, "-H", &b];
    if let Some(body) = body {
        args.extend([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    args.push(&url);
    curl(&args, None)
}

fn upload(s: &Server, token: &str, path: &str, data: &[u8]) -> Reply {
    let b = format!("Authorization: Bearer {token}");
    let url = s.url(&format!("/api/v1/upload{path}"));
    curl(&["-H", &b, "-T", "-", &url], Some(data))
}

fn download(s: &Server, token: &str, path: &str) -> Vec<u8> {
    let r = rest(s, token, "GET", &format!("/api/v1/download{path}"), None);
    assert_eq!(r.status, 200, "download {path}: {}", r.text());
    r.body
}

#[test]
fn rest_versions_trash_a_restart_and_fsck_on_postgres() {
    let pg = TestPg::shared();
    // trust authentication takes any password: one in the URL must stay out of the log
    let url = pg
        .fresh_db()
        .replacen("postgres://postgres@", "postgres://postgres:sekrit-pw@", 1);
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let log = t.path().join("server.log");
    let s = Server::start_logged(
        &data,
        &["--meta", &url],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    s.add_user("bob", "bob-password-1", &[]);
    let token = login(&s, "bob", "bob-password-1");
    let big = content(6 << 20, 7);
    assert_eq!(upload(&s, &token, "/docs/big.bin", &big).status, 201);
    assert!(
        download(&s, &token, "/docs/big.bin") == big,
        "6 MiB file differs"
    );
    assert_eq!(upload(&s, &token, "/docs/a.txt", b"first").status, 201);
    assert_eq!(upload(&s, &token, "/docs/a.txt", b"second").status, 200);
    let versions = json(&rest(
        &s,
        &token,
        "GET",
        "/api/v1/versions/docs/a.txt",
        None,
    ));
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        2,
        "{versions}"
    );
    // delete → trash → restore
    let d = json(&rest(
        &s,
        &token,
        "DELETE",
        "/api/v1/files/docs/a.txt",
        None,
    ));
    assert_eq!(
        rest(&s, &token, "GET", "/api/v1/stat/docs/a.txt", None).status,
        404
    );
    let restore = format!(r#"{{"ids":[{}]}}"#, d["id"]);
    let r = rest(&s, &token, "POST", "/api/v1/trash/restore", Some(&restore));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(download(&s, &token, "/docs/a.txt"), b"second");
    // a WebDAV write by another user, and an S3-style key made beside the running server
    let (key, _) = s.s3_key("bob");
    assert!(!key.is_empty());
    let put = curl(
        &[
            "-u",
            &format!("admin:{ADMIN_PW}"),
            "-T",
            "-",
            &s.url("/dav/note.txt"),
        ],
        Some(b"dav note"),
    );
    assert_eq!(put.status, 201);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("metadata in PostgreSQL"), "{text}");
    assert!(text.contains("postgres:***@"), "{text}");
    assert!(
        !text.contains("sekrit-pw"),
        "the password was logged:\n{text}"
    );
    assert!(!data.join("meta.sqlite").exists());
    drop(s); // kill -9

    // the same PostgreSQL and data directory: everything is there
    let s = Server::start_pg(&data, &url, &[]);
    let token = login(&s, "bob", "bob-password-1");
    assert!(
        download(&s, &token, "/docs/big.bin") == big,
        "after restart"
    );
    assert_eq!(download(&s, &token, "/docs/a.txt"), b"second");
    let versions = json(&rest(
        &s,
        &token,
        "GET",
        "/api/v1/versions/docs/a.txt",
        None,
    ));
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        2,
        "{versions}"
    );
    let keys = nas_on(&s, &["key", "list"]);
    assert!(String::from_utf8_lossy(&keys.stdout).contains(&key));
    let note = curl(
        &["-u", &format!("admin:{ADMIN_PW}"), &s.url("/dav/note.txt")],
        None,
    );
    assert_eq!(note.body, b"dav note");
    // read-only commands work beside the running server
    let ls = nas_on(&s, &["ls", "--home", "bob", "/docs"]);
    assert!(
        ls.status.success(),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );
    assert!(String::from_utf8_lossy(&ls.stdout).contains("big.bin"));
    let data_args = s.data_args();
    drop(s);

    let mut fsck = vec!["fsck", "--verify-data"];
    fsck.extend(data_args.iter().map(String::as_str));
    let out = nas_ok(&fsck);
    assert!(out.contains("clean"), "fsck: {out}");
    let mut stats = vec!["stats"];
    stats.extend(data_args.iter().map(String::as_str));
    nas_ok(&stats);
}

#[test]
fn a_metadata_backup_is_refused_on_postgres_naming_pg_dump() {
    let url = TestPg::shared().fresh_db();
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let s = Server::start_pg(&data, &url, &[]);
    let out = nas_on(
        &s,
        &["backup-meta", t.path().join("m.sqlite").to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!t.path().join("m.sqlite").exists());
}

#[test]
fn a_stopped_postgres_fails_readiness_and_requests_clearly_then_recovers() {
    // a server of its own: this test stops it
    let pg = TestPg::start();
    let url = pg.fresh_db();
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_pg(&t.path().join("data"), &url, &[]);
    let admin = format!("admin:{ADMIN_PW}");
    let put = |body: &[u8]| curl(&["-u", &admin, "-T", "-", &s.url("/dav/f.txt")], Some(body));
    let get = || curl(&["-u", &admin, &s.url("/dav/f.txt")], None);
    assert_eq!(put(&b"before"[..]).status, 201);
    assert_eq!(curl(&[&s.url("/readyz")], None).status, 200);

    pg.pause();
    let ready = curl(&[&s.url("/readyz")], None);
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(ready.text().contains("metadata"), "{}", ready.text());
    for r in [get(), put(&b"during"[..])] {
        assert_eq!(
            r.status,
            503,
            "a request without its database: {}",
            r.text()
        );
        assert!(r.text().contains("metadata database"), "{}", r.text());
    }
    let live = curl(&[&s.url("/healthz")], None);
    assert_eq!(live.status, 200, "the process is alive");

    pg.resume();
    // the pool replaces the dead connections: no restart needed
    let mut ready = curl(&[&s.url("/readyz")], None);
    for _ in 0..50 {
        if ready.status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        ready = curl(&[&s.url("/readyz")], None);
    }
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(get().body, b"before");
    assert_eq!(put(&b"after"[..]).status, 204);
    assert_eq!(get().body, b"after");
}

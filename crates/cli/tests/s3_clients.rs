//! Real S3 clients (awscli, rclone's s3 backend, s3cmd) against the real server with the
//! shared corpus, plus WebDAV on the same files and user isolation: tests/s3/clients.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

#[test]
fn awscli_rclone_and_s3cmd_move_the_corpus_byte_exact() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("corpus");
    let src = make_corpus(&corpus, 150);
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("bob", "bob-password-1", &[]);
    let (ak, sk) = s.s3_key("admin");
    let (bak, bsk) = s.s3_key("bob");
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/s3/clients.sh"
        ))
        .args([
            &format!("http://{}", s.s3_addr.as_ref().unwrap()),
            &ak,
            &sk,
            src.to_str().unwrap(),
            &s.url("/dav"),
            "admin",
            ADMIN_PW,
            &bak,
            &bsk,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clients.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("all S3 clients ok"), "{said}");
}

/// `aws s3 sync` of a tree with empty files: each empty PutObject waits for a `100
/// Continue` that never comes (hyper sends none for an empty body); the answer closes the
/// connection, so botocore never misreads the next answer on it. With one attempt and a
/// 5 s read timeout, the misread (a stall) fails the sync instead of being retried.
#[test]
fn aws_s3_sync_of_empty_files_never_stalls() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    for i in 0..4 {
        std::fs::write(tree.join(format!("f{i}.txt")), format!("file {i}")).unwrap();
        std::fs::write(tree.join(format!("sub/empty{i}")), b"").unwrap();
    }
    // one request at a time: every request follows the previous one on one connection
    let conf = t.path().join("aws.conf");
    std::fs::write(&conf, "[default]\ns3 =\n  max_concurrent_requests = 1\n").unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    let (ak, sk) = s.s3_key("admin");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let aws = |args: &[&str]| {
        Command::new("aws")
            .args(["--endpoint-url", &endpoint, "--cli-read-timeout", "5"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &ak)
            .env("AWS_SECRET_ACCESS_KEY", &sk)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_CONFIG_FILE", &conf)
            .env("AWS_RETRY_MODE", "standard")
            .output()
            .expect("awscli is installed")
    };
    assert!(aws(&["s3", "mb", "s3://sync"]).status.success());
    let out = aws(&["s3", "sync", tree.to_str().unwrap(), "s3://sync/"]);
    assert!(
        out.status.success(),
        "sync: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = aws(&["s3", "ls", "--recursive", "s3://sync/"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 8);
}

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

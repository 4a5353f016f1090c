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
    // `../shared` next to the project root (CI provides it), or SILENT_NAS_SHARED
    let shared = std::env::var("SILENT_NAS_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_owned());
    let made = Command::new("python3")
        .arg(format!("{shared}/datasets/make_corpus.py"))
        .arg(&corpus)
        .args(["--versions", "1", "--small", "150", "--text-mb", "2"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "corpus: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let src = corpus.join("v0");
    std::fs::rename(corpus.join("small"), src.join("small")).unwrap();
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

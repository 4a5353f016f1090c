//! Damaged packs under the WebDAV door: a damaged chunk is never served as data, and a
//! file read before the damage is served from the plaintext verified then (the
//! decoded-chunk cache) while fsck, which reads the disk, reports the damage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::io::{Seek, SeekFrom, Write};

fn admin() -> String {
    auth("admin", ADMIN_PW)
}

/// Writes `body` as `/c.bin` and reads it back once, intact.
fn put_and_read(s: &Server, body: &[u8]) {
    let a = admin();
    let r = curl(&["-u", &a, "-T", "-", &s.url("/dav/c.bin")], Some(body));
    assert_eq!(r.status, 201);
    let g = curl(&["-u", &a, &s.url("/dav/c.bin")], None);
    assert_eq!((g.status, g.body == body), (200, true), "intact before");
}

/// Flips the 64 bytes in the middle of every pack file of `s`, in place.
fn damage_every_pack(s: &Server) {
    for sub in std::fs::read_dir(s.data.join("packs")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let len = std::fs::metadata(&p).unwrap().len();
            if len < 128 {
                continue;
            }
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap();
            let mut bytes = [0u8; 64];
            file.seek(SeekFrom::Start(len / 2)).unwrap();
            std::io::Read::read_exact(&mut file, &mut bytes).unwrap();
            file.seek(SeekFrom::Start(len / 2)).unwrap();
            file.write_all(&bytes.map(|b| b ^ 0xff)).unwrap();
        }
    }
}

/// A damaged chunk is detected on the way out and never served as data: a download of a
/// file whose pack was damaged on disk does not complete with the file's length, and what
/// did arrive is not the file.
#[test]
fn a_damaged_chunk_is_never_served_as_data() {
    // no decoded-chunk cache: the read after the damage must read the packs (with it, the
    // file read before is served from its verified plaintext in memory — see below)
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nas.toml");
    std::fs::write(&cfg, "[storage]\nchunk_cache = \"0\"\n").unwrap();
    let s = Server::start_with(
        &dir.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    let body = content(3 << 20, 11);
    put_and_read(&s, &body);
    damage_every_pack(&s);
    let g = curl(&["-u", &admin(), &s.url("/dav/c.bin")], None);
    assert!(
        !(g.status == 200 && g.body.len() == body.len()),
        "a damaged file downloaded whole: status {}, {} bytes",
        g.status,
        g.body.len()
    );
    assert_ne!(g.body, body);
    // a 200 that broke off: what did arrive is a prefix of the file (nothing damaged was
    // sent as data)
    if g.status == 200 {
        assert_eq!(&g.body[..], &body[..g.body.len()]);
    }
}

/// With the decoded-chunk cache (the default), a file read before its packs were damaged
/// is served from the plaintext verified then — the right bytes, never the damaged ones —
/// while a check of the disk (fsck reading every chunk) reports the damage.
#[test]
fn a_file_read_before_damage_is_served_from_verified_memory_and_fsck_reports_the_damage() {
    let mut s = Server::start();
    let body = content(3 << 20, 12);
    put_and_read(&s, &body);
    damage_every_pack(&s);
    let g = curl(&["-u", &admin(), &s.url("/dav/c.bin")], None);
    assert_eq!(
        (g.status, g.body == body),
        (200, true),
        "the verified bytes"
    );
    s.stop();
    let out = std::process::Command::new(bin())
        .args(["fsck", "--verify-data", "--data"])
        .arg(&s.data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "fsck finds the damage: {text}");
    assert!(text.contains("DAMAGED") && text.contains("c.bin"), "{text}");
}

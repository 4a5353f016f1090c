//! `[blobs] ack = "remote"` (cluster mode's durability rule, issue 17): a write is
//! acknowledged only once its data is in the object store. Through the real binary
//! against `rclone serve s3` on loopback: every acknowledged upload — a burst of small
//! concurrent PUTs and a larger file — survives `kill -9` of the server *and* the loss of
//! its whole local pack directory, read back byte-exact from the object store; a burst of
//! small PUTs is grouped into few objects; with the object store down a PUT is refused
//! with 503, never acknowledged, and nothing of it is visible.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::S3Server;

const ACK_REMOTE: &str = "ack = \"remote\"\nrequest_timeout = \"3s\"\n";

fn put_as_admin(s: &Server, name: &str, body: &[u8]) -> u16 {
    let a = auth("admin", ADMIN_PW);
    curl(
        &["-u", &a, "-T", "-", &s.url(&format!("/dav/{name}"))],
        Some(body),
    )
    .status
}

fn get(s: &Server, name: &str) -> Reply {
    let a = auth("admin", ADMIN_PW);
    curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None)
}

fn pack_objects(s3: &S3Server) -> usize {
    s3.objects(BUCKET)
        .iter()
        .filter(|(k, _)| k.starts_with("nas/packs/"))
        .count()
}

#[test]
fn an_acknowledged_write_is_in_the_object_store_and_survives_the_loss_of_the_node_disk() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), ACK_REMOTE);
    let args = ["--config", cfg.to_str().unwrap()];
    let mut s = Server::start_with(&data, &args);

    // 40 small files from 8 clients at once, and one of 3 MB
    let small: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("s{i}.txt"), content(3_000 + i * 7, 100 + i as u64)))
        .collect();
    std::thread::scope(|t| {
        for part in small.chunks(5) {
            let s = &s;
            t.spawn(move || {
                for (name, body) in part {
                    assert_eq!(put_as_admin(s, name, body), 201, "{name}");
                }
            });
        }
    });
    let big = content(3_000_000, 7);
    assert_eq!(put_as_admin(&s, "big.bin", &big), 201);
    let objects = pack_objects(&s3);
    eprintln!("41 acknowledged writes: {objects} pack objects");
    assert!(objects >= 1, "acknowledged writes are in the object store");
    assert!(
        objects <= 40,
        "41 writes, {objects} pack objects: small writes are grouped"
    );

    // GC merges the small packs the commits sealed (and deletes their objects)
    let run = run_worker(&s, "gc");
    let merged = pack_objects(&s3);
    eprintln!("after GC: {merged} pack objects ({run})");
    assert!(
        merged < objects,
        "GC merged small packs: {objects} pack objects before, {merged} after"
    );

    // the node dies and its disk with it: every pack file is gone
    s.kill9();
    let mut removed = 0;
    let mut dirs = vec![data.join("packs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "pack") {
                std::fs::remove_file(&p).unwrap();
                removed += 1;
            }
        }
    }
    assert!(removed >= 1, "the local packs were there to lose");
    let s = Server::start_with(&data, &args);
    for (name, body) in &small {
        let r = get(&s, name);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            &r.body, body,
            "{name} reads back byte-exact from the object store"
        );
    }
    assert_eq!(get(&s, "big.bin").body, big);
    assert!(metric(&s, "silent_nas_remote_read_frames_total") > 0.0);
}

#[test]
fn with_the_object_store_down_a_write_is_refused_not_acknowledged() {
    let mut s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), ACK_REMOTE);
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(put_as_admin(&s, "before.txt", b"stored remotely"), 201);

    s3.stop();
    let status = put_as_admin(&s, "during.txt", b"must not be acknowledged");
    assert_eq!(status, 503, "the object store is down: no acknowledgement");
    assert_eq!(
        get(&s, "during.txt").status,
        404,
        "nothing of it is visible"
    );
    assert_eq!(get(&s, "before.txt").body, b"stored remotely");

    s3.restart().unwrap();
    assert_eq!(put_as_admin(&s, "after.txt", b"back"), 201);
    assert_eq!(get(&s, "after.txt").body, b"back");
}

//! The object-storage tier through the real binary, against a real S3-compatible server
//! (`rclone serve s3` on loopback, started here): files written over WebDAV are uploaded
//! as sealed packs, the local copies are evicted (`silent-nas tier evict`), and every file
//! reads back byte-exact over WebDAV and REST from the object store; a server killed with
//! -9 while its uploads cannot reach the object store uploads them at the next start;
//! the credentials never reach the log or the metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `silent-nas tier ARGS --data D` with the tier configured by the environment.
fn tier(s3: &S3Server, data: &Path, args: &[&str]) -> String {
    let mut all = vec!["tier"];
    all.extend_from_slice(args);
    String::from_utf8(nas_with_tier(s3, data, &all)).unwrap()
}

/// `silent-nas ARGS --data D` with the tier configured by the environment: its stdout.
fn nas_with_tier(s3: &S3Server, data: &Path, args: &[&str]) -> Vec<u8> {
    let out = with_tier(&mut Command::new(bin()), s3)
        .args(args)
        .args(["--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn local_packs(data: &Path) -> usize {
    let mut n = 0;
    for sub in std::fs::read_dir(data.join("packs")).unwrap().flatten() {
        if let Ok(rd) = std::fs::read_dir(sub.path()) {
            n += rd
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(".pack"))
                .count();
        }
    }
    n
}

/// Polls `series` until `ok` holds (at most a minute).
fn wait_metric(s: &Server, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let v = metric(s, series);
        if ok(v) {
            return v;
        }
        assert!(Instant::now() < until, "{series} stayed at {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    [3_000_000usize, 700_000, 10_000, 2_500_000, 1]
        .iter()
        .enumerate()
        .map(|(i, &len)| (format!("f{i}.bin"), content(len, 40 + i as u64)))
        .collect()
}

/// Every file reads back byte-exact over WebDAV and REST (a ranged read too).
fn assert_reads_back(s: &Server, files: &[(String, Vec<u8>)]) {
    let a = auth("admin", ADMIN_PW);
    for (name, body) in files {
        let dav = curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None);
        assert_eq!(dav.status, 200, "{name}");
        assert!(dav.body == *body, "{name}: WebDAV bytes differ");
        let rest = curl(
            &["-u", &a, &s.url(&format!("/api/v1/download/{name}"))],
            None,
        );
        assert_eq!(rest.status, 200, "{name}");
        assert!(rest.body == *body, "{name}: REST bytes differ");
        if body.len() > 100_000 {
            let r = curl(
                &[
                    "-u",
                    &a,
                    "-r",
                    "65000-99999",
                    &s.url(&format!("/dav/{name}")),
                ],
                None,
            );
            assert_eq!(r.status, 206);
            assert!(r.body == body[65000..100_000], "{name}: range differs");
        }
    }
}

#[test]
fn files_read_back_byte_exact_from_the_object_store_after_their_packs_are_evicted() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    let log_path = dir.path().join("server.log");
    let mut s = Server::start_logged(
        &data,
        &["--config", cfg.to_str().unwrap()],
        "info",
        Some(std::fs::File::create(&log_path).unwrap()),
    );
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    // packs sealed while the server runs are uploaded by it, and verified
    wait_metric(&s, "silent_nas_remote_uploaded_packs_total", |v| v >= 4.0);
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    let text = scrape_as_admin(&s, "/metrics").text();
    let uploaded = sample(&text, "silent_nas_remote_uploaded_packs_total").unwrap();
    assert!(
        sample(&text, "silent_nas_remote_uploaded_bytes_total").unwrap() >= uploaded * 900_000.0
    );
    assert_eq!(
        sample(&text, "silent_nas_remote_packs{place=\"both\"}"),
        Some(uploaded)
    );
    assert!(!text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY));
    s.kill9();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("s3://bkt/nas"), "the tier is announced: {log}");
    assert!(
        !log.contains(SECRET_KEY),
        "the secret never reaches the log"
    );

    // the last (active) pack is sealed by the restart; evict every verified local copy
    let out = tier(&s3, &data, &["evict", "--wait", "60"]);
    assert!(out.contains("upload queue    0"), "{out}");
    let evicted = s3.objects("bkt").len();
    assert!(out.contains(&format!("evicted {evicted} packs")), "{out}");
    assert_eq!(local_packs(&data), 0, "every pack evicted: {out}");
    let objects = s3.objects("bkt");
    assert!(
        objects.len() as f64 > uploaded && objects.iter().all(|(k, _)| k.starts_with("nas/packs/")),
        "{objects:?}"
    );
    let status = tier(&s3, &data, &["status"]);
    assert!(
        status.contains(&format!("remote only     {}", objects.len())),
        "{status}"
    );

    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    assert_reads_back(&s, &files);
    assert!(metric(&s, "silent_nas_remote_read_frames_total") > 0.0);
    // a command that only reads, beside the running server, reads the object store too
    let (name, body) = &files[0];
    let got = nas_with_tier(&s3, &data, &["cat", "--home", "admin", &format!("/{name}")]);
    assert!(got == *body, "silent-nas cat of an evicted file");
    assert!(metric(&s, "silent_nas_remote_fetched_bytes_total") > 0.0);
    assert_eq!(
        local_packs(&data),
        0,
        "reads never bring packs back to the disk"
    );
}

#[test]
fn a_server_killed_with_uploads_pending_uploads_them_at_the_next_start() {
    let mut s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    s3.stop(); // the object store is down: commits still succeed, uploads wait
    let mut s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_metric(&s, "silent_nas_remote_upload_errors_total", |v| v >= 1.0);
    assert!(metric(&s, "silent_nas_remote_upload_queue_packs") >= 4.0);
    assert_eq!(metric(&s, "silent_nas_remote_uploaded_packs_total"), 0.0);
    assert_reads_back(&s, &files); // served locally meanwhile
    s.kill9();

    s3.restart().unwrap();
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    // every pack of the killed run (its active one included) is queued and uploads
    let n = local_packs(&data) as f64;
    wait_metric(&s, "silent_nas_remote_uploaded_packs_total", |v| {
        v >= n - 1.0
    });
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    drop(s);
    let out = tier(&s3, &data, &["evict", "--wait", "60"]);
    assert_eq!(local_packs(&data), 0, "{out}");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    assert_reads_back(&s, &files);
}

/// The offset of the middle byte of the frame that holds the middle of a pack (records:
/// 8 bytes of magic, then `[u32 LE length][32-byte chunk id][frame]`).
fn frame_middle(pack: &[u8]) -> usize {
    let mut pos = 8;
    loop {
        let len = u32::from_le_bytes(pack[pos..pos + 4].try_into().unwrap()) as usize;
        let frame = pos + 36;
        if frame + len >= pack.len() / 2 {
            return frame + len / 2;
        }
        pos = frame + len;
    }
}

/// Mirror repair: with every sealed pack both local and remote, a byte flipped in a local
/// pack is found by the chunk hash on read, the frame is fetched from the object store,
/// verified, written back, and the client gets the right bytes.
#[test]
fn a_flipped_byte_in_a_local_pack_is_repaired_from_the_remote_copy_while_a_client_reads() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_metric(&s, "silent_nas_remote_uploaded_packs_total", |v| v >= 4.0);
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    // damage the middle of every uploaded pack (all inside frames of the files above)
    let uploaded = s3.objects("bkt");
    for (key, size) in &uploaded {
        let id = key
            .trim_start_matches("nas/packs/")
            .trim_end_matches(".pack");
        let local = data.join("packs").join(&id[..2]).join(format!("{id}.pack"));
        let mut bytes = std::fs::read(&local).unwrap();
        assert_eq!(bytes.len() as u64, *size);
        let at = frame_middle(&bytes);
        bytes[at] ^= 0x40;
        std::fs::write(&local, &bytes).unwrap();
    }
    assert_reads_back(&s, &files);
    let repaired = metric(&s, "silent_nas_remote_repairs_total");
    assert!(repaired >= uploaded.len() as f64, "{repaired} repairs");
    assert_eq!(metric(&s, "silent_nas_remote_unrepairable_total"), 0.0);
    for (key, _) in &uploaded {
        let id = key
            .trim_start_matches("nas/packs/")
            .trim_end_matches(".pack");
        let local = data.join("packs").join(&id[..2]).join(format!("{id}.pack"));
        assert!(
            std::fs::read(&local).unwrap() == std::fs::read(s3.root.join("bkt").join(key)).unwrap(),
            "pack {id} rewritten with the good bytes"
        );
    }
    // read again: nothing left to repair
    assert_reads_back(&s, &files);
    assert_eq!(metric(&s, "silent_nas_remote_repairs_total"), repaired);
}

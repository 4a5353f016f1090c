//! Degraded operation of the object-storage tier, through the real binary against
//! `rclone serve s3` on loopback, stopped and restarted under it: uploads still succeed
//! (stored locally), `/readyz` stays ready and says the tier is degraded (the upload queue,
//! the last error), a read of a file whose packs live only in the object store gets a
//! clear 503 — with a message over WebDAV and REST, `SlowDown` over S3 — within a bounded
//! wait, and when the object store is back the queued uploads go through and the cold
//! file reads back byte-exact. An object store that accepts connections and never answers
//! (stalled, not down) costs a reader `read_timeout`, not minutes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::time::{Duration, Instant};

/// The `[blobs]` keys of these tests beside [`tier_config`]'s: tiered, every pack cold.
const TIERED: &str = "policy = \"tiered\"\ncold_after = \"0s\"\nmover_rate = \"unlimited\"\n";

fn wait_metric(s: &Server, series: &str, ok: impl Fn(f64) -> bool) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let v = metric(s, series);
        if ok(v) {
            return;
        }
        assert!(Instant::now() < until, "{series} stayed at {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn put(s: &Server, name: &str, body: &[u8]) -> u16 {
    let a = auth("admin", ADMIN_PW);
    curl(
        &["-u", &a, "-T", "-", &s.url(&format!("/dav/{name}"))],
        Some(body),
    )
    .status
}

fn workers_runs(s: &Server, name: &str) -> u64 {
    worker(s, name).unwrap()["runs"].as_u64().unwrap()
}

#[test]
fn object_store_down_uploads_stay_local_readiness_degraded_cold_reads_503_then_it_resumes() {
    let mut s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), TIERED);
    let s = Server::start_with(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--s3-listen",
            "127.0.0.1:0",
        ],
    );
    let a = auth("admin", ADMIN_PW);
    assert_eq!(
        curl(&["-u", &a, "-X", "MKCOL", &s.url("/dav/tierb")], None).status,
        201
    );
    let cold = content(3_000_000, 31);
    assert_eq!(put(&s, "tierb/cold.bin", &cold), 201);
    wait_metric(&s, "silent_nas_remote_uploaded_packs_total", |v| v >= 2.0);
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    // the mover evicts every sealed pack: cold.bin's first chunks live only remotely
    let runs = workers_runs(&s, "mover");
    let run = curl(
        &[
            "-u",
            &a,
            "-X",
            "POST",
            &s.url("/api/v1/admin/workers/mover/run"),
        ],
        None,
    );
    assert_eq!(run.status, 202);
    while workers_runs(&s, "mover") == runs {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready = curl(&[&s.url("/readyz")], None);
    assert_eq!((ready.status, ready.text()), (200, "ready\n".to_owned()));

    s3.stop();
    // new data is still taken: stored locally, its upload queued
    let fresh = content(2_500_000, 32);
    assert_eq!(put(&s, "tierb/fresh.bin", &fresh), 201);
    wait_metric(&s, "silent_nas_remote_degraded", |v| v == 1.0);
    assert!(metric(&s, "silent_nas_remote_upload_queue_packs") >= 1.0);
    let ready = curl(&[&s.url("/readyz")], None);
    let text = ready.text();
    assert_eq!(ready.status, 200, "{text}");
    assert!(
        text.starts_with("ready, degraded\n")
            && text.contains("remote tier s3://bkt/nas")
            && text.contains("waiting for their upload")
            && text.contains("last error"),
        "{text}"
    );
    assert!(!text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY));
    assert!(
        !text.contains(&s3.endpoint),
        "no address for anyone: {text}"
    );
    // a fresh file reads locally; the cold one gets a clear 503 on every door, quickly
    let got = curl(&["-u", &a, &s.url("/dav/tierb/fresh.bin")], None);
    assert!(got.status == 200 && got.body == fresh);
    let t = Instant::now();
    let dav = curl(&["-u", &a, &s.url("/dav/tierb/cold.bin")], None);
    assert_eq!(dav.status, 503, "{}", dav.text());
    assert!(
        dav.text().contains("temporarily unreachable"),
        "{}",
        dav.text()
    );
    assert!(dav.header("retry-after").is_some());
    let rest = curl(&["-u", &a, &s.url("/api/v1/download/tierb/cold.bin")], None);
    assert_eq!(rest.status, 503, "{}", rest.text());
    assert!(rest.text().contains("\"unavailable\""), "{}", rest.text());
    let (ak, sk) = s.s3_key("admin");
    let key = format!("{ak}:{sk}");
    let obj = format!("http://{}/tierb/cold.bin", s.s3_addr.as_ref().unwrap());
    let s3get = curl(
        &[
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &key,
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            &obj,
        ],
        None,
    );
    assert_eq!(s3get.status, 503, "{}", s3get.text());
    assert!(
        s3get.text().contains("<Code>SlowDown</Code>"),
        "{}",
        s3get.text()
    );
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "three reads answered in {:?}",
        t.elapsed()
    );

    // back: the queued upload goes through, reads work again, readiness is plain again
    s3.restart().unwrap();
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    wait_metric(&s, "silent_nas_remote_degraded", |v| v == 0.0);
    let got = curl(&["-u", &a, &s.url("/dav/tierb/cold.bin")], None);
    assert!(got.status == 200 && got.body == cold, "cold.bin byte-exact");
    let got = curl(
        &["-u", &a, &s.url("/api/v1/download/tierb/fresh.bin")],
        None,
    );
    assert!(got.status == 200 && got.body == fresh);
    let ready = curl(&[&s.url("/readyz")], None);
    assert_eq!((ready.status, ready.text()), (200, "ready\n".to_owned()));
    assert!(
        s3.objects("bkt").len() >= 4,
        "the fresh packs were uploaded"
    );
}

/// Evicts every sealed pack (one mover run), so the files written so far are cold.
fn evict_all(s: &Server) {
    let a = auth("admin", ADMIN_PW);
    let runs = workers_runs(s, "mover");
    let run = curl(
        &[
            "-u",
            &a,
            "-X",
            "POST",
            &s.url("/api/v1/admin/workers/mover/run"),
        ],
        None,
    );
    assert_eq!(run.status, 202);
    while workers_runs(s, "mover") == runs {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_stalled_object_store_costs_a_cold_read_the_read_timeout_not_minutes() {
    let mut s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), &format!("{TIERED}read_timeout = \"2s\"\n"));
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let cold = content(3_000_000, 41);
    assert_eq!(put(&s, "cold.bin", &cold), 201);
    wait_metric(&s, "silent_nas_remote_uploaded_packs_total", |v| v >= 2.0);
    wait_metric(&s, "silent_nas_remote_upload_queue_packs", |v| v == 0.0);
    evict_all(&s);
    // the object store's port now accepts connections and never answers
    s3.stop();
    let addr = s3.endpoint.trim_start_matches("http://").to_owned();
    let hole = std::net::TcpListener::bind(&addr).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        hole.set_nonblocking(true).unwrap();
        while !stop.load(std::sync::atomic::Ordering::Acquire) {
            if let Ok((c, _)) = hole.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        conns.len()
    });
    let a = auth("admin", ADMIN_PW);
    let t = Instant::now();
    let got = curl(&["-u", &a, &s.url("/dav/cold.bin")], None);
    let took = t.elapsed();
    done.store(true, std::sync::atomic::Ordering::Release);
    assert_eq!(got.status, 503, "{}", got.text());
    assert!(
        got.text().contains("temporarily unreachable"),
        "{}",
        got.text()
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(15),
        "answered after {took:?}: the 2 s read bound, not a refusal or a hang"
    );
    assert!(
        held.join().unwrap() >= 1,
        "the read reached the stalled store"
    );
    // the store answers again: the same read succeeds
    s3.restart().unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let got = curl(&["-u", &a, &s.url("/dav/cold.bin")], None);
        if got.status == 200 {
            assert!(got.body == cold, "cold.bin byte-exact");
            break;
        }
        assert!(Instant::now() < until, "still {}", got.status);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Clients writing and reading all along while the object store goes away and comes back:
/// every write is acknowledged and reads back byte-exact, the uploads that failed in the
/// outage go through afterwards, and `fsck --verify-data` is clean.
#[test]
fn a_load_goes_on_while_the_object_store_stops_and_restarts() {
    let mut s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let a = auth("admin", ADMIN_PW);
    let base = s.url("/dav");
    let done = std::sync::atomic::AtomicBool::new(false);
    let written: Vec<Vec<(String, Vec<u8>)>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..3u64)
            .map(|t| {
                let (a, base, done) = (&a, &base, &done);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    let mut i = 0u64;
                    while !done.load(std::sync::atomic::Ordering::Acquire) {
                        let name = format!("w{t}-{i}.bin");
                        let body = content(300_000, 1000 * t + i);
                        let url = format!("{base}/{name}");
                        let put = curl(&["-u", a, "-T", "-", &url], Some(&body));
                        assert!(
                            matches!(put.status, 201 | 204),
                            "PUT {name}: {}",
                            put.status
                        );
                        let got = curl(&["-u", a, &url], None);
                        assert!(got.status == 200 && got.body == body, "GET {name}");
                        mine.push((name, body));
                        i += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    mine
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(1));
        s3.stop();
        std::thread::sleep(Duration::from_secs(3));
        s3.restart().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        done.store(true, std::sync::atomic::Ordering::Release);
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let files: Vec<_> = written.into_iter().flatten().collect();
    assert!(files.len() >= 15, "{} files written", files.len());
    assert!(
        metric(&s, "silent_nas_remote_upload_errors_total") >= 1.0,
        "the outage was seen by the uploads"
    );
    // the packs sealed during the outage go up once it is back
    wait_uploaded(&s, 1.0);
    wait_metric(&s, "silent_nas_remote_degraded", |v| v == 0.0);
    for (name, body) in &files {
        let got = curl(&["-u", &a, &format!("{base}/{name}")], None);
        assert!(got.status == 200 && got.body == *body, "{name} byte-exact");
    }
    drop(s);
    let mut c = std::process::Command::new(bin());
    c.args(["fsck", "--verify-data", "--data", data.to_str().unwrap()]);
    let out = with_tier(&mut c, &s3).output().unwrap();
    assert!(
        out.status.success(),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

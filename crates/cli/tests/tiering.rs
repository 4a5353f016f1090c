//! Tier policies and the mover through the real binary, against a real S3-compatible
//! server (`rclone serve s3` on loopback): under `tiered`, the mover (a worker in
//! `/admin/workers`) evicts cold packs and, over `hot_size`, the least recently read first;
//! every file reads back byte-exact over WebDAV and REST; a server killed with -9 while
//! the mover runs loses nothing and no pack leaves the disk without its remote copy;
//! under `mirror` nothing moves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::S3Server;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `silent-nas ARGS --data D` with the tier (and `env`) configured by the environment.
fn nas_tier(s3: &S3Server, data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = with_tier(&mut Command::new(bin()), s3)
        .args(args)
        .args(["--data", data.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

/// Ids (16 hex digits) of the local pack files.
fn local_packs(data: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sub in std::fs::read_dir(data.join("packs")).unwrap().flatten() {
        if let Ok(rd) = std::fs::read_dir(sub.path()) {
            for f in rd.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if let Some(id) = name.strip_suffix(".pack") {
                    out.insert(id.to_owned());
                }
            }
        }
    }
    out
}

/// Ids of the pack objects in the bucket.
fn remote_packs(s3: &S3Server) -> BTreeSet<String> {
    s3.objects("bkt")
        .into_iter()
        .filter_map(|(k, _)| {
            k.strip_prefix("nas/packs/")
                .and_then(|k| k.strip_suffix(".pack"))
                .map(str::to_owned)
        })
        .collect()
}

/// The file reads back byte-exact over WebDAV and REST.
fn assert_reads_back(s: &Server, name: &str, body: &[u8]) {
    let a = auth("admin", ADMIN_PW);
    let dav = curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None);
    assert_eq!(dav.status, 200, "{name}");
    assert!(dav.body == body, "{name}: WebDAV bytes differ");
    let rest = curl(
        &["-u", &a, &s.url(&format!("/api/v1/download/{name}"))],
        None,
    );
    assert_eq!(rest.status, 200, "{name}");
    assert!(rest.body == body, "{name}: REST bytes differ");
}

/// Starts the worker `name` now: the HTTP status of the request.
fn start_worker(s: &Server, name: &str) -> u16 {
    let url = s.url(&format!("/api/v1/admin/workers/{name}/run"));
    curl(&["-u", &auth("admin", ADMIN_PW), "-X", "POST", &url], None).status
}

/// Runs the mover once and returns its state after the run.
fn run_mover(s: &Server) -> serde_json::Value {
    let runs = worker(s, "mover").unwrap()["runs"].as_u64().unwrap();
    assert_eq!(start_worker(s, "mover"), 202);
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let w = worker(s, "mover").unwrap();
        if w["runs"].as_u64().unwrap() > runs {
            return w;
        }
        assert!(Instant::now() < until, "the mover did not finish: {w}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tiered_the_mover_evicts_cold_packs_and_every_file_reads_back_byte_exact() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tiered = "policy = \"tiered\"\ncold_after = \"0s\"\nmover_rate = \"unlimited\"\n";
    let cfg = tier_config(&s3, dir.path(), tiered);
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let files: Vec<(String, Vec<u8>)> = [3_000_000usize, 10_000, 2_500_000, 1]
        .iter()
        .enumerate()
        .map(|(i, &n)| (format!("t{i}.bin"), content(n, 70 + i as u64)))
        .collect();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_uploaded(&s, 4.0);
    let before = local_packs(&data);
    let idle = worker(&s, "mover").expect("the mover is a worker");
    assert_eq!(idle["interval_secs"], 3600, "{idle}");
    let w = run_mover(&s);
    assert!(w["last_error"].is_null(), "{w}");
    let moved = w["last_outcome"]["items"].as_u64().unwrap();
    let after = local_packs(&data);
    assert_eq!(after.len(), 1, "only the active pack stays: {w}");
    assert_eq!(moved as usize, before.len() - 1, "{w}");
    assert!(
        before
            .difference(&after)
            .all(|p| remote_packs(&s3).contains(p)),
        "every evicted pack is in the object store"
    );
    let fetched = metric(&s, "silent_nas_remote_read_frames_total");
    for (name, body) in &files {
        assert_reads_back(&s, name, body);
    }
    assert!(metric(&s, "silent_nas_remote_read_frames_total") > fetched);
    assert_eq!(local_packs(&data).len(), 1, "reads do not bring packs back");
    drop(s);

    // the policy figures: the restart sealed the active pack; uploaded, it is cold too
    let env = [
        ("SILENT_NAS_BLOBS_POLICY", "tiered"),
        ("SILENT_NAS_BLOBS_COLD_AFTER", "0s"),
    ];
    let st = nas_tier(&s3, &data, &["tier", "status", "--wait", "60"], &env);
    assert!(st.contains("policy          tiered"), "{st}");
    assert!(st.contains("local           1 packs"), "{st}");
    assert!(
        st.contains("to move         1 packs (0 bytes after), 0 waiting"),
        "{st}"
    );
    let fsck = nas_tier(&s3, &data, &["fsck", "--verify-data"], &[]);
    assert!(fsck.contains(": clean"), "{fsck}");
}

#[test]
fn mirror_keeps_every_pack_local_and_has_no_mover() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "policy = \"mirror\"\n");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let body = content(3_000_000, 5);
    put(&s, "m.bin", &body);
    wait_uploaded(&s, 2.0);
    assert!(worker(&s, "mover").is_none(), "no mover under mirror");
    assert_eq!(start_worker(&s, "mover"), 404);
    let local = local_packs(&data);
    let remote = remote_packs(&s3);
    assert_eq!(
        local.len(),
        remote.len() + 1,
        "every sealed pack in both places"
    );
    assert!(remote.is_subset(&local));
    assert_reads_back(&s, "m.bin", &body);
    assert_eq!(metric(&s, "silent_nas_remote_read_frames_total"), 0.0);
}

/// Over `hot_size`, the least recently read packs leave first: a file read after both
/// were uploaded keeps its packs local; the unread one's packs go.
#[test]
fn over_hot_size_the_least_recently_read_packs_are_evicted_first() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // about 5.2 MiB in 1 MiB packs: three hold only `unread`; evicting them leaves
    // about 2.2 MiB, under 2800 KiB; evicting two would leave 3.2 MiB, over it
    let cfg = tier_config(
        &s3,
        dir.path(),
        "policy = \"tiered\"\ncold_after = \"30d\"\nhot_size = \"2800KiB\"\n\
         read_mark_interval = \"0s\"\nmover_rate = \"unlimited\"\n",
    );
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let unread = content(4_000_000, 11);
    let read = content(1_500_000, 12);
    put(&s, "unread.bin", &unread);
    put(&s, "read.bin", &read);
    wait_uploaded(&s, 5.0);
    assert_eq!(local_packs(&data).len(), 6);
    std::thread::sleep(Duration::from_millis(50));
    assert_reads_back(&s, "read.bin", &read); // its packs: read now
    let w = run_mover(&s);
    assert!(w["last_error"].is_null(), "{w}");
    assert_eq!(w["last_outcome"]["items"], 3, "{w}");
    assert_eq!(local_packs(&data).len(), 3);
    let fetched = metric(&s, "silent_nas_remote_read_frames_total");
    assert_reads_back(&s, "read.bin", &read);
    assert_eq!(
        metric(&s, "silent_nas_remote_read_frames_total"),
        fetched,
        "the recently read file is still served locally"
    );
    assert_reads_back(&s, "unread.bin", &unread);
    assert!(metric(&s, "silent_nas_remote_read_frames_total") > fetched);
    // under the limit now: a second run moves nothing
    let w = run_mover(&s);
    assert_eq!(w["last_outcome"]["items"], 0, "{w}");
}

/// kill -9 while the mover evicts (paced at 2 MiB/s: half a second a pack): no pack is
/// gone from the disk without its object, every file reads back, the next run finishes
/// the move, and fsck --verify-data is clean.
#[test]
fn a_server_killed_during_a_move_loses_nothing_and_the_next_run_finishes_it() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(
        &s3,
        dir.path(),
        "policy = \"tiered\"\ncold_after = \"0s\"\nmover_rate = \"2MiB\"\n",
    );
    let mut s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("k{i}.bin"), content(3_000_000, 90 + i)))
        .collect();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_uploaded(&s, 10.0);
    let before = local_packs(&data);
    assert_eq!(start_worker(&s, "mover"), 202);
    let until = Instant::now() + Duration::from_secs(60);
    while before.len() - local_packs(&data).len() < 2 {
        assert!(Instant::now() < until, "the mover did not start evicting");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill9();
    let left = local_packs(&data);
    assert!(
        left.len() > 1,
        "killed mid-move: {} of {} left",
        left.len(),
        before.len()
    );
    let remote = remote_packs(&s3);
    for gone in before.difference(&left) {
        assert!(
            remote.contains(gone),
            "pack {gone} left the disk without its object"
        );
    }

    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    for (name, body) in &files {
        assert_reads_back(&s, name, body);
    }
    let packs_before = local_packs(&data).len() as f64;
    wait_uploaded(&s, 1.0); // the killed run's active pack, sealed by the restart
    let w = run_mover(&s);
    assert!(w["last_error"].is_null(), "{w}");
    assert!(local_packs(&data).len() <= 1, "{w} ({packs_before} before)");
    for (name, body) in &files {
        assert_reads_back(&s, name, body);
    }
    drop(s);
    let fsck = nas_tier(&s3, &data, &["fsck", "--verify-data"], &[]);
    assert!(fsck.contains(": clean"), "{fsck}");
}

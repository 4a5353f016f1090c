//! Repair by fsck and scrub from the object-storage tier's copy, through the real binary
//! against `rclone serve s3` on loopback: a flipped byte, a truncated pack and a deleted
//! pack are repaired by `fsck --verify-data` (reported as repaired, with the files
//! affected), a second fsck is clean and every file reads back byte-exact; damage without
//! a good remote copy is reported unrepairable, naming the file; the scrub worker repairs
//! the same way while the server runs and logs the pack and the files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::S3Server;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `silent-nas fsck --verify-data` with the tier configured by the environment.
fn fsck(s3: Option<&S3Server>, data: &Path) -> (bool, String) {
    let mut c = Command::new(bin());
    c.args(["fsck", "--verify-data", "--data", data.to_str().unwrap()]);
    if let Some(s3) = s3 {
        with_tier(&mut c, s3);
    }
    let out: Output = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn get(s: &Server, name: &str) -> Vec<u8> {
    let a = auth("admin", ADMIN_PW);
    let r = curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None);
    assert_eq!(r.status, 200, "{name}");
    r.body
}

fn files() -> Vec<(String, Vec<u8>)> {
    (0..4)
        .map(|i| (format!("r{i}.bin"), content(1_800_000, 200 + i)))
        .collect()
}

/// The uploaded packs: (id, local path, object path), by id.
fn uploaded(s3: &S3Server, data: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out: Vec<_> = s3
        .objects("bkt")
        .into_iter()
        .map(|(key, _)| {
            let id = key
                .trim_start_matches("nas/packs/")
                .trim_end_matches(".pack")
                .to_owned();
            let local = data.join("packs").join(&id[..2]).join(format!("{id}.pack"));
            (id, local, s3.root.join("bkt").join(&key))
        })
        .collect();
    out.sort();
    out
}

/// Flips a byte in the middle of the frame holding the middle of a pack file.
fn flip_a_frame_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut pos = 8;
    let at = loop {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let frame = pos + 36;
        if frame + len >= bytes.len() / 2 {
            break frame + len / 2;
        }
        pos = frame + len;
    };
    bytes[at] ^= 0x20;
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn fsck_repairs_a_flipped_byte_a_truncated_and_a_deleted_pack_and_a_second_fsck_is_clean() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(
        &s3,
        dir.path(),
        "[workers]\nscrub_interval = \"30d\"\nscrub_rate = \"unlimited\"\n",
    );
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_uploaded(&s, 5.0);
    drop(s);
    let packs = uploaded(&s3, &data);
    assert!(packs.len() >= 5, "{packs:?}");
    // one of each: a flipped byte, a pack cut in half, a pack deleted
    flip_a_frame_byte(&packs[0].1);
    let half = std::fs::metadata(&packs[1].1).unwrap().len() / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&packs[1].1)
        .unwrap()
        .set_len(half)
        .unwrap();
    std::fs::remove_file(&packs[2].1).unwrap();

    let (ok, out) = fsck(Some(&s3), &data);
    assert!(ok, "{out}");
    assert!(out.contains("clean after repairs"), "{out}");
    for (id, _, _) in &packs[..3] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("REPAIRED /r") && l.contains(id.as_str())),
            "pack {id} repaired, the file named: {out}"
        );
    }
    assert!(
        out.contains("is missing: restored from the remote copy"),
        "{out}"
    );
    assert!(!out.contains("DAMAGED"), "{out}");
    for (_, local, object) in &packs {
        assert!(
            std::fs::read(local).unwrap() == std::fs::read(object).unwrap(),
            "{} is its object again",
            local.display()
        );
    }
    let (ok, out) = fsck(Some(&s3), &data);
    assert!(
        ok && out.contains(": clean") && !out.contains("REPAIRED"),
        "{out}"
    );
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    for (name, body) in &files {
        assert!(get(&s, name) == *body, "{name} byte-exact");
    }
    assert_eq!(metric(&s, "silent_nas_remote_read_frames_total"), 0.0);
}

#[test]
fn without_a_good_remote_copy_the_damage_is_unrepairable_and_the_file_named() {
    // a store without a tier: no other copy
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    let s = Server::start_on(&plain);
    put(&s, "alone.bin", &content(1_500_000, 3));
    drop(s);
    let pack = std::fs::read_dir(plain.join("packs"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .unwrap();
    flip_a_frame_byte(&pack);
    let (ok, out) = fsck(None, &plain);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("DAMAGED /alone.bin")
                && l.contains("unrepairable: no other copy")),
        "{out}"
    );
    assert!(
        out.contains("0 repaired, 1 problems (unrepairable)"),
        "{out}"
    );

    // a tier whose copy of the damaged pack is gone from the bucket
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(
        &s3,
        dir.path(),
        "[workers]\nscrub_interval = \"30d\"\nscrub_rate = \"unlimited\"\n",
    );
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    for (name, body) in &files() {
        put(&s, name, body);
    }
    wait_uploaded(&s, 5.0);
    drop(s);
    let packs = uploaded(&s3, &data);
    flip_a_frame_byte(&packs[0].1);
    std::fs::remove_file(&packs[0].2).unwrap();
    let (ok, out) = fsck(Some(&s3), &data);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("DAMAGED /r") && l.contains("unrepairable")),
        "{out}"
    );
    assert!(!out.contains("REPAIRED"), "{out}");
}

#[test]
fn the_scrub_worker_repairs_while_serving_and_logs_the_pack_and_the_files() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(
        &s3,
        dir.path(),
        "[workers]\nscrub_interval = \"30d\"\nscrub_rate = \"unlimited\"\n",
    );
    let log_path = dir.path().join("server.log");
    let s = Server::start_logged(
        &data,
        &["--config", cfg.to_str().unwrap()],
        "warn",
        Some(std::fs::File::create(&log_path).unwrap()),
    );
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    wait_uploaded(&s, 5.0);
    let packs = uploaded(&s3, &data);
    flip_a_frame_byte(&packs[1].1);
    let a = auth("admin", ADMIN_PW);
    let run = curl(
        &[
            "-u",
            &a,
            "-X",
            "POST",
            &s.url("/api/v1/admin/workers/scrub/run"),
        ],
        None,
    );
    assert_eq!(run.status, 202);
    let until = Instant::now() + Duration::from_secs(120);
    let w = loop {
        let r = curl(&["-u", &a, &s.url("/api/v1/admin/workers")], None);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let w = v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "scrub")
            .unwrap()
            .clone();
        if w["runs"] == 1 {
            break w;
        }
        assert!(Instant::now() < until, "the scrub did not finish: {w}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let summary = w["last_outcome"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("clean") && summary.contains("repaired from the remote copy: "),
        "{w}"
    );
    assert!(metric(&s, "silent_nas_remote_repairs_total") >= 1.0);
    assert!(
        std::fs::read(&packs[1].1).unwrap() == std::fs::read(&packs[1].2).unwrap(),
        "the local pack is its object again"
    );
    for (name, body) in &files {
        assert!(get(&s, name) == *body, "{name} byte-exact");
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("repaired:") && l.contains(packs[1].0.as_str()))
        .unwrap_or_else(|| panic!("a log line names the pack: {log}"));
    assert!(line.contains("/r"), "and the files: {line}");
}

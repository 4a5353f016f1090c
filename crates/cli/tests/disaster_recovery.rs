//! Disaster recovery through the real binary, against `rclone serve s3` on loopback: files
//! written over WebDAV (several versions, a folder, a file in the trash) are uploaded, the
//! `meta_backup` worker (started by hand) backs the metadata up to the object store, the
//! server is killed, `silent-nas restore --from` rebuilds an empty directory from the object
//! store alone, and the server on it serves every file and every old version byte-exact
//! (from the object store: no pack is local), the trash entry is there and `fsck
//! --verify-data` is clean. `restore --from` refuses a directory that is not empty;
//! `tier backup` keeps `--keep` backups; a damaged backup is refused (and an older one
//! restored by name); a pack missing from the object store is reported with the file it
//! holds; frames GC's compaction moved after the backup are found in the
//! newer pack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn get(s: &Server, path: &str) -> Vec<u8> {
    let r = curl(&["-u", &auth("admin", ADMIN_PW), &s.url(path)], None);
    assert_eq!(r.status, 200, "GET {path}");
    r.body
}

/// `silent-nas ARGS` with the object store's endpoint and credentials in the environment.
fn nas(s3: &S3Server, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.env("SILENT_NAS_BLOBS_ENDPOINT", &s3.endpoint)
        .env("SILENT_NAS_BLOBS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("SILENT_NAS_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args(args);
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `restore --from` into `dir`: (success, output).
fn restore(s3: &S3Server, dir: &Path) -> (bool, String) {
    restore_with(s3, dir, &[])
}

/// `restore --from` into `dir` with `extra` arguments: (success, output).
fn restore_with(s3: &S3Server, dir: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["restore", "--from", REMOTE, "--data", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = nas(s3, &args);
    (o.status.success(), text(&o))
}

/// Deletes the object `key` of the bucket through the S3 API (signed): the status.
/// (rclone's listings do not see a file removed under it at once.)
fn s3_delete(s3: &S3Server, key: &str) -> u16 {
    let url = format!("{}/{BUCKET}/{key}", s3.endpoint);
    let creds = format!("{ACCESS_KEY}:{SECRET_KEY}");
    let args = [
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "-u",
        &creds,
        "-X",
        "DELETE",
        &url,
    ];
    curl(&args, None).status
}

/// The objects under `PREFIX/meta/` in the object store's directory.
fn meta_objects(s3: &S3Server) -> Vec<String> {
    let dir = s3.root.join("bkt/nas/meta");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn local_packs(data: &Path) -> usize {
    walk(&data.join("packs"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The restored configuration with the credentials the operator adds.
fn with_credentials(conf: &Path) {
    let mut text = std::fs::read_to_string(conf).unwrap();
    assert!(!text.contains(SECRET_KEY), "no secret written: {text}");
    text.push_str(&format!(
        "access_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\n\
         cache_size = \"8MiB\"\n"
    ));
    std::fs::write(conf, text).unwrap();
}

#[test]
fn a_store_restored_from_the_object_store_alone_serves_every_file_version_and_trash_entry() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "meta_backup_keep = 3\n");
    let log = dir.path().join("server.log");
    let s = Server::start_logged(
        &data,
        &["--config", cfg.to_str().unwrap()],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    let dav = |p: &str| format!("/dav/{p}");
    let a = auth("admin", ADMIN_PW);
    assert_eq!(
        curl(&["-u", &a, "-X", "MKCOL", &s.url("/dav/docs")], None).status,
        201
    );
    let versions: Vec<Vec<u8>> = (0..3).map(|i| content(900_000, 70 + i)).collect();
    for v in &versions {
        put(&s, "docs/report.bin", v);
    }
    let files = [
        ("docs/big.bin", content(2_500_000, 80)),
        ("docs/small.txt", b"a small file\n".to_vec()),
        ("top.bin", content(1_300_000, 81)),
    ];
    for (name, body) in &files {
        put(&s, name, body);
    }
    let trashed = content(600_000, 82);
    put(&s, "gone.bin", &trashed);
    let r = curl(&["-u", &a, "-X", "DELETE", &s.url("/dav/gone.bin")], None);
    assert_eq!(r.status, 204);
    // every write is in a sealed pack before the backup: the backup seals the last one
    let w = run_worker(&s, "meta_backup");
    assert!(w["last_error"].is_null(), "{w}");
    let summary = w["last_outcome"]["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("metadata backup"), "{summary}");
    assert!(!summary.contains("not uploaded"), "{summary}");
    let objects = meta_objects(&s3);
    assert_eq!(objects.len(), 3, "{objects:?}"); // <name>.sqlite.zst, <name>.json, latest
    assert!(objects.contains(&"latest.json".to_owned()));
    drop(s); // the machine is gone: kill -9
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("meta_backup"), "the backup run is logged");
    assert!(
        !logged.contains(SECRET_KEY) && !logged.contains(ACCESS_KEY),
        "no credentials in the log"
    );

    let new = dir.path().join("restored");
    let (ok, out) = restore(&s3, &new);
    assert!(ok, "{out}");
    assert!(out.contains(" 0 missing"), "{out}");
    assert!(
        !out.contains("AT RISK") && !out.contains(SECRET_KEY),
        "{out}"
    );
    assert_eq!(local_packs(&new), 0, "every pack stays in the object store");
    let conf = new.join("silent-nas.toml");
    with_credentials(&conf);
    let s = Server::start_with(&new, &["--config", conf.to_str().unwrap()]);
    for (name, body) in &files {
        assert!(get(&s, &dav(name)) == *body, "{name} byte-exact");
    }
    assert!(get(&s, "/dav/docs/report.bin") == versions[2]);
    for (i, v) in versions.iter().enumerate() {
        let path = format!("/dav/docs/report.bin?version={}", i + 1);
        assert!(get(&s, &path) == *v, "version {} byte-exact", i + 1);
    }
    let trash = curl(&["-u", &a, &s.url("/api/v1/trash")], None);
    assert_eq!(trash.status, 200);
    assert!(trash.text().contains("gone.bin"), "{}", trash.text());
    assert!(
        metric(&s, "silent_nas_remote_read_frames_total") > 0.0,
        "the reads came from the object store"
    );
    drop(s);
    let o = with_tier(&mut Command::new(bin()), &s3)
        .args(["fsck", "--verify-data", "--data", new.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(": clean"), "{}", text(&o));
}

#[test]
fn restore_refuses_a_directory_that_is_not_empty() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("busy");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), b"mine").unwrap();
    let (ok, out) = restore(&s3, &target);
    assert!(!ok, "{out}");
    assert!(out.contains("is not empty"), "{out}");
    let left: Vec<_> = std::fs::read_dir(&target).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "nothing written beside the file");
    assert_eq!(std::fs::read(target.join("keep.txt")).unwrap(), b"mine");
    // an empty object store: nothing to restore, said so
    let (ok, out) = restore(&s3, &dir.path().join("fresh"));
    assert!(!ok && out.contains("no metadata backup"), "{out}");
}

#[test]
fn tier_backup_keeps_the_newest_backups_a_damaged_one_is_refused_and_a_missing_pack_named() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    put(&s, "one.bin", &content(1_500_000, 90));
    put(&s, "two.bin", &content(1_500_000, 91));
    drop(s);
    let d = data.to_str().unwrap();
    let backup = |keep: &str| {
        let o = with_tier(&mut Command::new(bin()), &s3)
            .args(["tier", "backup", "--keep", keep, "--data", d])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let mut names = Vec::new();
    for _ in 0..4 {
        let out = backup("2");
        assert!(!out.contains("NOT UPLOADED"), "{out}");
        names.push(out.split_whitespace().nth(1).unwrap().to_owned());
    }
    let objects = meta_objects(&s3);
    let kept: Vec<String> = names[2..]
        .iter()
        .flat_map(|n| [format!("{n}.json"), format!("{n}.sqlite.zst")])
        .chain(["latest.json".to_owned()])
        .collect();
    let mut kept = kept;
    kept.sort();
    assert_eq!(objects, kept, "the newest two and latest.json");
    let latest = std::fs::read_to_string(s3.root.join("bkt/nas/meta/latest.json")).unwrap();
    assert!(latest.contains(&names[3]), "{latest}");
    let o = nas(
        &s3,
        &["restore", "--from", REMOTE, "--list", "--data", "unused"],
    );
    assert_eq!(text(&o).lines().collect::<Vec<_>>(), names[2..].to_vec());

    // the newest backup damaged: refused (size and BLAKE3 checked), the target left absent;
    // the older one kept is restored by name
    let damaged = s3
        .root
        .join(format!("bkt/nas/meta/{}.sqlite.zst", names[3]));
    let mut bytes = std::fs::read(&damaged).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55; // same size: only the content check can tell
    std::fs::write(&damaged, bytes).unwrap();
    let target = dir.path().join("first");
    let (ok, out) = restore(&s3, &target);
    assert!(!ok && out.contains("does not verify"), "{out}");
    assert!(!target.exists(), "nothing left behind");
    let (ok, out) = restore_with(&s3, &target, &["--backup", &names[2]]);
    assert!(ok && out.contains(&names[2]), "{out}");

    // a pack lost from the object store: the restore names the file whose data it held
    let packs = walk(&s3.root.join("bkt/nas/packs"));
    let lost = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let key = lost.strip_prefix(s3.root.join(BUCKET)).unwrap();
    let key = key.to_str().unwrap();
    assert_eq!(s3_delete(&s3, key), 204, "DELETE {key}");
    let (ok, out) = restore_with(&s3, &dir.path().join("restored"), &["--backup", &names[2]]);
    assert!(!ok, "a restore with data missing fails: {out}");
    assert!(out.contains(" 1 missing"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("AT RISK /") && (l.contains("one.bin") || l.contains("two.bin"))),
        "{out}"
    );
}

#[test]
fn frames_gc_compacted_after_the_backup_are_found_in_the_newer_pack() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = tier_config(&s3, dir.path(), "");
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let a = auth("admin", ADMIN_PW);
    // both in one pack (1 MiB): the backup seals it and names it for both files
    let keep = content(250_000, 95);
    put(&s, "keep.bin", &keep);
    put(&s, "drop.bin", &content(600_000, 96));
    let w = run_worker(&s, "meta_backup");
    assert!(w["last_error"].is_null(), "{w}");
    let before = walk(&s3.root.join("bkt/nas/packs"));
    assert_eq!(before.len(), 1, "{before:?}");
    // drop.bin gone for good: GC compacts the pack (keep.bin's frames move) and deletes it
    assert_eq!(
        curl(&["-u", &a, "-X", "DELETE", &s.url("/dav/drop.bin")], None).status,
        204
    );
    assert_eq!(
        curl(&["-u", &a, "-X", "DELETE", &s.url("/api/v1/trash")], None).status,
        200
    );
    let w = run_worker(&s, "gc");
    assert!(w["last_error"].is_null(), "{w}");
    assert!(
        w["last_outcome"]["summary"]
            .as_str()
            .unwrap()
            .contains("compacted 1"),
        "{w}"
    );
    let after = walk(&s3.root.join("bkt/nas/packs"));
    assert!(
        !after.contains(&before[0]),
        "the compacted pack's object is gone"
    );
    assert_eq!(
        after.len(),
        1,
        "the pack keep.bin moved to is uploaded: {after:?}"
    );
    drop(s);

    let new = dir.path().join("restored");
    let (ok, out) = restore(&s3, &new);
    assert!(!ok, "drop.bin's data is gone: {out}");
    assert!(out.contains("moved by GC"), "{out}");
    let risky: Vec<&str> = out.lines().filter(|l| l.starts_with("AT RISK")).collect();
    assert_eq!(risky.len(), 1, "{out}");
    assert!(risky[0].contains("drop.bin"), "{out}");
    let conf = new.join("silent-nas.toml");
    with_credentials(&conf);
    let s = Server::start_with(&new, &["--config", conf.to_str().unwrap()]);
    assert!(get(&s, "/dav/keep.bin") == keep, "keep.bin byte-exact");
}

//! `silent-nas import` of a tree of many small files (the bundled, batched path) as a user
//! runs it: real processes, real files; what goes in comes out byte for byte, with its
//! folders and mtimes, and a second import of the same tree stores nothing new.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn ok(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_silent-nas"))
        .args(args)
        .env("SILENT_NAS_DATA", data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(data, args)).unwrap()
}

/// Deterministic bytes: text-like below `len` 64 KiB, so they compress as source does.
fn content(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"abcdefgh ijk\nlmnop"[(x % 18) as usize]
        })
        .collect()
}

/// 12 folders (some nested) of 40 files each: sizes from 0 to 12 KiB, some identical,
/// some empty, a few larger than a bundle's whole-file limit; each with its own mtime.
fn make_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for d in 0..12 {
        let dir = if d % 3 == 2 {
            root.join(format!("d{:02}/nested/deeper", d - 1))
        } else {
            root.join(format!("d{d:02}"))
        };
        fs::create_dir_all(&dir).unwrap();
        for f in 0..40 {
            let i = d * 40 + f;
            // every fifth file is a copy of the one before it
            let j = if f % 5 == 4 { i - 1 } else { i };
            let len = match j % 10 {
                0 => 0,
                1 => 300_000, // streamed, several chunks
                _ => (j * 131) % 12_288,
            };
            let data = content(j, len);
            let path = dir.join(format!("f{f:02}.txt"));
            fs::write(&path, &data).unwrap();
            let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000 + i as u64 * 61);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            files.insert(path.strip_prefix(root).unwrap().to_path_buf(), data);
        }
    }
    // empty folders, the last of the walk: made after the last file's commit
    fs::create_dir_all(root.join("zz-empty/inner")).unwrap();
    files
}

fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn import_of_many_small_files_keeps_bytes_folders_and_mtimes_and_dedups_a_second_run() {
    let t = tempfile::tempdir().unwrap();
    let (src, data, exp) = (
        t.path().join("src"),
        t.path().join("data"),
        t.path().join("exp"),
    );
    let files = make_tree(&src);
    let total: usize = files.values().map(Vec::len).sum();
    let src_s = src.to_str().unwrap();

    let out = json(
        &data,
        &["import", "--home", "me", src_s, "--dest", "/in", "--json"],
    );
    assert_eq!(out["files"], files.len() as u64, "{out}");
    assert_eq!(out["bytes"], total as u64, "{out}");
    assert_eq!(out["skipped"], 0, "{out}");

    ok(
        &data,
        &["export", "--home", "me", "/in", exp.to_str().unwrap()],
    );
    let mut seen = 0;
    for (rel, want) in &files {
        let got = fs::read(exp.join(rel)).unwrap();
        assert!(
            got == *want,
            "{} differs after import and export",
            rel.display()
        );
        assert_eq!(
            mtime(&exp.join(rel)),
            mtime(&src.join(rel)),
            "{}",
            rel.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 480);
    let ls = ok(&data, &["ls", "--home", "me", "/in/d01/nested"]);
    assert!(ls.contains("deeper/"), "{ls}");
    let ls = ok(&data, &["ls", "--home", "me", "/in/zz-empty"]);
    assert!(ls.contains("inner/"), "{ls}");

    // the same tree again: a new version of every file, no new chunk, no new pack bytes
    let before = json(&data, &["stats", "--json"]);
    let out = json(
        &data,
        &["import", "--home", "me", src_s, "--dest", "/in", "--json"],
    );
    assert_eq!(out["files"], files.len() as u64, "{out}");
    let after = json(&data, &["stats", "--json"]);
    assert_eq!(after["chunks"], before["chunks"], "{before} -> {after}");
    assert_eq!(
        after["pack_bytes"], before["pack_bytes"],
        "{before} -> {after}"
    );
    // (an empty version is replaced by the next write, never kept as history)
    let empty = files.values().filter(|d| d.is_empty()).count() as u64;
    assert_eq!(
        after["versions"],
        2 * before["versions"].as_u64().unwrap() - empty
    );
    let fsck = ok(&data, &["fsck"]);
    assert!(fsck.contains("clean"), "{fsck}");
}

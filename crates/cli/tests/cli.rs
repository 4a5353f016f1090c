//! Black-box tests of the `silent-nas` binary: real processes, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn nas(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_silent-nas"))
        .args(args)
        .env("SILENT_NAS_DATA", data)
        .output()
        .unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = nas(data, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn one_error_line(out: &Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(
        err.lines().count(),
        1,
        "exactly one line on stderr: {err:?}"
    );
    assert!(err.starts_with("silent-nas: error: "), "{err:?}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
    err
}

fn tree(root: &Path, v: u8) {
    fs::create_dir_all(root.join("docs/deep")).unwrap();
    fs::write(
        root.join("docs/a.txt"),
        format!("alpha v{v}\n").repeat(1000),
    )
    .unwrap();
    fs::write(
        root.join("docs/deep/caf\u{e9} & friends #1.txt"),
        b"unicode",
    )
    .unwrap();
    let big: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(root.join("big.bin"), big).unwrap();
}

#[test]
fn import_browse_versions_trash_export() {
    let t = tempfile::tempdir().unwrap();
    let (src, data) = (t.path().join("src"), t.path().join("data"));
    tree(&src, 1);
    let out = ok(
        &data,
        &["import", "--home", "me", src.to_str().unwrap(), "-q"],
    );
    assert!(out.contains("imported 3 files"), "{out}");
    let ls = ok(&data, &["ls", "--home", "me", "/"]);
    assert!(ls.contains("big.bin") && ls.contains("docs/"), "{ls}");
    let cat = ok(
        &data,
        &[
            "cat",
            "--home",
            "me",
            "/docs/deep/caf\u{e9} & friends #1.txt",
        ],
    );
    assert_eq!(cat, "unicode");

    // a second import makes versions; an old one can be read and restored.
    // The export below names the first import's time in whole seconds: let
    // the clock pass the next whole second so the second import is later.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let next_second = std::time::Duration::from_secs(now.as_secs() + 1);
    std::thread::sleep(next_second - now + std::time::Duration::from_millis(50));
    fs::write(src.join("docs/a.txt"), "changed\n").unwrap();
    ok(
        &data,
        &[
            "import",
            "--home",
            "me",
            src.to_str().unwrap(),
            "-q",
            "--dest",
            "/",
        ],
    );
    let vs: serde_json::Value = serde_json::from_str(&ok(
        &data,
        &["versions", "--home", "me", "/docs/a.txt", "--json"],
    ))
    .unwrap();
    assert_eq!(vs.as_array().unwrap().len(), 2);
    let t1 = vs[0]["created_ns"].as_i64().unwrap();
    let v1 = ok(
        &data,
        &["cat", "--home", "me", "/docs/a.txt", "--version", "1"],
    );
    assert!(v1.starts_with("alpha v1"));
    ok(
        &data,
        &["restore", "--home", "me", "/docs/a.txt", "--version", "1"],
    );
    assert!(ok(&data, &["cat", "--home", "me", "/docs/a.txt"]).starts_with("alpha v1"));

    // export as of the first import
    let exp = t.path().join("exp");
    let at = format!("{}", t1 / 1_000_000_000 + 1);
    ok(
        &data,
        &[
            "export",
            "--home",
            "me",
            "/",
            exp.to_str().unwrap(),
            "--version-at",
            &at,
        ],
    );
    assert!(
        fs::read_to_string(exp.join("docs/a.txt"))
            .unwrap()
            .starts_with("alpha v1")
    );
    assert_eq!(
        fs::read(exp.join("big.bin")).unwrap(),
        fs::read(src.join("big.bin")).unwrap()
    );

    // rm goes to the trash and comes back
    ok(&data, &["rm", "--home", "me", "/docs"]);
    let tl: serde_json::Value =
        serde_json::from_str(&ok(&data, &["trash", "--home", "me", "--json", "list"])).unwrap();
    let id = tl[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(tl[0]["path"], "/docs");
    ok(&data, &["trash", "--home", "me", "restore", &id]);
    assert_eq!(
        ok(
            &data,
            &[
                "cat",
                "--home",
                "me",
                "/docs/deep/caf\u{e9} & friends #1.txt"
            ]
        ),
        "unicode"
    );

    // stats, gc, fsck
    let st: serde_json::Value = serde_json::from_str(&ok(&data, &["stats", "--json"])).unwrap();
    for k in [
        "logical_bytes",
        "stored_bytes",
        "chunks",
        "files",
        "versions",
        "dedup_ratio",
        "compression_ratio",
    ] {
        assert!(st.get(k).is_some(), "stats has {k}");
    }
    assert_eq!(st["files"], 3);
    assert!(st["stored_bytes"].as_u64().unwrap() < st["logical_bytes"].as_u64().unwrap());
    let dry = ok(&data, &["gc", "--dry-run"]);
    assert!(dry.starts_with("would free"), "{dry}");
    ok(&data, &["gc"]);
    assert!(ok(&data, &["fsck", "--verify-data"]).contains("clean"));
}

#[test]
fn errors_are_one_line_with_nonzero_exit() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let out = nas(&data, &["cat", "--home", "me", "/missing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        one_error_line(&out).contains("no store in"),
        "reading creates nothing"
    );
    ok(&data, &["init"]);
    let out = nas(&data, &["cat", "--home", "me", "/missing"]);
    assert!(one_error_line(&out).contains("not found: home me"));
    let mut put = Command::new(env!("CARGO_BIN_EXE_silent-nas"))
        .args(["put", "--home", "me", "/present"])
        .env("SILENT_NAS_DATA", &data)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(put.stdin.take());
    assert!(put.wait().unwrap().success());
    let out = nas(&data, &["cat", "--home", "me", "/missing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_error_line(&out).contains("not found: /missing"));
    let out = nas(&data, &["ls", "--home", "me", "/a/../b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_error_line(&out).contains(".."));
    let out = nas(&data, &["import", "--home", "me", "/nonexistent/dir"]);
    assert_eq!(out.status.code(), Some(2));
    one_error_line(&out);
}

#[test]
fn writing_commands_refuse_a_store_in_use_and_reading_ones_work_beside_it() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let src = t.path().join("src");
    tree(&src, 1);
    ok(&data, &["import", "--home", "ann", src.to_str().unwrap()]);
    tree(&src, 2);
    ok(&data, &["import", "--home", "ann", src.to_str().unwrap()]);
    ok(&data, &["rm", "--home", "ann", "/docs/deep"]);
    // another process holds the store (as `serve` does) and keeps writing
    let held = nas_engine::Store::open(&data, Default::default()).unwrap();
    let home = held.home("ann").unwrap();
    let live = nas_types::NasPath::parse("/live.txt").unwrap();
    home.write_all(&live, b"written by the server", Default::default())
        .unwrap();
    for args in [
        vec!["put", "--home", "ann", "/x"],
        vec!["gc"],
        vec!["fsck"],
        vec!["import", "--home", "ann", src.to_str().unwrap()],
        vec!["trash", "--home", "ann", "purge"],
    ] {
        let out = nas(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(one_error_line(&out).contains("in use by another silent-nas process"));
    }
    let versions = ok(&data, &["versions", "--home", "ann", "/docs/a.txt"]);
    assert_eq!(versions.lines().count(), 2, "{versions}");
    assert!(ok(&data, &["ls", "--home", "ann", "/"]).contains("live.txt"));
    assert!(ok(&data, &["stat", "--home", "ann", "/live.txt"]).contains("21"));
    assert_eq!(
        ok(&data, &["cat", "--home", "ann", "/live.txt"]),
        "written by the server"
    );
    assert!(ok(&data, &["stats"]).contains("files"));
    assert!(ok(&data, &["trash", "--home", "ann", "list"]).contains("/docs/deep"));
    let out_dir = t.path().join("out");
    ok(
        &data,
        &["export", "--home", "ann", "/", out_dir.to_str().unwrap()],
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("live.txt")).unwrap(),
        "written by the server"
    );
    // a home that does not exist is an error, not created
    let out = nas(&data, &["ls", "--home", "nobody", "/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_error_line(&out).contains("not found"));
    drop(held);
    assert!(!ok(&data, &["ls", "--home", "ann", "/"]).is_empty());
}

#[test]
fn fsck_exits_1_and_names_damaged_files() {
    let t = tempfile::tempdir().unwrap();
    let (src, data) = (t.path().join("src"), t.path().join("data"));
    tree(&src, 1);
    ok(
        &data,
        &["import", "--home", "me", src.to_str().unwrap(), "-q"],
    );
    // flip one byte in the middle of every pack file
    for sub in fs::read_dir(data.join("packs")).unwrap() {
        for f in fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let mut bytes = fs::read(&p).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            fs::write(&p, bytes).unwrap();
        }
    }
    let out = nas(&data, &["fsck", "--verify-data"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DAMAGED /big.bin"), "{text}");
    assert!(text.contains("damaged files"));
    let out = nas(&data, &["cat", "--home", "me", "/big.bin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_error_line(&out).contains("/big.bin"));
}

#[test]
fn version_is_printed() {
    // `silent-nas --version` (and `-V`): the crate's version on stdout, exit 0, no store
    // opened or created
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for flag in ["--version", "-V"] {
        let out = ok(&data, &[flag]);
        assert_eq!(
            out,
            format!("silent-nas {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
    assert!(!data.exists(), "--version created a store");
    let help = ok(&data, &["--help"]);
    assert!(help.contains("--version"), "{help}");
}

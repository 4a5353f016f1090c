//! A full disk is an answer, not a wedge: the real server on a 40 MiB tmpfs (mounted by
//! the test: it runs as root here and in CI, and fails — never passes silently — where it
//! cannot mount one). A PUT larger than the disk is answered 507 with a message by every
//! door (WebDAV, REST, S3), its space is free again at once, a small PUT then succeeds;
//! filled to its reserve, the server says so in readiness, and deletes, trash purges and
//! GC still work and give the space back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small tmpfs, unmounted (and its mount point removed) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount(8) is installed");
        assert!(
            out.status.success(),
            "this test needs a small file system and could not mount a {size} tmpfs at {} \
             ({}): run it as root (as CI does), or with CAP_SYS_ADMIN",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes still free on it.
    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().last().unwrap().trim().parse().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

const MIB: u64 = 1 << 20;

/// A body larger than the whole file system, in a file on the ordinary disk.
fn big_file(dir: &Path) -> PathBuf {
    let f = dir.join("big.bin");
    std::fs::write(&f, content(60_000_000, 11)).unwrap();
    f
}

/// After a refused upload the disk is back where it was (give or take the metadata
/// database's WAL and a pack's first bytes).
fn assert_given_back(fs: &Tmpfs, before: u64, what: &str) {
    let now = fs.free();
    assert!(
        now + 2 * MIB >= before,
        "{what}: {now} bytes free after, {before} before: the refused upload's frames are still there"
    );
}

#[test]
fn a_full_disk_is_507_at_every_door_and_deletes_and_gc_still_work() {
    let fs = Tmpfs::mount("40m");
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[storage]\nreserve = \"8MiB\"\nready_min_free = \"1MiB\"\n",
    )
    .unwrap();
    let s = Server::start_with(
        &fs.path().join("data"),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--s3-listen",
            "127.0.0.1:0",
        ],
    );
    let admin = auth("admin", ADMIN_PW);
    assert_eq!(curl(&[&s.url("/readyz")], None).status, 200);
    let big = big_file(work.path());
    let big_arg = big.to_str().unwrap();
    let before = fs.free();

    // WebDAV: 507 with a message; nothing of it is left on disk
    let r = curl(&["-u", &admin, "-T", big_arg, &s.url("/dav/big.bin")], None);
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("nothing was stored"), "{:?}", r.text());
    assert!(
        r.text().contains("<D:sufficient-disk-space/>"),
        "{:?}",
        r.text()
    );
    assert_given_back(&fs, before, "WebDAV");
    // REST: 507 storage_full
    let r = curl(
        &[
            "-u",
            &admin,
            "-T",
            big_arg,
            &s.url("/api/v1/upload/big.bin"),
        ],
        None,
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("\"storage_full\""), "{}", r.text());
    assert_given_back(&fs, before, "REST");
    // S3 (boto3 with its default retries): 507 XNasStorageFull, not retried
    let (ak, sk) = s.s3_key("admin");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="full")
try:
    s3.put_object(Bucket="full", Key="big.bin", Body=open(sys.argv[4], "rb").read())
    print("stored")
except ClientError as e:
    m = e.response["ResponseMetadata"]
    print(m["HTTPStatusCode"], e.response["Error"]["Code"], m.get("RetryAttempts"), e.response["Error"]["Message"])
"#;
    let out = Command::new("python3")
        .args(["-c", script, &endpoint, &ak, &sk, big_arg])
        .output()
        .expect("python3 with boto3");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("507 XNasStorageFull 0 "),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("storage is full"), "{said}");
    assert_given_back(&fs, before, "S3");

    // writes that fit succeed
    let r = curl(
        &["-u", &admin, "-T", "-", &s.url("/dav/small.txt")],
        Some(b"small\n"),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // fill it up to the reserve with 512 KiB files, until a PUT is refused
    let mut stored = Vec::new();
    for i in 0..200u64 {
        let f = work.path().join("part");
        std::fs::write(&f, content(512 << 10, 100 + i)).unwrap();
        let url = s.url(&format!("/dav/fill-{i}.bin"));
        let r = curl(&["-u", &admin, "-T", f.to_str().unwrap(), &url], None);
        if r.status == 507 {
            assert!(r.text().contains("disk is full"), "{}", r.text());
            break;
        }
        assert_eq!(r.status, 201, "{}", r.text());
        stored.push(i);
    }
    assert!(
        (40..80).contains(&stored.len()),
        "about 30 MiB fit above the 8 MiB reserve: {} files",
        stored.len()
    );
    // data stops at the reserve; the metadata written since (the database, its WAL) may
    // take a little of it: that is what it is for
    let full = fs.free();
    assert!(
        (6 * MIB..10 * MIB).contains(&full),
        "the reserve is kept: {full} bytes free"
    );
    let r = curl(&[&s.url("/readyz")], None);
    assert_eq!(r.status, 503);
    assert!(r.text().contains("storage full"), "{}", r.text());
    let m = scrape_as_admin(&s, "/metrics").text();
    assert_eq!(
        sample(&m, "silent_nas_disk_reserve_bytes"),
        Some(8.0 * MIB as f64)
    );
    assert!(sample(&m, "silent_nas_disk_free_bytes").unwrap() < 10.0 * MIB as f64);

    // while full: deletes (WebDAV and REST), a trash purge and GC all work; all but four
    // of the files go (everything is in the pack being filled: GC seals it, copies the
    // four into a new one, and deletes it)
    let (gone, kept) = stored.split_at(stored.len() - 4);
    let (by_dav, by_rest) = gone.split_at(gone.len() - 1);
    for i in by_dav {
        let r = curl(
            &[
                "-u",
                &admin,
                "-X",
                "DELETE",
                &s.url(&format!("/dav/fill-{i}.bin")),
            ],
            None,
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = curl(
        &[
            "-u",
            &admin,
            "-X",
            "DELETE",
            &s.url(&format!("/api/v1/files/fill-{}.bin", by_rest[0])),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = curl(
        &["-u", &admin, "-X", "DELETE", &s.url("/api/v1/trash")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(&format!("\"purged\":{}", gone.len())),
        "{}",
        r.text()
    );
    let freed = run_gc(&s, &admin);
    assert!(freed > 20 * MIB, "GC gave back {freed} bytes");
    assert!(
        fs.free() > full + 20 * MIB,
        "{} bytes free after GC, {full} while full",
        fs.free()
    );
    for i in kept {
        let r = curl(&["-u", &admin, &s.url(&format!("/dav/fill-{i}.bin"))], None);
        assert_eq!(
            r.body,
            content(512 << 10, 100 + i),
            "fill-{i}.bin survived GC"
        );
    }
    eprintln!(
        "disk_full: {} files of 512 KiB fit above the reserve; {full} bytes free when full; \
         GC freed {freed} bytes; {} bytes free after",
        stored.len(),
        fs.free()
    );
    let r = curl(&[&s.url("/readyz")], None);
    assert_eq!((r.status, r.text().trim()), (200, "ready"), "{}", r.text());
    let r = curl(
        &["-u", &admin, "-T", "-", &s.url("/dav/after.txt")],
        Some(b"after\n"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = curl(&["-u", &admin, &s.url("/dav/small.txt")], None);
    assert_eq!(r.text(), "small\n");
    drop(s);
}

/// Runs the GC worker now through the admin API and waits for the run; the bytes it freed.
fn run_gc(s: &Server, admin: &str) -> u64 {
    let runs = || -> (u64, serde_json::Value) {
        let r = curl(&["-u", admin, &s.url("/api/v1/admin/workers")], None);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let gc = v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "gc")
            .unwrap()
            .clone();
        (gc["runs"].as_u64().unwrap(), gc)
    };
    let (before, _) = runs();
    let r = curl(
        &[
            "-u",
            admin,
            "-X",
            "POST",
            &s.url("/api/v1/admin/workers/gc/run"),
        ],
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    for _ in 0..600 {
        let (n, gc) = runs();
        if n > before && gc["running"] == false {
            assert!(gc["last_error"].is_null(), "{gc}");
            return gc["last_outcome"]["freed_bytes"].as_u64().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the GC run did not end within 30 s");
}

/// The CLI on a full disk: a clear message and exit status 2, the space given back, and
/// what fits written afterwards (the default 64 MiB reserve refuses anything on a 40 MiB
/// disk, so this one runs with none: the real ENOSPC).
#[test]
fn the_cli_says_the_disk_is_full() {
    let fs = Tmpfs::mount("40m");
    let data = fs.path().join("data");
    let data = data.to_str().unwrap();
    let put = |path: &str, body: &[u8]| {
        let mut c = Command::new(bin())
            .args(["put", "--data", data, "--home", "alice", path])
            .env("SILENT_NAS_STORAGE_RESERVE", "0")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = c.stdin.take().unwrap();
        let _ = std::io::Write::write_all(&mut stdin, body);
        drop(stdin);
        c.wait_with_output().unwrap()
    };
    nas_ok(&["init", "--data", data]);
    let before = fs.free();
    let out = put("/big.bin", &content(60_000_000, 12));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("storage full") && err.contains("disk is full"),
        "{err}"
    );
    assert_given_back(&fs, before, "CLI");
    let out = put("/small.txt", b"small\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cat = nas_ok(&["cat", "--data", data, "--home", "alice", "/small.txt"]);
    assert_eq!(cat, "small\n");
}

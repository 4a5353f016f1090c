//! S3 Object Lock (issue 14, item 8) against the real server, per door: boto3 for the S3
//! operations (`tests/s3/aws_object_lock.py`), then the version it leaves locked (legal
//! hold and compliance retention) tried through REST (version delete, trash purge, empty
//! trash: 423 or kept), WebDAV (DELETE of the file allowed — a trash entry — the locked
//! version still readable) and the CLI on the stopped server (`delete-version`,
//! `trash purge`, `prune`: refused or skipped and reported).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

const ADMIN: &str = "admin:admin-password-1";

fn s3_script_out(s: &Server, script: &str) -> String {
    let (ak, sk) = s.s3_key("admin");
    let out = Command::new("python3")
        .arg(format!(
            "{}/../../tests/s3/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([&format!("http://{}", s.s3_addr.as_ref().unwrap()), &ak, &sk])
        .output()
        .expect("python3 with boto3 (pip install boto3)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn nas(args: &[&str]) -> (bool, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Object lock through S3 (boto3), then the locked version through every other door.
#[test]
fn a_locked_version_survives_every_door_until_its_date() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let s = Server::start_with(&data, &["--s3-listen", "127.0.0.1:0"]);
    let out = s3_script_out(&s, "aws_object_lock.py");
    let held: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("HELD "))
        .expect("the script names the held version")
        .trim()
        .parse()
        .unwrap();

    // REST: deleting the held version is 423 with a message; it stays
    let url = s.url(&format!("/api/v1/versions/worm/held.txt?version={held}"));
    let r = curl(&["-u", ADMIN, "-X", "DELETE", &url], None);
    assert_eq!(r.status, 423, "{}", r.text());
    assert!(r.text().contains("object_locked"), "{}", r.text());
    let r = curl(
        &["-u", ADMIN, &s.url("/api/v1/versions/worm/held.txt")],
        None,
    );
    assert!(
        r.text().contains(&format!("\"version\":{held}")),
        "{}",
        r.text()
    );

    // WebDAV: deleting the file is allowed (a trash entry, S3's delete marker)
    let r = curl(
        &["-u", ADMIN, "-X", "DELETE", &s.url("/dav/worm/held.txt")],
        None,
    );
    assert!(
        r.status == 204 || r.status == 200,
        "{} {}",
        r.status,
        r.text()
    );
    let r = curl(&["-u", ADMIN, &s.url("/dav/worm/held.txt")], None);
    assert_eq!(r.status, 404);

    // REST: purging that trash entry is 423; emptying the trash keeps it and says so
    let r = curl(&["-u", ADMIN, &s.url("/api/v1/trash")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.text();
    let id = entry_id(&list, "/worm/held.txt");
    let r = curl(
        &[
            "-u",
            ADMIN,
            "-X",
            "DELETE",
            &s.url(&format!("/api/v1/trash/{id}")),
        ],
        None,
    );
    assert_eq!(r.status, 423, "{}", r.text());
    let r = curl(
        &["-u", ADMIN, "-X", "DELETE", &s.url("/api/v1/trash")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"retained\":"), "{}", r.text());
    assert!(!r.text().contains("\"retained\":0"), "{}", r.text());
    let r = curl(&["-u", ADMIN, &s.url("/api/v1/trash")], None);
    assert!(
        r.text().contains("/worm/held.txt"),
        "still in the trash: {}",
        r.text()
    );

    // restore it, then the CLI on the stopped server
    let r = curl(
        &[
            "-u",
            ADMIN,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!("{{\"ids\":[{id}]}}"),
            &s.url("/api/v1/trash/restore"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    drop(s);
    let d = data.to_str().unwrap();
    let (ok, text) = nas(&[
        "delete-version",
        "--data",
        d,
        "--home",
        "admin",
        "/worm/held.txt",
        "--version",
        &held.to_string(),
    ]);
    assert!(!ok && text.contains("object lock"), "{text}");
    let (ok, text) = nas(&["prune", "--data", d, "--keep-last", "1"]);
    assert!(ok, "{text}");
    assert!(text.contains("under object lock"), "{text}");
    let (ok, text) = nas(&["rm", "--data", d, "--home", "admin", "/worm/held.txt"]);
    assert!(ok, "{text}");
    let (ok, text) = nas(&["trash", "purge", "--data", d, "--home", "admin"]);
    assert!(ok, "{text}");
    assert!(text.contains("under object lock"), "{text}");
    let (ok, text) = nas(&["trash", "list", "--data", d, "--home", "admin"]);
    assert!(ok && text.contains("/worm/held.txt"), "{text}");
    // GC frees nothing it needs; fsck is clean
    let (ok, text) = nas(&["gc", "--data", d]);
    assert!(ok, "{text}");
    let (ok, text) = nas(&["fsck", "--data", d]);
    assert!(ok, "{text}");
}

/// The id of the trash entry of `path` in a REST trash listing.
fn entry_id(list: &str, path: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(list).unwrap();
    let entries = v["entries"].as_array().or_else(|| v.as_array()).unwrap();
    entries
        .iter()
        .find(|e| e["path"].as_str() == Some(path))
        .and_then(|e| e["id"].as_i64())
        .unwrap_or_else(|| panic!("no trash entry for {path}: {list}"))
}

/// A bucket's default retention is the engine's rule: a WebDAV PUT and a REST upload into
/// the bucket's folder (and a subfolder) are locked as an S3 PUT is (S3 sees the retention
/// and refuses a delete by id); a bucket without one locks nothing
/// (`tests/s3/aws_object_lock_doors.py`).
#[test]
fn a_bucket_default_retention_locks_writes_through_every_door() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s3_script(&s, "aws_object_lock_doors.py", &[&s.url("")]);
}

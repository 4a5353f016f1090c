//! Issue 14 item 8 against the real server with boto3: versioning as S3 clients see it
//! (delete markers mapped onto the trash, across S3 and WebDAV; `Suspended`), bucket
//! lifecycle rules run by the worker, browser POST uploads. The scripts are
//! `tests/s3/aws_versioning*.py`, `aws_behind_marker.py`, `aws_lifecycle.py` and `aws_post_upload.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

fn server(t: &tempfile::TempDir) -> Server {
    Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"])
}

/// A DELETE makes a delete marker (the trash entry): GET 404 with `x-amz-delete-marker`,
/// the marker's id 405, ListObjectVersions lists it (paged), removing it restores the
/// object; versions of a deleted object removed by id; WebDAV deletes are markers and a
/// removed marker is the file restored for WebDAV.
#[test]
fn deletes_make_delete_markers_that_bring_objects_back_when_removed() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t);
    s3_script(&s, "aws_versioning.py", &[]);
}

/// When a key's current state is a delete marker, the calls naming an older version by id
/// act on exactly that version (tagging, ACL, retention, legal hold, attributes,
/// UploadPartCopy's source), under the engine's object lock rules, without bringing the
/// object back (`tests/s3/aws_behind_marker.py`).
#[test]
fn calls_naming_a_version_behind_a_delete_marker_act_on_that_version() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t);
    s3_script(&s, "aws_behind_marker.py", &[]);
}

/// PutBucketVersioning `Suspended`: kept per bucket, each write while suspended (PUT,
/// copy, multipart) replaces the previous one written while suspended, versions written
/// while Enabled stay; re-enabled, every write keeps a version again.
#[test]
fn suspended_versioning_keeps_one_suspended_version_per_key() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t);
    s3_script(&s, "aws_versioning_suspended.py", &[]);
}

/// Bucket lifecycle rules, with a lifecycle "day" of one second and the worker every
/// second: stored and returned; transitions, tag and size filters, dates and
/// `ExpiredObjectDeleteMarker` refused by name with nothing stored; the worker expires the
/// current objects, noncurrent versions and multipart uploads its rules name, nothing
/// else.
#[test]
fn lifecycle_rules_expire_what_they_name_and_nothing_else() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("s3.toml");
    std::fs::write(
        &cfg,
        "[workers]\nlifecycle_interval = \"1s\"\nlifecycle_day = \"1s\"\n",
    )
    .unwrap();
    let s = Server::start_with(
        &t.path().join("data"),
        &[
            "--s3-listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    s3_script(&s, "aws_lifecycle.py", &[]);
}

/// Browser POST uploads (boto3's generate_presigned_post, sent by `requests`): the policy
/// signature, every condition (a refusal names it), a 20 MiB file streamed in, the quota,
/// a read-only key, success_action_status and success_action_redirect.
#[test]
fn browser_post_uploads_check_the_signed_policy_and_stream_the_file() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t);
    s.add_user("small", "small-password-1", &["--quota", "8M"]);
    let (sak, ssk) = s.s3_key("small");
    let line = nas_ok(&[
        "key",
        "create",
        "admin",
        "--read-only",
        "--data",
        s.data.to_str().unwrap(),
    ]);
    let mut ro = line.split_whitespace();
    let (rak, rsk) = (ro.next().unwrap(), ro.next().unwrap());
    s3_script(&s, "aws_post_upload.py", &[&sak, &ssk, rak, rsk]);
}

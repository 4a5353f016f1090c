//! Where the S3 door answers as AWS does and a client can tell (issue 14): retried and
//! racing multipart calls, listing order and paging, folders made for keys, and the small
//! answers. boto3 against the real server; the scripts are in `tests/s3/aws_*.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

/// Runs `tests/s3/<script>` (ENDPOINT ACCESS_KEY SECRET DAV_URL USER PASSWORD) against a
/// fresh server; the test fails, showing its output, unless the script succeeds.
fn run(script: &str) {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s3_script(&s, script, &[]);
}

/// A retried CompleteMultipartUpload answers the same ETag and version; Abort of an upload
/// that never existed (or was completed) is NoSuchUpload.
#[test]
fn retried_complete_answers_the_same_etag_and_unknown_abort_is_no_such_upload() {
    run("aws_multipart_retry.py");
}

/// Two uploads of one part racing: the one that finishes last is the part.
#[test]
fn the_part_upload_that_finishes_last_is_the_part() {
    run("aws_part_race.py");
}

/// Keys and common prefixes come in UTF-8 binary order of the whole key; paging with
/// MaxKeys=1 (v1 markers, v2 tokens, start-after) returns every key exactly once.
#[test]
fn listing_is_in_s3_order_and_pages_never_skip_or_repeat() {
    run("aws_list_order.py");
}

/// A folder made for a key goes with its last object, through any door; explicit folders
/// stay; DeleteBucket succeeds once the bucket shows empty.
#[test]
fn folders_made_for_keys_go_with_their_last_object() {
    run("aws_implicit_folders.py");
}

/// MaxKeys=0, Prefix echoed as sent, Owner, a 304's ETag, Expires, CopyObject onto itself
/// and its source conditions, CreateBucket of an owned bucket, ListBuckets paging.
#[test]
fn the_small_answers_are_aws_answers() {
    run("aws_small_answers.py");
}

/// Every error answer carries a `<Message>`: AWS's text for its code, or a clearer one.
#[test]
fn every_error_carries_a_message() {
    run("aws_messages.py");
}

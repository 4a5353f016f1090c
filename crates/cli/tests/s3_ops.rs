//! S3 operations of issue 14 item 8 against the real server with boto3: object tagging,
//! canned ACLs and public read, the anonymous-download bucket policy, public access
//! blocks. The scripts are in `tests/s3/aws_*.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

/// A server with an S3 listener; `public` turns anonymous reads of public data on
/// (`s3_public_access`, off by default).
fn server(t: &tempfile::TempDir, public: bool) -> Server {
    let cfg = t.path().join("s3.toml");
    std::fs::write(&cfg, format!("s3_public_access = {public}\n")).unwrap();
    Server::start_with(
        &t.path().join("data"),
        &[
            "--s3-listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ],
    )
}

/// Runs `tests/s3/<script>` (ENDPOINT ACCESS_KEY SECRET DAV_URL USER PASSWORD, then a
/// second user's ACCESS_KEY SECRET) against a fresh server; the test fails, showing its
/// output, unless the script succeeds.
fn run(script: &str) {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t, true);
    s.add_user("bob", "bob-password-1", &[]);
    let (bak, bsk) = s.s3_key("bob");
    s3_script(&s, script, &[&bak, &bsk]);
}

/// Tags: set by PUT, CopyObject and CreateMultipartUpload headers or PutObjectTagging,
/// per version, changed in place (no new version), counted on GET/HEAD, AWS's limits.
#[test]
fn object_tags_are_kept_per_version_and_changed_in_place() {
    run("aws_tagging.py");
}

/// Canned ACLs (bucket and object, by header and by PutAcl): anonymous GET/HEAD/List
/// exactly where a public grant allows them, never a private bucket's or object's, never
/// a write or any other operation; the bucket name resolves to the one owner whose grant
/// applies.
#[test]
fn anonymous_reads_only_where_a_public_acl_grants_them() {
    run("aws_public_acl.py");
}

/// The anonymous-download bucket policy reads objects (not listings); other documents
/// are MalformedPolicy; a public access block overrides ACLs and policies.
#[test]
fn the_download_policy_and_public_access_blocks() {
    run("aws_public_policy.py");
}

/// GetObjectAttributes: the attributes asked for, of the current or a named version, a
/// multipart object's parts paged; never anonymous.
#[test]
fn object_attributes_without_the_content() {
    run("aws_attributes.py");
}

/// A disabled account's public buckets are not served to anonymous requests (and are
/// again once it is enabled); raw unsigned requests over curl.
#[test]
fn a_disabled_accounts_public_bucket_is_not_served() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t, true);
    let (endpoint, url) = public_bucket(&s);
    let r = curl(&[&url], None);
    assert_eq!((r.status, r.text()), (200, "carol's file".to_owned()));
    let set = |flag: &str| {
        nas_ok(&[
            "user",
            "set",
            "carol",
            flag,
            "--data",
            s.data.to_str().unwrap(),
        ])
    };
    set("--disable");
    let r = curl(&[&url], None);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("AccessDenied"));
    assert_eq!(curl(&[&format!("{endpoint}/carols")], None).status, 403);
    set("--enable");
    assert_eq!(curl(&[&url], None).status, 200);
}

/// By default (`s3_public_access` off) nothing is served without a signature, whatever
/// the buckets' ACLs say; the owner still reads with a signature.
#[test]
fn without_the_servers_switch_public_buckets_are_not_served_anonymously() {
    let t = tempfile::tempdir().unwrap();
    let s = server(&t, false);
    let (endpoint, url) = public_bucket(&s);
    for u in [
        url,
        format!("{endpoint}/carols"),
        format!("{endpoint}/carols?list-type=2"),
    ] {
        let r = curl(&[&u], None);
        assert_eq!(r.status, 403, "{u}: {}", r.text());
        assert!(r.text().contains("s3_public_access"), "{}", r.text());
    }
}

/// carol's bucket `carols`, made public-read, holding `f.txt`; the endpoint and its URL.
fn public_bucket(s: &Server) -> (String, String) {
    s.add_user("carol", "carol-password-1", &[]);
    let (ak, sk) = s.s3_key("carol");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = r#"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                  aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="carols", ACL="public-read")
s3.put_object(Bucket="carols", Key="f.txt", Body=b"carol's file")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &endpoint, &ak, &sk])
        .output()
        .expect("python3 with boto3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("{endpoint}/carols/f.txt");
    (endpoint, url)
}

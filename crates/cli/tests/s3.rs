//! The S3 door against the real server with boto3 (current defaults), keys from
//! `silent-nas key create`, WebDAV on the same tree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

/// What the inline boto3 scripts start with: `client(ak, sk)` for the endpoint in argv[1]
/// (path-style, no retries) and `code(fn, **kw)`, the S3 error code of a call ("OK" if none).
const BOTO: &str = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
def client(ak, sk):
    return boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "OK"
"#;

/// Runs python3 with `args`; the test fails, showing its output, unless it succeeds.
fn python_ok(args: &[&str]) {
    let out = Command::new("python3").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python3 {}:\n{}\n{}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs one of the Python suites in tests/s3 against a fresh server.
fn run_suite(script: &str) {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s3_script(&s, script, &[]);
}

#[test]
fn boto3_suite_passes() {
    run_suite("test_boto3.py");
}

#[test]
fn boto3_multipart_checksum_and_version_suite_passes() {
    run_suite("test_boto3_multipart.py");
}

#[test]
fn tls_trailers_hand_made_chunked_bodies_virtual_hosts_and_cors() {
    let t = tempfile::tempdir().unwrap();
    let (cert, keyf) = (t.path().join("c.pem"), t.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=s3.test"])
        .args([
            "-addext",
            "subjectAltName=DNS:s3.test,DNS:*.s3.test,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&keyf)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    let s = Server::start_with(
        &t.path().join("data"),
        &[
            "--s3-listen",
            "127.0.0.1:0",
            "--s3-domain",
            "s3.test",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            keyf.to_str().unwrap(),
        ],
    );
    let (ak, sk) = s.s3_key("admin");
    let port = s.s3_addr.as_ref().unwrap().rsplit(':').next().unwrap();
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/s3/test_s3_wire.py"
        ))
        .args([port, &ak, &sk, cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "test_s3_wire.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn revoked_keys_and_read_only_users_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("ro", "readonly-password", &["--role", "readonly"]);
    let (ak, sk) = s.s3_key("ro");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    s3.create_bucket(Bucket=sys.argv[4]); print("OK")
except ClientError as e:
    print(e.response["Error"]["Code"])
"#;
    let run = |bucket: &str| {
        let out = Command::new("python3")
            .args(["-c", script, &endpoint, &ak, &sk, bucket])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        run("ro-bucket"),
        "AccessDenied",
        "read-only users cannot write"
    );
    let out = Command::new(bin())
        .args([
            "key",
            "revoke",
            "ro",
            &ak,
            "--data",
            s.data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        run("ro-bucket2"),
        "InvalidAccessKeyId",
        "a revoked key is refused at once"
    );
}

#[test]
fn read_only_keys_read_and_list_but_never_write() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("ann", "ann-password-1", &[]);
    let (ak, sk) = s.s3_key("ann");
    let data = s.data.to_str().unwrap();
    let created = nas_ok(&[
        "key",
        "create",
        "ann",
        "--read-only",
        "--name",
        "backup check",
        "--json",
        "--data",
        data,
    ]);
    let v: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(
        (v["read_only"].as_bool(), v["name"].as_str()),
        (Some(true), Some("backup check"))
    );
    let (ro_ak, ro_sk) = (
        v["access_key_id"].as_str().unwrap(),
        v["secret_access_key"].as_str().unwrap(),
    );
    let listed: serde_json::Value =
        serde_json::from_str(&nas_ok(&["key", "list", "ann", "--json", "--data", data])).unwrap();
    let flags: Vec<(String, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["access_key_id"].as_str().unwrap().to_owned(),
                k["read_only"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        flags.contains(&(ak.clone(), false)) && flags.contains(&(ro_ak.to_owned(), true)),
        "{flags:?}"
    );
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = BOTO.to_owned()
        + r#"
rw, ro = client(sys.argv[2], sys.argv[3]), client(sys.argv[4], sys.argv[5])
rw.create_bucket(Bucket="shared")
rw.put_object(Bucket="shared", Key="a.txt", Body=b"hello")
assert ro.get_object(Bucket="shared", Key="a.txt")["Body"].read() == b"hello"
assert [o["Key"] for o in ro.list_objects_v2(Bucket="shared")["Contents"]] == ["a.txt"]
assert "shared" in [b["Name"] for b in ro.list_buckets()["Buckets"]]
for op, kw in [
    (ro.put_object, dict(Bucket="shared", Key="b.txt", Body=b"x")),
    (ro.put_object, dict(Bucket="shared", Key="big.bin", Body=b"y" * (1 << 20))),
    (ro.delete_object, dict(Bucket="shared", Key="a.txt")),
    (ro.copy_object, dict(Bucket="shared", Key="c.txt", CopySource="shared/a.txt")),
    (ro.create_multipart_upload, dict(Bucket="shared", Key="m.bin")),
    (ro.create_bucket, dict(Bucket="other")),
    (ro.delete_bucket, dict(Bucket="shared")),
]:
    c = code(op, **kw)
    assert c == "AccessDenied", (op.__name__, c)
assert sorted(o["Key"] for o in rw.list_objects_v2(Bucket="shared")["Contents"]) == ["a.txt"], "nothing written"
assert rw.get_object(Bucket="shared", Key="a.txt")["Body"].read() == b"hello"
print("ok")
"#;
    python_ok(&["-c", &script, &endpoint, &ak, &sk, ro_ak, ro_sk]);
}

#[test]
fn abandoned_multipart_uploads_expire() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "[workers]\ns3_upload_expiry = \"1s\"\n").unwrap();
    let s = Server::start_with(
        &t.path().join("data"),
        &[
            "--s3-listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    let (ak, sk) = s.s3_key("admin");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = r#"
import sys, time, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="exp")
up = s3.create_multipart_upload(Bucket="exp", Key="left/behind.bin")
s3.upload_part(Bucket="exp", Key="left/behind.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100000)
assert len(s3.list_multipart_uploads(Bucket="exp").get("Uploads", [])) == 1
deadline = time.time() + 30
while s3.list_multipart_uploads(Bucket="exp").get("Uploads", []):
    assert time.time() < deadline, "the abandoned upload never expired"
    time.sleep(0.2)
print("expired")
"#;
    python_ok(&["-c", script, &endpoint, &ak, &sk]);
    let m = common::scrape_as_admin(&s, "/metrics");
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.lines().any(|l| l
            .starts_with("silent_nas_worker_runs_total{worker=\"s3_uploads\",result=\"ok\"}")
            && !l.ends_with(" 0")),
        "the expiry worker's runs are counted:\n{text}"
    );
}

#[test]
fn kill_9_during_concurrent_multipart_uploads() {
    use std::io::{BufRead, BufReader};
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let state = t.path().join("state.json");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/s3/crash_multipart.py"
    );
    let mut s = Server::start_with(&data, &["--s3-listen", "127.0.0.1:0"]);
    let (ak, sk) = s.s3_key("admin");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let mut up = Command::new("python3")
        .args([
            script,
            "upload",
            &endpoint,
            &ak,
            &sk,
            state.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.map(|l| l.trim() == "READY").unwrap_or(false));
    assert!(ready, "the upload phase did not get going");
    std::thread::sleep(std::time::Duration::from_millis(300)); // parts in flight
    s.kill9();
    let _ = up.kill();
    let _ = up.wait();
    let fsck = Command::new(bin())
        .args(["fsck", "--verify-data", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "fsck after kill -9: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let s = Server::start_with(&data, &["--s3-listen", "127.0.0.1:0"]);
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    python_ok(&[
        script,
        "verify",
        &endpoint,
        &ak,
        &sk,
        state.to_str().unwrap(),
    ]);
}

#[test]
fn quota_is_enforced_for_objects_and_parts_and_requests_are_counted() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("small", "small-password-1", &["--quota", "8M"]);
    let (ak, sk) = s.s3_key("small");
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let script = BOTO.to_owned()
        + r#"
s3 = client(sys.argv[2], sys.argv[3])
s3.create_bucket(Bucket="quota")
s3.put_object(Bucket="quota", Key="fits.bin", Body=b"a" * (3 << 20))
c = code(s3.put_object, Bucket="quota", Key="big.bin", Body=b"b" * (6 << 20)); assert c == "QuotaExceeded", c
assert code(s3.head_object, Bucket="quota", Key="big.bin") in ("404", "NoSuchKey"), "nothing stored"
up = s3.create_multipart_upload(Bucket="quota", Key="mp.bin")
s3.upload_part(Bucket="quota", Key="mp.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"c" * (4 << 20))
# staged parts count: 3 MiB stored + 4 MiB staged + 2 MiB more > 8 MiB
assert code(s3.upload_part, Bucket="quota", Key="mp.bin", UploadId=up["UploadId"], PartNumber=2, Body=b"d" * (2 << 20)) == "QuotaExceeded"
parts = s3.list_parts(Bucket="quota", Key="mp.bin", UploadId=up["UploadId"])["Parts"]
assert [p["PartNumber"] for p in parts] == [1], parts
s3.abort_multipart_upload(Bucket="quota", Key="mp.bin", UploadId=up["UploadId"])
# a body of one block takes the other path (read whole, then committed in one piece)
s3.put_object(Bucket="quota", Key="fill.bin", Body=b"f" * ((5 << 20) - (50 << 10)))
c = code(s3.put_object, Bucket="quota", Key="small.bin", Body=b"s" * (100 << 10)); assert c == "QuotaExceeded", c
assert code(s3.head_object, Bucket="quota", Key="small.bin") in ("404", "NoSuchKey"), "nothing stored"
s3.put_object(Bucket="quota", Key="small.bin", Body=b"s" * (40 << 10))
assert s3.get_object(Bucket="quota", Key="small.bin")["Body"].read() == b"s" * (40 << 10)
assert s3.get_object(Bucket="quota", Key="fits.bin")["Body"].read() == b"a" * (3 << 20)
print("ok")
"#;
    python_ok(&["-c", &script, &endpoint, &ak, &sk]);
    let m = common::scrape_as_admin(&s, "/metrics");
    let text = String::from_utf8_lossy(&m.body);
    for want in [
        "silent_nas_http_requests_total{door=\"s3\",method=\"PUT\",status=\"200\"}",
        "silent_nas_http_request_bytes_total{door=\"s3\"}",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(want) && !l.ends_with(" 0")),
            "{want} missing or zero in:\n{text}"
        );
    }
}

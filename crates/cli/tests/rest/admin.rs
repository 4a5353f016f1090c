//! Operations routes: S3 keys (a revoked key is refused by the S3 listener), WebDAV locks,
//! background workers (GC started on demand), and that non-admins get 403 on every one.

use super::*;
use std::process::Command;

pub const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>test</D:href></D:owner></D:lockinfo>"#;

/// Puts an object with boto3 (creating the bucket first); prints `OK` or the error code.
pub fn s3_put(s: &Server, ak: &str, sk: &str, bucket: &str, key: &str) -> String {
    let script = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    try:
        s3.create_bucket(Bucket=sys.argv[4])
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_object(Bucket=sys.argv[4], Key=sys.argv[5], Body=b"hello")
    print("OK")
except ClientError as e:
    print(e.response["Error"]["Code"])
"#;
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let out = Command::new("python3")
        .args(["-c", script, &endpoint, ak, sk, bucket, key])
        .output()
        .expect("python3 with boto3");
    let o = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !o.is_empty(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    o
}

pub fn delete(s: &Server, token: &str, path: &str) -> Reply {
    send(s, token, "DELETE", path)
}

#[test]
fn keys_are_created_listed_and_revoked_and_s3_refuses_a_revoked_key() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("alice", "alice-password", &[]);
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let r = post(
        &s,
        Some(&admin),
        "/api/v1/admin/keys",
        r#"{"user":"alice"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json(&r);
    let id = v["access_key_id"].as_str().unwrap().to_owned();
    let secret = v["secret_access_key"].as_str().unwrap().to_owned();
    assert_eq!(v["user"], "alice");
    assert!(secret.len() >= 32, "{secret}");
    assert_error(
        &post(
            &s,
            Some(&admin),
            "/api/v1/admin/keys",
            r#"{"user":"nobody"}"#,
        ),
        404,
        "not_found",
    );
    // a second key, for the admin and named, is not in alice's listing
    let r = post(
        &s,
        Some(&admin),
        "/api/v1/admin/keys",
        r#"{"user":"admin","name":"backup box"}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(json(&r)["name"], "backup box");
    let bad = r#"{"user":"admin","name":"a\u0007b"}"#;
    assert_error(
        &post(&s, Some(&admin), "/api/v1/admin/keys", bad),
        400,
        "bad_request",
    );
    let listed = get(&s, &admin, "/api/v1/admin/keys?user=alice");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let keys = json(&listed)["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["access_key_id"], id.as_str());
    assert_eq!(keys[0]["revoked"], false);
    let all = get(&s, &admin, "/api/v1/admin/keys");
    assert_eq!(json(&all)["keys"].as_array().unwrap().len(), 2);
    assert!(
        !listed.text().contains(&secret) && !all.text().contains(&secret),
        "listings never show secrets"
    );
    assert!(!all.text().contains("secret"), "{}", all.text());
    assert_eq!(s3_put(&s, &id, &secret, "alice-bucket", "a.txt"), "OK");
    assert_eq!(
        delete(&s, &admin, &format!("/api/v1/admin/keys/{id}")).status,
        204
    );
    let listed = get(&s, &admin, "/api/v1/admin/keys?user=alice");
    assert_eq!(json(&listed)["keys"][0]["revoked"], true);
    assert_eq!(
        s3_put(&s, &id, &secret, "alice-bucket", "b.txt"),
        "InvalidAccessKeyId",
        "a revoked key is refused at once"
    );
    assert_error(
        &delete(&s, &admin, "/api/v1/admin/keys/SNNOSUCHKEY"),
        404,
        "not_found",
    );
}

#[test]
fn locks_are_listed_and_broken() {
    let s = Server::start();
    s.add_user("alice", "alice-password", &[]);
    let alice = auth("alice", "alice-password");
    let url = s.url("/dav/report.txt");
    assert_eq!(
        curl(&["-u", &alice, "-T", "-", &url], Some(b"v1")).status,
        201
    );
    let lock = curl(
        &[
            "-u",
            &alice,
            "-X",
            "LOCK",
            "-H",
            "Timeout: Second-3600",
            "--data-binary",
            LOCKINFO,
            &url,
        ],
        None,
    );
    assert_eq!(lock.status, 200, "{}", lock.text());
    let header = lock.header("lock-token").unwrap();
    let token = header.trim_matches(|c| c == '<' || c == '>').to_owned();
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let r = get(&s, &admin, "/api/v1/admin/locks?user=alice");
    assert_eq!(r.status, 200, "{}", r.text());
    let locks = json(&r)["locks"].as_array().unwrap().clone();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["token"], token.as_str());
    assert_eq!(locks[0]["user"], "alice");
    assert_eq!(locks[0]["path"], "/report.txt");
    assert_eq!(locks[0]["shared"], false);
    assert!(locks[0]["expires"].as_i64().unwrap() > locks[0]["created"].as_i64().unwrap());
    let none = get(&s, &admin, "/api/v1/admin/locks?user=admin");
    assert_eq!(json(&none)["locks"].as_array().unwrap().len(), 0);
    // locked: a write without the token is refused
    assert_eq!(
        curl(&["-u", &alice, "-T", "-", &url], Some(b"v2")).status,
        423
    );
    assert_eq!(
        delete(&s, &admin, &format!("/api/v1/admin/locks/{token}")).status,
        204
    );
    let after = get(&s, &admin, "/api/v1/admin/locks");
    assert_eq!(json(&after)["locks"].as_array().unwrap().len(), 0);
    let put = curl(&["-u", &alice, "-T", "-", &url], Some(b"v3"));
    assert!(put.status == 204 || put.status == 201, "{}", put.status);
    assert_error(
        &delete(&s, &admin, &format!("/api/v1/admin/locks/{token}")),
        404,
        "not_found",
    );
}

fn worker(v: &Value, name: &str) -> Value {
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no worker {name} in {v}"))
        .clone()
}

#[test]
fn workers_are_listed_and_gc_runs_on_demand() {
    let s = Server::start();
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let r = get(&s, &admin, "/api/v1/admin/workers");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    let gc = worker(&v, "gc");
    let scrub = worker(&v, "scrub");
    assert!(gc["interval_secs"].as_u64().unwrap() > 0);
    assert!(scrub["interval_secs"].as_u64().unwrap() > 0);
    assert_eq!(gc["runs"], 0);
    assert_eq!(gc["failures"], 0);
    assert!(gc["next_run"].as_i64().is_some());
    assert!(gc["last_outcome"].is_null());
    let run = post(&s, Some(&admin), "/api/v1/admin/workers/gc/run", "");
    assert_eq!(run.status, 202, "{}", run.text());
    let rv = json(&run);
    assert!(
        rv["started"] == true || rv["queued_after_current_run"] == true,
        "{rv}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let g = worker(&json(&get(&s, &admin, "/api/v1/admin/workers")), "gc");
        if g["runs"].as_u64().unwrap() >= 1 {
            break g;
        }
        assert!(std::time::Instant::now() < deadline, "gc never ran: {g}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(done["running"], false);
    assert_eq!(done["failures"], 0, "{done}");
    assert!(done["last_success"].as_i64().is_some(), "{done}");
    assert!(done["last_end"].as_i64().unwrap() >= done["last_start"].as_i64().unwrap());
    assert!(
        done["last_outcome"]["summary"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{done}"
    );
    assert!(done["last_outcome"]["freed_bytes"].as_u64().is_some());
    assert_error(
        &post(&s, Some(&admin), "/api/v1/admin/workers/nope/run", ""),
        404,
        "not_found",
    );
}

#[test]
fn every_admin_route_refuses_non_admins() {
    let s = Server::start();
    s.add_user("alice", "alice-password", &[]);
    let (alice, _) = login(&s, "alice", "alice-password");
    let routes: &[(&str, &str, &str)] = &[
        ("GET", "/api/v1/admin/users", ""),
        (
            "POST",
            "/api/v1/admin/users",
            r#"{"name":"x","password":"longpassword"}"#,
        ),
        ("PATCH", "/api/v1/admin/users/alice", r#"{"role":"admin"}"#),
        ("DELETE", "/api/v1/admin/users/admin", ""),
        ("GET", "/api/v1/admin/stats", ""),
        ("GET", "/api/v1/admin/keys", ""),
        ("GET", "/api/v1/admin/keys?user=alice", ""),
        ("POST", "/api/v1/admin/keys", r#"{"user":"alice"}"#),
        ("DELETE", "/api/v1/admin/keys/SNX", ""),
        ("GET", "/api/v1/admin/locks", ""),
        ("DELETE", "/api/v1/admin/locks/urn:uuid:x", ""),
        ("GET", "/api/v1/admin/workers", ""),
        ("POST", "/api/v1/admin/workers/gc/run", ""),
        ("GET", "/api/v1/admin/audit", ""),
    ];
    for (method, path, body) in routes {
        let url = s.url(path);
        let b = bearer(&alice);
        let mut args = vec![
            "-X",
            *method,
            "-H",
            &b,
            "-H",
            "Content-Type: application/json",
        ];
        if !body.is_empty() {
            args.extend(["--data-binary", *body]);
        }
        args.push(&url);
        let r = curl(&args, None);
        assert_error(&r, 403, "forbidden");
        // and with Basic credentials too; without any, 401
        let r = curl(&["-X", method, "-u", "alice:alice-password", &url], None);
        assert_error(&r, 403, "forbidden");
        let r = curl(&["-X", method, &url], None);
        assert_error(&r, 401, "unauthorized");
    }
    // nothing was changed by the refused calls
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let keys = get(&s, &admin, "/api/v1/admin/keys");
    assert_eq!(json(&keys)["keys"].as_array().unwrap().len(), 0);
    let gc = worker(&json(&get(&s, &admin, "/api/v1/admin/workers")), "gc");
    assert_eq!(gc["runs"], 0);
}

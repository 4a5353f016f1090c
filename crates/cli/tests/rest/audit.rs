//! The audit log: writes and refusals at every door are recorded with user, door, client,
//! method, path, status and destination; filtered and paged at `/admin/audit`; bounded by
//! `audit_max_entries`, the pruned entries counted in `/metrics`; and no password or secret key reaches it, the key listing, or the
//! server's debug log.

use super::admin::s3_put;
use super::*;

fn audit(s: &Server, token: &str, query: &str) -> Value {
    let r = get(s, token, &format!("/api/v1/admin/audit{query}"));
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r)
}

fn entries(v: &Value) -> Vec<Value> {
    v["entries"].as_array().unwrap().clone()
}

fn find<'a>(all: &'a [Value], door: &str, method: &str, path: &str) -> &'a Value {
    all.iter()
        .find(|e| e["door"] == door && e["method"] == method && e["path"] == path)
        .unwrap_or_else(|| panic!("no {door} {method} {path} in {all:#?}"))
}

#[test]
fn writes_and_refusals_at_every_door_are_recorded_and_filtered() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("alice", "alice-password", &[]);
    s.add_user("bob", "bob-password", &[]);
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let (alice, alice_refresh) = login(&s, "alice", "alice-password");
    let body = serde_json::json!({ "refresh_token": alice_refresh }).to_string();
    assert_eq!(post(&s, None, "/api/v1/auth/refresh", &body).status, 200);
    // WebDAV: a PUT and a MOVE by alice (Basic)
    let a = auth("alice", "alice-password");
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &s.url("/dav/notes.txt")], Some(b"x")).status,
        201
    );
    let dest = format!("Destination: {}", s.url("/dav/moved.txt"));
    let mv = curl(
        &[
            "-u",
            &a,
            "-X",
            "MOVE",
            "-H",
            &dest,
            &s.url("/dav/notes.txt"),
        ],
        None,
    );
    assert_eq!(mv.status, 201, "{}", mv.text());
    // REST: mkdir and copy by alice (Bearer)
    assert_eq!(
        post(&s, Some(&alice), "/api/v1/mkdir/projects", "").status,
        201
    );
    let cp = post(
        &s,
        Some(&alice),
        "/api/v1/copy",
        r#"{"from":"/moved.txt","to":"/projects/copy.txt"}"#,
    );
    assert_eq!(cp.status, 200, "{}", cp.text());
    // S3: PutObject with alice's key
    let k = json(&post(
        &s,
        Some(&admin),
        "/api/v1/admin/keys",
        r#"{"user":"alice"}"#,
    ));
    let (ak, sk) = (
        k["access_key_id"].as_str().unwrap(),
        k["secret_access_key"].as_str().unwrap(),
    );
    assert_eq!(s3_put(&s, ak, sk, "photos", "cat.jpg"), "OK");
    // refusals: a failed REST login, a bad S3 signature, a WebDAV write by a wrong password,
    // a non-admin at an admin route
    let bad = post(
        &s,
        None,
        "/api/v1/auth/login",
        r#"{"username":"bob","password":"not-bobs-password"}"#,
    );
    assert_eq!(bad.status, 401);
    assert_eq!(
        s3_put(&s, ak, "wrong-secret", "photos", "dog.jpg"),
        "SignatureDoesNotMatch"
    );
    let wrong = curl(
        &["-u", "bob:guess", "-T", "-", &s.url("/dav/x.txt")],
        Some(b"x"),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(get(&s, &alice, "/api/v1/admin/audit").status, 403);
    // reads are not recorded
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/moved.txt")], None).status,
        200
    );

    let all = entries(&audit(&s, &admin, "?limit=1000"));
    let put = find(&all, "webdav", "PUT", "/dav/notes.txt");
    assert_eq!(put["user"], "alice");
    assert_eq!(put["kind"], "write");
    assert_eq!(put["status"], 201);
    assert_eq!(put["client"], "127.0.0.1");
    assert!(put["time"].as_i64().unwrap() > 1_700_000_000);
    let mv = find(&all, "webdav", "MOVE", "/dav/notes.txt");
    assert_eq!(mv["destination"], "/dav/moved.txt");
    let mk = find(&all, "rest", "POST", "/api/v1/mkdir/projects");
    assert_eq!(mk["user"], "alice");
    assert_eq!(mk["status"], 201);
    let refresh = find(&all, "rest", "POST", "/api/v1/auth/refresh");
    assert_eq!(refresh["user"], "alice", "the refresh token's owner");
    let cp = find(&all, "rest", "POST", "/api/v1/copy");
    assert_eq!(cp["destination"], "/projects/copy.txt");
    let s3 = find(&all, "s3", "PUT", "/photos/cat.jpg");
    assert_eq!(s3["user"], "alice", "the key's owner");
    assert_eq!(s3["access_key_id"], ak);
    assert_eq!(s3["kind"], "write");
    let login_fail = all
        .iter()
        .find(|e| e["path"] == "/api/v1/auth/login" && e["status"] == 401)
        .expect("the failed login");
    assert_eq!(login_fail["kind"], "auth_failure");
    assert_eq!(login_fail["user"], "bob", "the name tried");
    // (boto3 stops at the bucket's creation, refused for its signature)
    let sig = all
        .iter()
        .find(|e| e["door"] == "s3" && e["kind"] == "auth_failure")
        .expect("the bad signature");
    assert_eq!(sig["status"], 403);
    assert_eq!(sig["path"], "/photos");
    assert_eq!(sig["access_key_id"], ak);
    let dav_fail = find(&all, "webdav", "PUT", "/dav/x.txt");
    assert_eq!(dav_fail["kind"], "auth_failure");
    assert_eq!(dav_fail["user"], "bob");
    let forbidden = all
        .iter()
        .find(|e| e["path"] == "/api/v1/admin/audit")
        .expect("the refused admin call");
    assert_eq!(forbidden["status"], 403);
    assert_eq!(forbidden["user"], "alice");
    assert!(
        !all.iter()
            .any(|e| e["method"] == "GET" && e["status"] == 200),
        "reads are not recorded"
    );
    // ids decrease: newest first
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // filters
    let by_alice = entries(&audit(&s, &admin, "?user=alice&limit=1000"));
    assert!(by_alice.len() >= 6, "{by_alice:#?}");
    assert!(by_alice.iter().all(|e| e["user"] == "alice"));
    let s3_only = entries(&audit(&s, &admin, "?door=s3&limit=1000"));
    assert!(s3_only.len() >= 3, "bucket, object, refused object");
    assert!(s3_only.iter().all(|e| e["door"] == "s3"));
    let webdav_bob = entries(&audit(&s, &admin, "?door=webdav&user=bob"));
    assert_eq!(webdav_bob.len(), 1, "{webdav_bob:#?}");
    let future = entries(&audit(&s, &admin, "?since=4000000000"));
    assert!(future.is_empty());
    let until = entries(&audit(&s, &admin, "?until=1000000000"));
    assert!(until.is_empty());
    // paging: pages of 2 walk the same entries as one page
    let mut paged = Vec::new();
    let mut q = "?limit=2".to_owned();
    loop {
        let page = audit(&s, &admin, &q);
        let e = entries(&page);
        assert!(e.len() <= 2);
        paged.extend(e);
        match page["next_cursor"].as_str() {
            Some(c) => q = format!("?limit=2&cursor={c}"),
            None => break,
        }
    }
    let again = entries(&audit(&s, &admin, "?limit=1000"));
    assert_eq!(
        paged.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        again.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()
    );
    assert_error(
        &get(&s, &admin, "/api/v1/admin/audit?limit=0"),
        400,
        "bad_request",
    );
    assert_error(
        &get(&s, &admin, "/api/v1/admin/audit?cursor=abc"),
        400,
        "bad_request",
    );
    // the metric counts them
    let m = common::scrape_as_admin(&s, "/metrics").text();
    assert!(
        m.contains(r#"silent_nas_audit_events_total{door="webdav",kind="write"}"#),
        "{m}"
    );
    assert!(m.contains(r#"silent_nas_audit_events_total{door="s3",kind="auth_failure"}"#));
}

#[test]
fn the_audit_log_keeps_only_the_newest_entries_and_names_the_client_behind_a_proxy() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(
        &cfg,
        "audit_max_entries = 50\ntrusted_proxies = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let a = auth("admin", ADMIN_PW);
    for i in 0..80 {
        let url = s.url(&format!("/dav/f{i}.txt"));
        assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"x")).status, 201);
    }
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let all = entries(&audit(&s, &admin, "?limit=1000"));
    // the 80 PUTs and the login (a REST POST): the newest 50 remain
    assert_eq!(all.len(), 50, "{all:#?}");
    assert_eq!(all[0]["path"], "/api/v1/auth/login");
    assert_eq!(all[1]["path"], "/dav/f79.txt");
    assert_eq!(all[49]["path"], "/dav/f31.txt");
    // the 31 entries pruned so far are counted in the metrics; nothing was dropped
    let m = common::scrape_as_admin(&s, "/metrics").text();
    assert_eq!(
        sample(&m, "silent_nas_audit_pruned_entries_total"),
        Some(31.0),
        "{m}"
    );
    for reason in ["queue_full", "write_error"] {
        let series = format!(r#"silent_nas_audit_dropped_entries_total{{reason="{reason}"}}"#);
        assert_eq!(sample(&m, &series), Some(0.0), "{m}");
    }
    // behind a trusted proxy the entry names the client it forwarded for
    let put = curl(
        &[
            "-u",
            &a,
            "-H",
            "X-Forwarded-For: 203.0.113.7",
            "-T",
            "-",
            &s.url("/dav/proxied.txt"),
        ],
        Some(b"x"),
    );
    assert_eq!(put.status, 201);
    let all = entries(&audit(&s, &admin, "?limit=1000"));
    assert_eq!(all.len(), 50, "still bounded");
    assert_eq!(all[0]["path"], "/dav/proxied.txt");
    assert_eq!(all[0]["client"], "203.0.113.7");
    assert_eq!(all[1]["client"], "127.0.0.1");
    let m = common::scrape_as_admin(&s, "/metrics").text();
    assert_eq!(
        sample(&m, "silent_nas_audit_pruned_entries_total"),
        Some(32.0)
    );
}

/// Runs the server with a debug log, signs in, writes over WebDAV with Basic, creates an S3
/// key and fails a sign-in; neither the passwords nor the secret key appear in the log, the
/// audit log or the key listing.
#[test]
fn secrets_never_reach_the_log_the_audit_log_or_key_listings() {
    let t = tempfile::tempdir().unwrap();
    let log_path = t.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let s = Server::start_logged(
        &t.path().join("data"),
        &["--s3-listen", "127.0.0.1:0"],
        "debug",
        Some(log),
    );
    const ALICE_PW: &str = "alice-Sekr1t-pw-9931";
    const WRONG_PW: &str = "wr0ng-Guess-pw-5510";
    s.add_user("alice", ALICE_PW, &[]);
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let (alice, _) = login(&s, "alice", ALICE_PW);
    let a = auth("alice", ALICE_PW);
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &s.url("/dav/doc.txt")], Some(b"x")).status,
        201
    );
    let basic = format!("alice:{ALICE_PW}");
    let r = post(
        &s,
        Some(&admin),
        "/api/v1/admin/keys",
        r#"{"user":"alice"}"#,
    );
    assert_eq!(r.status, 201);
    let v = json(&r);
    let (ak, secret) = (
        v["access_key_id"].as_str().unwrap().to_owned(),
        v["secret_access_key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(s3_put(&s, &ak, &secret, "bucket-b", "k"), "OK");
    let body = serde_json::json!({"username": "alice", "password": WRONG_PW}).to_string();
    assert_eq!(post(&s, None, "/api/v1/auth/login", &body).status, 401);
    assert_eq!(
        curl(&["-u", &format!("alice:{WRONG_PW}"), &s.url("/dav/")], None).status,
        401
    );
    let audit_text = get(&s, &admin, "/api/v1/admin/audit?limit=1000").text();
    let keys_text = get(&s, &admin, "/api/v1/admin/keys").text();
    assert!(audit_text.contains("/dav/doc.txt") && audit_text.contains(&ak));
    assert!(keys_text.contains(&ak));
    drop(s); // flushes nothing more: every line so far is in the file
    let stderr = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        stderr.contains("DEBUG"),
        "the server logged at debug level: {stderr}"
    );
    let encoded = base64(basic.as_bytes());
    for (what, secret_text) in [
        ("the admin password", ADMIN_PW),
        ("alice's password", ALICE_PW),
        ("the wrong password", WRONG_PW),
        ("the S3 secret", secret.as_str()),
        ("alice's Basic credentials", encoded.as_str()),
        ("alice's access token", alice.as_str()),
    ] {
        assert!(!stderr.contains(secret_text), "{what} is in the server log");
        assert!(
            !audit_text.contains(secret_text),
            "{what} is in the audit log"
        );
        assert!(
            !keys_text.contains(secret_text),
            "{what} is in the key listing"
        );
    }
}

/// Standard base64 with padding (what HTTP Basic sends).
fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

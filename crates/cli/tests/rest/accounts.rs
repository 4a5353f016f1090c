//! Sign-in and token rules, the shared rate limiter, `/me`, administration and the OpenAPI
//! description.

use super::*;
use std::io::{Read, Write};

#[test]
fn login_refresh_logout_and_revocation_survive_a_restart() {
    let mut s = Server::start();
    let bad = post(
        &s,
        None,
        "/api/v1/auth/login",
        r#"{"username":"admin","password":"wrong"}"#,
    );
    assert_error(&bad, 401, "unauthorized");
    let (access, refresh) = login(&s, "admin", ADMIN_PW);
    let me = get(&s, &access, "/api/v1/me");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(json(&me)["name"], "admin");
    // a refresh token only refreshes; an access token cannot refresh
    assert_error(&get(&s, &refresh, "/api/v1/me"), 401, "unauthorized");
    let body = |t: &str| serde_json::json!({ "refresh_token": t }).to_string();
    assert_error(
        &post(&s, None, "/api/v1/auth/refresh", &body(&access)),
        401,
        "unauthorized",
    );
    let r = post(&s, None, "/api/v1/auth/refresh", &body(&refresh));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    assert!(v["expires_in"].as_i64().unwrap() > 0);
    let access2 = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&s, &access2, "/api/v1/me").status, 200);
    // a second session, still valid after the restart (the secret is kept)
    let (other, _) = login(&s, "admin", ADMIN_PW);
    // logout ends the session: its access tokens and its refresh token
    assert_eq!(
        post(&s, Some(&access), "/api/v1/auth/logout", "").status,
        204
    );
    assert_error(&get(&s, &access, "/api/v1/me"), 401, "unauthorized");
    assert_error(&get(&s, &access2, "/api/v1/me"), 401, "unauthorized");
    assert_error(
        &post(&s, None, "/api/v1/auth/refresh", &body(&refresh)),
        401,
        "unauthorized",
    );
    let data = s.data.clone();
    s.kill9();
    let s2 = Server::start_on(&data);
    assert_error(&get(&s2, &access, "/api/v1/me"), 401, "unauthorized");
    assert_error(
        &post(&s2, None, "/api/v1/auth/refresh", &body(&refresh)),
        401,
        "unauthorized",
    );
    assert_eq!(get(&s2, &other, "/api/v1/me").status, 200);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("rest-token.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // a forged token is refused
    let forged = format!("{}x", &other[..other.len() - 1]);
    assert_error(&get(&s2, &forged, "/api/v1/me"), 401, "unauthorized");
}

#[test]
fn failed_logins_share_the_webdav_rate_limiter() {
    let s = Server::start();
    let bad = r#"{"username":"admin","password":"wrong-password"}"#;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(post(&s, None, "/api/v1/auth/login", bad).status);
    }
    assert_eq!(statuses[..10], [401; 10]);
    let limited = post(&s, None, "/api/v1/auth/login", bad);
    assert_error(&limited, 429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
    // the same limiter guards WebDAV: even the right password waits now
    let dav = curl(&["-u", &auth("admin", ADMIN_PW), &s.url("/dav/")], None);
    assert_eq!(dav.status, 429);
}

#[test]
fn me_reports_role_quota_and_usage_and_basic_auth_works() {
    let s = Server::start();
    s.add_user("alice", "alice-pw", &["--quota", "10M"]);
    let (t, _) = login(&s, "alice", "alice-pw");
    assert_eq!(upload(&s, &t, "/x.bin", &[7u8; 1234]).status, 201);
    let v = json(&get(&s, &t, "/api/v1/me"));
    assert_eq!(v["role"], "user");
    assert_eq!(v["quota"], 10 << 20);
    assert_eq!(v["used_bytes"], 1234);
    let basic = curl(&["-u", "alice:alice-pw", &s.url("/api/v1/me")], None);
    assert_eq!(json(&basic)["name"], "alice");
    let wrong = curl(&["-u", "alice:nope", &s.url("/api/v1/me")], None);
    assert_error(&wrong, 401, "unauthorized");
    assert_error(&curl(&[&s.url("/api/v1/me")], None), 401, "unauthorized");
}

#[test]
fn admin_routes_manage_accounts_and_refuse_non_admins() {
    let s = Server::start();
    s.add_user("alice", "alice-pw", &[]);
    let (alice, _) = login(&s, "alice", "alice-pw");
    assert_error(&get(&s, &alice, "/api/v1/admin/users"), 403, "forbidden");
    assert_error(&get(&s, &alice, "/api/v1/admin/stats"), 403, "forbidden");
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let users = json(&get(&s, &admin, "/api/v1/admin/users"));
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice"]);
    let bob = r#"{"name":"bob","password":"bob-password","role":"readonly","quota":1000}"#;
    let created = post(&s, Some(&admin), "/api/v1/admin/users", bob);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(json(&created)["role"], "readonly");
    assert_error(
        &post(&s, Some(&admin), "/api/v1/admin/users", bob),
        409,
        "already_exists",
    );
    let short = r#"{"name":"carol","password":"short"}"#;
    let refused = post(&s, Some(&admin), "/api/v1/admin/users", short);
    assert_error(&refused, 400, "bad_request");
    let self_demote = patch(
        &s,
        &admin,
        "/api/v1/admin/users/admin",
        r#"{"role":"user"}"#,
    );
    assert_error(&self_demote, 400, "bad_request");
    let patch_bob = |body: &str| patch(&s, &admin, "/api/v1/admin/users/bob", body);
    let p = json(&patch_bob(r#"{"role":"user","quota":null}"#));
    assert_eq!(
        (p["role"].as_str(), p["quota"].is_null()),
        (Some("user"), true)
    );
    let (bob_t, _) = login(&s, "bob", "bob-password");
    assert_eq!(upload(&s, &bob_t, "/f", b"hi").status, 201);
    // a password change ends bob's sessions; the new password signs in
    assert_eq!(patch_bob(r#"{"password":"bob-new-password"}"#).status, 200);
    assert_error(&get(&s, &bob_t, "/api/v1/me"), 401, "unauthorized");
    let (bob_t, _) = login(&s, "bob", "bob-new-password");
    assert_eq!(get(&s, &bob_t, "/api/v1/me").status, 200);
    assert_eq!(json(&patch_bob(r#"{"disabled":true}"#))["disabled"], true);
    assert_error(&get(&s, &bob_t, "/api/v1/me"), 401, "unauthorized");
    assert_eq!(
        send(&s, &admin, "DELETE", "/api/v1/admin/users/bob").status,
        204
    );
    assert_error(
        &send(&s, &admin, "DELETE", "/api/v1/admin/users/bob"),
        404,
        "not_found",
    );
    assert_error(
        &send(&s, &admin, "DELETE", "/api/v1/admin/users/admin"),
        400,
        "bad_request",
    );
    let stats = json(&get(&s, &admin, "/api/v1/admin/stats"));
    assert_eq!(stats["files"], 1);
}

#[test]
fn openapi_json_names_the_routes_and_unknown_routes_are_json_errors() {
    let s = Server::start();
    let r = curl(&[&s.url("/api/v1/openapi.json")], None);
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/files/{path}",
        "/api/v1/download/{path}",
        "/api/v1/upload/{path}",
        "/api/v1/mkdir/{path}",
        "/api/v1/move",
        "/api/v1/copy",
        "/api/v1/versions/{path}",
        "/api/v1/versions/{path}/restore",
        "/api/v1/trash",
        "/api/v1/trash/restore",
        "/api/v1/trash/{id}",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{name}",
        "/api/v1/admin/stats",
    ] {
        assert!(paths.contains_key(p), "{p} is not described");
    }
    assert_error(
        &curl(&[&s.url("/api/v1/no-such-route")], None),
        404,
        "not_found",
    );
    let wrong_method = curl(&["-X", "DELETE", &s.url("/api/v1/me")], None);
    assert_error(&wrong_method, 405, "method_not_allowed");
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /api/v1/openapi.json HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert!(text.contains("application/json"));
}

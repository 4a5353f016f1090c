//! The caller's own credentials: app passwords (WebDAV Basic, REST Basic and Bearer,
//! read-only ones, deletion effective at once, no session and no new credentials from an
//! app password, never another user's) and self-service S3 keys, all against the real
//! server with curl and boto3; and no app password in the server's log.

use super::*;
use crate::admin::s3_put;

fn create_app(s: &Server, token: &str, body: &str) -> (String, String) {
    let r = post(s, Some(token), "/api/v1/me/app-passwords", body);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json(&r);
    let pw = v["password"].as_str().unwrap().to_owned();
    assert!(pw.starts_with("snap_") && pw.len() == 37, "{pw}");
    (v["id"].as_str().unwrap().to_owned(), pw)
}

fn dav_put(s: &Server, user_pw: &str, path: &str, body: &[u8]) -> u16 {
    curl(
        &["-u", user_pw, "-T", "-", &s.url(&format!("/dav{path}"))],
        Some(body),
    )
    .status
}

#[test]
fn app_passwords_work_at_webdav_and_rest_until_deleted() {
    let t = tempfile::tempdir().unwrap();
    let log_path = t.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let s = Server::start_logged(&t.path().join("data"), &[], "debug", Some(log));
    s.add_user("alice", "alice-password", &[]);
    s.add_user("bob", "bob-password", &[]);
    let (alice, _) = login(&s, "alice", "alice-password");
    let (id, pw) = create_app(&s, &alice, r#"{"name":"phone"}"#);
    let (ro_id, ro_pw) = create_app(&s, &alice, r#"{"name":"viewer","read_only":true}"#);

    // WebDAV Basic with the user name and the app password: reads and writes
    let a = auth("alice", &pw);
    assert_eq!(dav_put(&s, &a, "/from-app.txt", b"via app password"), 201);
    let r = curl(&["-u", &a, &s.url("/dav/from-app.txt")], None);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"via app password"[..])
    );
    // a read-only app password reads but does not write, whatever the owner's role
    let ro = auth("alice", &ro_pw);
    assert_eq!(
        curl(&["-u", &ro, &s.url("/dav/from-app.txt")], None).status,
        200
    );
    assert_eq!(dav_put(&s, &ro, "/nope.txt", b"x"), 403);
    // REST: Bearer and Basic
    let me = get(&s, &pw, "/api/v1/me");
    assert_eq!(
        (me.status, json(&me)["name"].clone()),
        (200, "alice".into())
    );
    assert_eq!(upload(&s, &pw, "/rest.txt", b"rest via app").status, 201);
    assert_eq!(upload(&s, &ro_pw, "/rest2.txt", b"x").status, 403);
    let r = curl(&["-u", &a, &s.url("/api/v1/stat/rest.txt")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    // never another user's: bob's name with alice's app password, and bob's files
    assert_eq!(dav_put(&s, &auth("bob", &pw), "/x.txt", b"x"), 401);
    assert_eq!(get(&s, &pw, "/api/v1/stat/x.txt").status, 404);
    // an app password opens no session and mints or deletes no credential
    let body = serde_json::json!({"username": "alice", "password": pw}).to_string();
    assert_error(
        &post(&s, None, "/api/v1/auth/login", &body),
        401,
        "unauthorized",
    );
    assert_error(
        &post(
            &s,
            Some(&pw),
            "/api/v1/me/app-passwords",
            r#"{"name":"more"}"#,
        ),
        403,
        "forbidden",
    );
    assert_error(
        &post(&s, Some(&pw), "/api/v1/me/keys", "{}"),
        403,
        "forbidden",
    );
    assert_error(
        &send(
            &s,
            &pw,
            "DELETE",
            &format!("/api/v1/me/app-passwords/{ro_id}"),
        ),
        403,
        "forbidden",
    );
    // bad names
    for bad in [
        r#"{"name":""}"#,
        r#"{"name":"a\u0007b"}"#,
        r#"{"read_only":true}"#,
    ] {
        let r = post(&s, Some(&alice), "/api/v1/me/app-passwords", bad);
        assert_error(&r, 400, "bad_request");
    }
    let long = serde_json::json!({"name": "x".repeat(101)}).to_string();
    assert_error(
        &post(&s, Some(&alice), "/api/v1/me/app-passwords", &long),
        400,
        "bad_request",
    );

    // the listing names them, never shows a secret, and shows the first use
    let list = get(&s, &alice, "/api/v1/me/app-passwords");
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(&pw[5..]) && !list.text().contains(&ro_pw[5..]));
    let v = json(&list);
    let apps = v["app_passwords"].as_array().unwrap();
    assert_eq!(apps.len(), 2, "{v}");
    assert_eq!(
        (apps[0]["id"].as_str(), apps[0]["name"].as_str()),
        (Some(id.as_str()), Some("phone"))
    );
    assert_eq!(apps[1]["read_only"], true);
    let used = (0..50).any(|_| {
        let v = json(&get(&s, &alice, "/api/v1/me/app-passwords"));
        if v["app_passwords"][0]["last_used"].is_i64() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        false
    });
    assert!(used, "last_used was recorded");
    // bob sees none of them and cannot delete them
    let (bob, _) = login(&s, "bob", "bob-password");
    assert_eq!(
        json(&get(&s, &bob, "/api/v1/me/app-passwords"))["app_passwords"],
        serde_json::json!([])
    );
    assert_error(
        &send(
            &s,
            &bob,
            "DELETE",
            &format!("/api/v1/me/app-passwords/{id}"),
        ),
        404,
        "not_found",
    );
    assert_eq!(get(&s, &pw, "/api/v1/me").status, 200);

    // deleting stops it at the very next request, at every door
    let r = send(
        &s,
        &alice,
        "DELETE",
        &format!("/api/v1/me/app-passwords/{id}"),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(dav_put(&s, &a, "/late.txt", b"x"), 401);
    assert_error(&get(&s, &pw, "/api/v1/me"), 401, "unauthorized");
    assert_eq!(
        curl(&["-u", &ro, &s.url("/dav/from-app.txt")], None).status,
        200
    );
    assert_error(
        &send(
            &s,
            &alice,
            "DELETE",
            &format!("/api/v1/me/app-passwords/{id}"),
        ),
        404,
        "not_found",
    );
    // disabling the owner stops the rest
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let r = patch(
        &s,
        &admin,
        "/api/v1/admin/users/alice",
        r#"{"disabled":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        curl(&["-u", &ro, &s.url("/dav/from-app.txt")], None).status,
        401
    );

    drop(s);
    let stderr = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        stderr.contains("listening"),
        "the log was captured: {stderr}"
    );
    for secret in [&pw, &ro_pw] {
        assert!(
            !stderr.contains(&secret[5..]),
            "an app password reached the log"
        );
    }
}

#[test]
fn users_create_name_and_revoke_their_own_s3_keys() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("alice", "alice-password", &[]);
    s.add_user("bob", "bob-password", &[]);
    let (alice, _) = login(&s, "alice", "alice-password");
    let (bob, _) = login(&s, "bob", "bob-password");
    let r = post(
        &s,
        Some(&alice),
        "/api/v1/me/keys",
        r#"{"name":" laptop restic "}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json(&r);
    let (ak, sk) = (
        v["access_key_id"].as_str().unwrap().to_owned(),
        v["secret_access_key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        (v["user"].as_str(), v["name"].as_str()),
        (Some("alice"), Some("laptop restic"))
    );
    assert_eq!(s3_put(&s, &ak, &sk, "photos", "a.jpg"), "OK");
    // the object is alice's file
    assert_eq!(get(&s, &alice, "/api/v1/stat/photos/a.jpg").status, 200);
    // listed for alice (no secret), not for bob; the admin listing shows the name
    let mine = get(&s, &alice, "/api/v1/me/keys");
    assert!(!mine.text().contains(&sk));
    let keys = json(&mine)["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(
        (keys[0]["access_key_id"].as_str(), keys[0]["name"].as_str()),
        (Some(ak.as_str()), Some("laptop restic"))
    );
    assert_eq!(
        json(&get(&s, &bob, "/api/v1/me/keys"))["keys"],
        serde_json::json!([])
    );
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    assert!(
        get(&s, &admin, "/api/v1/admin/keys")
            .text()
            .contains("laptop restic")
    );
    // a key without a name (read-write by default); a bad name
    let r = post(&s, Some(&bob), "/api/v1/me/keys", "{}");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(json(&r)["name"].is_null());
    assert_eq!(json(&r)["read_only"], false);
    // a read-only key reads alice's files and writes nothing, whatever her role
    let r = post(
        &s,
        Some(&alice),
        "/api/v1/me/keys",
        r#"{"name":"viewer","read_only":true}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let ro = json(&r);
    assert_eq!(ro["read_only"], true);
    let (ro_ak, ro_sk) = (
        ro["access_key_id"].as_str().unwrap(),
        ro["secret_access_key"].as_str().unwrap(),
    );
    assert_eq!(s3_put(&s, ro_ak, ro_sk, "photos", "b.jpg"), "AccessDenied");
    assert_eq!(get(&s, &alice, "/api/v1/stat/photos/b.jpg").status, 404);
    let listed = json(&get(&s, &alice, "/api/v1/me/keys"))["keys"].clone();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["access_key_id"] == ro_ak && k["read_only"] == true),
        "{listed}"
    );
    assert_error(
        &post(&s, Some(&bob), "/api/v1/me/keys", r#"{"name":"a\nb"}"#),
        400,
        "bad_request",
    );
    // bob cannot revoke alice's key; alice can, and S3 refuses it at once
    assert_error(
        &send(&s, &bob, "DELETE", &format!("/api/v1/me/keys/{ak}")),
        404,
        "not_found",
    );
    assert_eq!(s3_put(&s, &ak, &sk, "photos", "b.jpg"), "OK");
    let r = send(&s, &alice, "DELETE", &format!("/api/v1/me/keys/{ak}"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        s3_put(&s, &ak, &sk, "photos", "c.jpg"),
        "InvalidAccessKeyId"
    );
    assert_eq!(
        json(&get(&s, &alice, "/api/v1/me/keys"))["keys"][0]["revoked"],
        true
    );
}

#[test]
fn a_deleted_user_leaves_no_credential_to_a_new_account_of_the_same_name() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    s.add_user("carol", "carol-password", &[]);
    let (carol, _) = login(&s, "carol", "carol-password");
    let (_, pw) = create_app(&s, &carol, r#"{"name":"old"}"#);
    let v = json(&post(&s, Some(&carol), "/api/v1/me/keys", "{}"));
    let (ak, sk) = (
        v["access_key_id"].as_str().unwrap().to_owned(),
        v["secret_access_key"].as_str().unwrap().to_owned(),
    );
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let r = send(&s, &admin, "DELETE", "/api/v1/admin/users/carol");
    assert_eq!(r.status, 204, "{}", r.text());
    s.add_user("carol", "new-carol-password", &[]);
    assert_eq!(get(&s, &pw, "/api/v1/me").status, 401);
    assert_eq!(dav_put(&s, &auth("carol", &pw), "/x", b"x"), 401);
    assert_eq!(s3_put(&s, &ak, &sk, "bucket-c", "k"), "InvalidAccessKeyId");
}

/// `silent-nas app-password` makes, lists and revokes the same credentials while the server
/// runs: a read-write one writes over WebDAV, a read-only one only reads, a revoked one is
/// refused at once, and a bad name or an unknown user is an error that creates nothing.
#[test]
fn app_passwords_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_on(&t.path().join("data"));
    s.add_user("carol", "carol-password", &[]);
    let data = s.data.to_str().unwrap();
    let made = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["app-password", "create", "carol"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", "--data", data]);
        serde_json::from_str(&nas_ok(&args)).unwrap()
    };
    let list = || -> serde_json::Value {
        serde_json::from_str(&nas_ok(&[
            "app-password",
            "list",
            "carol",
            "--json",
            "--data",
            data,
        ]))
        .unwrap()
    };
    let rw = made(&["laptop"]);
    let ro = made(&["dashboard", "--read-only"]);
    assert_eq!(
        (rw["read_only"].as_bool(), ro["read_only"].as_bool()),
        (Some(false), Some(true))
    );
    let (rw_pw, ro_pw) = (
        rw["password"].as_str().unwrap(),
        ro["password"].as_str().unwrap(),
    );
    assert!(rw_pw.starts_with("snap_") && rw_pw != ro_pw);
    // the plain form prints the password alone
    let plain = nas_ok(&["app-password", "create", "carol", "phone", "--data", data]);
    assert!(
        plain.trim().starts_with("snap_") && plain.trim().len() == 37,
        "{plain}"
    );

    assert_eq!(
        dav_put(&s, &auth("carol", rw_pw), "/cli.txt", b"from the cli"),
        201
    );
    let r = curl(&["-u", &auth("carol", ro_pw), &s.url("/dav/cli.txt")], None);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"from the cli"[..]));
    assert_eq!(dav_put(&s, &auth("carol", ro_pw), "/no.txt", b"x"), 403);

    let listed = list();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{listed}");
    assert!(
        ["laptop", "dashboard", "phone"]
            .iter()
            .all(|n| names.contains(n)),
        "{names:?}"
    );
    assert!(
        !listed.to_string().contains("snap_"),
        "a listing never shows a password"
    );

    let id = rw["id"].as_str().unwrap();
    nas_ok(&["app-password", "revoke", "carol", id, "--data", data]);
    assert_eq!(dav_put(&s, &auth("carol", rw_pw), "/cli2.txt", b"x"), 401);
    // errors: another user's id, a bad name, an unknown user
    for args in [
        vec![
            "app-password",
            "revoke",
            "admin",
            ro["id"].as_str().unwrap(),
        ],
        vec!["app-password", "create", "carol", "bad\u{7}name"],
        vec!["app-password", "create", "nobody", "x"],
    ] {
        let out = std::process::Command::new(bin())
            .args(&args)
            .args(["--data", data])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{args:?}: no message"
        );
    }
    let after = list();
    assert_eq!(after.as_array().unwrap().len(), 2, "{after}");
}

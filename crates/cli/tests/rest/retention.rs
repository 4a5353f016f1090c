//! Per-user retention of old versions: an admin sets a user's `keep_versions` /
//! `keep_days` through `PATCH /admin/users/{name}` (or `silent-nas user set`), the user
//! listings show them, a non-admin cannot, bad values are a JSON 400, and a retention run
//! started with `POST /admin/workers/retention/run` applies each home's own policy.

use super::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn patch_user(s: &Server, token: &str, name: &str, body: &str) -> Reply {
    patch(s, token, &format!("/api/v1/admin/users/{name}"), body)
}

fn listed(s: &Server, admin: &str, name: &str) -> Value {
    let r = get(s, admin, "/api/v1/admin/users");
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r)["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no user {name}"))
        .clone()
}

fn version_numbers(s: &Server, token: &str, path: &str) -> Vec<u64> {
    let r = get(s, token, &format!("/api/v1/versions{path}"));
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

/// Starts the retention worker and waits for the run to end.
fn run_retention(s: &Server, admin: &str) -> Value {
    let workers = |s: &Server| json(&get(s, admin, "/api/v1/admin/workers"));
    let retention = |v: Value| {
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "retention")
            .unwrap_or_else(|| panic!("no retention worker in {v}"))
            .clone()
    };
    let before = retention(workers(s))["runs"].as_u64().unwrap();
    let r = post(s, Some(admin), "/api/v1/admin/workers/retention/run", "");
    assert_eq!(r.status, 202, "{}", r.text());
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let w = retention(workers(s));
        if w["runs"].as_u64().unwrap() > before && w["running"] == false {
            assert_eq!(w["failures"], 0, "{w}");
            return w;
        }
        assert!(Instant::now() < until, "retention did not run: {w}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_admin_sets_a_users_retention_and_the_worker_applies_it() {
    let s = Server::start(); // no server rule: retention keeps everything unless told
    s.add_user("alice", "alice-password", &[]);
    s.add_user("bob", "bob-password", &[]);
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let (alice, _) = login(&s, "alice", "alice-password");
    let (bob, _) = login(&s, "bob", "bob-password");
    let fresh = listed(&s, &admin, "alice");
    assert!(fresh["keep_versions"].is_null() && fresh["keep_days"].is_null());

    // only an admin may, and only with sensible values
    assert_error(
        &patch_user(&s, &alice, "alice", r#"{"keep_versions":1000}"#),
        403,
        "forbidden",
    );
    for bad in [
        r#"{"keep_versions":-1}"#,
        r#"{"keep_versions":"many"}"#,
        r#"{"keep_versions":1000001}"#,
        r#"{"keep_days":36501}"#,
        r#"{"keep_days":1.5}"#,
    ] {
        assert_error(&patch_user(&s, &admin, "alice", bad), 400, "bad_request");
    }
    assert_error(
        &patch_user(&s, &admin, "nobody", r#"{"keep_versions":2}"#),
        404,
        "not_found",
    );
    let unchanged = listed(&s, &admin, "alice");
    assert!(unchanged["keep_versions"].is_null(), "{unchanged}");

    let r = patch_user(&s, &admin, "alice", r#"{"keep_versions":2}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    assert_eq!(v["keep_versions"], 2);
    assert!(v["keep_days"].is_null(), "{v}");
    assert_eq!(listed(&s, &admin, "alice")["keep_versions"], 2);
    assert!(listed(&s, &admin, "bob")["keep_versions"].is_null());

    for i in 0..4u64 {
        for (token, path) in [(&alice, "/a.txt"), (&bob, "/b.txt")] {
            let r = upload(&s, token, path, &content(100, i));
            assert!(r.status == 201 || r.status == 200, "{}", r.text());
        }
    }
    let w = run_retention(&s, &admin);
    assert_eq!(w["last_outcome"]["items"], 2, "{w}");
    assert_eq!(version_numbers(&s, &alice, "/a.txt"), [3, 4]);
    assert_eq!(
        version_numbers(&s, &bob, "/b.txt"),
        [1, 2, 3, 4],
        "bob follows the server, which keeps everything"
    );

    // the CLI sets the same fields while the server runs; the API and the next run see it
    let data = s.data.to_str().unwrap();
    nas_ok(&[
        "user",
        "set",
        "bob",
        "--keep-versions",
        "1",
        "--keep-days",
        "off",
        "--data",
        data,
    ]);
    let b = listed(&s, &admin, "bob");
    assert_eq!(
        (b["keep_versions"].as_u64(), b["keep_days"].as_u64()),
        (Some(1), Some(0))
    );
    let users: Value =
        serde_json::from_str(&nas_ok(&["user", "list", "--json", "--data", data])).unwrap();
    let alice_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap();
    assert_eq!(alice_row["keep_versions"], 2, "{users}");
    let bad = Command::new(bin())
        .args(["user", "set", "bob", "--keep-days", "99999", "--data"])
        .arg(&s.data)
        .output()
        .unwrap();
    assert!(
        !bad.status.success(),
        "keep_days beyond 100 years is refused"
    );

    // alice keeps everything from now on: both rules off; `null` would restore the server's
    let v = json(&patch_user(
        &s,
        &admin,
        "alice",
        r#"{"keep_versions":0,"keep_days":0}"#,
    ));
    assert_eq!(
        (v["keep_versions"].as_u64(), v["keep_days"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(upload(&s, &alice, "/a.txt", b"five").status, 200);
    run_retention(&s, &admin);
    assert_eq!(version_numbers(&s, &alice, "/a.txt"), [3, 4, 5]);
    assert_eq!(version_numbers(&s, &bob, "/b.txt"), [4]);
    let v = json(&patch_user(
        &s,
        &admin,
        "alice",
        r#"{"keep_versions":null}"#,
    ));
    assert!(v["keep_versions"].is_null(), "{v}");
    assert_eq!(v["keep_days"], 0, "fields absent from the body stay");
}

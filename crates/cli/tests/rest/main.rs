//! The REST door (`/api/v1`) of the real server, over real sockets with curl: sign-in and
//! token rules (refresh, logout surviving a restart), files (streamed upload, ranges,
//! ETags, paging), the namespace, versions, the trash, roles, path rules, administration
//! (accounts and their retention, S3 keys, WebDAV locks, workers, the audit log) and the
//! OpenAPI description.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod accounts;
mod admin;
mod audit;
#[path = "../common/mod.rs"]
mod common;
mod credentials;
mod files;
mod instant;
mod retention;
mod search;
mod tus;

use common::*;
use serde_json::Value;

/// Asserts a JSON error with this status and code.
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = json(r);
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

pub fn login(s: &Server, user: &str, pw: &str) -> (String, String) {
    let body = serde_json::json!({"username": user, "password": pw}).to_string();
    let r = post(s, None, "/api/v1/auth/login", &body);
    assert_eq!(
        r.status,
        200,
        "login: {} (a 404 here means the binary has no REST door: with a CARGO_TARGET_DIR \
         shared between work trees, another tree's build may have replaced it)",
        r.text()
    );
    let v = json(&r);
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

pub fn get(s: &Server, token: &str, path: &str) -> Reply {
    curl(&["-H", &bearer(token), &s.url(path)], None)
}

pub fn post(s: &Server, token: Option<&str>, path: &str, body: &str) -> Reply {
    let mut args = vec!["-X", "POST", "-H", "Content-Type: application/json"];
    let b;
    if let Some(t) = token {
        b = bearer(t);
        args.extend(["-H", &b]);
    }
    let url = s.url(path);
    args.extend(["--data-binary", body, &url]);
    curl(&args, None)
}

pub fn patch(s: &Server, token: &str, path: &str, body: &str) -> Reply {
    let (b, url) = (bearer(token), s.url(path));
    let json = "Content-Type: application/json";
    curl(
        &[
            "-X",
            "PATCH",
            "-H",
            &b,
            "-H",
            json,
            "--data-binary",
            body,
            &url,
        ],
        None,
    )
}

pub fn send(s: &Server, token: &str, method: &str, path: &str) -> Reply {
    curl(&["-X", method, "-H", &bearer(token), &s.url(path)], None)
}

pub fn upload(s: &Server, token: &str, path: &str, data: &[u8]) -> Reply {
    let url = s.url(&format!("/api/v1/upload{path}"));
    curl(&["-H", &bearer(token), "-T", "-", &url], Some(data))
}

pub fn download(s: &Server, token: &str, path: &str, extra: &[&str]) -> Reply {
    let url = s.url(&format!("/api/v1/download{path}"));
    let b = bearer(token);
    let mut args = vec!["-H", &b];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args, None)
}

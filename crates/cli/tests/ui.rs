//! The web UI, black-box: the real `silent-nas serve`, driven by a real browser (Debian's
//! chromium through playwright-core: `tests/ui/*.mjs`, one flow per test, each against
//! its own server), and its security rules checked with curl — cookie sessions, CSRF,
//! the Content-Security-Policy and the other headers, caching and compression of the
//! embedded assets.
//!
//! The browser flows need `node`, `/usr/bin/chromium` and `npm ci` in `tests/ui`
//! (`scripts/test-deps.sh` installs them); without them they fail saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, Server, curl};
use std::path::PathBuf;
use std::process::Command;

const USER: &str = "alice";
const PW: &str = "alice-password-1";

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui")
}

/// A server with the user the flows sign in as.
fn server() -> Server {
    let s = Server::start();
    s.add_user(USER, PW, &[]);
    s
}

/// One browser at a time: chromium is heavy, and flows racing for two cores time out.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `node tests/ui/FLOW URL USER PASS` against a fresh server as alice; fails with its
/// output.
fn flow(script: &str) {
    flow_as(script, USER, PW);
}

/// [`flow`] as another user.
fn flow_as(script: &str, user: &str, pw: &str) {
    let s = server();
    run_flow(&s, script, &[user, pw]);
}

/// Runs `node tests/ui/FLOW URL ARGS…` against `s`; returns its output.
fn run_flow(s: &Server, script: &str, args: &[&str]) -> String {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = ui_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need `npm ci` in {} and Debian's chromium: run scripts/test-deps.sh",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(s.url(""))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node is installed (scripts/test-deps.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    assert!(text.contains("ok: "), "{script} said:\n{text}");
    text
}

#[test]
fn ui_sign_in_shows_the_servers_message_and_signs_out() {
    flow("signin.mjs");
}

#[test]
fn ui_browse_breadcrumbs_paging_and_sort() {
    flow("browse.mjs");
}

#[test]
fn ui_browse_a_10000_entry_folder_shows_its_first_page_only() {
    const N: usize = 10_000;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("big")).unwrap();
    for i in 0..N {
        std::fs::write(src.join(format!("big/file-{i:05}.txt")), b"").unwrap();
    }
    let data = t.path().join("data");
    common::nas_ok(&[
        "import",
        "--data",
        data.to_str().unwrap(),
        "--home",
        USER,
        "-q",
        src.to_str().unwrap(),
    ]);
    let s = Server::start_on(&data);
    s.add_user(USER, PW, &[]);
    let out = run_flow(&s, "bigfolder.mjs", &[USER, PW, "big", &N.to_string()]);
    println!("{out}"); // the figures
}

#[test]
fn ui_upload_shows_progress_and_resumes_after_a_dropped_connection() {
    flow("upload.mjs");
}

#[test]
fn ui_rename_move_copy_delete() {
    flow("ops.mjs");
}

#[test]
fn ui_versions_restore() {
    flow("versions.mjs");
}

#[test]
fn ui_trash_restore_delete_forever_and_empty() {
    flow("trash.mjs");
}

#[test]
fn ui_search() {
    flow("search.mjs");
}

#[test]
fn ui_xss_file_name_is_inert() {
    flow("xss.mjs");
}

#[test]
fn ui_account_app_passwords_s3_keys_and_password_change() {
    flow("account.mjs");
}

#[test]
fn ui_keyboard_only_sign_in_browse_select_rename() {
    flow("keyboard.mjs");
}

#[test]
fn ui_accessibility_no_serious_or_critical_violations() {
    flow_as("a11y.mjs", "admin", common::ADMIN_PW);
}

#[test]
fn ui_admin_creates_disables_sets_quota_and_role_and_removes_users() {
    flow_as("admin.mjs", "admin", common::ADMIN_PW);
}

// ---- the same rules over curl ----

/// Signs in through the cookie route: (the sign-in reply, the Cookie header to send, the
/// CSRF token).
fn cookie_sign_in(s: &Server, extra: &[&str]) -> (Reply, String, String) {
    let mut args = vec![
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
    ];
    let body = format!(r#"{{"username":"{USER}","password":"{PW}"}}"#);
    args.push(&body);
    args.extend_from_slice(extra);
    let url = s.url("/api/v1/auth/session");
    args.push(&url);
    let r = curl(&args, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies: Vec<String> = r
        .headers
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap().trim().to_owned())
        .collect();
    let csrf = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (r, format!("Cookie: {}", cookies.join("; ")), csrf)
}

fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| l[11..].trim().to_owned())
        .collect()
}

#[test]
fn cookie_post_without_csrf_token_is_refused() {
    let s = server();
    let (r, cookie, csrf) = cookie_sign_in(&s, &[]);
    let set = set_cookies(&r);
    let session = set.iter().find(|c| c.starts_with("nas_session=")).unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain HTTP: not Secure ({session})"
    );
    let token = set.iter().find(|c| c.starts_with("nas_csrf=")).unwrap();
    assert!(
        !token.contains("HttpOnly"),
        "the page reads the CSRF cookie"
    );
    assert!(token.starts_with(&format!("nas_csrf={csrf};")));

    // reading needs no token
    let me = curl(&["-H", &cookie, &s.url("/api/v1/me")], None);
    assert_eq!(me.status, 200, "{}", me.text());
    assert!(me.text().contains(USER));
    // a change without the token, or with another one, is refused and does nothing
    for extra in [
        None,
        Some("X-CSRF-Token: not-the-token"),
        Some("X-CSRF-Token: "),
    ] {
        let mut args = vec!["-X", "POST", "-H", &cookie];
        if let Some(h) = extra {
            args.extend(["-H", h]);
        }
        let url = s.url("/api/v1/mkdir/evil");
        args.push(&url);
        let r = curl(&args, None);
        assert_eq!(r.status, 403, "{extra:?}: {}", r.text());
        assert!(r.text().contains("CSRF"), "{}", r.text());
    }
    let stat = curl(&["-H", &cookie, &s.url("/api/v1/stat/evil")], None);
    assert_eq!(stat.status, 404, "nothing was created");
    // the same change with the session's token works
    let hdr = format!("X-CSRF-Token: {csrf}");
    let ok = curl(
        &[
            "-X",
            "POST",
            "-H",
            &cookie,
            "-H",
            &hdr,
            &s.url("/api/v1/mkdir/good"),
        ],
        None,
    );
    assert_eq!(ok.status, 201, "{}", ok.text());
    // a tus upload and a DELETE need it too
    let tus = curl(
        &[
            "-X",
            "POST",
            "-H",
            &cookie,
            "-H",
            "Tus-Resumable: 1.0.0",
            "-H",
            "Upload-Length: 1",
            &s.url("/api/v1/tus"),
        ],
        None,
    );
    assert_eq!(tus.status, 403, "{}", tus.text());
    let del = curl(
        &["-X", "DELETE", "-H", &cookie, &s.url("/api/v1/files/good")],
        None,
    );
    assert_eq!(del.status, 403, "{}", del.text());
    // Basic needs no CSRF token (scripts are unchanged), even with a cookie along
    let basic = curl(
        &[
            "-X",
            "POST",
            "-u",
            &format!("{USER}:{PW}"),
            "-H",
            &cookie,
            &s.url("/api/v1/mkdir/by-script"),
        ],
        None,
    );
    assert_eq!(basic.status, 201, "{}", basic.text());
    // the session token is no Bearer token
    let session_token = cookie
        .split("; ")
        .find_map(|c| {
            c.strip_prefix("Cookie: nas_session=")
                .or(c.strip_prefix("nas_session="))
        })
        .unwrap()
        .to_owned();
    let bearer = curl(
        &[
            "-H",
            &format!("Authorization: Bearer {session_token}"),
            &s.url("/api/v1/me"),
        ],
        None,
    );
    assert_eq!(bearer.status, 401, "{}", bearer.text());

    // signing out needs the token, ends the session and clears the cookies
    let out = curl(
        &[
            "-X",
            "DELETE",
            "-H",
            &cookie,
            &s.url("/api/v1/auth/session"),
        ],
        None,
    );
    assert_eq!(out.status, 403, "{}", out.text());
    let out = curl(
        &[
            "-X",
            "DELETE",
            "-H",
            &cookie,
            "-H",
            &hdr,
            &s.url("/api/v1/auth/session"),
        ],
        None,
    );
    assert_eq!(out.status, 204, "{}", out.text());
    assert!(
        set_cookies(&out).iter().all(|c| c.contains("Max-Age=0")),
        "{:?}",
        set_cookies(&out)
    );
    let me = curl(&["-H", &cookie, &s.url("/api/v1/me")], None);
    assert_eq!(me.status, 401, "the old cookie is dead: {}", me.text());
}

#[test]
fn cookie_sign_in_takes_json_only_and_counts_against_the_rate_limit() {
    let s = server();
    // a cross-site form cannot sign a victim in: no JSON, no sign-in
    let form = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            &format!(r#"{{"username":"{USER}","password":"{PW}"}}"#),
            &s.url("/api/v1/auth/session"),
        ],
        None,
    );
    assert_eq!(form.status, 400, "{}", form.text());
    assert!(set_cookies(&form).is_empty());
    // wrong passwords: 401 with words, then 429 with Retry-After and words
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..12 {
        let r = curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &format!(r#"{{"username":"{USER}","password":"wrong-{i}"}}"#),
                &s.url("/api/v1/auth/session"),
            ],
            None,
        );
        assert!(set_cookies(&r).is_empty());
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let last = last.unwrap();
    assert!(last.header("retry-after").is_some());
    let msg = serde_json::from_slice::<serde_json::Value>(&last.body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.len() > 10, "a message in words: {msg}");
}

#[test]
fn cookies_are_secure_when_a_trusted_proxy_says_https() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "trusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    s.add_user(USER, PW, &[]);
    let (r, _, _) = cookie_sign_in(&s, &["-H", "X-Forwarded-Proto: https"]);
    for c in set_cookies(&r) {
        assert!(c.contains("; Secure"), "{c}");
    }
    let (r, _, _) = cookie_sign_in(&s, &[]);
    for c in set_cookies(&r) {
        assert!(!c.contains("Secure"), "{c}");
    }
}

#[test]
fn csp_header_present_on_the_page_and_assets_cached_and_compressed() {
    let s = Server::start();
    let page = curl(&[&s.url("/")], None);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-cache"));
    let html = page.text();
    assert!(!html.contains("<script>"), "no inline script");
    // the page names its assets under the build's folder: immutable there
    let start = html.find("/assets/").unwrap();
    let js = &html[start..html[start..].find('"').unwrap() + start];
    assert!(
        js.ends_with(".svg") || js.ends_with(".css") || js.ends_with(".js"),
        "{js}"
    );
    let a = curl(&[&s.url(js)], None);
    assert_eq!(a.status, 200);
    assert!(a.header("cache-control").unwrap().contains("immutable"));
    assert!(a.header("content-security-policy").is_some());
    let etag = a.header("etag").unwrap();
    let again = curl(&["-H", &format!("If-None-Match: {etag}"), &s.url(js)], None);
    assert_eq!(again.status, 304);
    let z = curl(
        &[
            "-H",
            "Accept-Encoding: gzip, zstd",
            &s.url("/assets/x/js/files.js"),
        ],
        None,
    );
    assert_eq!(z.status, 200);
    assert_eq!(z.header("content-encoding").as_deref(), Some("zstd"));
    assert_eq!(
        z.header("cache-control").as_deref(),
        Some("no-cache"),
        "another build's URL is revalidated"
    );
    let plain = curl(&[&s.url("/assets/x/js/files.js")], None);
    assert!(plain.header("content-encoding").is_none());
    assert!(plain.body.len() > z.body.len(), "compressed is smaller");
    assert_eq!(curl(&[&s.url("/assets/x/nope.js")], None).status, 404);
    // the UI leaves the other doors alone
    let api = curl(&[&s.url("/api/v1/nope")], None);
    assert_eq!(api.status, 404);
    assert!(api.text().contains("not_found"));
    assert!(api.header("content-security-policy").is_none());
    assert_eq!(curl(&[&s.url("/dav/")], None).status, 401);
}

//! The web UI's security rules, black-box over curl against the real server: cookie
//! sessions (flags, Secure over HTTPS, sign-out), CSRF tokens on every cookie-signed
//! change, the sign-in throttle at the cookie route, the Content-Security-Policy and the
//! other headers, caching and compression of the embedded assets. (The browser flows are
//! in `ui.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, Server, curl};

const USER: &str = "alice";
const PW: &str = "alice-password-1";

/// A server with alice.
fn server() -> Server {
    let s = Server::start();
    s.add_user(USER, PW, &[]);
    s
}

/// Signs in through the cookie route: (the sign-in reply, the Cookie header to send, the
/// CSRF token).
fn cookie_sign_in(s: &Server, extra: &[&str]) -> (Reply, String, String) {
    cookie_sign_in_at(&s.url(""), extra)
}

/// [`cookie_sign_in`] at a base URL (`https://…` with `-k` in `extra`).
fn cookie_sign_in_at(base: &str, extra: &[&str]) -> (Reply, String, String) {
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
    let url = format!("{base}/api/v1/auth/session");
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

    // signing in again in the same browser replaces the session the cookie held
    let again = curl(
        &[
            "-X",
            "POST",
            "-H",
            &cookie,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!(r#"{{"username":"{USER}","password":"{PW}"}}"#),
            &s.url("/api/v1/auth/session"),
        ],
        None,
    );
    assert_eq!(again.status, 200, "{}", again.text());
    let me = curl(&["-H", &cookie, &s.url("/api/v1/me")], None);
    assert_eq!(
        me.status,
        401,
        "the replaced session is over: {}",
        me.text()
    );
    let (_, cookie, csrf) = cookie_sign_in(&s, &[]);
    let hdr = format!("X-CSRF-Token: {csrf}");

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
    // a share's password cookie too (the form and Basic on a download)
    let auth = format!("{USER}:{PW}");
    let r = curl(
        &["-u", &auth, "-T", "-", &s.url("/api/v1/upload/s.txt")],
        Some(b"shared"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = curl(
        &[
            "-u",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"path":"/s.txt","kind":"read","password":"share-pass-1"}"#,
            &s.url("/api/v1/shares"),
        ],
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let token = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for https in [true, false] {
        let proto: &[&str] = if https {
            &["-H", "X-Forwarded-Proto: https"]
        } else {
            &[]
        };
        let form = [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "--data-binary",
            "password=share-pass-1",
        ];
        let url = s.url(&format!("/s/{token}/"));
        let basic = ["-u", "x:share-pass-1"];
        let dl = s.url(&format!("/s/{token}?download=1"));
        let by_form: Vec<&str> = [proto, &form[..], &[url.as_str()]].concat();
        let by_basic: Vec<&str> = [proto, &basic[..], &[dl.as_str()]].concat();
        for args in [by_form, by_basic] {
            let r = curl(&args, None);
            let cookies = set_cookies(&r);
            assert_eq!(cookies.len(), 1, "{args:?}: {} {:?}", r.status, r.text());
            assert!(cookies[0].starts_with("nas_share_"), "{}", cookies[0]);
            assert!(cookies[0].contains("HttpOnly"), "{}", cookies[0]);
            assert_eq!(cookies[0].contains("; Secure"), https, "{}", cookies[0]);
        }
    }
}

#[test]
fn cookies_are_secure_over_the_servers_own_tls() {
    let t = tempfile::tempdir().unwrap();
    let (cert, key) = (t.path().join("c.pem"), t.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    let s = Server::start_with(
        &t.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    s.add_user(USER, PW, &[]);
    let (r, cookie, _) = cookie_sign_in_at(&format!("https://{}", s.addr), &["-k"]);
    let set = set_cookies(&r);
    assert_eq!(set.len(), 2, "{set:?}");
    for c in set {
        assert!(c.contains("; Secure"), "{c}");
    }
    let page = curl(&["-k", &format!("https://{}/", s.addr)], None);
    assert!(page.header("content-security-policy").is_some());
    let me = curl(
        &[
            "-k",
            "-H",
            &cookie,
            &format!("https://{}/api/v1/me", s.addr),
        ],
        None,
    );
    assert_eq!(me.status, 200, "{}", me.text());
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

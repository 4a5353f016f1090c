//! Share links (issue 12, item 4) and folder downloads as ZIP, against the real server:
//! the owner creates, lists and revokes links over REST; an anonymous `curl` uses them at
//! `/s/{token}`; Python's `zipfile` checks every archive.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

const ANN: &str = "ann:ann-password-1";

fn server() -> Server {
    let s = Server::start();
    s.add_user("ann", "ann-password-1", &[]);
    s
}

fn upload(s: &Server, path: &str, body: &[u8]) {
    let r = curl(
        &[
            "-u",
            ANN,
            "-T",
            "-",
            &s.url(&format!("/api/v1/upload{path}")),
        ],
        Some(body),
    );
    assert!(r.status == 201 || r.status == 200, "{path}: {}", r.text());
}

/// Creates a share; returns (id, token).
fn share(s: &Server, body: &str) -> (String, String) {
    let r = post_json_as(s, ANN, "/api/v1/shares", body);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json(&r);
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(v["url"].as_str().unwrap(), format!("/s/{token}"));
    (v["id"].as_str().unwrap().to_owned(), token)
}

fn get(s: &Server, path: &str, extra: &[&str]) -> Reply {
    let url = s.url(path);
    let mut args: Vec<&str> = extra.to_vec();
    args.push(&url);
    curl(&args, None)
}

fn my_shares(s: &Server) -> Vec<serde_json::Value> {
    let r = curl(&["-u", ANN, &s.url("/api/v1/shares")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r).as_array().unwrap().clone()
}

/// The audit log as the admin sees it (waits for the batched writer).
fn audit_until(s: &Server, want: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let admin = auth("admin", ADMIN_PW);
    for _ in 0..50 {
        let r = curl(
            &["-u", &admin, &s.url("/api/v1/admin/audit?limit=500")],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = json(&r);
        let entries = v["entries"].as_array().cloned().unwrap_or_default();
        if want(&entries) {
            return entries;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the audit log never showed the expected entries");
}

#[test]
fn a_file_share_downloads_anonymously_follows_renames_and_revokes_at_once() {
    let s = server();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    upload(&s, "/docs/report.pdf", &body);
    let (id, token) = share(&s, r#"{"path":"/docs/report.pdf"}"#);
    // >= 128 bits: 32 base64url characters (6 bits each) = 24 random bytes
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    assert!(token.len() * 6 >= 128, "{token}");
    let r = get(&s, &format!("/s/{token}"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
    assert!(r.header("etag").is_some());
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("report.pdf")
    );
    let r = get(&s, &format!("/s/{token}"), &["-H", "Range: bytes=10-19"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &body[10..20]);
    // the share follows the file through a move
    let r = post_json_as(
        &s,
        ANN,
        "/api/v1/move",
        r#"{"from":"/docs","to":"/old-docs"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(&s, &format!("/s/{token}"), &[]).body, body);
    let list = my_shares(&s);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["path"], "/old-docs/report.pdf");
    assert_eq!(list[0]["kind"], "read");
    assert!(list[0].get("token").is_none(), "tokens are never listed");
    // revoked: 404 from the next request on
    let r = curl(
        &[
            "-u",
            ANN,
            "-X",
            "DELETE",
            &s.url(&format!("/api/v1/shares/{id}")),
        ],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(&s, &format!("/s/{token}"), &[]).status, 404);
    // a deleted target: 404
    let (_, t2) = share(&s, r#"{"path":"/old-docs/report.pdf"}"#);
    let r = curl(
        &[
            "-u",
            ANN,
            "-X",
            "DELETE",
            &s.url("/api/v1/files/old-docs/report.pdf"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(&s, &format!("/s/{t2}"), &[]).status, 404);
    assert_eq!(
        get(&s, "/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &[]).status,
        404
    );
    // every access is audited, by share id, and no token reaches the log
    let entries = audit_until(&s, |e| {
        e.iter().filter(|x| x["door"] == "share").count() >= 6
    });
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&token) && !text.contains(&t2), "{text}");
    assert!(text.contains(&format!("/s/{id}")), "{text}");
    assert!(
        entries
            .iter()
            .any(|x| x["door"] == "share" && x["kind"] == "share_refused" && x["status"] == 404)
    );
}

#[test]
fn a_folder_share_lists_escaped_names_and_zips_the_tree() {
    let s = server();
    let xss = "<img src=x onerror=alert(1)>.txt";
    upload(&s, "/photos/a.txt", b"alpha");
    upload(&s, "/photos/sub/deep/b.bin", &content(300_000, 7));
    upload(
        &s,
        "/photos/%3Cimg%20src=x%20onerror=alert(1)%3E.txt",
        b"xss",
    );
    let r = curl(
        &[
            "-u",
            ANN,
            "-X",
            "POST",
            &s.url("/api/v1/mkdir/photos/empty"),
        ],
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (_, token) = share(&s, r#"{"path":"/photos","kind":"read"}"#);
    // JSON listing
    let r = get(
        &s,
        &format!("/s/{token}/"),
        &["-H", "Accept: application/json"],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [xss, "a.txt", "empty", "sub"]);
    // a browser asking for the folder without its slash is sent to it (relative links)
    let r = get(&s, &format!("/s/{token}"), &["-H", "Accept: text/html"]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some(format!("/s/{token}/")));
    // HTML listing: names are text, no script is allowed
    let r = get(&s, &format!("/s/{token}/"), &["-H", "Accept: text/html"]);
    assert_eq!(r.status, 200);
    let page = r.text();
    assert!(!page.contains("<img"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
        "{page}"
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    // a file inside, a sub-folder, and no way out of the shared folder
    assert_eq!(
        get(&s, &format!("/s/{token}/sub/deep/b.bin"), &[]).body,
        content(300_000, 7)
    );
    let r = get(&s, &format!("/s/{token}/sub/?format=json"), &[]);
    assert_eq!(json(&r)["entries"][0]["name"], "deep");
    assert_eq!(get(&s, &format!("/s/{token}/../secret"), &[]).status, 400);
    assert_eq!(get(&s, &format!("/s/{token}/%2e%2e/x"), &[]).status, 400);
    assert_eq!(get(&s, &format!("/s/{token}/nope.txt"), &[]).status, 404);
    // the folder as a ZIP: names, CRCs, content, the empty folder
    let r = get(&s, &format!("/s/{token}/?download=1"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type").as_deref(), Some("application/zip"));
    let deep = content(300_000, 7);
    let want: Vec<(&str, Option<&[u8]>)> = vec![
        ("photos/", None),
        ("photos/a.txt", Some(b"alpha")),
        ("photos/<img src=x onerror=alert(1)>.txt", Some(b"xss")),
        ("photos/empty/", None),
        ("photos/sub/", None),
        ("photos/sub/deep/", None),
        ("photos/sub/deep/b.bin", Some(&deep)),
    ];
    check_zip(&r.body, &want);
    // the owner's own zip route gives the same tree
    let r = curl(&["-u", ANN, &s.url("/api/v1/zip/photos")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    check_zip(&r.body, &want);
    let r = curl(&["-u", ANN, &s.url("/api/v1/zip/photos/a.txt")], None);
    assert_eq!(r.status, 409, "a file is not zipped: {}", r.text());
    assert_eq!(get(&s, "/api/v1/zip/photos", &[]).status, 401);
}

#[test]
fn passwords_are_checked_scoped_to_their_share_and_throttled() {
    let s = server();
    upload(&s, "/secret.txt", b"the secret");
    upload(&s, "/other.txt", b"other");
    let (_, token) = share(&s, r#"{"path":"/secret.txt","password":"open sesame"}"#);
    let (_, other) = share(&s, r#"{"path":"/other.txt","password":"open sesame"}"#);
    let url = format!("/s/{token}");
    let r = get(&s, &url, &[]);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let r = get(&s, &url, &["-H", "Accept: text/html"]);
    assert!(
        r.text().contains("type=\"password\""),
        "a form for browsers"
    );
    assert_eq!(get(&s, &url, &["-u", ":wrong"]).status, 401);
    let r = get(&s, &url, &["-u", ":open sesame"]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"the secret");
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(cookie.contains(&format!("Path=/s/{token}")), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    // the cookie opens this share, not another one, and is no API credential
    let with_cookie = format!("Cookie: {pair}");
    assert_eq!(get(&s, &url, &["-H", &with_cookie]).status, 200);
    assert_eq!(
        get(&s, &format!("/s/{other}"), &["-H", &with_cookie]).status,
        401
    );
    assert_eq!(get(&s, "/api/v1/me", &["-H", &with_cookie]).status, 401);
    // a forged cookie is refused
    let forged = format!(
        "Cookie: {}=99999999999.AAAA",
        pair.split('=').next().unwrap()
    );
    assert_eq!(get(&s, &url, &["-H", &forged]).status, 401);
    // the form: 303 to the share with the cookie
    let r = get(
        &s,
        &url,
        &["-X", "POST", "--data-urlencode", "password=open sesame"],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("set-cookie").is_some());
    // throttled per share and client: after 5 failures even the right password waits
    for _ in 0..5 {
        assert_eq!(get(&s, &url, &["-u", ":guess"]).status, 401);
    }
    let r = get(&s, &url, &["-u", ":open sesame"]);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    // ... on this share only
    assert_eq!(
        get(&s, &format!("/s/{other}"), &["-u", ":open sesame"]).status,
        200
    );
    let entries = audit_until(&s, |e| {
        e.iter().any(|x| x["door"] == "share" && x["status"] == 429)
    });
    assert!(
        entries
            .iter()
            .any(|x| x["door"] == "share" && x["kind"] == "auth_failure" && x["status"] == 401)
    );
}

#[test]
fn expired_and_exhausted_shares_answer_410() {
    let s = server();
    let body = content(50_000, 3);
    upload(&s, "/f.bin", &body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (_, soon) = share(
        &s,
        &format!(r#"{{"path":"/f.bin","expires_at":{}}}"#, now + 2),
    );
    let (_, limited) = share(&s, r#"{"path":"/f.bin","max_downloads":2}"#);
    let r = post_json_as(
        &s,
        ANN,
        "/api/v1/shares",
        r#"{"path":"/f.bin","expires_at":1}"#,
    );
    assert_eq!(r.status, 400, "an expiry in the past: {}", r.text());
    assert_eq!(get(&s, &format!("/s/{soon}"), &[]).status, 200);
    // the limit: whole GETs count; HEAD and a later range do not
    let url = format!("/s/{limited}");
    assert_eq!(get(&s, &url, &[]).body, body);
    assert_eq!(get(&s, &url, &["-I"]).status, 200);
    let r = get(&s, &url, &["-H", "Range: bytes=100-199"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &body[100..200]));
    assert_eq!(get(&s, &url, &["-H", "Range: bytes=0-9"]).status, 206);
    let r = get(&s, &url, &[]);
    assert_eq!(r.status, 410, "{}", r.text());
    let listed = my_shares(&s);
    let lim = listed.iter().find(|x| x["max_downloads"] == 2).unwrap();
    assert_eq!(lim["downloads"], 2);
    // a link without a limit is counted too (never refused)
    let unlimited = listed
        .iter()
        .find(|x| x["max_downloads"].is_null())
        .unwrap();
    assert_eq!(
        unlimited["downloads"], 1,
        "the one GET of `soon`: {unlimited}"
    );
    std::thread::sleep(std::time::Duration::from_millis(3_100));
    let r = get(&s, &format!("/s/{soon}"), &[]);
    assert_eq!(r.status, 410, "{}", r.text());
    assert!(r.text().contains("expired"));
}

#[test]
fn a_drop_share_takes_files_and_never_lists_or_reads() {
    let s = server();
    s.add_user("rita", "rita-password-1", &["--role", "readonly"]);
    upload(&s, "/inbox/secret.txt", b"owner's");
    let r = post_json_as(
        &s,
        ANN,
        "/api/v1/shares",
        r#"{"path":"/inbox/secret.txt","kind":"drop"}"#,
    );
    assert_eq!(r.status, 409, "a drop needs a folder: {}", r.text());
    let r = post_json_as(
        &s,
        "rita:rita-password-1",
        "/api/v1/shares",
        r#"{"path":"/","kind":"drop"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let (share_id, token) = share(&s, r#"{"path":"/inbox","kind":"drop"}"#);
    // uploads: a used name gets a new one, never an overwrite
    let r = curl(
        &["-T", "-", &s.url(&format!("/s/{token}/secret.txt"))],
        Some(b"dropped 1"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(!r.text().contains("secret"), "the stored name is not told");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("note.txt");
    std::fs::write(&f, b"dropped 2").unwrap();
    let r = curl(
        &["-T", f.to_str().unwrap(), &s.url(&format!("/s/{token}/"))],
        None,
    );
    assert_eq!(r.status, 201, "curl -T FILE URL/: {}", r.text());
    let read = |p: &str| curl(&["-u", ANN, &s.url(&format!("/api/v1/download{p}"))], None);
    assert_eq!(read("/inbox/secret.txt").body, b"owner's");
    assert_eq!(read("/inbox/secret%20(2).txt").body, b"dropped 1");
    assert_eq!(read("/inbox/note.txt").body, b"dropped 2");
    // the versions say who made them: the owner, or the link (by id, never by token)
    let author = |p: &str| {
        let r = curl(&["-u", ANN, &s.url(&format!("/api/v1/versions{p}"))], None);
        assert_eq!(r.status, 200, "{}", r.text());
        json(&r)["versions"][0]["author"].clone()
    };
    assert_eq!(author("/inbox/secret.txt"), "ann");
    assert_eq!(
        author("/inbox/note.txt"),
        format!("share:{share_id}").as_str()
    );
    // nothing is listed or read, and the answer is the same for a name that exists
    let refusals: Vec<Reply> = [
        format!("/s/{token}"),
        format!("/s/{token}/"),
        format!("/s/{token}/secret.txt"),
        format!("/s/{token}/no-such-file"),
        format!("/s/{token}/?download=1"),
        format!("/s/{token}/?format=json"),
    ]
    .iter()
    .map(|p| get(&s, p, &[]))
    .collect();
    for r in &refusals {
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(r.body, refusals[0].body);
        assert!(!r.text().contains("secret"));
    }
    let r = curl(
        &["-X", "DELETE", &s.url(&format!("/s/{token}/secret.txt"))],
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(read("/inbox/secret.txt").body, b"owner's");
    // a folder path is refused
    let r = curl(
        &["-T", "-", &s.url(&format!("/s/{token}/sub/x.txt"))],
        Some(b"x"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // drops count against the owner's quota: 507, nothing stored
    s.add_user("quin", "quin-password-1", &["--quota", "100K"]);
    let q = "quin:quin-password-1";
    let r = curl(&["-u", q, "-X", "POST", &s.url("/api/v1/mkdir/in")], None);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = post_json_as(&s, q, "/api/v1/shares", r#"{"path":"/in","kind":"drop"}"#);
    let qt = json(&r)["token"].as_str().unwrap().to_owned();
    let r = curl(
        &["-T", "-", &s.url(&format!("/s/{qt}/big.bin"))],
        Some(&content(300_000, 9)),
    );
    assert_eq!(r.status, 507, "{}", r.text());
    let r = curl(&["-u", q, &s.url("/api/v1/files/in")], None);
    assert_eq!(json(&r)["entries"].as_array().unwrap().len(), 0);
}

/// rclone's webdav backend on a share's view (user name ignored, the share's password).
fn rclone_share(s: &Server, token: &str, pass: &str, args: &[&str]) -> std::process::Output {
    let obscured = Command::new("rclone")
        .args(["obscure", pass])
        .output()
        .expect("rclone is installed");
    Command::new("rclone")
        .args(args)
        .env("RCLONE_CONFIG_SH_TYPE", "webdav")
        .env("RCLONE_CONFIG_SH_URL", s.url(&format!("/s/{token}/dav/")))
        .env("RCLONE_CONFIG_SH_VENDOR", "other")
        .env("RCLONE_CONFIG_SH_USER", "anyone")
        .env(
            "RCLONE_CONFIG_SH_PASS",
            String::from_utf8(obscured.stdout).unwrap().trim(),
        )
        .env("RCLONE_CONFIG", "/dev/null")
        .output()
        .unwrap()
}

#[test]
fn the_webdav_view_of_a_folder_share_is_read_only() {
    let s = server();
    upload(&s, "/music/a.txt", b"first");
    upload(&s, "/music/album/b.txt", b"second");
    upload(&s, "/private.txt", b"not shared");
    let (_, token) = share(&s, r#"{"path":"/music","password":"listen"}"#);
    let dav = |p: &str| s.url(&format!("/s/{token}/dav{p}"));
    // PROPFIND with curl: the shared folder's children, hrefs under the view
    assert_eq!(propfind(":wrong", &dav("/"), "1", None).status, 401);
    let r = propfind(":listen", &dav("/"), "1", None);
    assert_eq!(r.status, 207, "{}", r.text());
    let xml = r.text();
    assert!(xml.contains(&format!("/s/{token}/dav/album/")), "{xml}");
    assert!(xml.contains(&format!("/s/{token}/dav/a.txt")), "{xml}");
    assert!(!xml.contains("private"), "{xml}");
    assert_eq!(propfind(":listen", &dav("/"), "infinity", None).status, 403);
    let r = curl(&["-u", ":listen", &dav("/album/b.txt")], None);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"second"[..]));
    // nothing outside the folder, and no writes
    assert_eq!(
        curl(&["-u", ":listen", &dav("/../private.txt")], None).status,
        400
    );
    assert_eq!(
        curl(&["-u", ":listen", &dav("/%2e%2e/private.txt")], None).status,
        400
    );
    let r = curl(&["-u", ":listen", "-T", "-", &dav("/new.txt")], Some(b"x"));
    assert_eq!(r.status, 405, "{}", r.text());
    for m in ["MKCOL", "DELETE", "PROPPATCH", "LOCK"] {
        let r = curl(&["-u", ":listen", "-X", m, &dav("/a.txt")], None);
        assert_eq!(r.status, 405, "{m}: {}", r.text());
    }
    let r = curl(&["-u", ANN, &s.url("/api/v1/files/music")], None);
    let names = r.text();
    assert!(!names.contains("new.txt"), "{names}");
    // a real client mounts it
    let out = rclone_share(&s, &token, "listen", &["lsf", "-R", "sh:"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    assert_eq!(listed, ["a.txt", "album/", "album/b.txt"]);
    let out = rclone_share(&s, &token, "listen", &["cat", "sh:album/b.txt"]);
    assert_eq!(out.stdout, b"second");
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("up.txt");
    std::fs::write(&f, b"nope").unwrap();
    let out = rclone_share(
        &s,
        &token,
        "listen",
        &["copyto", f.to_str().unwrap(), "sh:up.txt"],
    );
    assert!(
        !out.status.success(),
        "rclone could write to a read-only share"
    );
    // a share with a download limit has no WebDAV view
    let (_, limited) = share(&s, r#"{"path":"/music","max_downloads":3}"#);
    let r = propfind("x:y", &s.url(&format!("/s/{limited}/dav/")), "1", None);
    assert_eq!(r.status, 403, "{}", r.text());
}

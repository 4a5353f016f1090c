//! Security hardening of the WebDAV door (issue 18), against the real server: deep XML
//! bodies are refused and never take the process down (ranges: `security_ranges.rs`), a
//! version selector never falls through to the current file (WebDAV and REST), `Destination` is validated before dav-server, `If:` lock tokens on unlocked
//! files fail, and dead properties are limited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

const A: &str = "alice:alice-password";

fn setup() -> Server {
    let s = Server::start();
    s.add_user("alice", "alice-password", &[]);
    s.add_user("reader", "reader-password", &["--role", "readonly"]);
    put(&s, "/dav/x.txt", b"version one");
    put(&s, "/dav/x.txt", b"version two");
    s
}

fn put(s: &Server, path: &str, body: &[u8]) -> Reply {
    curl(&["-u", A, "-T", "-", &s.url(path)], Some(body))
}

fn req(s: &Server, user: &str, method: &str, path: &str, extra: &[&str]) -> Reply {
    let mut args = vec!["-u", user, "-X", method];
    args.extend_from_slice(extra);
    let url = s.url(path);
    args.push(&url);
    curl(&args, None)
}

/// A body sent from stdin (`--data-binary @-`), so that large bodies fit.
fn with_body(s: &Server, user: &str, method: &str, path: &str, body: &[u8]) -> Reply {
    curl(
        &[
            "-u",
            user,
            "-X",
            method,
            "-H",
            "Content-Type: application/xml",
            "--data-binary",
            "@-",
            &s.url(path),
        ],
        Some(body),
    )
}

fn nested(open: &str, depth: usize, close: &str) -> Vec<u8> {
    let mut v = open.as_bytes().to_vec();
    v.extend(b"<Z:x xmlns:Z=\"urn:z\">");
    v.extend(b"<a>".repeat(depth));
    v.extend(b"</a>".repeat(depth));
    v.extend(b"</Z:x>");
    v.extend(close.as_bytes());
    v
}

/// The server still answers: a PROPFIND of the home and a GET of a file.
fn still_serving(s: &Server) {
    assert_eq!(propfind(A, &s.url("/dav/"), "1", None).status, 207);
    assert_eq!(
        curl(&["-u", A, &s.url("/dav/x.txt")], None).body,
        b"version two"
    );
}

#[test]
fn deep_propfind_bodies_are_400_for_every_user_and_the_server_keeps_serving() {
    let s = setup();
    let body = nested(
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>",
        3000,
        "</D:prop></D:propfind>",
    );
    for user in [A, "reader:reader-password"] {
        let r = with_body(&s, user, "PROPFIND", "/dav/", &body);
        assert_eq!(r.status, 400, "{user}: {}", r.text());
        still_serving(&s);
    }
    // a normal body still works, and so does a moderately nested one
    let ok = nested(
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>",
        20,
        "</D:prop></D:propfind>",
    );
    assert_eq!(with_body(&s, A, "PROPFIND", "/dav/", &ok).status, 207);
}

#[test]
fn deep_proppatch_bodies_are_400_and_the_server_keeps_serving() {
    let s = setup();
    let body = nested(
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>",
        2000,
        "</D:prop></D:set></D:propertyupdate>",
    );
    let r = with_body(&s, A, "PROPPATCH", "/dav/x.txt", &body);
    assert_eq!(r.status, 400, "{}", r.text());
    still_serving(&s);
}

#[test]
fn deep_lock_bodies_are_400_and_the_server_keeps_serving() {
    let s = setup();
    let body = nested(
        "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/>\
         </D:lockscope><D:locktype><D:write/></D:locktype><D:owner>",
        3000,
        "</D:owner></D:lockinfo>",
    );
    let r = with_body(&s, A, "LOCK", "/dav/x.txt", &body);
    assert_eq!(r.status, 400, "{}", r.text());
    still_serving(&s);
    // nothing was locked: a plain PUT goes through
    assert_eq!(put(&s, "/dav/x.txt", b"version two").status, 204);
}

#[test]
fn oversized_and_doctype_xml_bodies_are_refused() {
    let s = setup();
    let mut big = b"<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>".to_vec();
    big.extend(b"<D:getetag/>".repeat(10_000)); // 120 KB, flat
    big.extend(b"</D:prop></D:propfind>");
    assert_eq!(with_body(&s, A, "PROPFIND", "/dav/", &big).status, 413);
    let doctype = b"<?xml version=\"1.0\"?><!DOCTYPE D:propfind [<!ENTITY e \"x\">]>\
                    <D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>";
    assert_eq!(with_body(&s, A, "PROPFIND", "/dav/", doctype).status, 400);
    still_serving(&s);
}

/// `Range: bytes=0-(size-1000),1-(size-999),…`: `n` overlapping ranges of a file.

#[test]
fn a_version_selector_on_a_write_never_touches_the_current_file_over_webdav() {
    let s = setup();
    for (method, extra) in [
        ("DELETE", &[][..]),
        ("PROPPATCH", &[][..]),
        ("MKCOL", &[][..]),
        ("MOVE", &["-H", "Destination: /dav/y.txt"][..]),
        ("COPY", &["-H", "Destination: /dav/y.txt"][..]),
        ("LOCK", &[][..]),
        ("PROPFIND", &[][..]),
    ] {
        for q in ["?version=1", "?version=abc", "?Version=1"] {
            let r = req(&s, A, method, &format!("/dav/x.txt{q}"), extra);
            assert_eq!(r.status, 405, "{method} {q}");
            assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
        }
    }
    let r = curl(
        &["-u", A, "-T", "-", &s.url("/dav/x.txt?version=1")],
        Some(b"overwritten"),
    );
    assert_eq!(r.status, 405);
    still_serving(&s);
    assert_eq!(req(&s, A, "GET", "/dav/y.txt", &[]).status, 404);
    // reads: a malformed selector is 400, an unknown version 404, never the current file
    for q in [
        "?version=abc",
        "?version=",
        "?version=1&version=2",
        "?version=-1",
    ] {
        let r = req(&s, A, "GET", &format!("/dav/x.txt{q}"), &[]);
        assert_eq!(r.status, 400, "{q}");
    }
    assert_eq!(req(&s, A, "GET", "/dav/x.txt?version=99", &[]).status, 404);
    assert_eq!(
        curl(&["-u", A, "-I", &s.url("/dav/x.txt?version=99")], None).status,
        404
    );
    assert_eq!(
        req(&s, A, "GET", "/dav/x.txt?Version=1", &[]).body,
        b"version one"
    );
}

#[test]
fn a_version_selector_on_a_write_never_touches_the_current_file_over_rest() {
    let s = setup();
    let api = |p: &str| s.url(&format!("/api/v1{p}"));
    let r = curl(
        &["-u", A, "-X", "DELETE", &api("/files/x.txt?version=1")],
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = curl(
        &["-u", A, "-T", "-", &api("/upload/x.txt?version=1")],
        Some(b"overwritten"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        curl(&["-u", A, &api("/stat/x.txt?version=1")], None).status,
        400
    );
    still_serving(&s);
    for q in [
        "?version=abc",
        "?version=",
        "?Version=1",
        "?version=1&version=2",
    ] {
        let r = curl(&["-u", A, &api(&format!("/download/x.txt{q}"))], None);
        assert_eq!(r.status, 400, "{q}");
    }
    assert_eq!(
        curl(&["-u", A, &api("/download/x.txt?version=99")], None).status,
        404
    );
    assert_eq!(
        curl(&["-u", A, &api("/download/x.txt?version=1")], None).body,
        b"version one"
    );
    // other selectors: versions and trash ids
    let del = |p: &str| curl(&["-u", A, "-X", "DELETE", &api(p)], None).status;
    assert_eq!(del("/versions/x.txt?version=abc"), 400);
    assert_eq!(del("/versions/x.txt"), 400);
    assert_eq!(del("/versions/x.txt?version=99"), 404);
    assert_eq!(del("/trash/abc"), 400);
    assert_eq!(del("/trash/987654"), 404);
    still_serving(&s);
}

#[test]
fn destinations_are_validated_before_dav_server() {
    let s = setup();
    let host = s.addr.clone();
    for (dest, want) in [
        ("/dav/".to_owned(), 403),
        ("/dav".to_owned(), 403),
        (format!("http://{host}/dav/"), 403),
        ("http://x/dav".to_owned(), 502),
        ("http://x/dav/".to_owned(), 502),
        ("http://elsewhere.example/dav/y.txt".to_owned(), 502),
        ("/elsewhere/y.txt".to_owned(), 502),
        ("/davy.txt".to_owned(), 502),
        ("//x/dav/y.txt".to_owned(), 400),
        ("/dav/y.txt?x=1".to_owned(), 400),
        ("not a url".to_owned(), 400),
    ] {
        for method in ["COPY", "MOVE"] {
            let h = format!("Destination: {dest}");
            let r = req(&s, A, method, "/dav/x.txt", &["-H", &h]);
            assert_eq!(r.status, want, "{method} to {dest}: {}", r.text());
        }
        still_serving(&s);
    }
    assert_eq!(req(&s, A, "COPY", "/dav/x.txt", &[]).status, 400);
    // the home itself cannot be copied or moved
    for src in ["/dav", "/dav/"] {
        let r = req(&s, A, "MOVE", src, &["-H", "Destination: /dav/sub/"]);
        assert_eq!(r.status, 403, "{src}");
    }
    still_serving(&s);
    // this host (or the host a proxy names) is fine
    let h = format!("Destination: http://{host}/dav/y.txt");
    assert_eq!(req(&s, A, "COPY", "/dav/x.txt", &["-H", &h]).status, 201);
    let r = req(
        &s,
        A,
        "COPY",
        "/dav/x.txt",
        &[
            "-H",
            "Destination: https://nas.example.com/dav/z.txt",
            "-H",
            "X-Forwarded-Host: nas.example.com",
        ],
    );
    assert_eq!(r.status, 201);
    assert_eq!(req(&s, A, "GET", "/dav/z.txt", &[]).body, b"version two");
}

#[test]
fn copy_and_move_between_a_folder_and_its_inside_are_refused() {
    let s = setup();
    assert_eq!(req(&s, A, "MKCOL", "/dav/k", &[]).status, 201);
    assert_eq!(req(&s, A, "MKCOL", "/dav/k/l", &[]).status, 201);
    assert_eq!(put(&s, "/dav/k/l/f.txt", b"keep me").status, 201);
    for (method, src, dest) in [
        ("COPY", "/dav/k/", "/dav/k/l/in/"),
        ("MOVE", "/dav/k/", "/dav/k/l/in/"),
        ("COPY", "/dav/k/l/", "/dav/k/"), // the overwrite would delete the source first
        ("MOVE", "/dav/k/l/", "/dav/k/"),
        ("MOVE", "/dav/k/l/", "/dav/"),
        ("COPY", "/dav/k/", "/dav/k/"),
    ] {
        let h = format!("Destination: {dest}");
        let r = req(&s, A, method, src, &["-H", &h]);
        assert_eq!(r.status, 403, "{method} {src} to {dest}");
        // refused with a reason a person can read (MOVE used to answer an empty 403)
        let why = if dest == "/dav/" {
            "home folder"
        } else {
            "contain one another"
        };
        assert!(
            r.text().contains(why),
            "{method} {src} to {dest}: {:?}",
            r.text()
        );
    }
    assert_eq!(req(&s, A, "GET", "/dav/k/l/f.txt", &[]).body, b"keep me");
    assert_eq!(req(&s, A, "GET", "/dav/k/l/in/l/f.txt", &[]).status, 404);
    // siblings are fine
    let r = req(&s, A, "COPY", "/dav/k/", &["-H", "Destination: /dav/k2/"]);
    assert_eq!(r.status, 201);
    assert_eq!(req(&s, A, "GET", "/dav/k2/l/f.txt", &[]).body, b"keep me");
}

#[test]
fn macos_metadata_uploads_are_bounded() {
    let s = setup();
    assert_eq!(put(&s, "/dav/._x.txt", &[0u8; 4096]).status, 201);
    let r = put(&s, "/dav/._big", &vec![0u8; (64 << 20) + 1]);
    assert_eq!(r.status, 413);
    still_serving(&s);
}

#[test]
fn a_lock_token_on_an_unlocked_file_fails_the_write() {
    let s = setup();
    for token in [
        "<urn:uuid:00000000-0000-0000-0000-000000000000>",
        "<opaquelocktoken:bogus>",
    ] {
        let r = curl(
            &[
                "-u",
                A,
                "-T",
                "-",
                "-H",
                &format!("If: ({token})"),
                &s.url("/dav/x.txt"),
            ],
            Some(b"overwritten"),
        );
        assert_eq!(r.status, 412, "{token}");
        let r = req(
            &s,
            A,
            "DELETE",
            "/dav/x.txt",
            &["-H", &format!("If: ({token})")],
        );
        assert_eq!(r.status, 412, "{token}");
    }
    still_serving(&s);
    // a stale token (its lock released) fails too; the live one works
    let lockinfo = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope>\
                    <D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    let l = with_body(&s, A, "LOCK", "/dav/x.txt", lockinfo.as_bytes());
    assert_eq!(l.status, 200);
    let token = l.header("lock-token").unwrap();
    let cond = format!("If: ({token})");
    let r = curl(
        &["-u", A, "-T", "-", "-H", &cond, &s.url("/dav/x.txt")],
        Some(b"locked write"),
    );
    assert_eq!(r.status, 204);
    let unlock = format!("Lock-Token: {token}");
    assert_eq!(
        req(&s, A, "UNLOCK", "/dav/x.txt", &["-H", &unlock]).status,
        204
    );
    let r = curl(
        &["-u", A, "-T", "-", "-H", &cond, &s.url("/dav/x.txt")],
        Some(b"stale write"),
    );
    assert_eq!(r.status, 412);
    assert_eq!(req(&s, A, "GET", "/dav/x.txt", &[]).body, b"locked write");
}

fn proppatch(s: &Server, props: &[(String, usize)]) -> Reply {
    let mut b = String::from(
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"urn:z\">\
         <D:set><D:prop>",
    );
    for (name, len) in props {
        b.push_str(&format!("<Z:{name}>{}</Z:{name}>", "v".repeat(*len)));
    }
    b.push_str("</D:prop></D:set></D:propertyupdate>");
    with_body(s, A, "PROPPATCH", "/dav/x.txt", b.as_bytes())
}

/// Every property of x.txt, as PROPFIND allprop lists them.
fn all_props(s: &Server) -> String {
    propfind(
        A,
        &s.url("/dav/x.txt"),
        "0",
        Some("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>"),
    )
    .text()
}

#[test]
fn dead_properties_are_limited_in_size_and_count() {
    let s = setup();
    // a 5,000-byte value: 507 in the multistatus, and nothing of the patch stored
    let r = proppatch(&s, &[("small".into(), 10), ("big".into(), 5000)]);
    assert_eq!(r.status, 207);
    assert!(r.text().contains("507"), "{}", r.text());
    assert!(r.text().contains("424"), "{}", r.text());
    assert!(!all_props(&s).contains("small"), "{}", all_props(&s));
    // 100 properties fit (in two patches), the 101st does not
    let batch = |from: usize| {
        (from..from + 50)
            .map(|i| (format!("p{i}"), 100))
            .collect::<Vec<_>>()
    };
    for from in [0, 50] {
        let r = proppatch(&s, &batch(from));
        assert_eq!(r.status, 207);
        assert!(!r.text().contains("507"), "{}", r.text());
    }
    assert!(all_props(&s).contains("p99"));
    let r = proppatch(&s, &[("one_more".into(), 1)]);
    assert!(r.text().contains("507"), "{}", r.text());
    assert!(!all_props(&s).contains("one_more"));
    // replacing an existing one still works
    let r = proppatch(&s, &[("p0".into(), 4000)]);
    assert!(!r.text().contains("507"), "{}", r.text());
    still_serving(&s);
}

#[test]
fn a_user_holds_a_bounded_number_of_locks() {
    let s = setup();
    // 999 locks on new files over one connection (curl reuses it for every URL), then one
    // more whose token we keep: 1,000
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope>\
                <D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    let urls: Vec<String> = (0..999).map(|i| s.url(&format!("/dav/l{i}.txt"))).collect();
    let out = std::process::Command::new("curl")
        .args(["-s", "-u", A, "-X", "LOCK", "--data-binary", body])
        .args(["-w", "%{http_code}\\n"])
        .args(urls.iter().flat_map(|u| ["-o", "/dev/null", u.as_str()]))
        .output()
        .unwrap();
    let codes = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        codes.lines().filter(|c| *c == "201").count(),
        999,
        "{codes}"
    );
    let last = with_body(&s, A, "LOCK", "/dav/x.txt", body.as_bytes());
    assert_eq!(last.status, 200);
    let token = last.header("lock-token").unwrap();
    // the next new lock is refused; refreshing a held one still works
    let r = with_body(&s, A, "LOCK", "/dav/new.txt", body.as_bytes());
    assert_eq!(r.status, 507, "{}", r.text());
    let refresh = format!("If: ({token})");
    assert_eq!(
        req(&s, A, "LOCK", "/dav/x.txt", &["-H", &refresh]).status,
        200
    );
    // releasing one makes room again
    let unlock = format!("Lock-Token: {token}");
    assert_eq!(
        req(&s, A, "UNLOCK", "/dav/x.txt", &["-H", &unlock]).status,
        204
    );
    let r = with_body(&s, A, "LOCK", "/dav/new.txt", body.as_bytes());
    assert_eq!(r.status, 201);
    still_serving(&s);
}

#[test]
fn a_malformed_chunked_body_is_400_not_502_and_stores_nothing() {
    use std::io::{Read, Write};
    let s = setup();
    let basic = {
        let out = std::process::Command::new("sh")
            .args(["-c", "printf 'alice:alice-password' | base64 -w0"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let raw = format!(
        "PUT /dav/zz.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nmore\r\n0\r\n\r\n"
    );
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    c.write_all(raw.as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 400"), "{got:.300}");
    assert_eq!(req(&s, A, "GET", "/dav/zz.txt", &[]).status, 404);
    still_serving(&s);
}

#[test]
fn an_unterminated_if_header_is_400_not_a_panic() {
    let s = setup();
    for bad in ["*[", "<abc", "([\"x]"] {
        let h = format!("If: {bad}");
        let r = curl(
            &["-u", A, "-T", "-", "-H", &h, &s.url("/dav/x.txt")],
            Some(b"overwrite"),
        );
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(
        curl(&["-u", A, &s.url("/dav/x.txt")], None).body,
        b"version two",
        "nothing written"
    );
    still_serving(&s);
}

//! The WebDAV door against the real server with real clients: litmus (all 104 tests),
//! curl reproducing what Finder, Windows Explorer, davfs2 and sync clients send.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

fn admin() -> String {
    auth("admin", ADMIN_PW)
}

#[test]
fn litmus_passes_all_104_tests() {
    // litmus's props tests PROPFIND with Depth: infinity, which the server refuses unless
    // configured to answer it
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, "propfind_infinity = true\n").unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let (passed, failed, text) = litmus(&s.url("/dav/"), "admin", ADMIN_PW);
    assert_eq!((passed, failed), (104, 0), "litmus:\n{text}");
}

#[test]
fn sign_in_is_required_and_basic_challenged() {
    let s = Server::start();
    let r = curl(&[&s.url("/dav/")], None);
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );
    assert_eq!(
        curl(&["-u", "admin:wrong-password", &s.url("/dav/")], None).status,
        401
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &format!("WORKGROUP\\admin:{ADMIN_PW}"),
                "-X",
                "PROPFIND",
                &s.url("/dav/")
            ],
            None
        )
        .status,
        207
    );
    // discovery works before sign-in
    let o = curl(&["-X", "OPTIONS", &s.url("/dav/")], None);
    assert_eq!(o.status, 200);
    assert_eq!(o.header("dav").as_deref(), Some("1, 2"));
    assert_eq!(o.header("ms-author-via").as_deref(), Some("DAV"));
    assert_eq!(curl(&[&s.url("/healthz")], None).status, 200);
}

#[test]
fn put_get_ranges_etags_and_conditionals() {
    let s = Server::start();
    let a = admin();
    // five blocks of 256 KiB and a tail: the pipelined path, its blocks recycled
    let body: Vec<u8> = (0..1_300_000u32).map(|i| (i % 251) as u8).collect();
    // Finder style: chunked transfer encoding, no Content-Length
    let r = curl(
        &[
            "-u",
            &a,
            "-T",
            "-",
            "-H",
            "Transfer-Encoding: chunked",
            &s.url("/dav/f.bin"),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 201);
    let g = curl(&["-u", &a, &s.url("/dav/f.bin")], None);
    assert_eq!((g.status, g.body.len()), (200, body.len()));
    assert_eq!(g.body, body);
    assert_eq!(g.header("accept-ranges").as_deref(), Some("bytes"));
    let etag = g.header("etag").unwrap();
    let r = curl(
        &["-u", &a, "-H", "Range: bytes=10-19", &s.url("/dav/f.bin")],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (206, &body[10..20]));
    assert_eq!(
        r.header("content-range").as_deref(),
        Some("bytes 10-19/1300000")
    );
    let r = curl(
        &["-u", &a, "-H", "Range: bytes=-5", &s.url("/dav/f.bin")],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (206, &body[body.len() - 5..]));
    // a long range from the middle: one direct read, then the read-ahead from there
    let r = curl(
        &[
            "-u",
            &a,
            "-H",
            "Range: bytes=300001-1000000",
            &s.url("/dav/f.bin"),
        ],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (206, &body[300_001..1_000_001]));
    // two ranges: the second seeks away from a read-ahead in flight
    let r = curl(
        &[
            "-u",
            &a,
            "-H",
            "Range: bytes=0-599999,1200000-1200009",
            &s.url("/dav/f.bin"),
        ],
        None,
    );
    assert_eq!(r.status, 206);
    // each part: its Content-Range header, a blank line, then exactly its bytes
    let part = |range: &str, want: &[u8]| {
        let head = format!("Content-Range: bytes {range}/1300000");
        let at = r
            .body
            .windows(head.len())
            .position(|w| w.eq_ignore_ascii_case(head.as_bytes()))
            .unwrap_or_else(|| panic!("no part {range}"));
        let rest = &r.body[at..];
        let start = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4);
        let start =
            start.unwrap_or_else(|| rest.windows(2).position(|w| w == b"\n\n").unwrap() + 2);
        assert_eq!(&rest[start..start + want.len()], want, "part {range}");
    };
    part("0-599999", &body[..600_000]);
    part("1200000-1200009", &body[1_200_000..1_200_010]);
    let r = curl(
        &[
            "-u",
            &a,
            "-H",
            "Range: bytes=1299990-",
            &s.url("/dav/f.bin"),
        ],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (206, &body[1_299_990..]));
    assert_eq!(
        curl(
            &[
                "-u",
                &a,
                "-H",
                "Range: bytes=1400000-",
                &s.url("/dav/f.bin")
            ],
            None
        )
        .status,
        416
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &a,
                "-H",
                &format!("If-None-Match: {etag}"),
                &s.url("/dav/f.bin")
            ],
            None
        )
        .status,
        304
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &a,
                "-H",
                "If-Match: \"nope\"",
                "-T",
                "-",
                &s.url("/dav/f.bin")
            ],
            Some(b"x")
        )
        .status,
        412
    );
    // a new content gets a new ETag; the old version stays readable at ?version=1
    assert!(matches!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/f.bin")],
            Some(b"new content")
        )
        .status,
        200 | 201 | 204
    ));
    let g2 = curl(&["-u", &a, &s.url("/dav/f.bin")], None);
    assert_eq!(g2.body, b"new content");
    assert_ne!(g2.header("etag").unwrap(), etag);
    let old = curl(&["-u", &a, &s.url("/dav/f.bin?version=1")], None);
    assert_eq!((old.status, old.body == body), (200, true));
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/f.bin?version=9")], None).status,
        404
    );
}

#[test]
fn sync_client_extensions() {
    let s = Server::start();
    let a = admin();
    let r = curl(
        &[
            "-u",
            &a,
            "-T",
            "-",
            "-H",
            "X-OC-Mtime: 1700000000",
            &s.url("/dav/m.txt"),
        ],
        Some(b"mtime"),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-oc-mtime").as_deref(), Some("accepted"));
    let body = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:getlastmodified/><d:getetag/><oc:fileid/><oc:checksums/><d:quota-used-bytes/></d:prop></d:propfind>"#;
    let p = propfind(&a, &s.url("/dav/m.txt"), "0", Some(body));
    assert_eq!(p.status, 207);
    let t = p.text();
    assert!(t.contains("Tue, 14 Nov 2023 22:13:20 GMT"), "{t}");
    assert!(t.contains("fileid>"), "{t}");
    assert!(t.contains("BLAKE3:"), "{t}");
    // getetag is the first 32 hex digits (128 bits) of the BLAKE3 that oc:checksums (and
    // REST) give in full, as docs/compat/webdav.md says
    let between = |a: &str, b: &str| {
        let from = t.find(a).map(|i| i + a.len()).unwrap();
        t[from..from + t[from..].find(b).unwrap()].to_owned()
    };
    let etag = between("getetag>", "</");
    let etag = etag
        .trim_matches(|c| c == '"' || c == ' ')
        .replace("&quot;", "");
    let full = between("BLAKE3:", "<");
    assert_eq!(full.len(), 64, "{t}");
    assert_eq!(etag.len(), 32, "{t}");
    assert_eq!(etag, full[..32], "{t}");
    let q = propfind(&a, &s.url("/dav/"), "0", Some(body));
    assert!(q.text().contains("quota-used-bytes>5<"), "{}", q.text());
    // Depth: infinity is refused, not answered with a whole tree
    let inf = propfind(&a, &s.url("/dav/"), "infinity", None);
    assert_eq!(inf.status, 403);
    assert!(inf.text().contains("propfind-finite-depth"));
    // whatever the client says it is (litmus sends X-Litmus)
    let depth = "Depth: infinity";
    let dressed = curl(
        &[
            "-u",
            &a,
            "-X",
            "PROPFIND",
            "-H",
            depth,
            "-H",
            "X-Litmus: props: 1 (x)",
            &s.url("/dav/"),
        ],
        None,
    );
    assert_eq!(dressed.status, 403);
}

#[test]
fn names_with_special_characters_round_trip() {
    let s = Server::start();
    let a = admin();
    for (enc, name) in [
        ("a%20b%25c%23d%3Fe%2Bf.txt", "a b%c#d?e+f.txt"),
        ("%F0%9F%98%80%20emoji.txt", "\u{1F600} emoji.txt"),
        ("cafe%CC%81.txt", "cafe\u{301}.txt"),
    ] {
        assert_eq!(
            curl(
                &["-u", &a, "-T", "-", &s.url(&format!("/dav/{enc}"))],
                Some(name.as_bytes())
            )
            .status,
            201,
            "{name}"
        );
        let g = curl(&["-u", &a, &s.url(&format!("/dav/{enc}"))], None);
        assert_eq!((g.status, g.text()), (200, name.to_owned()));
    }
    let list = propfind(&a, &s.url("/dav/"), "1", None).text();
    assert!(
        list.contains("<D:href>/dav/a%20b%25c%23d%3Fe%2Bf.txt</D:href>"),
        "{list}"
    );
    // NFD and NFC spellings name the same file
    let g = curl(&["-u", &a, &s.url("/dav/caf%C3%A9.txt")], None);
    assert_eq!(g.status, 200);
}

#[test]
fn https_directly_with_a_certificate() {
    let t = tempfile::tempdir().unwrap();
    let (cert, key) = (t.path().join("c.pem"), t.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
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
    let url = format!("https://{}/dav/", s.addr);
    let r = curl(
        &[
            "-k",
            "-u",
            &admin(),
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 0",
            &url,
        ],
        None,
    );
    assert_eq!(r.status, 207);
    assert_eq!(
        curl(
            &["-k", "-u", &admin(), "-T", "-", &format!("{url}tls.txt")],
            Some(b"over tls")
        )
        .status,
        201
    );
    assert_eq!(
        curl(&["-k", "-u", &admin(), &format!("{url}tls.txt")], None).body,
        b"over tls"
    );
    assert_eq!(
        curl(&[&format!("http://{}/dav/", s.addr)], None).status,
        0,
        "no plain HTTP on a TLS listener"
    );
}

#[test]
fn sigterm_stops_gracefully_with_exit_0() {
    let mut s = Server::start();
    assert_eq!(
        curl(&["-u", &admin(), "-T", "-", &s.url("/dav/x")], Some(b"x")).status,
        201
    );
    let pid = s.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // the store is closed cleanly: offline commands can open it
    let out = std::process::Command::new(bin())
        .args(["fsck", "--data", s.data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A PROPFIND's responses as (href, the response's XML), from a multistatus body.
fn responses(body: &str) -> Vec<(String, String)> {
    body.split("<D:response>")
        .skip(1)
        .map(|r| {
            let href = r.split_once("<D:href>").map_or("", |(_, h)| h);
            let href = href.split_once("</D:href>").map_or("", |(h, _)| h);
            (href.to_owned(), r.to_owned())
        })
        .collect()
}

#[test]
fn a_listing_shows_each_entrys_own_dead_properties_and_locks() {
    let s = Server::start();
    let a = admin();
    let mkcol = |p: &str| curl(&["-u", &a, "-X", "MKCOL", &s.url(p)], None).status;
    assert_eq!(mkcol("/dav/d"), 201);
    assert_eq!(mkcol("/dav/d/sub"), 201);
    for (name, body) in [
        ("d/a", b"aaa"),
        ("d/b", b"bbb"),
        ("d/c", b"ccc"),
        ("x", b"xxx"),
    ] {
        put(&s, name, body);
    }
    let patch = |p: &str, colour: &str| {
        let body = format!(
            "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" xmlns:x=\"urn:t\">\
             <D:set><D:prop><x:colour>{colour}</x:colour></D:prop></D:set></D:propertyupdate>"
        );
        let r = curl(
            &[
                "-u",
                &a,
                "-X",
                "PROPPATCH",
                "--data-binary",
                &body,
                &s.url(p),
            ],
            None,
        );
        assert_eq!(r.status, 207);
    };
    patch("/dav/d/a", "red");
    patch("/dav/d/sub", "blue");
    patch("/dav/x", "green"); // outside the folder listed
    let lockinfo = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope>\
        <D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    let lock = curl(
        &[
            "-u",
            &a,
            "-X",
            "LOCK",
            "--data-binary",
            lockinfo,
            &s.url("/dav/d/b"),
        ],
        None,
    );
    assert_eq!(lock.status, 200);
    let token = lock.header("lock-token").unwrap();
    let token = token.trim_matches(['<', '>', ' ']);
    // allprop: every entry with its own properties and locks, nobody else's
    let want = |r: &[(String, String)], colour_of_a: &str, locks: bool| {
        assert_eq!(r.len(), 5, "the folder and its four entries");
        for (href, xml) in r {
            let mine = match href.trim_end_matches('/') {
                "/dav/d/a" => Some(colour_of_a),
                "/dav/d/sub" => Some("blue"),
                _ => None,
            };
            for c in ["red", "amber", "blue", "green"] {
                let shown = xml.contains(&format!(">{c}<"));
                assert_eq!(shown, mine == Some(c), "{href} and {c}: {xml}");
            }
            let locked = locks && href == "/dav/d/b";
            assert_eq!(xml.contains(token), locked, "{href}: {xml}");
        }
    };
    let p = propfind(&a, &s.url("/dav/d/"), "1", None);
    assert_eq!(p.status, 207);
    want(&responses(&p.text()), "red", true);
    // named properties: the dead one where it is set (404 elsewhere), and the live ones of
    // each entry (its own id, its own content's checksum)
    let named = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\" xmlns:x=\"urn:t\" \
        xmlns:oc=\"http://owncloud.org/ns\"><D:prop><x:colour/><oc:fileid/><oc:checksums/>\
        </D:prop></D:propfind>";
    let p = propfind(&a, &s.url("/dav/d/"), "1", Some(named));
    assert_eq!(p.status, 207);
    let r = responses(&p.text());
    want(&r, "red", false);
    let ids: std::collections::HashSet<&str> = r
        .iter()
        .map(|(_, x)| x.split_once("fileid").unwrap().1.split('<').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "a file id of its own each: {r:?}");
    let sums: std::collections::HashSet<&str> = r
        .iter()
        .filter_map(|(_, x)| x.split_once("BLAKE3:").map(|s| &s.1[..64]))
        .collect();
    assert_eq!(sums.len(), 3, "three files, three contents: {r:?}");
    // a change between two requests is seen by the second (nothing kept across requests)
    patch("/dav/d/a", "amber");
    let p = propfind(&a, &s.url("/dav/d/"), "1", None);
    want(&responses(&p.text()), "amber", true);
    let unlock = curl(
        &[
            "-u",
            &a,
            "-X",
            "UNLOCK",
            "-H",
            &format!("Lock-Token: <{token}>"),
            &s.url("/dav/d/b"),
        ],
        None,
    );
    assert_eq!(unlock.status, 204);
    let p = propfind(&a, &s.url("/dav/d/"), "1", None);
    assert!(!p.text().contains(token), "{}", p.text());
}

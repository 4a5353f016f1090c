//! Files over the REST door: streamed upload and download (ranges, ETags, bounded memory),
//! quota and read-only accounts, paging, the namespace, the trash, versions and path rules.

use super::*;
use std::io::Write;

#[test]
fn streamed_upload_downloads_byte_exact_with_ranges_and_etags() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let data = content(9 << 20, 1);
    let up = upload(&s, &t, "/big/data.bin", &data);
    assert_eq!(up.status, 201, "{}", up.text());
    assert_eq!(json(&up)["size"], data.len());
    let full = download(&s, &t, "/big/data.bin", &[]);
    assert_eq!(full.status, 200);
    assert!(full.body == data, "download differs from upload");
    let etag = full.header("etag").unwrap();
    assert!(
        full.header("content-disposition")
            .unwrap()
            .contains("data.bin")
    );
    let part = download(&s, &t, "/big/data.bin", &["-H", "Range: bytes=1000-1999"]);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range").unwrap(),
        format!("bytes 1000-1999/{}", data.len())
    );
    assert!(part.body == data[1000..2000]);
    let tail = download(&s, &t, "/big/data.bin", &["-H", "Range: bytes=-10"]);
    assert_eq!(
        (tail.status, &tail.body[..]),
        (206, &data[data.len() - 10..])
    );
    let past = format!("Range: bytes={}-", data.len());
    assert_error(
        &download(&s, &t, "/big/data.bin", &["-H", &past]),
        416,
        "range_not_satisfiable",
    );
    let inm = format!("If-None-Match: {etag}");
    let cached = download(&s, &t, "/big/data.bin", &["-H", &inm]);
    assert_eq!((cached.status, cached.body.len()), (304, 0));
    let wrong_match = download(&s, &t, "/big/data.bin", &["-H", "If-Match: \"nope\""]);
    assert_error(&wrong_match, 412, "precondition_failed");
    // a new version answers 200 and keeps its Content-Type
    let url = s.url("/api/v1/upload/big/data.bin");
    let typed = [
        "-H",
        &bearer(&t),
        "-H",
        "Content-Type: text/plain",
        "-T",
        "-",
        &url,
    ];
    assert_eq!(curl(&typed, Some(b"small")).status, 200);
    let small = download(&s, &t, "/big/data.bin", &[]);
    assert_eq!(small.header("content-type").as_deref(), Some("text/plain"));
    assert_error(&download(&s, &t, "/big/nope", &[]), 404, "not_found");
    assert_error(&download(&s, &t, "/big", &[]), 409, "is_a_folder");
}

#[test]
fn an_upload_that_breaks_off_keeps_the_old_version() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(upload(&s, &t, "/f.bin", b"old content").status, 201);
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "PUT /api/v1/upload/f.bin HTTP/1.1\r\nHost: x\r\n{}\r\nContent-Length: 1000000\r\n\r\n",
        bearer(&t)
    )
    .unwrap();
    c.write_all(&[1u8; 300_000]).unwrap();
    drop(c); // 700,000 bytes short
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(download(&s, &t, "/f.bin", &[]).body, b"old content");
    let versions = json(&get(&s, &t, "/api/v1/versions/f.bin"));
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        1,
        "{versions}"
    );
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[test]
fn a_large_upload_and_download_stream_in_bounded_memory() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let data = content(256 << 20, 9);
    let before = peak_rss(s.child.id());
    assert_eq!(upload(&s, &t, "/huge.bin", &data).status, 201);
    let down = download(&s, &t, "/huge.bin", &[]);
    assert!(down.body == data, "256 MiB round trip differs");
    let grown = peak_rss(s.child.id()).saturating_sub(before);
    eprintln!("server peak RSS grew by {} MiB", grown >> 20);
    assert!(
        grown < 96 << 20,
        "a 256 MiB body must not be held in memory: +{grown} bytes"
    );
}

#[test]
fn quota_and_read_only_accounts_are_enforced_on_upload() {
    let s = Server::start();
    s.add_user("ro", "readonly-pw", &["--role", "readonly"]);
    s.add_user("small", "small-pw", &["--quota", "1K"]);
    let (ro, _) = login(&s, "ro", "readonly-pw");
    assert_error(&upload(&s, &ro, "/f", b"data"), 403, "forbidden");
    assert_error(
        &post(&s, Some(&ro), "/api/v1/mkdir/d", ""),
        403,
        "forbidden",
    );
    assert_eq!(
        get(&s, &ro, "/api/v1/files").status,
        200,
        "reading is allowed"
    );
    let (small, _) = login(&s, "small", "small-pw");
    assert_error(
        &upload(&s, &small, "/f", &[0u8; 5000]),
        507,
        "quota_exceeded",
    );
    assert_error(&get(&s, &small, "/api/v1/stat/f"), 404, "not_found");
    assert_eq!(upload(&s, &small, "/f", &[0u8; 500]).status, 201);
    // bodies past one block (256 KiB) stream to the writer: the same rules
    s.add_user("mid", "mid-password", &["--quota", "1M"]);
    let (mid, _) = login(&s, "mid", "mid-password");
    let big = content(2 << 20, 7);
    assert_error(&upload(&s, &mid, "/big", &big), 507, "quota_exceeded");
    assert_error(&get(&s, &mid, "/api/v1/stat/big"), 404, "not_found");
    let fits = &big[..600 << 10];
    assert_eq!(upload(&s, &mid, "/big", fits).status, 201);
    let back = download(&s, &mid, "/big", &[]);
    assert_eq!((back.status, back.body.as_slice()), (200, fits));
    assert_error(&upload(&s, &ro, "/big", fits), 403, "forbidden");
}

#[test]
fn listing_pages_with_a_cursor_return_every_entry_once() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(post(&s, Some(&t), "/api/v1/mkdir/many", "").status, 201);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"x").unwrap();
    // one curl process, one connection, 250 uploads
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-H", &bearer(&t)]);
    for i in 0..250 {
        cmd.arg("-T")
            .arg(&f)
            .arg(s.url(&format!("/api/v1/upload/many/f{i:03}")));
    }
    let status = cmd.stdout(std::process::Stdio::null()).status().unwrap();
    assert!(status.success());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/files/many?limit=100&cursor={c}"),
            None => "/api/v1/files/many?limit=100".to_owned(),
        };
        let v = json(&get(&s, &t, &q));
        pages += 1;
        let entries = v["entries"].as_array().unwrap();
        assert!(entries.len() <= 100);
        seen.extend(
            entries
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..250).map(|i| format!("f{i:03}")).collect();
    assert_eq!(seen, want, "every entry exactly once, in name order");
    // sorting by size, descending, pages too
    for (name, len) in [("a", 3), ("b", 1), ("c", 2)] {
        upload(&s, &t, &format!("/sized/{name}"), &vec![0u8; len]);
    }
    let p1 = json(&get(
        &s,
        &t,
        "/api/v1/files/sized?sort=size&order=desc&limit=2",
    ));
    let names = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&p1), ["a", "c"]);
    let c = p1["next_cursor"].as_str().unwrap();
    let p2 = json(&get(
        &s,
        &t,
        &format!("/api/v1/files/sized?sort=size&order=desc&limit=2&cursor={c}"),
    ));
    assert_eq!(names(&p2), ["b"]);
    assert!(p2["next_cursor"].is_null());
    assert_error(
        &get(&s, &t, "/api/v1/files/sized?sort=colour"),
        400,
        "bad_request",
    );
    // a file's GET is its metadata
    let f = json(&get(&s, &t, "/api/v1/files/sized/a"));
    assert_eq!(
        (f["kind"].as_str(), f["size"].as_u64()),
        (Some("file"), Some(3))
    );
}

#[test]
fn mkdir_move_copy_delete_and_the_trash() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(post(&s, Some(&t), "/api/v1/mkdir/docs", "").status, 201);
    assert_error(
        &post(&s, Some(&t), "/api/v1/mkdir/docs", ""),
        409,
        "already_exists",
    );
    assert_eq!(
        post(&s, Some(&t), "/api/v1/mkdir/x/y/z?parents=true", "").status,
        201
    );
    assert_eq!(upload(&s, &t, "/docs/a.txt", b"alpha").status, 201);
    let copy = r#"{"from":"/docs/a.txt","to":"/docs/b.txt"}"#;
    assert_eq!(post(&s, Some(&t), "/api/v1/copy", copy).status, 200);
    assert_error(
        &post(&s, Some(&t), "/api/v1/copy", copy),
        409,
        "already_exists",
    );
    let over = r#"{"from":"/docs/a.txt","to":"/docs/b.txt","overwrite":true}"#;
    assert_eq!(post(&s, Some(&t), "/api/v1/copy", over).status, 200);
    let mv = r#"{"from":"/docs/b.txt","to":"/c.txt"}"#;
    let moved = post(&s, Some(&t), "/api/v1/move", mv);
    assert_eq!(json(&moved)["path"], "/c.txt");
    assert_error(&get(&s, &t, "/api/v1/stat/docs/b.txt"), 404, "not_found");
    assert_eq!(download(&s, &t, "/c.txt", &[]).body, b"alpha");
    // delete → trash
    let d1 = json(&send(&s, &t, "DELETE", "/api/v1/files/c.txt"));
    let d2 = json(&send(&s, &t, "DELETE", "/api/v1/files/docs"));
    assert_eq!(d2["kind"], "folder");
    assert_error(&get(&s, &t, "/api/v1/stat/docs/a.txt"), 404, "not_found");
    let list = |q: &str| {
        json(&get(&s, &t, &format!("/api/v1/trash{q}")))["entries"]
            .as_array()
            .unwrap()
            .clone()
    };
    // the copy with overwrite sent the old /docs/b.txt to the trash too
    assert_eq!(list("").len(), 3);
    let in_docs = list("?path_prefix=/docs");
    assert_eq!(in_docs.len(), 2, "{in_docs:?}");
    assert!(list("?since=4000000000").is_empty());
    assert_eq!(list("?until=4000000000").len(), 3);
    let restore = format!(r#"{{"ids":[{}]}}"#, d2["id"]);
    let r = post(&s, Some(&t), "/api/v1/trash/restore", &restore);
    assert_eq!(json(&r)["restored"][0]["path"], "/docs", "{}", r.text());
    assert_eq!(download(&s, &t, "/docs/a.txt", &[]).body, b"alpha");
    let to = format!(r#"{{"ids":[{}],"to":"/docs/c-again.txt"}}"#, d1["id"]);
    assert_eq!(post(&s, Some(&t), "/api/v1/trash/restore", &to).status, 200);
    assert_eq!(download(&s, &t, "/docs/c-again.txt", &[]).body, b"alpha");
    let left = list("");
    assert_eq!(left.len(), 1);
    let one = format!("/api/v1/trash/{}", left[0]["id"]);
    assert_eq!(send(&s, &t, "DELETE", &one).status, 204);
    assert_error(&send(&s, &t, "DELETE", &one), 404, "not_found");
    send(&s, &t, "DELETE", "/api/v1/files/x");
    let purged = json(&send(&s, &t, "DELETE", "/api/v1/trash"));
    assert_eq!(purged["purged"], 1);
    assert!(list("").is_empty());
}

#[test]
fn versions_list_download_restore_and_delete() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let (v1, v2) = (content(300_000, 2), content(200_000, 3));
    upload(&s, &t, "/f.bin", &v1);
    let second = json(&upload(&s, &t, "/f.bin", &v2));
    let vs = json(&get(&s, &t, "/api/v1/versions/f.bin"));
    let list = vs["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["version"].as_u64(), list[0]["size"].as_u64()),
        (Some(1), Some(300_000))
    );
    assert_eq!(list[1]["hash"], second["hash"]);
    assert_eq!(list[1]["hash"].as_str().unwrap().len(), 64);
    assert!(list[0]["created"].as_i64().unwrap() > 1_600_000_000);
    let old = download(&s, &t, "/f.bin?version=1", &[]);
    assert_eq!(old.status, 200);
    assert!(old.body == v1, "old version differs");
    assert_error(&download(&s, &t, "/f.bin?version=9", &[]), 404, "not_found");
    let r = post(
        &s,
        Some(&t),
        "/api/v1/versions/f.bin/restore",
        r#"{"version":1}"#,
    );
    assert_eq!(json(&r)["version"], 3, "{}", r.text());
    assert!(download(&s, &t, "/f.bin", &[]).body == v1);
    assert_eq!(
        send(&s, &t, "DELETE", "/api/v1/versions/f.bin?version=2").status,
        204
    );
    let nums: Vec<u64> = json(&get(&s, &t, "/api/v1/versions/f.bin"))["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, [1, 3]);
}

#[test]
fn path_traversal_is_refused_with_400() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    for p in [
        "/api/v1/files/../etc",
        "/api/v1/files/%2e%2e/etc",
        "/api/v1/files/a/%2E%2E/b",
        "/api/v1/download/a/..",
        "/api/v1/files/a%2fb",
        "/api/v1/files/a//b",
        "/api/v1/stat/%00",
    ] {
        assert_error(&get(&s, &t, p), 400, "invalid_path");
    }
    assert_error(&upload(&s, &t, "/%2e%2e/x", b"x"), 400, "invalid_path");
    let mv = r#"{"from":"/a","to":"../b"}"#;
    assert_error(&post(&s, Some(&t), "/api/v1/move", mv), 400, "invalid_path");
}

#[test]
fn conditional_uploads_and_client_mtimes() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let url = s.url("/api/v1/upload/c.txt");
    let b = bearer(&t);
    let put = |extra: &[&str], data: &[u8]| {
        let mut args = vec!["-H", b.as_str()];
        args.extend_from_slice(extra);
        args.extend(["-T", "-", url.as_str()]);
        curl(&args, Some(data))
    };
    let create_only = ["-H", "If-None-Match: *", "-H", "X-Nas-Mtime: 1000000000"];
    let first = put(&create_only, b"one");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(json(&first)["mtime"], 1_000_000_000);
    assert_error(&put(&create_only, b"two"), 412, "precondition_failed");
    let etag = format!("If-Match: \"{}\"", json(&first)["hash"].as_str().unwrap());
    assert_eq!(put(&["-H", &etag], b"two").status, 200);
    assert_error(&put(&["-H", &etag], b"three"), 412, "precondition_failed");
    assert_eq!(download(&s, &t, "/c.txt", &[]).body, b"two");
    assert_error(&put(&["-H", "X-Nas-Mtime: soon"], b"x"), 400, "bad_request");
}

/// A folder of 10,050 files (more than a sorted listing could hold before keyset paging)
/// lists by size descending and by mtime ascending, 1,000 per page: every file once, in
/// order.
#[test]
fn large_folders_list_in_every_order() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let mut s = Server::start_on(&data);
    s.add_user("alice", "alice-password", &[]);
    s.kill9();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    const N: usize = 10_050;
    for i in 0..N {
        // sizes 0..=49 with many ties; names unrelated to sizes
        std::fs::write(
            src.join(format!("n{:05}", (i * 7919) % N)),
            vec![b'x'; i % 50],
        )
        .unwrap();
    }
    nas_ok(&[
        "import".as_ref(),
        "-q".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--home".as_ref(),
        "alice".as_ref(),
        src.as_os_str(),
    ]);
    let s = Server::start_on(&data);
    let (t, _) = login(&s, "alice", "alice-password");
    for (q, key) in [("sort=size&order=desc", "size"), ("sort=mtime", "mtime")] {
        let mut seen: Vec<(i64, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let c = cursor
                .as_deref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let r = get(&s, &t, &format!("/api/v1/files?{q}&limit=1000{c}"));
            assert_eq!(r.status, 200, "{}", r.text());
            let v = json(&r);
            pages += 1;
            for e in v["entries"].as_array().unwrap() {
                seen.push((
                    e[key].as_i64().unwrap(),
                    e["name"].as_str().unwrap().to_owned(),
                ));
            }
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!((seen.len(), pages), (N, 11), "{q}");
        let mut want = seen.clone();
        if key == "size" {
            want.sort();
            want.reverse();
            assert_eq!(seen, want, "{q}: by size, then name, descending");
        } else {
            // the JSON has seconds; the order is by nanoseconds, then name
            assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{q}: by mtime");
        }
        let names: std::collections::HashSet<_> = seen.iter().map(|e| &e.1).collect();
        assert_eq!(names.len(), N, "{q}: every name once");
    }
    // a cursor of one order is refused by another
    let v = json(&get(&s, &t, "/api/v1/files?sort=size&limit=5"));
    let c = v["next_cursor"].as_str().unwrap();
    assert_error(
        &get(&s, &t, &format!("/api/v1/files?limit=5&cursor={c}")),
        400,
        "bad_request",
    );
}

#[test]
fn copy_and_move_between_a_folder_and_its_inside_are_conflicts() {
    // the one rule of every door (WebDAV answers the same cases 403): into itself, onto
    // itself, or onto a folder containing the source (the overwrite would trash the source)
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(
        post(&s, Some(&t), "/api/v1/mkdir/k/l?parents=true", "").status,
        201
    );
    assert_eq!(upload(&s, &t, "/k/l/f.txt", b"keep me").status, 201);
    assert_eq!(upload(&s, &t, "/k/g.txt", b"sibling").status, 201);
    for (op, from, to, says) in [
        ("copy", "/k", "/k/l/in", "into itself"),
        ("move", "/k", "/k/l/in", "into itself"),
        ("copy", "/k", "/k", "onto itself"),
        ("move", "/k", "/k", "onto itself"),
        ("copy", "/k/l", "/k", "which contains it"),
        ("move", "/k/l", "/k", "which contains it"),
    ] {
        for overwrite in [false, true] {
            let body = serde_json::json!({"from": from, "to": to, "overwrite": overwrite});
            let r = post(&s, Some(&t), &format!("/api/v1/{op}"), &body.to_string());
            assert_error(&r, 409, "conflict");
            let msg = json(&r)["error"]["message"].as_str().unwrap().to_owned();
            assert!(
                msg.contains(says) && msg.contains(from),
                "{op} {from} to {to}: {msg}"
            );
        }
    }
    // nothing moved, nothing went to the trash
    assert_eq!(download(&s, &t, "/k/l/f.txt", &[]).body, b"keep me");
    assert_eq!(download(&s, &t, "/k/g.txt", &[]).body, b"sibling");
    assert_eq!(get(&s, &t, "/api/v1/files/k/l/in").status, 404);
    let trash = get(&s, &t, "/api/v1/trash");
    assert_eq!(trash.status, 200, "{}", trash.text());
    assert!(!trash.text().contains("f.txt"), "{}", trash.text());
    // a sibling is fine
    let ok = r#"{"from":"/k","to":"/k2"}"#;
    assert_eq!(post(&s, Some(&t), "/api/v1/copy", ok).status, 200);
    assert_eq!(download(&s, &t, "/k2/l/f.txt", &[]).body, b"keep me");
}

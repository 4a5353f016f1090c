//! Client sequences that broke other servers, replayed with curl against the real server:
//! the Windows Explorer copy, davfs2's LOCK on a missing path, macOS metadata noise — and a
//! kill -9 of the server during concurrent uploads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn admin() -> String {
    auth("admin", ADMIN_PW)
}

/// Per path: the content of the last PUT that got a 2xx, and of the one in flight.
type Uploads = HashMap<String, (Vec<u8>, Option<Vec<u8>>)>;

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>test</D:href></D:owner></D:lockinfo>"#;

fn win32_times(date: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>{date}</Z:Win32CreationTime><Z:Win32LastAccessTime>{date}</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>{date}</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#
    )
}

#[test]
fn windows_explorer_copy_sequence() {
    let s = Server::start();
    let a = admin();
    let url = s.url("/dav/report.docx");
    assert_eq!(propfind(&a, &url, "0", None).status, 404);
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"")).status, 201); // 0-byte placeholder
    let lock = curl(
        &[
            "-u",
            &a,
            "-X",
            "LOCK",
            "-H",
            "Timeout: Second-3600",
            "--data-binary",
            LOCKINFO,
            &url,
        ],
        None,
    );
    assert_eq!(lock.status, 200);
    let token = lock.header("lock-token").unwrap();
    let date = "Tue, 14 Nov 2023 22:13:20 GMT";
    let pp = curl(
        &[
            "-u",
            &a,
            "-X",
            "PROPPATCH",
            "-H",
            &format!("If: ({token})"),
            "--data-binary",
            &win32_times(date),
            &url,
        ],
        None,
    );
    assert_eq!(pp.status, 207, "{}", pp.text());
    assert!(
        !pp.text().contains("403"),
        "Win32 props accepted: {}",
        pp.text()
    );
    assert_eq!(curl(&["-u", &a, "-I", &url], None).status, 200);
    // without the token the locked file cannot be written
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &url], Some(b"intruder")).status,
        423
    );
    let body = vec![7u8; 100_000];
    let put = curl(
        &["-u", &a, "-T", "-", "-H", &format!("If: ({token})"), &url],
        Some(&body),
    );
    assert_eq!(put.status, 204);
    assert_eq!(
        curl(
            &[
                "-u",
                &a,
                "-X",
                "PROPPATCH",
                "-H",
                &format!("If: ({token})"),
                "--data-binary",
                &win32_times(date),
                &url
            ],
            None
        )
        .status,
        207
    );
    assert_eq!(
        curl(
            &[
                "-u",
                &a,
                "-X",
                "UNLOCK",
                "-H",
                &format!("Lock-Token: {token}"),
                &url
            ],
            None
        )
        .status,
        204
    );
    let g = curl(&["-u", &a, &url], None);
    assert_eq!(g.body, body);
    assert_eq!(
        g.header("last-modified").as_deref(),
        Some(date),
        "Win32LastModifiedTime applied as mtime"
    );
    // the 0-byte placeholder did not become a version
    assert_eq!(
        curl(&["-u", &a, &format!("{url}?version=1")], None).status,
        404
    );
    assert_eq!(
        curl(&["-u", &a, &format!("{url}?version=2")], None).body,
        body
    );
}

#[test]
fn davfs2_lock_on_a_missing_path_creates_an_empty_locked_file() {
    let s = Server::start();
    let a = admin();
    let url = s.url("/dav/new.txt");
    let lock = curl(
        &["-u", &a, "-X", "LOCK", "--data-binary", LOCKINFO, &url],
        None,
    );
    assert_eq!(lock.status, 201);
    let token = lock.header("lock-token").unwrap();
    let g = curl(&["-u", &a, &url], None);
    assert_eq!((g.status, g.body.len()), (200, 0));
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &url], Some(b"no token")).status,
        423
    );
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", "-H", &format!("If: ({token})"), &url],
            Some(b"content")
        )
        .status,
        204
    );
    assert_eq!(curl(&["-u", &a, &url], None).body, b"content");
}

#[test]
fn macos_metadata_is_answered_cheaply_and_not_stored() {
    let s = Server::start();
    let a = admin();
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/._photo.jpg")],
            Some(b"resource fork")
        )
        .status,
        201
    );
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/.DS_Store")],
            Some(b"finder")
        )
        .status,
        201
    );
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/._photo.jpg")], None).status,
        404
    );
    assert_eq!(
        curl(
            &["-u", &a, "-X", "PROPFIND", &s.url("/dav/.DS_Store")],
            None
        )
        .status,
        404
    );
    let list = propfind(&a, &s.url("/dav/"), "1", None).text();
    assert!(
        !list.contains("DS_Store") && !list.contains("._photo"),
        "{list}"
    );
}

#[test]
fn kill_9_during_concurrent_puts_keeps_every_acknowledged_upload() {
    let mut s = Server::start();
    let a = admin();
    // per path: the content of the last PUT that got a 2xx, and of the one in flight
    let acked: Arc<Mutex<Uploads>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (acked, stop, a, base) = (acked.clone(), stop.clone(), a.clone(), s.url("/dav/"));
            std::thread::spawn(move || {
                let path = format!("w{w}.bin");
                for i in 0u32.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let body: Vec<u8> = (0..(50_000 + i * 7919 % 400_000))
                        .map(|j| ((j ^ i) % 253) as u8)
                        .collect();
                    acked
                        .lock()
                        .unwrap()
                        .entry(path.clone())
                        .or_insert((Vec::new(), None))
                        .1 = Some(body.clone());
                    let r = curl(
                        &["-u", &a, "-T", "-", &format!("{base}{path}")],
                        Some(&body),
                    );
                    let mut m = acked.lock().unwrap();
                    let e = m.get_mut(&path).unwrap();
                    if (200..300).contains(&r.status) {
                        *e = (body, None);
                    } else {
                        break; // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let data = s.data.clone();
    let s2 = Server::start_on(&data);
    let m = acked.lock().unwrap();
    assert!(
        m.values().filter(|(b, _)| !b.is_empty()).count() >= 3,
        "uploads were acknowledged before the kill"
    );
    for (path, (last, in_flight)) in m.iter() {
        let g = curl(&["-u", &a, &s2.url(&format!("/dav/{path}"))], None);
        if last.is_empty() {
            assert!(
                g.status == 404 || in_flight.as_ref() == Some(&g.body),
                "{path}: {}",
                g.status
            );
            continue;
        }
        assert_eq!(g.status, 200, "{path}");
        assert!(
            g.body == *last || in_flight.as_ref() == Some(&g.body),
            "{path}: neither the acknowledged nor the in-flight content ({} bytes)",
            g.body.len()
        );
    }
    drop(s2);
    let out = std::process::Command::new(bin())
        .args(["fsck", "--verify-data", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsck after the crash: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn locks_survive_a_restart_and_an_admin_can_break_them() {
    let mut s = Server::start();
    let a = admin();
    let url = s.url("/dav/held.txt");
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"v1")).status, 201);
    let lock = curl(
        &[
            "-u",
            &a,
            "-X",
            "LOCK",
            "-H",
            "Timeout: Second-600",
            "--data-binary",
            LOCKINFO,
            &url,
        ],
        None,
    );
    assert_eq!(lock.status, 200);
    assert!(lock.text().contains("Second-600"), "{}", lock.text());
    let token = lock.header("lock-token").unwrap();
    s.kill9();
    let data = s.data.clone();
    let s = Server::start_on(&data);
    let url = s.url("/dav/held.txt");
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &url], Some(b"v2")).status,
        423,
        "the lock outlived the crash (within its timeout)"
    );
    let list = std::process::Command::new(bin())
        .args(["locks", "list", "--json", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["path"], "/held.txt");
    let bare = token.trim_matches(['<', '>']);
    let out = std::process::Command::new(bin())
        .args(["locks", "break", bare, "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &url], Some(b"v2")).status,
        204,
        "broken at once, no restart"
    );
}

#[test]
fn locks_expire_by_their_timeout() {
    let s = Server::start();
    let a = admin();
    let url = s.url("/dav/brief.txt");
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"x")).status, 201);
    let lock = curl(
        &[
            "-u",
            &a,
            "-X",
            "LOCK",
            "-H",
            "Timeout: Second-1",
            "--data-binary",
            LOCKINFO,
            &url,
        ],
        None,
    );
    assert_eq!(lock.status, 200);
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"y")).status, 423);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &url], Some(b"y")).status,
        204,
        "an expired lock does not block"
    );
}

#[test]
fn an_interrupted_upload_leaves_the_old_version() {
    use std::io::{Read, Write};
    let s = Server::start();
    let a = admin();
    let url = s.url("/dav/doc.bin");
    let old = vec![1u8; 200_000];
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(&old)).status, 201);
    // a client that announces 5 MB, sends 1 MB and goes away
    let mut sock = std::net::TcpStream::connect(&s.addr).unwrap();
    let creds = base64_basic("admin", ADMIN_PW);
    write!(sock, "PUT /dav/doc.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {creds}\r\nContent-Length: 5000000\r\n\r\n", s.addr).unwrap();
    sock.write_all(&vec![2u8; 1_000_000]).unwrap();
    sock.shutdown(std::net::Shutdown::Both).unwrap();
    drop(sock);
    // and one with a chunked body that never sends its last chunk
    let mut sock = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(sock, "PUT /dav/doc.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {creds}\r\nTransfer-Encoding: chunked\r\n\r\n", s.addr).unwrap();
    write!(sock, "{:x}\r\n", 300_000).unwrap();
    sock.write_all(&vec![3u8; 300_000]).unwrap();
    sock.write_all(b"\r\n").unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut sink = Vec::new();
    let _ = sock.read_to_end(&mut sink);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let g = curl(&["-u", &a, &url], None);
    assert_eq!(
        g.body.len(),
        old.len(),
        "neither partial body became the file"
    );
    assert_eq!(g.body, old);
    assert_eq!(
        curl(&["-u", &a, &format!("{url}?version=2")], None).status,
        404,
        "no partial version was committed"
    );
}

fn base64_basic(user: &str, pw: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pw}").into_bytes();
    let mut out = String::new();
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn deleting_a_folder_is_one_restorable_trash_entry() {
    let mut s = Server::start();
    let a = admin();
    assert_eq!(
        curl(&["-u", &a, "-X", "MKCOL", &s.url("/dav/album")], None).status,
        201
    );
    for i in 0..5 {
        assert_eq!(
            curl(
                &["-u", &a, "-T", "-", &s.url(&format!("/dav/album/p{i}.jpg"))],
                Some(format!("photo {i}").as_bytes())
            )
            .status,
            201
        );
    }
    assert_eq!(
        curl(&["-u", &a, "-X", "DELETE", &s.url("/dav/album")], None).status,
        204
    );
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/album/p1.jpg")], None).status,
        404
    );
    let pid = s.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    s.child.wait().unwrap();
    let data = s.data.to_str().unwrap().to_owned();
    let list = std::process::Command::new(bin())
        .args([
            "trash", "--home", "admin", "--json", "--data", &data, "list",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        1,
        "one entry for the whole folder: {v}"
    );
    assert_eq!(v[0]["path"], "/album");
    let id = v[0]["id"].to_string();
    assert!(
        std::process::Command::new(bin())
            .args(["trash", "--home", "admin", "--data", &data, "restore", &id])
            .status()
            .unwrap()
            .success()
    );
    let s2 = Server::start_on(&s.data);
    assert_eq!(
        curl(&["-u", &a, &s2.url("/dav/album/p3.jpg")], None).body,
        b"photo 3"
    );
}

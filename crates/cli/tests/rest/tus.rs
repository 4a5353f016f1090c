//! Resumable uploads (tus 1.0) at `/api/v1/tus/`: creation, PATCH in pieces, HEAD,
//! offset and checksum errors, termination, isolation between users, a PATCH cut off
//! mid-body, a server killed between PATCHes, and expiry of abandoned uploads.

use super::*;
use std::io::Write;
use std::time::Duration;

const TUS: &str = "Tus-Resumable: 1.0.0";
const OCTETS: &str = "Content-Type: application/offset+octet-stream";

fn b64(s: &str) -> String {
    // a tiny standard base64 encoder (no dependency in the tests)
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `POST /api/v1/tus` for `path`; returns the upload's URL path.
pub fn create(s: &Server, auth: &str, path: &str, len: usize) -> String {
    let r = create_raw(s, auth, path, len);
    assert_eq!(r.status, 201, "{} {}", r.headers, r.text());
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with("/api/v1/tus/"), "{loc}");
    loc
}

fn create_raw(s: &Server, auth: &str, path: &str, len: usize) -> Reply {
    let meta = format!(
        "Upload-Metadata: path {},filetype {}",
        b64(path),
        b64("application/x-test")
    );
    let length = format!("Upload-Length: {len}");
    let url = s.url("/api/v1/tus");
    curl(
        &[
            "-X", "POST", "-H", auth, "-H", TUS, "-H", &length, "-H", &meta, &url,
        ],
        None,
    )
}

pub fn patch(
    s: &Server,
    auth: &str,
    loc: &str,
    offset: usize,
    data: &[u8],
    extra: &[&str],
) -> Reply {
    let off = format!("Upload-Offset: {offset}");
    let url = s.url(loc);
    let mut args = vec![
        "-X", "PATCH", "-H", auth, "-H", TUS, "-H", OCTETS, "-H", &off,
    ];
    args.extend_from_slice(extra);
    args.extend(["--data-binary", "@-", &url]);
    curl(&args, Some(data))
}

/// HEAD: the offset (or the status when it is not 200).
pub fn offset(s: &Server, auth: &str, loc: &str) -> Result<usize, u16> {
    let url = s.url(loc);
    let r = curl(&["-I", "-H", auth, "-H", TUS, &url], None);
    if r.status != 200 {
        return Err(r.status);
    }
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(r.header("tus-resumable").as_deref(), Some("1.0.0"));
    assert!(r.header("upload-length").is_some());
    Ok(r.header("upload-offset").unwrap().parse().unwrap())
}

fn terminate(s: &Server, auth: &str, loc: &str) -> Reply {
    let url = s.url(loc);
    curl(&["-X", "DELETE", "-H", auth, "-H", TUS, &url], None)
}

fn sha256(data: &[u8]) -> String {
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(data).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn basic(user: &str, pw: &str) -> String {
    let b = b64(&format!("{user}:{pw}"));
    format!("Authorization: Basic {b}")
}

#[test]
fn options_advertise_the_protocol() {
    let s = Server::start();
    let r = curl(&["-X", "OPTIONS", &s.url("/api/v1/tus")], None);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("tus-version").as_deref(), Some("1.0.0"));
    let ext = r.header("tus-extension").unwrap();
    for e in ["creation", "termination", "checksum"] {
        assert!(ext.contains(e), "{ext}");
    }
    assert!(r.header("tus-checksum-algorithm").unwrap().contains("sha1"));
    assert!(r.header("tus-max-size").unwrap().parse::<u64>().unwrap() > 0);
}

#[test]
fn an_upload_in_three_patches_is_byte_exact_over_rest_and_webdav() {
    let s = Server::start();
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let auth = bearer(&t);
    let data = content(5 << 20, 42);
    let loc = create(&s, &auth, "/up/big file.bin", data.len());
    assert_eq!(offset(&s, &auth, &loc), Ok(0));
    let cuts = [0, 1_000_001, 3 << 20, data.len()];
    for w in cuts.windows(2) {
        let r = patch(&s, &auth, &loc, w[0], &data[w[0]..w[1]], &[]);
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(r.header("upload-offset").unwrap(), w[1].to_string());
        if w[1] < data.len() {
            assert_eq!(offset(&s, &auth, &loc), Ok(w[1]));
        }
    }
    // complete: the staging folder is gone, the file is there
    assert_eq!(offset(&s, &auth, &loc), Err(404));
    let got = download(&s, &t, "/up/big%20file.bin", &[]);
    assert_eq!(got.status, 200);
    assert_eq!(sha256(&got.body), sha256(&data));
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/x-test")
    );
    let dav = curl(
        &["-u", &auth_pair(), &s.url("/dav/up/big%20file.bin")],
        None,
    );
    assert_eq!(dav.status, 200);
    assert_eq!(sha256(&dav.body), sha256(&data));
    let versions = json(&get(&s, &t, "/api/v1/versions/up/big%20file.bin"));
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
}

fn auth_pair() -> String {
    format!("admin:{ADMIN_PW}")
}

#[test]
fn protocol_errors_offset_checksum_type_version_and_size() {
    let s = Server::start();
    let auth = basic("admin", ADMIN_PW);
    let loc = create(&s, &auth, "/e.bin", 10);
    assert_error(
        &patch(&s, &auth, &loc, 3, b"abc", &[]),
        409,
        "offset_mismatch",
    );
    // a large body at the wrong offset: the client, still sending, gets the 409 too
    let big = create(&s, &auth, "/big.bin", 16 << 20);
    assert_error(
        &patch(&s, &auth, &big, 5, &content(8 << 20, 5), &[]),
        409,
        "offset_mismatch",
    );
    assert_eq!(offset(&s, &auth, &big), Ok(0));
    let good_sha1 = "Upload-Checksum: sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00="; // sha1("hello")
    assert_error(
        &patch(&s, &auth, &loc, 0, b"hellO", &["-H", good_sha1]),
        460,
        "checksum_mismatch",
    );
    assert_eq!(
        offset(&s, &auth, &loc),
        Ok(0),
        "a refused body stores nothing"
    );
    let r = patch(&s, &auth, &loc, 0, b"hello", &["-H", good_sha1]);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_error(
        &patch(
            &s,
            &auth,
            &loc,
            5,
            b"x",
            &["-H", "Upload-Checksum: whirlpool AAAA"],
        ),
        400,
        "bad_request",
    );
    let url = s.url(&loc);
    let wrong_type = curl(
        &[
            "-X",
            "PATCH",
            "-H",
            &auth,
            "-H",
            TUS,
            "-H",
            "Upload-Offset: 5",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            "x",
            &url,
        ],
        None,
    );
    assert_error(&wrong_type, 415, "unsupported_media_type");
    let no_version = curl(
        &[
            "-X",
            "PATCH",
            "-H",
            &auth,
            "-H",
            OCTETS,
            "-H",
            "Upload-Offset: 5",
            "--data-binary",
            "x",
            &url,
        ],
        None,
    );
    assert_error(&no_version, 412, "unsupported_version");
    assert_eq!(no_version.header("tus-version").as_deref(), Some("1.0.0"));
    assert_error(&patch(&s, &auth, &loc, 5, b"123456", &[]), 413, "too_large");
    assert_eq!(offset(&s, &auth, &loc), Ok(5));
    // unauthenticated, unknown ids, no target
    let anon = curl(&["-I", "-H", TUS, &url], None);
    assert_eq!(anon.status, 401);
    assert_eq!(
        offset(&s, &auth, "/api/v1/tus/00000000000000000000000000000000"),
        Err(404)
    );
    assert_eq!(offset(&s, &auth, "/api/v1/tus/not-an-id"), Err(404));
    let no_target = curl(
        &[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            TUS,
            "-H",
            "Upload-Length: 3",
            &s.url("/api/v1/tus"),
        ],
        None,
    );
    assert_error(&no_target, 400, "bad_request");
    assert_error(&create_raw(&s, &auth, "/../x", 3), 400, "invalid_path");
    let r = patch(&s, &auth, &loc, 5, b"world", &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(download(&s, &t, "/e.bin", &[]).body, b"helloworld");
}

#[test]
fn termination_and_other_users_uploads() {
    let s = Server::start();
    s.add_user("bob", "bob-password", &[]);
    s.add_user("ro", "readonly-pw", &["--role", "readonly"]);
    let alice = basic("admin", ADMIN_PW);
    let bob = basic("bob", "bob-password");
    let loc = create(&s, &alice, "/t.bin", 6);
    assert_eq!(patch(&s, &alice, &loc, 0, b"abc", &[]).status, 204);
    // bob sees nothing of it: the same 404 as an unknown id
    assert_eq!(offset(&s, &bob, &loc), Err(404));
    assert_error(&patch(&s, &bob, &loc, 3, b"def", &[]), 404, "not_found");
    assert_error(&terminate(&s, &bob, &loc), 404, "not_found");
    assert_eq!(offset(&s, &alice, &loc), Ok(3));
    let ro = basic("ro", "readonly-pw");
    assert_error(&create_raw(&s, &ro, "/r.bin", 3), 403, "forbidden");
    // alice terminates: gone for good, no file appears
    assert_eq!(terminate(&s, &alice, &loc).status, 204);
    assert_eq!(offset(&s, &alice, &loc), Err(404));
    assert_error(&patch(&s, &alice, &loc, 3, b"def", &[]), 404, "not_found");
    assert_error(&terminate(&s, &alice, &loc), 404, "not_found");
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_error(&get(&s, &t, "/api/v1/stat/t.bin"), 404, "not_found");
}

#[test]
fn quota_is_checked_at_creation_while_patching_and_at_completion() {
    let s = Server::start();
    s.add_user("small", "small-password", &["--quota", "1K"]);
    let a = basic("small", "small-password");
    assert_error(&create_raw(&s, &a, "/big.bin", 2000), 507, "quota_exceeded");
    let loc = create(&s, &a, "/ok.bin", 1000);
    assert_eq!(patch(&s, &a, &loc, 0, &[7u8; 600], &[]).status, 204);
    // the staged 600 bytes count: a second upload cannot take 600 more
    let other = create_raw(&s, &a, "/other.bin", 600);
    assert_error(&other, 507, "quota_exceeded");
    assert_eq!(patch(&s, &a, &loc, 600, &[7u8; 400], &[]).status, 204);
    let (t, _) = login(&s, "small", "small-password");
    assert_eq!(download(&s, &t, "/ok.bin", &[]).body, vec![7u8; 1000]);
}

/// Sends a PATCH announcing `data.len()` bytes but only `sent` of them, then drops the
/// connection.
fn cut_patch(s: &Server, auth: &str, loc: &str, offset: usize, data: &[u8], sent: usize) {
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\n{auth}\r\n{TUS}\r\n{OCTETS}\r\n\
         Upload-Offset: {offset}\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .unwrap();
    c.write_all(&data[..sent]).unwrap();
    c.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
}

/// Resumes from HEAD's offset until the upload completes.
fn finish(s: &Server, auth: &str, loc: &str, data: &[u8]) {
    let at = offset(s, auth, loc).unwrap();
    let r = patch(s, auth, loc, at, &data[at..], &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("upload-offset").unwrap(), data.len().to_string());
}

#[test]
fn a_patch_cut_off_mid_body_resumes_from_the_acknowledged_offset() {
    let s = Server::start();
    let auth = basic("admin", ADMIN_PW);
    let data = content(3 << 20, 7);
    let loc = create(&s, &auth, "/cut.bin", data.len());
    assert_eq!(patch(&s, &auth, &loc, 0, &data[..1 << 20], &[]).status, 204);
    cut_patch(&s, &auth, &loc, 1 << 20, &data[1 << 20..], 700_000);
    std::thread::sleep(Duration::from_millis(500));
    let at = offset(&s, &auth, &loc).unwrap();
    eprintln!("offset after the cut: {at}");
    assert!(
        ((1 << 20)..=(1 << 20) + 700_000).contains(&at),
        "the offset is what was received and kept: {at}"
    );
    // a re-sent PATCH at the old offset is refused if bytes were kept
    if at > 1 << 20 {
        assert_error(
            &patch(&s, &auth, &loc, 1 << 20, &data[1 << 20..], &[]),
            409,
            "offset_mismatch",
        );
    }
    finish(&s, &auth, &loc, &data);
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(
        sha256(&download(&s, &t, "/cut.bin", &[]).body),
        sha256(&data)
    );
    // with a checksum, a cut-off body keeps nothing
    let loc = create(&s, &auth, "/cut2.bin", 10);
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\n{auth}\r\n{TUS}\r\n{OCTETS}\r\n\
         Upload-Checksum: sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=\r\n\
         Upload-Offset: 0\r\nContent-Length: 10\r\n\r\nhello"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(offset(&s, &auth, &loc), Ok(0));
}

#[test]
fn a_patch_cut_off_by_curl_with_a_rate_limit_and_a_timeout_resumes() {
    let s = Server::start();
    let auth = basic("admin", ADMIN_PW);
    let data = content(2 << 20, 8);
    let loc = create(&s, &auth, "/slow.bin", data.len());
    let r = patch(
        &s,
        &auth,
        &loc,
        0,
        &data,
        &["--limit-rate", "500K", "--max-time", "1"],
    );
    // curl gives up before the end (0, or the 100 Continue it got)
    assert!(matches!(r.status, 0 | 100), "{}", r.status);
    std::thread::sleep(Duration::from_millis(500));
    let at = offset(&s, &auth, &loc).unwrap();
    assert!(at < data.len(), "{at}");
    finish(&s, &auth, &loc, &data);
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert!(download(&s, &t, "/slow.bin", &[]).body == data);
}

#[test]
fn a_server_killed_between_patches_resumes_from_head_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut s = Server::start_on(&data_dir);
    let auth = basic("admin", ADMIN_PW);
    let data = content(4 << 20, 11);
    let loc = create(&s, &auth, "/crash/after.bin", data.len());
    assert_eq!(patch(&s, &auth, &loc, 0, &data[..1 << 20], &[]).status, 204);
    assert_eq!(
        patch(&s, &auth, &loc, 1 << 20, &data[1 << 20..5 << 19], &[]).status,
        204
    );
    s.kill9();
    let s = Server::start_on(&data_dir);
    assert_eq!(
        offset(&s, &auth, &loc),
        Ok(5 << 19),
        "acknowledged bytes survive"
    );
    finish(&s, &auth, &loc, &data);
    let (t, _) = login(&s, "admin", ADMIN_PW);
    assert_eq!(
        sha256(&download(&s, &t, "/crash/after.bin", &[]).body),
        sha256(&data)
    );
}

#[test]
fn abandoned_uploads_expire() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nas.toml");
    std::fs::write(&cfg, "[workers]\nupload_expiry = \"2s\"\n").unwrap();
    let s = Server::start_with(
        &dir.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    let auth = basic("admin", ADMIN_PW);
    let loc = create(&s, &auth, "/gone.bin", 100);
    let r = patch(&s, &auth, &loc, 0, &[1u8; 40], &[]);
    assert_eq!(r.status, 204);
    assert!(r.header("upload-expires").is_some());
    assert_eq!(offset(&s, &auth, &loc), Ok(40));
    let mut left = 40;
    while offset(&s, &auth, &loc).is_ok() {
        std::thread::sleep(Duration::from_millis(250));
        left -= 1;
        assert!(left > 0, "the upload did not expire within 10 s");
    }
    assert_eq!(offset(&s, &auth, &loc), Err(404));
    assert_error(
        &patch(&s, &auth, &loc, 40, &[1u8; 60], &[]),
        404,
        "not_found",
    );
}

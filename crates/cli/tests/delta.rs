//! Delta chunks through the real binary: `[storage] delta` / `SILENT_NAS_STORAGE_DELTA`
//! switch them on; versions of an edited file uploaded over WebDAV or written with `put`
//! are stored as deltas, read back byte-exact (every version, ranges too), counted by
//! `stats --json` and `/metrics/storage-v2`; `fsck` names every file whose delta needs a
//! damaged base.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// `data` with one byte changed every `every` bytes.
fn edited(data: &[u8], every: usize, salt: u8) -> Vec<u8> {
    let mut v = data.to_vec();
    let mut at = every / 2 + usize::from(salt);
    while at < v.len() {
        v[at] = v[at].wrapping_add(1 + salt);
        at += every;
    }
    v
}

/// `silent-nas ARGS` with delta chunks on, `stdin` fed in; its exit code and stdout.
fn nas_delta(args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut c = Command::new(bin())
        .args(args)
        .env("SILENT_NAS_STORAGE_DELTA", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = c.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn stats(data: &str) -> serde_json::Value {
    serde_json::from_str(&nas_ok(&["stats", "--data", data, "--json"])).unwrap()
}

#[test]
fn put_stores_versions_as_deltas_and_stats_count_what_they_saved() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    let d = d.to_str().unwrap();
    let v1 = content(3 << 20, 1); // incompressible: only delta can save anything
    let v2 = edited(&v1, 50_000, 1);
    let v3 = edited(&v2, 70_000, 2);
    for v in [&v1, &v2, &v3] {
        let (code, _) = nas_delta(&["put", "--data", d, "--home", "ann", "/img.raw"], v);
        assert_eq!(code, 0);
    }
    for (n, v) in [("1", &v1), ("2", &v2), ("3", &v3)] {
        let out = Command::new(bin())
            .args([
                "cat",
                "--data",
                d,
                "--home",
                "ann",
                "/img.raw",
                "--version",
                n,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(&out.stdout == v, "version {n} reads back");
    }
    let st = stats(d);
    let n = |k: &str| st[k].as_u64().unwrap_or_else(|| panic!("{k} in {st}"));
    assert!(n("delta_chunks") > 80, "{st}");
    // three versions of 3 MiB of noise: one whole copy, then chunks either unchanged
    // (dedup) or a small delta each
    assert!(n("stored_bytes") < (3 << 20) + 100_000, "{st}");
    assert!(n("saved_by_delta") > n("delta_chunks") * 20_000, "{st}");
    assert!(
        n("saved_by_delta") + n("saved_by_dedup") > 6_000_000,
        "{st}"
    );
    assert_eq!(
        n("saved_by_compression"),
        0,
        "noise does not compress: {st}"
    );
    assert_eq!(n("saved_by_dedup"), n("logical_bytes") - n("unique_bytes"));
    let (code, out) = nas_delta(&["fsck", "--data", d, "--verify-data"], b"");
    assert_eq!(code, 0, "{out}");
    // delta off (the default here): reads still work, no new delta
    nas_ok(&["stats", "--data", d]);
    let mut c = Command::new(bin())
        .args(["put", "--data", d, "--home", "ann", "/img.raw"])
        .env("SILENT_NAS_STORAGE_DELTA", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(&edited(&v3, 60_000, 3))
        .unwrap();
    assert!(c.wait().unwrap().success());
    assert_eq!(stats(d)["delta_chunks"], st["delta_chunks"]);
}

#[test]
fn webdav_versions_are_deltas_and_the_savings_are_scraped() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let cfg = t.path().join("delta.toml");
    std::fs::write(&cfg, "[storage]\ndelta = true\n").unwrap();
    let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let a = auth("admin", ADMIN_PW);
    let v1 = content(2 << 20, 7);
    let v2 = edited(&v1, 40_000, 4);
    let url = s.url("/dav/disk.img");
    for v in [&v1, &v2] {
        let r = curl(&["-u", &a, "-T", "-", &url], Some(v));
        assert!(r.status == 201 || r.status == 204, "PUT: {}", r.status);
    }
    let get = |q: &str| curl(&["-u", &a, &format!("{url}{q}")], None);
    assert!(get("").body == v2, "newest version");
    assert!(get("?version=1").body == v1, "first version");
    let part = curl(&["-u", &a, "-r", "1000000-1099999", &url], None);
    assert_eq!(part.status, 206);
    assert!(
        part.body == v2[1_000_000..1_100_000],
        "a range of the delta version"
    );
    let m = scrape_as_admin(&s, "/metrics/storage-v2").text();
    let deltas = sample(&m, "silent_nas_storage_delta_chunks").unwrap();
    assert!(deltas > 30.0, "{deltas}");
    let saved = sample(&m, "silent_nas_storage_saved_bytes{by=\"delta\"}").unwrap();
    assert!(saved > 1.5e6, "{saved}");
    assert!(sample(&m, "silent_nas_storage_saved_bytes{by=\"dedup\"}").is_some());
    assert!(sample(&m, "silent_nas_storage_saved_bytes{by=\"compression\"}").is_some());
    // reading the delta version decoded its bases through the cache
    let misses = sample(&m, "silent_nas_delta_base_cache_misses_total").unwrap();
    assert!(misses >= 1.0, "{misses}");
    promtool_check(&m);
}

/// The pack holding `raw` stored as is, and where.
fn find_raw(data: &Path, raw: &[u8]) -> (std::path::PathBuf, u64) {
    for p in walk(&data.join("packs")) {
        let bytes = std::fs::read(&p).unwrap();
        if let Some(at) = bytes.windows(raw.len()).position(|w| w == raw) {
            return (p, at as u64);
        }
    }
    panic!("no pack holds the base");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "pack") {
            out.push(p);
        }
    }
    out
}

#[test]
fn fsck_names_every_file_whose_delta_needs_a_damaged_base() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let d = data.to_str().unwrap();
    let base = content(6000, 9); // one chunk, stored raw, first in the first pack
    let put = |path: &str, body: &[u8]| {
        let (code, _) = nas_delta(&["put", "--data", d, "--home", "bob", path], body);
        assert_eq!(code, 0, "put {path}");
    };
    put("/base.bin", &base);
    for (i, name) in ["/a.bin", "/b.bin", "/c.bin"].iter().enumerate() {
        put(name, &edited(&base, 1500, i as u8));
    }
    put("/unrelated.bin", &content(6000, 10));
    assert_eq!(stats(d)["delta_chunks"], 3);
    let (code, out) = nas_delta(&["fsck", "--data", d, "--verify-data"], b"");
    assert_eq!(code, 0, "{out}");
    // flip a byte in the middle of the base's frame (noise: stored raw)
    let (pack, at) = find_raw(&data, &base);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(pack)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at + 3000).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], at + 3000).unwrap();
    let (code, out) = nas_delta(&["fsck", "--data", d, "--verify-data"], b"");
    assert_eq!(code, 1, "{out}");
    for name in ["/base.bin", "/a.bin", "/b.bin", "/c.bin"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("DAMAGED {name} "))),
            "{name} named in:\n{out}"
        );
    }
    for name in ["/a.bin", "/b.bin", "/c.bin"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("DAMAGED {name} ")))
            .unwrap();
        assert!(line.contains("base chunk"), "{line}");
    }
    assert!(!out.contains("unrelated"), "{out}");
    assert!(out.contains("4 damaged files"), "{out}");
}

/// kill -9 while a delta version is half uploaded (its delta frames appended, nothing
/// committed), then right after a delta version's 201: after each restart the file is
/// exactly its last acknowledged content, every version reads back, and fsck is clean.
#[test]
fn kill_9_during_and_after_a_delta_upload_loses_nothing_acknowledged() {
    use std::io::Read;
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let d = data.to_str().unwrap();
    let cfg = t.path().join("delta.toml");
    std::fs::write(&cfg, "[storage]\ndelta = true\n").unwrap();
    let serve = || Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let a = auth("admin", ADMIN_PW);
    // 8 MiB: the writer looks new chunks up 4 MiB (or 64 chunks) at a time, so three
    // quarters of it have had frames appended before the knife
    let v1 = content(8 << 20, 21);
    let v2 = edited(&v1, 30_000, 5);
    let mut s = serve();
    let url = s.url("/dav/vm.img");
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(&v1)).status, 201);
    let packs_before = stats(d)["pack_bytes"].as_u64().unwrap();
    // three quarters of v2, then the knife
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap();
    let basic = format!("admin:{ADMIN_PW}");
    let head = format!(
        "PUT /dav/vm.img HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\nContent-Length: {}\r\n\r\n",
        s.addr,
        base64_encode(basic.as_bytes()),
        v2.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&v2[..v2.len() * 3 / 4]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    s.kill9();
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    let packs_after = stats(d)["pack_bytes"].as_u64().unwrap();
    assert!(
        packs_after > packs_before,
        "the cut-off upload appended its frames ({packs_before} -> {packs_after})"
    );
    let (code, out) = nas_delta(&["fsck", "--data", d, "--verify-data"], b"");
    assert_eq!(code, 0, "after the kill mid-upload: {out}");
    let mut s = serve();
    let url = s.url("/dav/vm.img"); // a new port
    let got = curl(&["-u", &a, &url], None);
    assert!(
        got.body == v1,
        "the acknowledged v1: {} {} bytes {}",
        got.status,
        got.body.len(),
        String::from_utf8_lossy(&got.body[..got.body.len().min(300)])
    );
    assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(&v2)).status, 204);
    s.kill9(); // right after the 201/204
    let (code, out) = nas_delta(&["fsck", "--data", d, "--verify-data"], b"");
    assert_eq!(code, 0, "after the kill past the commit: {out}");
    assert!(stats(d)["delta_chunks"].as_u64().unwrap() > 10);
    let s = serve();
    let url = s.url("/dav/vm.img");
    assert!(curl(&["-u", &a, &url], None).body == v2);
    assert!(curl(&["-u", &a, &format!("{url}?version=1")], None).body == v1);
    drop(s);
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
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

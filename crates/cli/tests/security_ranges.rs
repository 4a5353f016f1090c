//! Range amplification (issue 18, finding 4), against the real server: one rule for every
//! door (`nas_types::RangeRequest`) — at most 200 ranges, merged, and never an answer
//! larger than about the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

const A: &str = "alice:alice-password";

fn put(s: &Server, path: &str, body: &[u8]) -> Reply {
    curl(&["-u", A, "-T", "-", &s.url(path)], Some(body))
}

fn overlapping(n: usize, size: usize) -> String {
    (0..n)
        .map(|i| format!("{i}-{}", size - 1000 + i))
        .collect::<Vec<_>>()
        .join(",")
}

const MB: usize = 1_000_000;

#[test]
fn range_requests_never_outgrow_the_file_over_webdav() {
    let s = Server::start();
    s.add_user("alice", "alice-password", &[]);
    put(&s, "/dav/x.txt", b"version one");
    put(&s, "/dav/x.txt", b"version two");
    let data = content(MB, 7);
    put(&s, "/dav/big.bin", &data);
    for n in [1000, 200, 2] {
        let r = curl(
            &["-u", A, "-r", &overlapping(n, MB), &s.url("/dav/big.bin")],
            None,
        );
        assert!(
            r.body.len() <= MB + 1000,
            "{n} ranges: {} bytes",
            r.body.len()
        );
        match n {
            1000 => assert_eq!((r.status, &r.body), (200, &data)), // too many: ignored
            _ => assert_eq!(r.status, 206),                        // merged into one range
        }
    }
    // many small disjoint ranges whose framing would outgrow them: the whole file
    let small = (0..150)
        .map(|i| format!("{}-{}", i * 10, i * 10))
        .collect::<Vec<_>>()
        .join(",");
    put(&s, "/dav/small.bin", &content(2000, 1));
    let r = curl(&["-u", A, "-r", &small, &s.url("/dav/small.bin")], None);
    assert_eq!((r.status, r.body.len()), (200, 2000));
    // a normal single range and a real multipart answer still work
    let r = curl(&["-u", A, "-r", "10-19", &s.url("/dav/big.bin")], None);
    assert_eq!((r.status, &r.body[..]), (206, &data[10..20]));
    let r = curl(
        &["-u", A, "-r", "0-9,500000-500009", &s.url("/dav/big.bin")],
        None,
    );
    assert_eq!(r.status, 206);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/byteranges")
    );
    assert!(r.body.len() < 1000);
    // unsatisfiable is 416; an old version takes one range too
    assert_eq!(
        curl(&["-u", A, "-r", "2000000-", &s.url("/dav/big.bin")], None).status,
        416
    );
    let r = curl(
        &["-u", A, "-r", "8-10", &s.url("/dav/x.txt?version=1")],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (206, &b"one"[..]));
    assert_eq!(r.header("content-range").unwrap(), "bytes 8-10/11");
    let r = curl(
        &[
            "-u",
            A,
            "-r",
            &overlapping(1000, 11_000),
            &s.url("/dav/x.txt?version=1"),
        ],
        None,
    );
    assert_eq!((r.status, &r.body[..]), (200, &b"version one"[..]));
}

#[test]
fn range_requests_follow_the_same_rule_over_rest_and_s3() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    let admin = auth("admin", ADMIN_PW);
    let data = content(MB, 9);
    assert_eq!(
        curl(&["-u", &admin, "-X", "MKCOL", &s.url("/dav/bkt")], None).status,
        201
    );
    curl(
        &["-u", &admin, "-T", "-", &s.url("/dav/bkt/big.bin")],
        Some(&data),
    );
    let many = overlapping(1000, MB);
    let some = overlapping(5, MB);
    // REST: one range or the whole file
    let rest = s.url("/api/v1/download/bkt/big.bin");
    for spec in [&many, &some] {
        let r = curl(&["-u", &admin, "-r", spec, &rest], None);
        assert_eq!((r.status, r.body.len()), (200, MB));
    }
    let r = curl(&["-u", &admin, "-r", "10-19", &rest], None);
    assert_eq!((r.status, &r.body[..]), (206, &data[10..20]));
    assert_eq!(
        curl(&["-u", &admin, "-r", "2000000-", &rest], None).status,
        416
    );
    // S3 (curl signs without the Range header): the same answers
    let (ak, sk) = s.s3_key("admin");
    let key = format!("{ak}:{sk}");
    let obj = format!("http://{}/bkt/big.bin", s.s3_addr.as_ref().unwrap());
    let s3 = |spec: &str| {
        curl(
            &[
                "--aws-sigv4",
                "aws:amz:us-east-1:s3",
                "--user",
                &key,
                "-H",
                "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                "-r",
                spec,
                &obj,
            ],
            None,
        )
    };
    for spec in [&many, &some] {
        let r = s3(spec);
        assert_eq!((r.status, r.body.len()), (200, MB), "{}", r.text());
    }
    let r = s3("10-19");
    assert_eq!((r.status, &r.body[..]), (206, &data[10..20]));
    assert_eq!(s3("-5").body, &data[MB - 5..]);
    assert_eq!(s3("2000000-").status, 416);
}

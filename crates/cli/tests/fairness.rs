//! One user's bulk upload does not starve another user's small requests (issue 16,
//! point 2): while alice pushes four WebDAV uploads as fast as the server takes them, bob's
//! small PUTs, GETs and PROPFINDs are each answered in well under the bound, and alice's
//! uploads were really moving the whole time. The bound is generous (seconds, against
//! tens of milliseconds unloaded): what it catches is a queue behind the bulk upload.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(3);

/// A PUT announcing 8 GB that sends pseudo-random blocks until `stop`, then hangs up
/// (the upload is cut off: nothing of it is stored). Counts the bytes it got through.
fn bulk(addr: String, basic: String, i: usize, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let mut c = TcpStream::connect(&addr).unwrap();
    write!(
        c,
        "PUT /dav/bulk{i}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\n\
         Content-Length: 8000000000\r\n\r\n"
    )
    .unwrap();
    let mut block = content(256 * 1024, i as u64 + 1);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ i as u64;
    while !stop.load(Ordering::Relaxed) {
        // a few bytes change per block, so nothing deduplicates
        for k in (0..block.len()).step_by(4096) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            block[k..k + 8].copy_from_slice(&x.to_le_bytes());
        }
        if c.write_all(&block).is_err() {
            break;
        }
        sent.fetch_add(block.len() as u64, Ordering::Relaxed);
    }
}

#[test]
fn a_bulk_upload_does_not_starve_another_users_small_requests() {
    let s = Server::start();
    s.add_user("alice", "alice-password-1", &[]);
    s.add_user("bob", "bob-password-1", &[]);
    let bob = auth("bob", "bob-password-1");
    let basic = {
        use std::process::Command;
        let out = Command::new("sh")
            .args(["-c", "printf %s alice:alice-password-1 | base64 -w0"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let pushers: Vec<_> = (0..4)
        .map(|i| {
            let (a, b, st, se) = (s.addr.clone(), basic.clone(), stop.clone(), sent.clone());
            std::thread::spawn(move || bulk(a, b, i, st, se))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2)); // the bulk upload is under way
    let at_start = sent.load(Ordering::Relaxed);
    let mut slowest = Duration::ZERO;
    for i in 0..30 {
        let body = content(4096, 100 + i);
        let url = s.url(&format!("/dav/small{i}.txt"));
        let mut timed = |f: &dyn Fn() -> Reply| {
            let t = Instant::now();
            let r = f();
            slowest = slowest.max(t.elapsed());
            r
        };
        let r = timed(&|| curl(&["-u", &bob, "-T", "-", &url], Some(&body)));
        assert_eq!(r.status, 201, "{}", r.text());
        let r = timed(&|| curl(&["-u", &bob, &url], None));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body);
        let r = timed(&|| propfind(&bob, &s.url("/dav/"), "1", None));
        assert_eq!(r.status, 207);
    }
    let during = sent.load(Ordering::Relaxed) - at_start;
    stop.store(true, Ordering::Relaxed);
    for p in pushers {
        p.join().unwrap();
    }
    assert!(
        during >= 64 << 20,
        "the bulk upload kept moving while bob worked ({during} bytes)"
    );
    assert!(
        slowest < BOUND,
        "bob's slowest request took {slowest:?} under alice's bulk upload"
    );
    eprintln!(
        "bulk upload: {} MiB during bob's 90 requests; bob's slowest: {slowest:?}",
        during >> 20
    );
}

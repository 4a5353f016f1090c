//! Security findings about what any client may hold or learn, against the real server:
//! invented methods never grow the metrics, `/metrics` needs a token or an administrator,
//! and slow or idle clients are dropped, at every listener (issue 18: findings 2, 5, 8).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{ADMIN_PW, Server, auth, curl, sample};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A configuration file in the data directory's parent, with `toml` in it.
fn config(dir: &Path, toml: &str) -> String {
    let f = dir.join("silent-nas.toml");
    std::fs::write(&f, toml).unwrap();
    f.to_str().unwrap().to_owned()
}

fn scrape(s: &Server) -> String {
    let m = curl(&["-u", &auth("admin", ADMIN_PW), &s.url("/metrics")], None);
    assert_eq!(m.status, 200, "{}", m.text());
    m.text()
}

/// Sends `raw` on a new connection and reads until the server closes it or `limit`
/// passes: (what was read, whether the server closed the connection).
fn exchange(addr: &str, raw: &[u8], limit: Duration) -> (String, bool) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(limit)).unwrap();
    c.write_all(raw).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match c.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// Whether the server closes `c` within `limit` (reading whatever it sends first).
fn closed_within(c: &mut TcpStream, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => {}
        }
    }
    false
}

#[test]
fn invented_methods_are_refused_and_never_become_labels() {
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"]);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut invent = |n: usize| {
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 2000) as usize;
            let method: String = (0..len)
                .map(|j| (b'A' + ((x >> (j % 50)) % 26) as u8) as char)
                .collect();
            let addr = if i % 2 == 0 {
                s.addr.clone()
            } else {
                s.s3_addr.clone().unwrap()
            };
            let path = if i % 3 == 0 { "/dav/" } else { "/x" };
            let raw = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
            let (got, _) = exchange(&addr, raw.as_bytes(), Duration::from_secs(10));
            assert!(
                got.starts_with("HTTP/1.1 501"),
                "an invented method is not implemented: {got:.200}"
            );
        }
    };
    // the series of the doors' requests (a worker's series may come and go meanwhile)
    let door_series = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("silent_nas_http_"))
            .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_owned()))
            .collect()
    };
    let before = door_series(&scrape(&s)).len();
    invent(500);
    let half = door_series(&scrape(&s));
    invent(500);
    let text = scrape(&s);
    // the first refusals add a few fixed series (a count and a latency histogram per door
    // for method="other"); more invented methods add none
    assert!(
        half.len() < before + 200,
        "/metrics grew from {before} to {} series",
        half.len()
    );
    let now = door_series(&text);
    let added: Vec<&String> = now.iter().filter(|l| !half.contains(l)).collect();
    assert!(
        added
            .iter()
            .all(|l| l.contains("/metrics") || l.contains("method=\"GET\"")),
        "500 more invented methods added series: {added:?}"
    );
    let other = sample(
        &text,
        "silent_nas_http_requests_total{door=\"webdav\",method=\"other\",status=\"501\"}",
    )
    .unwrap_or(0.0)
        + sample(
            &text,
            "silent_nas_http_requests_total{door=\"other\",method=\"other\",status=\"501\"}",
        )
        .unwrap_or(0.0)
        + sample(
            &text,
            "silent_nas_http_requests_total{door=\"s3\",method=\"other\",status=\"501\"}",
        )
        .unwrap_or(0.0);
    assert_eq!(
        other, 1000.0,
        "every refusal is counted, as method=\"other\""
    );
    // the server still serves
    let r = common::propfind(&auth("admin", ADMIN_PW), &s.url("/dav/"), "0", None);
    assert_eq!(r.status, 207);
}

#[test]
fn metrics_need_a_token_or_an_administrator() {
    let t = tempfile::tempdir().unwrap();
    let token = "a-metrics-token-of-some-length";
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(
        t.path(),
        &format!("[metrics]\ntoken = \"{token}\"\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let s = Server::start_with(&t.path().join("data"), &["--config", &cfg]);
    s.add_user("carol", "carol-password-1", &[]);
    for path in ["/metrics", "/metrics/storage-v2"] {
        let anon = curl(&[&s.url(path)], None);
        assert_eq!(anon.status, 401, "{path} without credentials");
        assert!(!anon.text().contains("silent_nas_"), "nothing leaks");
        assert!(anon.header("www-authenticate").unwrap().contains("Bearer"));
    }
    let user = curl(
        &["-u", &auth("carol", "carol-password-1"), &s.url("/metrics")],
        None,
    );
    assert_eq!(user.status, 401, "a user who is not an administrator");
    let wrong = curl(
        &[
            "-H",
            "Authorization: Bearer a-metrics-token-of-some-lengtX",
            &s.url("/metrics"),
        ],
        None,
    );
    assert_eq!(wrong.status, 401, "a wrong token");
    let bearer = format!("Authorization: Bearer {token}");
    let ok = curl(&["-H", &bearer, &s.url("/metrics")], None);
    assert_eq!(ok.status, 200);
    assert!(
        ok.text()
            .contains("silent_nas_user_used_bytes{user=\"carol\"}")
    );
    // an administrator's Basic credentials (scrape asserts the 200)
    assert!(scrape(&s).contains("silent_nas_storage_stored_bytes"));
    // health stays public
    assert_eq!(curl(&[&s.url("/healthz")], None).status, 200);
    assert_eq!(curl(&[&s.url("/readyz")], None).status, 200);
    // the metrics' own listener: with a token set, it needs it too; only the observability routes
    let own = format!("http://127.0.0.1:{port}");
    assert_eq!(curl(&[&format!("{own}/metrics")], None).status, 401);
    assert_eq!(
        curl(&["-H", &bearer, &format!("{own}/metrics")], None).status,
        200
    );
    assert_eq!(curl(&[&format!("{own}/healthz")], None).status, 200);
    let dav = curl(
        &["-u", &auth("admin", ADMIN_PW), &format!("{own}/dav/")],
        None,
    );
    assert_eq!(dav.status, 404, "no door on the metrics listener");
}

#[test]
fn a_metrics_listener_without_a_token_is_open_and_the_main_one_is_not() {
    let t = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(
        t.path(),
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let s = Server::start_with(&t.path().join("data"), &["--config", &cfg]);
    let own = curl(&[&format!("http://127.0.0.1:{port}/metrics")], None);
    assert_eq!(own.status, 200);
    assert!(own.text().contains("silent_nas_storage_stored_bytes"));
    assert_eq!(curl(&[&s.url("/metrics")], None).status, 401);
}

#[test]
fn slow_and_idle_clients_are_dropped() {
    let t = tempfile::tempdir().unwrap();
    let cfg = config(
        t.path(),
        "[limits]\nheader_timeout = \"2s\"\nbody_idle_timeout = \"2s\"\nwrite_timeout = \"2s\"\n",
    );
    let s = Server::start_with(
        &t.path().join("data"),
        &["--config", &cfg, "--s3-listen", "127.0.0.1:0"],
    );
    for addr in [s.addr.clone(), s.s3_addr.clone().unwrap()] {
        // slowloris: a header line every second never completes a head
        let mut c = TcpStream::connect(&addr).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let start = Instant::now();
        let mut dropped = false;
        for i in 0..12 {
            std::thread::sleep(Duration::from_secs(1));
            if c.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .is_err()
                || closed_within(&mut c, Duration::from_millis(10))
            {
                dropped = true;
                break;
            }
        }
        assert!(dropped, "{addr}: a head sent a line a second is cut off");
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            start.elapsed()
        );

        // an idle connection, before any request and after one
        let mut idle = TcpStream::connect(&addr).unwrap();
        assert!(
            closed_within(&mut idle, Duration::from_secs(8)),
            "{addr}: idle new connection"
        );
        let mut kept = TcpStream::connect(&addr).unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(
            closed_within(&mut kept, Duration::from_secs(8)),
            "{addr}: idle keep-alive"
        );
    }
    // a body that declares 100 bytes and sends 3
    let basic = {
        use std::process::Command;
        let out = Command::new("sh")
            .args(["-c", &format!("printf 'admin:{ADMIN_PW}' | base64 -w0")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let raw = format!(
        "PUT /dav/slow.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\nContent-Length: 100\r\n\r\nabc"
    );
    let start = Instant::now();
    let (got, closed) = exchange(&s.addr, raw.as_bytes(), Duration::from_secs(10));
    assert!(closed, "the connection is closed");
    assert!(got.starts_with("HTTP/1.1 408"), "{got:.300}");
    assert!(start.elapsed() < Duration::from_secs(8));
    let gone = curl(
        &["-u", &auth("admin", ADMIN_PW), &s.url("/dav/slow.bin")],
        None,
    );
    assert_eq!(gone.status, 404, "nothing was stored");

    // a client that never reads its answer is dropped: the open connections go back down
    let big = common::content(48 << 20, 7);
    let put = curl(
        &[
            "-u",
            &auth("admin", ADMIN_PW),
            "-T",
            "-",
            &s.url("/dav/big.bin"),
        ],
        Some(&big),
    );
    assert!(put.status < 300, "{}", put.status);
    let open =
        |s: &Server| sample(&scrape(s), "silent_nas_connections_open{listener=\"main\"}").unwrap();
    let base = open(&s);
    let mut stuck = TcpStream::connect(&s.addr).unwrap();
    stuck
        .write_all(
            format!("GET /dav/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        open(&s),
        base + 1.0,
        "the reader that does not read is connected"
    );
    let until = Instant::now() + Duration::from_secs(15);
    while open(&s) > base && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        open(&s),
        base,
        "a stalled answer is given up after write_timeout"
    );
    drop(stuck);
}

#[test]
fn connections_beyond_the_limit_get_a_fast_503_and_the_next_one_in_is_served() {
    let t = tempfile::tempdir().unwrap();
    let cfg = config(t.path(), "[limits]\nmax_connections = 20\n");
    let s = Server::start_with(&t.path().join("data"), &["--config", &cfg]);
    let held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // the 21st: a request it sent is answered 503 with Retry-After, then the close
    let mut extra = TcpStream::connect(&s.addr).unwrap();
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 503 ") && answer.contains("Retry-After: 1\r\n"),
        "{answer:?}"
    );
    assert!(answer.ends_with("try again shortly\n"), "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered and closed at once, not at a timeout"
    );
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)),
        "then closed"
    );
    // a place given back is taken by the next connection, which is served
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let text = scrape(&s);
    assert_eq!(
        sample(
            &text,
            "silent_nas_connections_refused_total{listener=\"main\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn the_server_raises_its_open_file_limit() {
    use std::io::BufRead;
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let hard: String = {
        let out = std::process::Command::new("sh")
            .args(["-c", "ulimit -Hn"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -Sn 256 2>/dev/null; exec \"$0\" serve --data \"$1\" --listen 127.0.0.1:0",
            common::bin(),
            data.to_str().unwrap(),
        ])
        .env("SILENT_NAS_ADMIN_PASSWORD", ADMIN_PW)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("listening on")));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    let soft = line.split_whitespace().nth(3).unwrap();
    let want = if hard == "unlimited" {
        "1048576"
    } else {
        hard.as_str()
    };
    assert_eq!(soft, want, "{line}");
}

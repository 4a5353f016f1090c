//! What one WebDAV request costs the metadata database on PostgreSQL (issue 17, cluster
//! mode: "fewer round trips per request"): the real server on a PostgreSQL of its own whose
//! log records every statement (`log_statement = all` for the test's database), counted
//! per request as `docs/design/postgres.md` ("Figures") and `bench/pg.sh` count them.
//! `BEGIN` goes out with the statement after it, so round trips = statements − `BEGIN`s.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_testkit::pg::TestPg;
use std::path::PathBuf;
use std::time::Duration;

/// The statements and `BEGIN`s the server's log holds from byte `from` on.
fn statements(log: &PathBuf, from: usize) -> (usize, usize) {
    let text = std::fs::read(log).unwrap();
    let text = String::from_utf8_lossy(&text[from..]);
    let mut st = 0;
    let mut begins = 0;
    for line in text.lines() {
        let Some(at) = line.find("LOG:  ") else {
            continue;
        };
        let rest = &line[at + 6..];
        let sql = if let Some(s) = rest.strip_prefix("statement: ") {
            s
        } else if let Some(s) = rest.strip_prefix("execute ") {
            s.split_once(": ").map_or("", |(_, s)| s)
        } else {
            continue;
        };
        st += 1;
        if sql.starts_with("BEGIN") {
            begins += 1;
        }
    }
    (st, begins)
}

/// Round trips per call of `each` (run `n` times), from the log.
fn round_trips(log: &PathBuf, n: usize, mut each: impl FnMut(usize)) -> f64 {
    std::thread::sleep(Duration::from_millis(300));
    let from = std::fs::metadata(log).unwrap().len() as usize;
    for i in 0..n {
        each(i);
    }
    std::thread::sleep(Duration::from_millis(500)); // the log is written by the server
    let (st, begins) = statements(log, from);
    (st - begins) as f64 / n as f64
}

#[test]
fn a_webdav_request_walks_its_path_once_and_reads_chunks_in_windows() {
    let pg = TestPg::start(); // its own server: its log holds only this test's statements
    let url = pg.fresh_db();
    let db = url.rsplit('/').next().unwrap().to_owned();
    pg.psql(
        &url,
        &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
    );
    let log = pg.socket_dir().join("server.log");
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_pg(&t.path().join("data"), &url, &[]);
    let a = auth("admin", ADMIN_PW);
    let mkcol = curl(&["-u", &a, "-X", "MKCOL", &s.url("/dav/ops")], None);
    assert_eq!(mkcol.status, 201);
    let small = content(4096, 1);
    let big = content(16 << 20, 2);
    put(&s, "ops/base", &small);
    put(&s, "ops/big", &big);
    // warm-up: every statement prepared on the pool's connections
    for i in 0..8 {
        put(&s, &format!("ops/w{i}"), &small);
        let g = curl(&["-u", &a, &s.url("/dav/ops/base")], None);
        assert_eq!(g.body, small);
        let p = propfind(&a, &s.url("/dav/ops/base"), "0", None);
        assert_eq!(p.status, 207);
    }
    let n = 20;
    let put_rt = round_trips(&log, n, |i| put(&s, &format!("ops/n{i}"), &small));
    let get_rt = round_trips(&log, n, |_| {
        let g = curl(&["-u", &a, &s.url("/dav/ops/base")], None);
        assert_eq!(g.status, 200);
    });
    let stat_rt = round_trips(&log, n, |_| {
        let p = propfind(&a, &s.url("/dav/ops/base"), "0", None);
        assert_eq!(p.status, 207);
    });
    let range_rt = round_trips(&log, n, |_| {
        let g = curl(&["-u", &a, "-r", "10-19", &s.url("/dav/ops/base")], None);
        assert_eq!((g.status, &g.body[..]), (206, &small[10..20]));
    });
    // three: the search index's worker may run its batch (about 9 statements) meanwhile
    let big_rt = round_trips(&log, 3, |_| {
        let g = curl(&["-u", &a, &s.url("/dav/ops/big")], None);
        assert!(g.body == big, "the large file reads back whole");
    });
    // every chunk but the small files' one (all of them hold the same 4 KiB) is the large
    // file's: its content repeats nothing
    let chunks = || {
        pg.psql(&url, "SELECT count(*) FROM chunks")
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    };
    let extents = chunks() - 1.0;
    // large PUTs of content stored nowhere yet: every chunk is new
    let bigs: Vec<Vec<u8>> = (0..2).map(|i| content(16 << 20, 10 + i)).collect();
    let before = chunks();
    let big_put_rt = round_trips(&log, bigs.len(), |i| {
        put(&s, &format!("ops/big-put{i}"), &bigs[i]);
    });
    let new_chunks = (chunks() - before) / bigs.len() as f64;
    for (i, b) in bigs.iter().enumerate() {
        let g = curl(&["-u", &a, &s.url(&format!("/dav/ops/big-put{i}"))], None);
        assert!(g.body == *b, "the large PUT {i} reads back whole");
    }
    eprintln!(
        "round trips per request: PUT {put_rt:.1}, GET {get_rt:.1}, stat {stat_rt:.1}, \
         GET with a range {range_rt:.1}, GET of 16 MiB ({extents} extents) {big_rt:.1}, \
         PUT of 16 MiB ({new_chunks} new chunks) {big_put_rt:.1}"
    );
    // One path lookup per request (one statement), the user record, and what the request
    // itself reads and writes (a GET: the version and its chunks; a PUT: the usage, the
    // chunk lookup, the commit's transaction, the audit entry); half a round trip of room
    // for a background worker's statements (the search index's) during the run.
    // On PostgreSQL the store is shared by the nodes of a cluster, so the "no WebDAV lock /
    // no dead property exists" hints a single server keeps cannot be trusted: every lock
    // check is one query (a PUT makes about three), and a PROPFIND entry's locks and dead
    // properties three (`docs/design/cluster.md`, "What a request costs").
    assert!(get_rt <= 4.5, "GET: {get_rt:.1} round trips (was 12)");
    assert!(range_rt <= 4.5, "GET with a range: {range_rt:.1}");
    assert!(
        stat_rt <= 5.5,
        "stat: {stat_rt:.1} (2 + 3 for locks and properties)"
    );
    assert!(
        put_rt <= 19.0,
        "PUT: {put_rt:.1} (14 + about 3 lock checks; was 16 before the commit checked its \
         folder and name in one statement, 22 before that)"
    );
    // chunk records looked up 64 at a time, not one per chunk (the background worker's
    // statements weigh more on 2 requests: more room)
    assert!(extents > 128.0, "the large file has many chunks: {extents}");
    assert!(
        big_rt <= 8.0 + (extents / 64.0).ceil(),
        "GET of 16 MiB: {big_rt:.1} round trips for {extents} extents"
    );
    // a large PUT: its new chunks looked up 64 at a time and their rows inserted in a few
    // statements, not a lookup and an insert per chunk (854 round trips for 418 chunks)
    assert!(
        new_chunks > 128.0,
        "the large PUT has many chunks: {new_chunks}"
    );
    assert!(
        big_put_rt <= put_rt + 4.0 + (new_chunks / 64.0).ceil(),
        "PUT of 16 MiB: {big_put_rt:.1} round trips for {new_chunks} new chunks"
    );
}

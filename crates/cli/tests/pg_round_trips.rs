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

/// A PostgreSQL of the test's own (so that its log holds only this test's statements)
/// logging every statement of a fresh database, and the server on it.
fn logged_server() -> (TestPg, String, PathBuf, tempfile::TempDir, Server) {
    let pg = TestPg::start();
    let url = pg.fresh_db();
    let db = url.rsplit('/').next().unwrap().to_owned();
    pg.psql(
        &url,
        &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
    );
    let log = pg.socket_dir().join("server.log");
    let t = tempfile::tempdir().unwrap();
    let s = Server::start_pg(&t.path().join("data"), &url, &[]);
    (pg, url, log, t, s)
}

#[test]
fn a_webdav_request_walks_its_path_once_and_reads_chunks_in_windows() {
    let (pg, url, log, _t, s) = logged_server();
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
    // read before: its extent list and chunk records come from the node's read cache
    let big_again_rt = round_trips(&log, 3, |_| {
        let g = curl(&["-u", &a, &s.url("/dav/ops/big")], None);
        assert!(g.body == big, "the large file reads back whole again");
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
         GET with a range {range_rt:.1}, GET of 16 MiB ({extents} extents) {big_rt:.1} \
         (read again: {big_again_rt:.1}), PUT of 16 MiB ({new_chunks} new chunks) {big_put_rt:.1}"
    );
    // One path lookup per request (one statement), the user record, and what the request
    // itself reads and writes (a GET of a version read before: nothing more, its extent
    // list and chunk records are in the read cache; a PUT: the usage, the
    // chunk lookup, the commit's transaction, the audit entry); half a round trip of room
    // for a background worker's statements (the search index's) during the run.
    // On PostgreSQL the store is shared by the nodes of a cluster, so the "no WebDAV lock /
    // no dead property exists" hints a single server keeps cannot be trusted: a request
    // reads its user's locks once (one query), a stat its path's dead properties by the id
    // its lookup found (one), and a PUT its bucket folder's (the default retention: a walk
    // and a query) (`docs/design/cluster.md`, "What a request costs").
    assert!(
        get_rt <= 2.5,
        "GET: {get_rt:.1} round trips (4 before the read cache, 12 before that)"
    );
    assert!(range_rt <= 2.5, "GET with a range: {range_rt:.1}");
    assert!(
        stat_rt <= 4.5,
        "stat: {stat_rt:.1} (2 + the locks + the properties; was 5)"
    );
    assert!(
        put_rt <= 19.0,
        "PUT: {put_rt:.1} (14 + the locks + the bucket's properties; was 16 before the \
         commit checked its folder and name in one statement, 22 before that)"
    );
    // chunk records looked up 64 at a time, not one per chunk (the background worker's
    // statements weigh more on 2 requests: more room)
    assert!(extents > 128.0, "the large file has many chunks: {extents}");
    assert!(
        big_rt <= 8.0 + (extents / 64.0).ceil(),
        "GET of 16 MiB: {big_rt:.1} round trips for {extents} extents"
    );
    assert!(
        big_again_rt <= 3.0,
        "GET of 16 MiB read before: {big_again_rt:.1} round trips (the user and the walk)"
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

const LOCKINFO: &str = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\">\
    <D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>\
    <D:owner>round trips</D:owner></D:lockinfo>";

const PROPPATCH: &str = "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" \
    xmlns:x=\"urn:round-trips\"><D:set><D:prop><x:colour>teal</x:colour></D:prop></D:set>\
    </D:propertyupdate>";

#[test]
fn a_listing_costs_the_same_round_trips_whatever_the_number_of_entries() {
    let (_pg, _url, log, _t, s) = logged_server();
    let a = auth("admin", ADMIN_PW);
    let small = content(64, 3);
    let mut tokens = Vec::new();
    for (dir, n) in [("ten", 10), ("many", 200)] {
        let mkcol = curl(
            &["-u", &a, "-X", "MKCOL", &s.url(&format!("/dav/{dir}"))],
            None,
        );
        assert_eq!(mkcol.status, 201);
        for i in 0..n {
            put(&s, &format!("{dir}/f{i:03}"), &small);
        }
        // a dead property on one entry and a lock on another: each listing must show them
        let url = s.url(&format!("/dav/{dir}/f001"));
        let pp = curl(
            &[
                "-u",
                &a,
                "-X",
                "PROPPATCH",
                "--data-binary",
                PROPPATCH,
                &url,
            ],
            None,
        );
        assert_eq!(pp.status, 207);
        let url = s.url(&format!("/dav/{dir}/f002"));
        let lock = curl(
            &["-u", &a, "-X", "LOCK", "--data-binary", LOCKINFO, &url],
            None,
        );
        assert_eq!(lock.status, 200);
        let token = lock.header("lock-token").unwrap();
        tokens.push(token.trim_matches(['<', '>', ' ']).to_owned());
    }
    let list = |dir: &str, n: usize, token: &str| {
        let p = propfind(&a, &s.url(&format!("/dav/{dir}/")), "1", None);
        assert_eq!(p.status, 207);
        let body = p.text();
        assert_eq!(
            body.matches("<D:response>").count(),
            n + 1,
            "{dir}: every entry"
        );
        assert_eq!(body.matches("teal").count(), 1, "{dir}: the dead property");
        assert_eq!(body.matches(token).count(), 1, "{dir}: the lock");
    };
    for _ in 0..3 {
        // warm-up: every statement prepared on the pool's connections
        list("ten", 10, &tokens[0]);
        list("many", 200, &tokens[1]);
    }
    // the fewest of three runs of 5: a background worker's statements (the name index
    // catching up with the 210 new files) land in one run, not in all
    let fewest = |dir: &str, n: usize, token: &str| {
        (0..3)
            .map(|_| round_trips(&log, 5, |_| list(dir, n, token)))
            .fold(f64::MAX, f64::min)
    };
    let ten = fewest("ten", 10, &tokens[0]);
    let many = fewest("many", 200, &tokens[1]);
    eprintln!("round trips per PROPFIND depth 1: 10 entries {ten:.1}, 200 entries {many:.1}");
    // the folder's lookup and listing, the user record, the request's WebDAV locks once,
    // the folder's own dead properties and its entries' in one query: none per entry
    assert!(
        many <= ten + 0.5,
        "200 entries cost {many:.1} round trips, 10 cost {ten:.1}: a cost per entry"
    );
    assert!(
        ten <= 7.5,
        "a listing: {ten:.1} round trips (was 7 + 3 per entry)"
    );
}

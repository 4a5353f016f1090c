//! The PostgreSQL test server: it starts, hands out databases one can connect to, and is
//! gone — process and directory — once dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nas_testkit::pg::TestPg;

/// Whether process `pid` runs (a zombie waiting for its parent to reap it does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_test_server_serves_fresh_databases_and_is_gone_when_dropped() {
    let pg = TestPg::start();
    let pid = pg.server_pid().expect("postmaster.pid names the server");
    let dir = pg.socket_dir().to_path_buf();
    let (a, b) = (pg.fresh_db(), pg.fresh_db());
    assert_ne!(a, b, "each call makes a new database");
    assert!(a.starts_with("postgres://postgres@%2F"), "{a}");
    assert!(running(pid));
    // psql connects through the socket, to the database the URL names
    let db = a.rsplit('/').next().unwrap();
    assert_eq!(pg.psql(&a, "SELECT current_database()"), db);
    assert_eq!(pg.psql(&a, "SHOW fsync"), "off");
    drop(pg);
    assert!(!running(pid), "the server is stopped");
    assert!(!dir.exists(), "its directory is deleted");
}

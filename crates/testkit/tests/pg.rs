//! The PostgreSQL test server: it starts, hands out databases one can connect to, and is
//! gone — process and directory — once dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nas_testkit::pg::TestPg;

#[test]
fn a_test_server_serves_fresh_databases_and_is_gone_when_dropped() {
    let pg = TestPg::start();
    let pid = pg.server_pid().expect("postmaster.pid names the server");
    let dir = pg.socket_dir().to_path_buf();
    let (a, b) = (pg.fresh_db(), pg.fresh_db());
    assert_ne!(a, b, "each call makes a new database");
    assert!(a.starts_with("postgres://postgres@%2F"), "{a}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // psql (Debian's client, in the same bin directory) connects through the socket
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .find(|p| p.is_file())
        .expect("psql");
    let db = a.rsplit('/').next().unwrap();
    let out = Command::new(psql)
        .arg("-h")
        .arg(&dir)
        .args([
            "-U",
            "postgres",
            "-d",
            db,
            "-tAc",
            "SELECT current_database()",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), db);
    drop(pg);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server is stopped"
    );
    assert!(!dir.exists(), "its directory is deleted");
}

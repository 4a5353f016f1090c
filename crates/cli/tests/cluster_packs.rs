//! Cluster mode's shared pack view and GC's pack grace (issue 17): two `silent-nas serve`
//! processes — two nodes, each with its own data directory — over one PostgreSQL database
//! (`nas_testkit::pg::TestPg`) and one bucket (`rclone serve s3` on loopback), commits
//! acknowledged only once their packs are in the object store (`[blobs] ack = "remote"`).
//!
//! - a file written through node A reads byte-exact through node B at once, though B was
//!   started before A wrote it (B looks up the placement of a pack it does not know);
//! - GC on A merges A's small packs and deletes the old ones while B reads: every read on
//!   B is byte-exact, during and after (a frame whose pack was deleted is looked up again);
//!   GC on B (listing placements from the database) deletes nothing still used;
//! - a pack with no index rows — the state a commit in flight on another node leaves
//!   between its upload and its commit — is kept by GC while younger than the grace
//!   period, and deleted (object and placement) once older.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::objstore::*;
use common::*;
use nas_testkit::pg::TestPg;
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// GC's grace period in these tests.
const GRACE: Duration = Duration::from_secs(3);

/// Both nodes' configuration: the bucket of `s3`, acknowledged once remote, the grace.
fn cluster_config(s3: &S3Server, dir: &Path) -> String {
    let extra = format!(
        "ack = \"remote\"\nrequest_timeout = \"10s\"\n[cluster]\ngc_grace = \"{}s\"\n",
        GRACE.as_secs()
    );
    tier_config(s3, dir, &extra).to_str().unwrap().to_owned()
}

/// A node: its own data directory `dir/name`, the shared database and bucket.
fn node(dir: &Path, name: &str, url: &str, cfg: &str) -> Server {
    Server::start_pg(&dir.join(name), url, &["--config", cfg])
}

fn get(s: &Server, name: &str) -> Reply {
    let a = auth("admin", ADMIN_PW);
    curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None)
}

fn pack_objects(s3: &S3Server) -> Vec<String> {
    s3.objects(BUCKET)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("nas/packs/"))
        .collect()
}

fn assert_reads(s: &Server, files: &[(String, Vec<u8>)], what: &str) {
    for (name, body) in files {
        let r = get(s, name);
        assert_eq!(r.status, 200, "{what}: {name}");
        assert!(r.body == *body, "{what}: {name} reads back byte-exact");
    }
}

fn summary(run: &serde_json::Value) -> String {
    run["last_outcome"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_file_written_on_one_node_reads_on_another_at_once_and_through_gc_compaction() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let url = TestPg::shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let cfg = cluster_config(&s3, dir.path());
    let a = node(dir.path(), "a", &url, &cfg);
    let b = node(dir.path(), "b", &url, &cfg);

    // small files one at a time (each commit seals a pack of its own) and one of several
    // packs, each read through B the moment A acknowledged it
    let mut files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            (
                format!("f{i}.bin"),
                content(20_000 + i * 3_001, 40 + i as u64),
            )
        })
        .collect();
    files.push(("big.bin".into(), content(2_500_000, 9)));
    for (name, body) in &files {
        put(&a, name, body);
        let r = get(&b, name);
        assert_eq!(r.status, 200, "{name} on B right after the PUT on A");
        assert!(r.body == *body, "{name} reads byte-exact on B at once");
    }
    let before = pack_objects(&s3);
    assert!(before.len() >= 12, "one pack per small commit: {before:?}");

    // the packs are older than the grace: GC on A merges the small ones while B reads
    std::thread::sleep(GRACE + Duration::from_millis(500));
    let stop = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let run = std::thread::scope(|t| {
        t.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                assert_reads(&b, &files, "B during GC on A");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        });
        let run = run_worker(&a, "gc");
        stop.store(true, Ordering::Release);
        run
    });
    let after = pack_objects(&s3);
    eprintln!(
        "GC on A: {} pack objects before, {} after ({}); B read every file {} times meanwhile",
        before.len(),
        after.len(),
        summary(&run),
        reads.load(Ordering::Relaxed)
    );
    assert!(
        after.len() < before.len(),
        "A's small packs were merged: {} objects before, {} after ({})",
        before.len(),
        after.len(),
        summary(&run)
    );
    assert!(
        before.iter().any(|k| !after.contains(k)),
        "packs B had read from were deleted"
    );
    assert_reads(&b, &files, "B after GC on A");
    assert_reads(&a, &files, "A after its GC");

    // GC on B sees A's packs through the database: it deletes nothing still used
    std::thread::sleep(GRACE + Duration::from_millis(500));
    let run = run_worker(&b, "gc");
    assert_eq!(
        pack_objects(&s3),
        after,
        "GC on B deleted no pack A's files use ({})",
        summary(&run)
    );
    assert_reads(&b, &files, "B after its own GC");
    assert_reads(&a, &files, "A after GC on B");
}

/// PUTs `body` as the object `key` of the bucket, signed as the tier's client signs.
fn put_object(s3: &S3Server, key: &str, body: &[u8]) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), body).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args(["-u", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
        .args(["-T", tmp.path().to_str().unwrap()])
        .arg(format!("{}/{BUCKET}/{key}", s3.endpoint))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "PUT {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_pack_with_no_rows_is_kept_while_younger_than_the_grace_and_deleted_once_older() {
    let s3 = S3Server::start(&[BUCKET]).unwrap();
    let pg = TestPg::shared();
    let url = pg.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let cfg = cluster_config(&s3, dir.path());
    let a = node(dir.path(), "a", &url, &cfg);
    let kept = content(50_000, 3);
    put(&a, "kept.bin", &kept);
    std::thread::sleep(GRACE + Duration::from_millis(500)); // its pack is old now

    // what node B leaves while a commit is in flight there: the pack uploaded and
    // recorded (its placement), the commit's index rows not written yet
    let pack = 0x0123_4567_89ab_cdefu64;
    let key = format!("nas/packs/{pack:016x}.pack");
    let mut bytes = b"SNPACK\x00\x01".to_vec();
    bytes.extend_from_slice(&content(10_000, 5));
    put_object(&s3, &key, &bytes);
    let placed = |sql: &str| pg.psql(&url, sql);
    placed(&format!(
        "INSERT INTO pack_placement (pack, local, remote, size, md5, updated_ns, last_read_ns)
         VALUES ({}, true, true, {}, NULL, now_ns(), now_ns())",
        pack as i64,
        bytes.len()
    ));
    let row = format!(
        "SELECT count(*) FROM pack_placement WHERE pack = {}",
        pack as i64
    );

    let run = run_worker(&a, "gc");
    assert!(
        pack_objects(&s3).contains(&key),
        "a pack younger than the grace is kept ({})",
        summary(&run)
    );
    assert_eq!(placed(&row), "1", "and its placement");
    assert!(
        summary(&run).contains("1 packs younger than the grace period kept"),
        "{}",
        summary(&run)
    );

    std::thread::sleep(GRACE + Duration::from_millis(500));
    let run = run_worker(&a, "gc");
    assert!(
        !pack_objects(&s3).contains(&key),
        "older than the grace, a pack with no rows is deleted ({})",
        summary(&run)
    );
    assert_eq!(placed(&row), "0", "its placement too");
    let r = get(&a, "kept.bin");
    assert_eq!((r.status, r.body == kept), (200, true), "used packs stay");
}

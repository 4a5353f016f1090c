//! Cluster mode as deployed (issue 17): `deploy/cluster/local.sh` starts PostgreSQL,
//! NATS, an S3-compatible object store (`rclone serve s3`), three nodes configured by
//! `deploy/cluster/nas-node.toml` and nginx configured by `deploy/cluster/nginx.conf`, all
//! on loopback; the tests talk to it through the load balancer with real clients (litmus,
//! boto3, rclone, curl), and to single nodes where the point is which node answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A cluster started by `deploy/cluster/local.sh up`, stopped (`down`) when dropped. One
/// at a time in this test binary (each is seven processes and nginx on a 2-core machine).
struct Cluster {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster/local.sh")
}

impl Cluster {
    fn up() -> Cluster {
        Cluster::up_with(&[])
    }

    /// A cluster whose nodes also get the environment `env` (e.g. `SILENT_NAS_GC_GRACE`).
    fn up_with(env: &[(&str, &str)]) -> Cluster {
        let one = ONE_CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        // a base port of its own per test process and cluster
        let base = free_base();
        let out = Command::new("bash")
            .arg(script())
            .args(["up", dir.path().to_str().unwrap(), bin()])
            .env("SILENT_NAS_ADMIN_PASSWORD", ADMIN_PW)
            .env("CLUSTER_PORT", base.to_string())
            .env("PATH", path_with_tools())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let logs = || {
            let mut s = String::new();
            for f in ["node1.log", "node2.log", "node3.log", "nginx-error.log"] {
                let text = std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
                s += &format!(
                    "--- {f}\n{}\n",
                    text.lines().rev().take(15).collect::<Vec<_>>().join("\n")
                );
            }
            s
        };
        if !out.status.success() {
            let _ = Command::new("bash")
                .arg(script())
                .args(["down", dir.path().to_str().unwrap()])
                .output();
            panic!(
                "local.sh up failed: {}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                logs()
            );
        }
        let env = std::fs::read_to_string(dir.path().join("cluster.env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Cluster {
            dir,
            env,
            _one_at_a_time: one,
        }
    }

    fn get(&self, key: &str) -> &str {
        &self.env[key]
    }

    /// The load balancer's URL of `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.get("CLUSTER_URL"))
    }

    /// Node `n`'s own URL of `path`.
    fn node(&self, n: u32, path: &str) -> String {
        format!("{}{path}", self.get(&format!("CLUSTER_NODE{n}")))
    }

    /// Kills node `n` with SIGKILL.
    fn kill9(&self, n: u32) {
        let pid = std::fs::read_to_string(self.dir.path().join(format!("node{n}.pid"))).unwrap();
        let st = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// `silent-nas ARGS… --data DIR/cli --meta URL`, with the cluster's bucket in the
    /// environment: a command beside the cluster.
    fn nas(&self, args: &[&str]) -> String {
        let cli = self.dir.path().join("cli");
        std::fs::create_dir_all(&cli).unwrap();
        let out = Command::new(bin())
            .args(args)
            .args([
                "--data",
                cli.to_str().unwrap(),
                "--meta",
                self.get("CLUSTER_META_URL"),
            ])
            .env("SILENT_NAS_BLOBS_REMOTE", "s3://packs/cluster")
            .env(
                "SILENT_NAS_BLOBS_ENDPOINT",
                self.get("CLUSTER_OBJECT_STORE"),
            )
            .env(
                "SILENT_NAS_BLOBS_ACCESS_KEY_ID",
                self.get("CLUSTER_OBJECT_STORE_KEY"),
            )
            .env(
                "SILENT_NAS_BLOBS_SECRET_ACCESS_KEY",
                self.get("CLUSTER_OBJECT_STORE_SECRET"),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "silent-nas {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops PostgreSQL and starts it again (`local.sh pg-restart`).
    fn restart_pg(&self) {
        let out = Command::new("bash")
            .arg(script())
            .args(["pg-restart", self.dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A base port for `local.sh` whose ports (base to base + 4, base + 11 to 13, base + 21
/// to 23) are all free now: below Linux's ephemeral range (32768 and up), so no client
/// socket takes one meanwhile, starting from a place of this process's own.
fn free_base() -> u32 {
    let offsets = [0, 1, 2, 3, 4, 11, 12, 13, 21, 22, 23];
    let start = std::process::id() % 300;
    for k in 0..300 {
        let base = 20_000 + ((start + k) % 300) * 40;
        let free = offsets
            .iter()
            .all(|o| std::net::TcpListener::bind(("127.0.0.1", (base + o) as u16)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free range of ports for a cluster between 20000 and 32000");
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["down", self.dir.path().to_str().unwrap()])
            .output();
    }
}

fn admin() -> String {
    auth("admin", ADMIN_PW)
}

fn put_to(url: &str, body: &[u8]) -> u16 {
    curl(&["-u", &admin(), "-T", "-", url], Some(body)).status
}

/// litmus, the boto3 suite and rclone copy/check, all through the load balancer, whose
/// requests spread over the three nodes.
#[test]
fn clients_pass_through_the_load_balancer() {
    let c = Cluster::up();
    let (passed, failed, text) = litmus(&c.url("/dav/"), "admin", ADMIN_PW);
    assert_eq!((passed, failed), (104, 0), "litmus:\n{text}");
    // boto3 through the load balancer's S3 port
    let line = c.nas(&["key", "create", "admin"]);
    let mut parts = line.split_whitespace();
    let (ak, sk) = (parts.next().unwrap(), parts.next().unwrap());
    let out = Command::new("python3")
        .arg(format!(
            "{}/../../tests/s3/test_boto3.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([
            c.get("CLUSTER_S3_URL"),
            ak,
            sk,
            &c.url("/dav"),
            "admin",
            ADMIN_PW,
            "--behind-proxy",
        ])
        .output()
        .expect("python3 with boto3 (pip install boto3)");
    assert!(
        out.status.success(),
        "boto3 through the load balancer:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // rclone copy and check
    let t = tempfile::tempdir().unwrap();
    let src = make_corpus(&t.path().join("corpus"), 60);
    let rclone = |args: &[&str]| rclone_dav(&c.url("/dav/"), args);
    let src_s = src.to_str().unwrap();
    rclone(&["copy", src_s, "nas:corpus"]);
    rclone(&["check", src_s, "nas:corpus"]);
}

/// A file written through one node reads back byte-exact through each other node and the
/// load balancer at once (the other nodes started before it was written).
#[test]
fn a_write_through_one_node_reads_back_through_every_node_at_once() {
    let c = Cluster::up();
    let files = [
        ("small.txt", content(100, 1)),
        ("medium.bin", content(1 << 20, 2)),
        ("large.bin", content(6 << 20, 3)),
    ];
    for (name, body) in &files {
        let st = put_to(&c.node(1, &format!("/dav/{name}")), body);
        assert_eq!(st, 201, "PUT {name} on node 1");
        for url in [
            c.node(2, &format!("/dav/{name}")),
            c.node(3, &format!("/dav/{name}")),
            c.url(&format!("/dav/{name}")),
        ] {
            let r = curl(&["-u", &admin(), &url], None);
            assert_eq!(r.status, 200, "GET {url}");
            assert!(
                r.body == *body,
                "{url}: {} bytes, not the {} written",
                r.body.len(),
                body.len()
            );
        }
    }
    // an overwrite on node 3 is what node 1 serves next
    let v2 = content(300_000, 4);
    assert_eq!(put_to(&c.node(3, "/dav/medium.bin"), &v2), 204);
    assert!(curl(&["-u", &admin(), &c.node(1, "/dav/medium.bin")], None).body == v2);
}

/// A node is killed with SIGKILL during a large upload it is receiving and while small
/// uploads go on through the load balancer: every acknowledged upload reads back
/// byte-exact from the surviving nodes, every other one is absent or whole — never a
/// partial file — and `fsck --verify-data` is clean.
#[test]
fn killing_a_node_during_uploads_loses_nothing_acknowledged() {
    let c = Cluster::up();
    let n = 30;
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| content(64 * 1024 + i * 997, 100 + i as u64))
        .collect();
    let large = content(24 << 20, 7);
    let t0 = Instant::now();
    let (acked, large_status) = std::thread::scope(|sc| {
        // a large upload to node 2, slowed so that it is in flight when node 2 dies
        let big = sc.spawn(|| {
            curl(
                &[
                    "-u",
                    &admin(),
                    "--limit-rate",
                    "4M",
                    "-T",
                    "-",
                    &c.node(2, "/dav/large.bin"),
                ],
                Some(&large),
            )
            .status
        });
        let mut acked = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            if i == n / 3 {
                // the large upload has been going for a second at least (of about six)
                std::thread::sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()));
                c.kill9(2);
            }
            let st = put_to(&c.url(&format!("/dav/up-{i}.bin")), body);
            if matches!(st, 201 | 204) {
                acked.push(i);
            }
        }
        (acked, big.join().unwrap())
    });
    assert!(
        !matches!(large_status, 201 | 204),
        "the large upload's node died before it ended: {large_status}"
    );
    let r = curl(&["-u", &admin(), &c.url("/dav/large.bin")], None);
    assert_eq!(r.status, 404, "an upload cut by a dead node leaves nothing");
    assert!(
        acked.len() >= n * 2 / 3,
        "most uploads succeed on the nodes left: {acked:?}"
    );
    uploads_read_back(&c, "up", &bodies, &acked);
    let fsck = c.nas(&["fsck", "--verify-data"]);
    assert!(fsck.contains("clean"), "fsck: {fsck}");
}

/// Uploads go on through the load balancer while PostgreSQL is stopped and started again:
/// uploads during the outage are refused (never acknowledged), the nodes recover without
/// a restart, and every acknowledged upload reads back byte-exact.
#[test]
fn postgresql_restarted_under_load_loses_nothing_acknowledged() {
    let c = Cluster::up();
    let n = 40;
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| content(32 * 1024 + i * 31, 500 + i as u64))
        .collect();
    let acked = std::thread::scope(|sc| {
        let uploads = sc.spawn(|| {
            let mut acked = Vec::new();
            for (i, body) in bodies.iter().enumerate() {
                if matches!(put_to(&c.url(&format!("/dav/pg-{i}.bin")), body), 201 | 204) {
                    acked.push(i);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(500));
        c.restart_pg();
        uploads.join().unwrap()
    });
    assert!(
        acked.len() >= n / 2,
        "uploads resume after the restart: {acked:?}"
    );
    assert!(
        acked.contains(&(n - 1)),
        "the last upload, after the restart, succeeds"
    );
    uploads_read_back(&c, "pg", &bodies, &acked);
}

/// GC runs again and again on node 1 while nodes 2 and 3 write, delete and purge files
/// whose chunks the other writer deduplicates against at the same time — a chunk's last
/// reference goes away on one node while another node's commit is about to take one. With
/// the grace period no acknowledged file loses a chunk: every file left reads back
/// byte-exact, and `fsck --verify-data` is clean.
#[test]
fn gc_on_one_node_never_frees_what_writers_on_others_deduplicate_against() {
    let c = Cluster::up_with(&[("SILENT_NAS_GC_GRACE", "3s")]);
    let blobs: Vec<Vec<u8>> = (0..6).map(|i| content(150_000, 900 + i)).collect();
    let until = Instant::now() + Duration::from_secs(12);
    let writer = |node: u32| {
        let (c, blobs) = (&c, &blobs);
        move || {
            let mut left = Vec::new(); // (path, blob) of files this writer leaves in place
            let mut round = 0;
            while Instant::now() < until {
                let mut made = Vec::new();
                for k in 0..3 {
                    let b = (round + k + node as usize) % blobs.len();
                    let path = format!("/dav/w{node}-{round}-{k}.bin");
                    if matches!(put_to(&c.node(node, &path), &blobs[b]), 201 | 204) {
                        made.push((path, b));
                    }
                }
                // every other round: delete and purge, so these chunks lose their references
                if round % 2 == 0 {
                    for (path, _) in made.drain(..) {
                        curl(
                            &["-u", &admin(), "-X", "DELETE", &c.node(node, &path)],
                            None,
                        );
                    }
                    curl(
                        &[
                            "-u",
                            &admin(),
                            "-X",
                            "DELETE",
                            &c.node(node, "/api/v1/trash"),
                        ],
                        None,
                    );
                }
                left.extend(made);
                round += 1;
            }
            left
        }
    };
    let (left2, left3) = std::thread::scope(|sc| {
        let w2 = sc.spawn(writer(2));
        let w3 = sc.spawn(writer(3));
        sc.spawn(|| {
            while Instant::now() < until {
                curl(
                    &[
                        "-u",
                        &admin(),
                        "-X",
                        "POST",
                        &c.node(1, "/api/v1/admin/workers/gc/run"),
                    ],
                    None,
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        (w2.join().unwrap(), w3.join().unwrap())
    });
    let check = |when: &str| {
        for (path, b) in left2.iter().chain(&left3) {
            let r = curl(&["-u", &admin(), &c.url(path)], None);
            assert_eq!(r.status, 200, "{when}: {path}");
            assert!(
                r.body == blobs[*b],
                "{when}: {path} reads back {} bytes",
                r.body.len()
            );
        }
    };
    assert!(
        left2.len() + left3.len() >= 6,
        "the writers left files to check"
    );
    check("right after the race");
    // after the grace period, GC frees what is really unreferenced, and nothing else
    std::thread::sleep(Duration::from_secs(4));
    run_gc(&c);
    check("after a GC past the grace period");
    let fsck = c.nas(&["fsck", "--verify-data"]);
    assert!(fsck.contains("clean"), "fsck: {fsck}");
}

fn run_gc(c: &Cluster) {
    let r = curl(
        &[
            "-u",
            &admin(),
            "-X",
            "POST",
            &c.node(1, "/api/v1/admin/workers/gc/run"),
        ],
        None,
    );
    assert!(
        matches!(r.status, 200 | 202),
        "gc run: {} {}",
        r.status,
        r.text()
    );
    std::thread::sleep(Duration::from_secs(2));
}

/// Every acknowledged upload `PREFIX-i.bin` (i in `acked`) reads back byte-exact through
/// the load balancer; every other one is absent or whole, never partial.
fn uploads_read_back(c: &Cluster, prefix: &str, bodies: &[Vec<u8>], acked: &[usize]) {
    for (i, body) in bodies.iter().enumerate() {
        let r = curl(
            &["-u", &admin(), &c.url(&format!("/dav/{prefix}-{i}.bin"))],
            None,
        );
        if acked.contains(&i) {
            assert_eq!(r.status, 200, "acknowledged upload {prefix}-{i}");
            assert!(
                r.body == *body,
                "upload {prefix}-{i}: {} bytes",
                r.body.len()
            );
        } else {
            assert!(
                r.status == 404 || (r.status == 200 && r.body == *body),
                "upload {prefix}-{i} not acknowledged: {} with {} bytes",
                r.status,
                r.body.len()
            );
        }
    }
}

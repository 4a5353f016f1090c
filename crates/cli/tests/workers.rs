//! Background workers in the real server: with short intervals from the `[workers]`
//! section, trash expiry empties the trash, GC then frees the chunks, a scrub runs clean —
//! all seen through `/metrics`, which still passes `promtool check metrics`; a scrub in
//! progress does not hold up SIGTERM; a bad `[workers]` value stops the start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(120);

fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name_and_labels)?;
        // `name` must not match `name_total` or `name{...}`
        rest.starts_with(' ').then(|| rest.trim().parse().ok())?
    })
}

fn metrics(s: &Server) -> String {
    let m = curl(&[&s.url("/metrics")], None);
    assert_eq!(m.status, 200);
    m.text()
}

/// Polls `/metrics` until `pred` holds; the last exposition is returned.
fn wait_metrics(s: &Server, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + PATIENCE;
    loop {
        let t = metrics(s);
        if pred(&t) {
            return t;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}:\n{t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_with_workers(dir: &Path, workers: &str) -> Server {
    let cfg = dir.join("silent-nas.toml");
    std::fs::write(&cfg, format!("[workers]\n{workers}\n")).unwrap();
    Server::start_with(&dir.join("data"), &["--config", cfg.to_str().unwrap()])
}

fn promtool_check(text: &str) {
    use std::io::Write;
    let mut p = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package prometheus)");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sigterm_exits_0(s: &mut Server) {
    let pid = s.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let until = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < until,
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn trash_expiry_then_gc_then_scrub_run_on_their_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_with_workers(
        dir.path(),
        "gc_interval = \"1s\"\ntrash_retention = \"1s\"\ntrash_interval = \"1s\"\n\
         scrub_interval = \"1s\"\nscrub_rate = \"unlimited\"\n",
    );
    let a = auth("admin", ADMIN_PW);
    let body = vec![7u8; 300_000];
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/doomed.bin")],
            Some(&body)
        )
        .status,
        201
    );
    assert_eq!(
        curl(&["-u", &a, "-X", "DELETE", &s.url("/dav/doomed.bin")], None).status,
        204
    );
    // the deleted file's chunks stay referenced by the trash until it expires; then GC
    // deletes them
    let t = wait_metrics(&s, "trash expiry and a GC after it", |t| {
        sample(t, "silent_nas_trash_expired_entries_total") >= Some(1.0)
            && sample(t, "silent_nas_storage_trash_entries") == Some(0.0)
            && sample(t, "silent_nas_storage_chunks") == Some(0.0)
    });
    assert!(sample(&t, "silent_nas_gc_runs_total") >= Some(1.0), "{t}");
    assert!(
        sample(
            &t,
            r#"silent_nas_worker_runs_total{worker="gc",result="ok"}"#
        ) >= Some(1.0),
        "{t}"
    );
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_worker_runs_total{worker="gc",result="error"}"#
        ),
        Some(0.0)
    );
    assert!(
        sample(
            &t,
            r#"silent_nas_worker_runs_total{worker="trash",result="ok"}"#
        ) >= Some(1.0)
    );
    let started = sample(&t, "process_start_time_seconds").unwrap();
    for w in ["gc", "trash"] {
        let ok = sample(
            &t,
            &format!(r#"silent_nas_worker_last_success_timestamp_seconds{{worker="{w}"}}"#),
        )
        .unwrap();
        assert!(
            ok >= started,
            "{w}: last success {ok} before start {started}"
        );
        assert!(
            sample(
                &t,
                &format!(r#"silent_nas_worker_last_run_timestamp_seconds{{worker="{w}"}}"#)
            )
            .is_some()
        );
    }
    let t = wait_metrics(&s, "a scrub", |t| {
        sample(t, "silent_nas_scrub_runs_total") >= Some(1.0)
    });
    assert_eq!(sample(&t, "silent_nas_scrub_last_damage_found"), Some(0.0));
    assert_eq!(sample(&t, "silent_nas_scrub_damage_found_total"), Some(0.0));
    assert!(sample(&t, r#"silent_nas_worker_running{worker="scrub"}"#).is_some());
    assert!(
        t.lines()
            .all(|l| !l.starts_with("silent_nas_worker_runs_total{worker=\"retention\""))
    );
    assert_eq!(sample(&t, "silent_nas_ready"), Some(1.0));
    assert!(sample(&t, "silent_nas_disk_free_bytes").unwrap() > 0.0);
    promtool_check(&t);
    sigterm_exits_0(&mut s);
}

#[test]
fn sigterm_stops_a_throttled_scrub_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // one byte a second: the scrub is still reading its first chunk at shutdown
    let mut s = start_with_workers(
        dir.path(),
        "gc_interval = \"off\"\nscrub_interval = \"1s\"\nscrub_rate = \"1\"\n",
    );
    let a = auth("admin", ADMIN_PW);
    assert_eq!(
        curl(
            &["-u", &a, "-T", "-", &s.url("/dav/f.bin")],
            Some(&[1u8; 10_000])
        )
        .status,
        201
    );
    wait_metrics(&s, "the scrub to be running", |t| {
        sample(t, r#"silent_nas_worker_running{worker="scrub"}"#) == Some(1.0)
    });
    sigterm_exits_0(&mut s);
}

#[test]
fn a_bad_workers_value_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[workers]\ngc_interval = \"sometimes\"\n").unwrap();
    let out = std::process::Command::new(bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("SILENT_NAS_ADMIN_PASSWORD", ADMIN_PW)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gc_interval") && err.contains("sometimes"),
        "{err}"
    );
}

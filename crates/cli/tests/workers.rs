//! Background workers in the real server: with short intervals from the `[workers]`
//! section, trash expiry empties the trash, GC then frees the chunks, a scrub runs clean —
//! all seen through `/metrics`, which still passes `promtool check metrics`; a slow scrub
//! shows its progress moving in the admin API and in `/metrics` while it runs; a scrub in
//! progress does not hold up SIGTERM; a bad `[workers]` value stops the start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(120);

fn metrics(s: &Server) -> String {
    let m = common::scrape_as_admin(s, "/metrics");
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
    // retention is scheduled (daily by default) even without a server rule: accounts may
    // have their own; it has not run
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_worker_runs_total{worker="retention",result="ok"}"#
        ),
        Some(0.0)
    );
    assert_eq!(sample(&t, "silent_nas_ready"), Some(1.0));
    assert!(sample(&t, "silent_nas_disk_free_bytes").unwrap() > 0.0);
    promtool_check(&t);
    sigterm_exits_0(&mut s);
}

/// The scrub worker's entry in `GET /api/v1/admin/workers` (Basic credentials).
fn scrub_state(s: &Server) -> serde_json::Value {
    worker(s, "scrub").expect("a scrub worker")
}

#[test]
fn a_slow_scrub_shows_its_progress_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    // 3 MB at 600 KiB/s: about five seconds of reading, a report after every chunk
    let s = start_with_workers(
        dir.path(),
        "gc_interval = \"off\"\nscrub_interval = \"30d\"\nscrub_rate = \"600KiB\"\n",
    );
    let a = auth("admin", ADMIN_PW);
    for i in 0..3 {
        let url = s.url(&format!("/dav/data{i}.bin"));
        let put = curl(&["-u", &a, "-T", "-", &url], Some(&content(1_000_000, i)));
        assert_eq!(put.status, 201);
    }
    let stored = sample(&metrics(&s), "silent_nas_storage_stored_bytes").unwrap() as u64;
    assert!(stored >= 3_000_000, "{stored}");
    let idle = scrub_state(&s);
    assert_eq!(idle["running"], false);
    assert!(idle["progress"].is_null(), "{idle}");
    let run = curl(
        &[
            "-u",
            &a,
            "-X",
            "POST",
            &s.url("/api/v1/admin/workers/scrub/run"),
        ],
        None,
    );
    assert_eq!(run.status, 202, "{}", run.text());

    // poll while it runs: the figure moves, in bytes, towards the store's stored bytes
    let until = Instant::now() + PATIENCE;
    let mut seen: Vec<u64> = Vec::new();
    let mut scraped = None;
    loop {
        let w = scrub_state(&s);
        if w["runs"] == 1 {
            break;
        }
        if let Some(p) = w["progress"].as_object() {
            assert_eq!(w["running"], true, "{w}");
            assert_eq!(p["unit"], "bytes", "{w}");
            assert_eq!(p["total"].as_u64(), Some(stored), "{w}");
            let done = p["done"].as_u64().unwrap();
            assert!(done <= stored, "{w}");
            let ratio = p["ratio"].as_f64().unwrap();
            assert!((ratio - done as f64 / stored as f64).abs() < 1e-9, "{w}");
            assert!(
                seen.last().is_none_or(|&d| d <= done),
                "never backwards: {seen:?} {w}"
            );
            if seen.last() != Some(&done) {
                seen.push(done);
            }
            if scraped.is_none() && done < stored {
                scraped = Some(metrics(&s));
            }
        }
        assert!(Instant::now() < until, "the scrub did not finish: {w}");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        seen.len() >= 3 && seen.iter().any(|&d| d < stored / 2),
        "the progress moved during the run: {seen:?}"
    );
    // the metrics during the run: done and total in bytes, the ratio between 0 and 1
    let t = scraped.expect("a scrape during the run");
    let done = sample(
        &t,
        r#"silent_nas_worker_progress_done{worker="scrub",unit="bytes"}"#,
    )
    .unwrap();
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_worker_progress_target{worker="scrub",unit="bytes"}"#
        ),
        Some(stored as f64),
        "{t}"
    );
    let ratio = sample(&t, r#"silent_nas_worker_progress_ratio{worker="scrub"}"#).unwrap();
    assert!(done < stored as f64 && (0.0..1.0).contains(&ratio), "{t}");
    promtool_check(&t);
    // over: the outcome is there, the progress is gone from the API and the metrics
    let w = scrub_state(&s);
    assert_eq!(
        (w["running"].as_bool(), w["failures"].as_u64()),
        (Some(false), Some(0))
    );
    assert!(w["progress"].is_null(), "{w}");
    assert_eq!(w["last_outcome"]["damage"], 0, "{w}");
    let t = metrics(&s);
    assert!(!t.contains("silent_nas_worker_progress_done{"), "{t}");
    assert!(!t.contains("silent_nas_worker_progress_ratio{"), "{t}");
    promtool_check(&t);
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

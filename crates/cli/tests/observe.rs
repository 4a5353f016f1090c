//! Metrics, liveness and readiness of the real server: every door series moves with the
//! requests that pass, the store series match the store, `promtool check metrics` accepts
//! the exposition, and readiness names the check that fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

#[test]
fn metrics_follow_requests_and_pass_promtool() {
    let s = Server::start();
    let a = auth("admin", ADMIN_PW);
    let body = vec![5u8; 70_000];
    assert_eq!(
        curl(&["-u", &a, "-T", "-", &s.url("/dav/m.bin")], Some(&body)).status,
        201
    );
    assert_eq!(
        curl(&["-u", &a, &s.url("/dav/m.bin")], None).body.len(),
        body.len()
    );
    assert_eq!(curl(&[&s.url("/dav/")], None).status, 401);
    let m = common::scrape_as_admin(&s, "/metrics");
    assert_eq!(m.status, 200);
    let t = m.text();
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_http_requests_total{door="webdav",method="PUT",status="201"}"#
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_http_requests_total{door="webdav",method="GET",status="401"}"#
        ),
        Some(1.0)
    );
    assert!(
        sample(&t, r#"silent_nas_http_request_bytes_total{door="webdav"}"#).unwrap()
            >= body.len() as f64
    );
    assert!(
        sample(&t, r#"silent_nas_http_response_bytes_total{door="webdav"}"#).unwrap()
            >= body.len() as f64
    );
    assert_eq!(
        sample(
            &t,
            r#"silent_nas_http_request_duration_seconds_count{door="webdav",method="PUT"}"#
        ),
        Some(1.0)
    );
    assert_eq!(sample(&t, "silent_nas_storage_files"), Some(1.0));
    assert_eq!(
        sample(&t, "silent_nas_storage_logical_bytes"),
        Some(body.len() as f64)
    );
    assert_eq!(
        sample(&t, r#"silent_nas_user_used_bytes{user="admin"}"#),
        Some(body.len() as f64)
    );
    assert!(sample(&t, "process_resident_memory_bytes").unwrap() > 1_000_000.0);
    assert!(sample(&t, "process_virtual_memory_bytes").unwrap() > 1_000_000.0);
    assert!(sample(&t, "process_max_fds").unwrap() > 0.0);
    assert!(sample(&t, "process_cpu_seconds_total").is_some());
    assert_eq!(sample(&t, "silent_nas_ready"), Some(1.0));
    assert!(sample(&t, "silent_nas_disk_free_bytes").unwrap() > 0.0);
    assert!(
        sample(&t, "silent_nas_disk_size_bytes").unwrap()
            >= sample(&t, "silent_nas_disk_free_bytes").unwrap()
    );
    // the default workers are registered (and have not run yet: their intervals are hours)
    for w in ["gc", "retention", "trash", "scrub"] {
        for result in ["ok", "error"] {
            assert_eq!(
                sample(
                    &t,
                    &format!(r#"silent_nas_worker_runs_total{{worker="{w}",result="{result}"}}"#)
                ),
                Some(0.0),
                "{w} {result}"
            );
        }
        assert_eq!(
            sample(&t, &format!(r#"silent_nas_worker_running{{worker="{w}"}}"#)),
            Some(0.0)
        );
    }
    assert_eq!(
        sample(&t, r#"silent_nas_worker_interval_seconds{worker="gc"}"#),
        Some(6.0 * 3600.0)
    );
    for counter in [
        "silent_nas_gc_runs_total",
        "silent_nas_gc_freed_bytes_total",
        "silent_nas_scrub_runs_total",
        "silent_nas_scrub_damage_found_total",
        "silent_nas_audit_pruned_entries_total",
        r#"silent_nas_audit_dropped_entries_total{reason="queue_full"}"#,
        r#"silent_nas_audit_dropped_entries_total{reason="write_error"}"#,
    ] {
        assert_eq!(sample(&t, counter), Some(0.0), "{counter}");
    }
    // the compatibility path serves the same exposition
    assert!(
        common::scrape_as_admin(&s, "/metrics/storage-v2")
            .text()
            .contains("silent_nas_storage_chunks")
    );
    promtool_check(&t);
}

#[test]
fn liveness_and_readiness() {
    let s = Server::start();
    assert_eq!(curl(&[&s.url("/healthz")], None).status, 200);
    let r = curl(&[&s.url("/readyz")], None);
    assert_eq!((r.status, r.text().trim()), (200, "ready"));
    assert_eq!(
        curl(&[&s.url("/metrics/storage-v2/health")], None).status,
        200
    );
    // the chunk store disappears: not ready, and the answer says why
    let packs = s.data.join("packs");
    let moved = s.data.join("packs.away");
    std::fs::rename(&packs, &moved).unwrap();
    let r = curl(&[&s.url("/readyz")], None);
    assert_eq!(r.status, 503);
    assert!(r.text().contains("chunk store"), "{}", r.text());
    let m = common::scrape_as_admin(&s, "/metrics").text();
    assert_eq!(sample(&m, "silent_nas_ready"), Some(0.0), "{m}");
    std::fs::rename(&moved, &packs).unwrap();
    assert_eq!(curl(&[&s.url("/readyz")], None).status, 200);
    let m = common::scrape_as_admin(&s, "/metrics").text();
    assert_eq!(sample(&m, "silent_nas_ready"), Some(1.0));
}

#[test]
fn active_sessions_follow_rest_sign_ins_and_sign_outs() {
    let s = Server::start();
    let scrape =
        || String::from_utf8_lossy(&common::scrape_as_admin(&s, "/metrics").body).into_owned();
    assert_eq!(sample(&scrape(), "silent_nas_active_sessions"), Some(0.0));
    let body = format!(r#"{{"username":"admin","password":"{ADMIN_PW}"}}"#);
    let login = curl(
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
            &s.url("/api/v1/auth/login"),
        ],
        None,
    );
    assert_eq!(login.status, 200);
    assert_eq!(sample(&scrape(), "silent_nas_active_sessions"), Some(1.0));
    let v: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
    let token = v["access_token"].as_str().unwrap();
    let out = curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {token}"),
            &s.url("/api/v1/auth/logout"),
        ],
        None,
    );
    assert!(out.status == 200 || out.status == 204, "{}", out.status);
    assert_eq!(sample(&scrape(), "silent_nas_active_sessions"), Some(0.0));
}

/// `silent_nas_search_index_waiting_nodes` counts what the name index has not taken in:
/// with the `search-index` worker off it grows by one per created file; once the worker
/// runs (the next start, default config) it falls to zero.
#[test]
fn the_search_index_backlog_is_a_gauge() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("no-index.toml");
    std::fs::write(&cfg, "[workers]\nsearch_index_interval = \"off\"\n").unwrap();
    let waiting = |s: &Server| {
        let t = common::scrape_as_admin(s, "/metrics").text();
        sample(&t, "silent_nas_search_index_waiting_nodes").expect("the gauge is exported")
    };
    let a = auth("admin", ADMIN_PW);
    let mut s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    // the first request creates the home (its root folder is a node too)
    assert_eq!(propfind(&a, &s.url("/dav/"), "0", None).status, 207);
    let before = waiting(&s);
    assert!(before >= 1.0, "{before}");
    for i in 0..3 {
        let url = s.url(&format!("/dav/n{i}.txt"));
        assert_eq!(curl(&["-u", &a, "-T", "-", &url], Some(b"x")).status, 201);
    }
    assert_eq!(waiting(&s), before + 3.0);
    s.kill9();
    let s = Server::start_on(&data);
    let caught_up = (0..100).any(|_| {
        if waiting(&s) == 0.0 {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        false
    });
    assert!(caught_up, "the worker indexed the backlog: {}", waiting(&s));
}

//! Change events on NATS (`docs/api/events.md`): a real `nats-server`, the real server
//! started with `--nats`, and a plain-protocol subscriber. Every create, update, move,
//! copy, delete and restore — through WebDAV and REST — arrives as one JSON message on
//! `silent-nas.events.<user>.<kind>`; a failed request publishes nothing; a bus that goes
//! away costs no write (readiness says degraded) and events flow again once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nas_testkit::nats::{NatsServer, Subscriber};
use serde_json::Value;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// The next change of the namespace within `wait`, skipping account events (the first
/// admin's creation, published as the server starts, may or may not arrive after the
/// test subscribed; account events are tested in `cluster.rs`).
fn change_within(sub: &mut Subscriber, wait: Duration) -> Option<nas_testkit::nats::Message> {
    let until = Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = sub.next(left).unwrap()?;
        if !m.subject.ends_with(".account") {
            return Some(m);
        }
    }
}

/// The next event, as (subject, JSON); fails the test if none comes.
fn next(sub: &mut Subscriber) -> (String, Value) {
    let m = change_within(sub, WAIT).expect("an event should have been published");
    (m.subject, serde_json::from_slice(&m.payload).unwrap())
}

fn dav(s: &Server, method: &str, path: &str, dest: Option<&str>) -> u16 {
    let a = auth("admin", ADMIN_PW);
    let mut args = vec!["-u", &a, "-X", method];
    let d;
    if let Some(to) = dest {
        d = format!("Destination: {}", s.url(&format!("/dav{to}")));
        args.extend(["-H", &d]);
    }
    let url = s.url(&format!("/dav{path}"));
    args.push(&url);
    curl(&args, None).status
}

#[test]
fn every_change_is_published_once_with_its_path_version_size_and_hash() {
    let bus = NatsServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, &["--nats", &bus.url]);
    let mut sub = bus.subscribe("silent-nas.events.>").unwrap();

    // a new file, then a new version of it
    put(&s, "a.txt", b"first");
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.create");
    assert_eq!(e["kind"], "create");
    assert_eq!(e["user"], "admin");
    assert_eq!(e["path"], "/a.txt");
    assert_eq!(e["version"], 1);
    assert_eq!(e["size"], 5);
    assert_eq!(e["hash"], blake3::hash(b"first").to_hex().as_str());
    assert_eq!(e["dir"], false);
    assert!(e["node"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    let file_id = e["file_id"].as_i64().unwrap();
    put(&s, "a.txt", b"second!");
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.update");
    assert_eq!(
        (e["version"].as_i64(), e["size"].as_i64()),
        (Some(2), Some(7))
    );
    assert_eq!(e["file_id"].as_i64(), Some(file_id));

    // a folder, a move into it (the file keeps its id), a copy
    assert_eq!(dav(&s, "MKCOL", "/docs", None), 201);
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.create");
    assert_eq!(
        (e["path"].as_str(), e["dir"].as_bool()),
        (Some("/docs"), Some(true))
    );
    assert_eq!(dav(&s, "MOVE", "/a.txt", Some("/docs/b.txt")), 201);
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.move");
    assert_eq!(e["path"], "/docs/b.txt");
    assert_eq!(e["from"], "/a.txt");
    assert_eq!(e["file_id"].as_i64(), Some(file_id));
    assert_eq!(dav(&s, "COPY", "/docs/b.txt", Some("/c.txt")), 201);
    let (_, e) = next(&mut sub);
    assert_eq!(
        (e["kind"].as_str(), e["path"].as_str()),
        (Some("create"), Some("/c.txt"))
    );
    assert_eq!(e["from"], "/docs/b.txt");
    assert_eq!(e["size"], 7);

    // a request that fails publishes nothing
    assert_eq!(dav(&s, "MOVE", "/missing.txt", Some("/x.txt")), 404);
    assert!(change_within(&mut sub, Duration::from_millis(500)).is_none());

    // an old version made current again (REST), a delete, a restore from the trash
    let a = auth("admin", ADMIN_PW);
    let r = post_json_as(
        &s,
        &a,
        "/api/v1/versions/docs/b.txt/restore",
        r#"{"version":1}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.restore");
    assert_eq!(
        (e["version"].as_i64(), e["size"].as_i64()),
        (Some(3), Some(5))
    );
    assert_eq!(dav(&s, "DELETE", "/docs", None), 204);
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.delete");
    assert_eq!(
        (e["path"].as_str(), e["dir"].as_bool()),
        (Some("/docs"), Some(true))
    );
    let trash = curl(&["-u", &a, &s.url("/api/v1/trash")], None);
    let id = json(&trash)["entries"][0]["id"].as_i64().unwrap();
    let r = post_json_as(
        &s,
        &a,
        "/api/v1/trash/restore",
        &format!(r#"{{"ids":[{id}]}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (subject, e) = next(&mut sub);
    assert_eq!(subject, "silent-nas.events.admin.restore");
    assert_eq!(e["path"], "/docs");
    assert!(
        change_within(&mut sub, Duration::from_millis(500)).is_none(),
        "one event per change"
    );

    let m = scrape_as_admin(&s, "/metrics");
    assert_eq!(
        sample(&m.text(), "silent_nas_change_events_published_total"),
        Some(9.0),
        "eight changes and the first admin's creation (an account event), nine events"
    );
    assert_eq!(
        sample(&m.text(), "silent_nas_change_events_degraded"),
        Some(0.0)
    );
}

#[test]
fn a_bus_that_goes_away_costs_no_write_and_events_resume_when_it_is_back() {
    let mut bus = NatsServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, &["--nats", &bus.url]);
    let mut sub = bus.subscribe("silent-nas.events.admin.*").unwrap();
    put(&s, "before.txt", b"x");
    assert_eq!(next(&mut sub).1["path"], "/before.txt");

    bus.stop();
    // readiness reports the bus, and writes go on
    let deadline = Instant::now() + WAIT;
    loop {
        let r = curl(&[&s.url("/readyz")], None);
        if r.text().contains("change events") {
            assert_eq!(r.status, 200, "degraded is still ready: {}", r.text());
            assert!(!r.text().contains("nats://"), "no address: {}", r.text());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readiness never said: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..20 {
        put(
            &s,
            &format!("during-{i}.txt"),
            b"written while the bus is down",
        );
    }
    let a = auth("admin", ADMIN_PW);
    let r = curl(&["-u", &a, &s.url("/dav/during-19.txt")], None);
    assert_eq!(r.body, b"written while the bus is down");

    bus.restart().unwrap();
    let mut sub = bus.subscribe("silent-nas.events.admin.*").unwrap();
    // the client reconnects by itself; a change after that arrives
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        put(&s, &format!("after-{n}.txt"), b"y");
        if let Some(m) = change_within(&mut sub, Duration::from_millis(500)) {
            let e: Value = serde_json::from_slice(&m.payload).unwrap();
            assert!(e["path"].as_str().unwrap().starts_with("/"), "{e}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no event after the bus came back"
        );
    }
    let r = curl(&[&s.url("/readyz")], None);
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("change events"), "{}", r.text());
}

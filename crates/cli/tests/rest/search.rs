//! `GET /api/v1/search`: names in the caller's home, case-insensitive, with filters and
//! paging; other users' files never appear.

use super::*;

fn names(r: &Reply) -> Vec<String> {
    let mut v: Vec<String> = json(r)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn search_by_name_with_filters_and_paging() {
    let s = Server::start();
    s.add_user("bob", "bob-password", &[]);
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let (bob, _) = login(&s, "bob", "bob-password");
    assert_eq!(
        upload(&s, &t, "/Docs/Report-2026.PDF", &[1u8; 5000]).status,
        201
    );
    assert_eq!(
        upload(&s, &t, "/Docs/old/report-2025.txt", b"x").status,
        201
    );
    assert_eq!(upload(&s, &bob, "/report-bob.txt", b"bob").status, 201);
    let r = get(&s, &t, "/api/v1/search?q=REPORT");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        names(&r),
        ["/Docs/Report-2026.PDF", "/Docs/old/report-2025.txt"]
    );
    assert_eq!(
        names(&get(&s, &t, "/api/v1/search?q=report&min_size=1000")),
        ["/Docs/Report-2026.PDF"]
    );
    assert_eq!(
        names(&get(&s, &t, "/api/v1/search?q=o&type=folder")),
        ["/Docs", "/Docs/old"]
    );
    assert_eq!(
        names(&get(
            &s,
            &t,
            "/api/v1/search?q=report&modified_after=4000000000"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&get(&s, &bob, "/api/v1/search?q=report")),
        ["/report-bob.txt"]
    );
    for i in 0..12 {
        upload(&s, &t, &format!("/logs/app-{i}.log"), b"l");
    }
    let mut seen = Vec::new();
    let mut url = "/api/v1/search?q=.log&limit=5".to_owned();
    loop {
        let r = get(&s, &t, &url);
        seen.extend(names(&r));
        match json(&r)["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/search?q=.log&limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_error(&get(&s, &t, "/api/v1/search"), 400, "bad_request");
    assert_error(
        &get(&s, &t, "/api/v1/search?q=a&type=x"),
        400,
        "bad_request",
    );
    assert_error(
        &get(&s, &t, "/api/v1/search?q=a&cursor=zz"),
        400,
        "bad_request",
    );
}

/// Polls the admin API until the `search-index` worker has finished `runs` runs.
fn wait_for_index_runs(s: &Server, admin: &str, runs: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let v = json(&get(s, admin, "/api/v1/admin/workers"));
        let w = v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "search-index")
            .unwrap_or_else(|| panic!("no search-index worker in {v}"))
            .clone();
        if w["runs"].as_u64().unwrap() >= runs && w["running"] == false {
            assert_eq!(w["failures"], 0, "{w}");
            return w;
        }
        assert!(std::time::Instant::now() < deadline, "not indexed: {w}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn search_sees_creates_renames_and_deletes_at_once_with_or_without_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("no-index.toml");
    std::fs::write(&cfg, "[workers]\nsearch_index_interval = \"off\"\n").unwrap();
    let moved = |from: &str, to: &str| format!(r#"{{"from":"{from}","to":"{to}"}}"#);
    let q = |s: &Server, t: &str, needle: &str| {
        names(&get(s, t, &format!("/api/v1/search?q={needle}")))
    };
    {
        // the indexer is off: every name is in the unindexed tail, found by the scan
        let s = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
        let (t, _) = login(&s, "admin", ADMIN_PW);
        let admin = json(&get(&s, &t, "/api/v1/admin/workers"));
        assert!(
            !admin["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["name"] == "search-index"),
            "{admin}"
        );
        assert_eq!(
            upload(&s, &t, "/inbox/Quarterly-Report.pdf", b"q").status,
            201
        );
        assert_eq!(q(&s, &t, "quarterly"), ["/inbox/Quarterly-Report.pdf"]);
        let r = post(
            &s,
            Some(&t),
            "/api/v1/move",
            &moved("/inbox/Quarterly-Report.pdf", "/inbox/Annual-Summary.pdf"),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(q(&s, &t, "quarterly").is_empty());
        assert_eq!(q(&s, &t, "annual"), ["/inbox/Annual-Summary.pdf"]);
        assert_eq!(upload(&s, &t, "/inbox/doomed.txt", b"d").status, 201);
        assert_eq!(
            send(&s, &t, "DELETE", "/api/v1/files/inbox/doomed.txt").status,
            200
        );
        assert!(q(&s, &t, "doomed").is_empty());
    }
    // a fresh serve with the default schedule backfills the index through the worker
    let s = Server::start_on(&data);
    let (t, _) = login(&s, "admin", ADMIN_PW);
    let w = wait_for_index_runs(&s, &t, 1);
    assert!(
        w["last_outcome"]["items"].as_u64().unwrap() >= 3,
        "the backfill indexed the old names: {w}"
    );
    assert!(q(&s, &t, "quarterly").is_empty());
    assert_eq!(q(&s, &t, "ANNUAL-sum"), ["/inbox/Annual-Summary.pdf"]);
    assert!(q(&s, &t, "doomed").is_empty());
    // after indexing: a rename is seen at once (the old entry no longer matches the node)
    let r = post(
        &s,
        Some(&t),
        "/api/v1/move",
        &moved("/inbox/Annual-Summary.pdf", "/Final-Figures.pdf"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(q(&s, &t, "annual").is_empty());
    assert_eq!(q(&s, &t, "figures"), ["/Final-Figures.pdf"]);
    // a file created and searched at once is found (not indexed yet), a deleted one not
    assert_eq!(upload(&s, &t, "/inbox/fresh-notes.md", b"n").status, 201);
    assert_eq!(q(&s, &t, "fresh-n"), ["/inbox/fresh-notes.md"]);
    assert_eq!(
        send(&s, &t, "DELETE", "/api/v1/files/Final-Figures.pdf").status,
        200
    );
    assert!(q(&s, &t, "figures").is_empty());
    assert_eq!(send(&s, &t, "DELETE", "/api/v1/trash").status, 200);
    assert!(q(&s, &t, "figures").is_empty());
    // and the same once the worker has run again
    let before = wait_for_index_runs(&s, &t, 1)["runs"].as_u64().unwrap();
    let run = post(&s, Some(&t), "/api/v1/admin/workers/search-index/run", "");
    assert_eq!(run.status, 202, "{}", run.text());
    wait_for_index_runs(&s, &t, before + 1);
    assert!(q(&s, &t, "annual").is_empty());
    assert!(q(&s, &t, "figures").is_empty());
    assert_eq!(q(&s, &t, "fresh-n"), ["/inbox/fresh-notes.md"]);
    assert_eq!(q(&s, &t, "quarterly").len(), 0);
}

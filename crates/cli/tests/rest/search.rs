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

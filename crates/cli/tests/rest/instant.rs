//! Instant upload (`POST /api/v1/instant/{path}`): content the caller already stores
//! becomes a new file without sending bytes; content only another user has is answered
//! exactly like content nobody has.

use super::*;

fn instant(s: &Server, t: &str, path: &str, hash: &str, size: usize) -> Reply {
    let body = serde_json::json!({"blake3": hash, "size": size}).to_string();
    post(s, Some(t), &format!("/api/v1/instant{path}"), &body)
}

#[test]
fn instant_upload_shares_own_content_and_leaks_nothing_of_others() {
    let s = Server::start();
    s.add_user("bob", "bob-password", &[]);
    s.add_user("small", "small-password", &["--quota", "100K"]);
    s.add_user("ro", "readonly-pw", &["--role", "readonly"]);
    let (admin, _) = login(&s, "admin", ADMIN_PW);
    let (bob, _) = login(&s, "bob", "bob-password");
    let data = content(3 << 20, 5);
    let up = upload(&s, &admin, "/src/data.bin", &data);
    assert_eq!(up.status, 201);
    let hash = json(&up)["hash"].as_str().unwrap().to_owned();
    // the owner: created without a byte sent, byte-exact
    let r = instant(&s, &admin, "/copies/again.bin", &hash, data.len());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(json(&r)["hash"], hash.as_str());
    assert!(download(&s, &admin, "/copies/again.bin", &[]).body == data);
    // again onto an existing file: a new version
    assert_eq!(
        instant(&s, &admin, "/copies/again.bin", &hash, data.len()).status,
        200
    );
    // bob does not have it: the same answer as for content nobody has
    let theirs = instant(&s, &bob, "/mine.bin", &hash, data.len());
    let nowhere = instant(&s, &bob, "/mine.bin", &"ab".repeat(32), data.len());
    assert_error(&theirs, 404, "not_found_content");
    assert_error(&nowhere, 404, "not_found_content");
    assert_eq!(json(&theirs), json(&nowhere));
    assert_error(&get(&s, &bob, "/api/v1/stat/mine.bin"), 404, "not_found");
    // a wrong size is unknown content too
    assert_error(
        &instant(&s, &admin, "/x.bin", &hash, data.len() + 1),
        404,
        "not_found_content",
    );
    // once bob uploads it himself, his instant upload works
    assert_eq!(upload(&s, &bob, "/own.bin", &data).status, 201);
    assert_eq!(
        instant(&s, &bob, "/mine.bin", &hash, data.len()).status,
        201
    );
    // quota applies to the new file
    let (small, _) = login(&s, "small", "small-password");
    let little = content(60 << 10, 6);
    let u = upload(&s, &small, "/a.bin", &little);
    assert_eq!(u.status, 201);
    let lh = json(&u)["hash"].as_str().unwrap().to_owned();
    assert_error(
        &instant(&s, &small, "/b.bin", &lh, little.len()),
        507,
        "quota_exceeded",
    );
    // replacing the same file does not double-count
    assert_eq!(instant(&s, &small, "/a.bin", &lh, little.len()).status, 200);
    // read-only accounts and malformed requests
    let (ro, _) = login(&s, "ro", "readonly-pw");
    assert_error(
        &instant(&s, &ro, "/r.bin", &hash, data.len()),
        403,
        "forbidden",
    );
    assert_error(&instant(&s, &admin, "/y.bin", "zz", 1), 400, "bad_request");
    assert_error(
        &instant(&s, &admin, "/%2e%2e/y.bin", &hash, data.len()),
        400,
        "invalid_path",
    );
    assert_error(
        &instant(&s, &admin, "/src", &hash, data.len()),
        409,
        "is_a_folder",
    );
}

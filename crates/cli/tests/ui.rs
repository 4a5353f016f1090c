//! The web UI, black-box: the real `silent-nas serve`, driven by a real browser (Debian's
//! chromium through playwright-core: `tests/ui/*.mjs`, one flow per test, each against
//! its own server). Its security rules over curl: `ui_security.rs`.
//!
//! The browser flows need `node`, `/usr/bin/chromium` and `npm ci` in `tests/ui`
//! (`scripts/test-deps.sh` installs them); without them they fail saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use std::path::PathBuf;
use std::process::Command;

const USER: &str = "alice";
const PW: &str = "alice-password-1";

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui")
}

/// A server with the user the flows sign in as.
fn server() -> Server {
    let s = Server::start();
    s.add_user(USER, PW, &[]);
    s
}

/// One browser at a time: chromium is heavy, and flows racing for two cores time out.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `node tests/ui/FLOW URL USER PASS` against a fresh server as alice; fails with its
/// output.
fn flow(script: &str) {
    flow_as(script, USER, PW);
}

/// [`flow`] as another user.
fn flow_as(script: &str, user: &str, pw: &str) {
    let s = server();
    run_flow(&s, script, &[user, pw]);
}

/// Runs `node tests/ui/FLOW URL ARGS…` against `s`; returns its output.
fn run_flow(s: &Server, script: &str, args: &[&str]) -> String {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = ui_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need `npm ci` in {} and Debian's chromium: run scripts/test-deps.sh",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(s.url(""))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node is installed (scripts/test-deps.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    assert!(text.contains("ok: "), "{script} said:\n{text}");
    text
}

#[test]
fn ui_sign_in_shows_the_servers_message_and_signs_out() {
    flow("signin.mjs");
}

#[test]
fn ui_browse_breadcrumbs_paging_and_sort() {
    flow("browse.mjs");
}

#[test]
fn ui_browse_a_10000_entry_folder_shows_its_first_page_only() {
    const N: usize = 10_000;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("big")).unwrap();
    for i in 0..N {
        std::fs::write(src.join(format!("big/file-{i:05}.txt")), b"").unwrap();
    }
    let data = t.path().join("data");
    common::nas_ok(&[
        "import",
        "--data",
        data.to_str().unwrap(),
        "--home",
        USER,
        "-q",
        src.to_str().unwrap(),
    ]);
    let s = Server::start_on(&data);
    s.add_user(USER, PW, &[]);
    let out = run_flow(&s, "bigfolder.mjs", &[USER, PW, "big", &N.to_string()]);
    println!("{out}"); // the figures
}

#[test]
fn ui_upload_shows_progress_and_resumes_after_a_dropped_connection() {
    flow("upload.mjs");
}

#[test]
fn ui_drag_and_drop_and_folder_upload() {
    flow("dragdrop.mjs");
}

#[test]
fn ui_rename_move_copy_delete() {
    flow("ops.mjs");
}

#[test]
fn ui_previews_image_text_pdf_and_ranged_audio() {
    flow("preview.mjs");
}

#[test]
fn ui_versions_restore() {
    flow("versions.mjs");
}

#[test]
fn ui_trash_restore_delete_forever_and_empty() {
    flow("trash.mjs");
}

#[test]
fn ui_search() {
    flow("search.mjs");
}

#[test]
fn ui_xss_file_name_is_inert() {
    flow("xss.mjs");
}

#[test]
fn ui_account_app_passwords_s3_keys_and_password_change() {
    flow("account.mjs");
}

#[test]
fn ui_keyboard_only_sign_in_browse_select_rename() {
    flow("keyboard.mjs");
}

#[test]
fn ui_accessibility_no_serious_or_critical_violations() {
    flow_as("a11y.mjs", "admin", common::ADMIN_PW);
}

#[test]
fn ui_admin_creates_disables_sets_quota_and_role_and_removes_users() {
    flow_as("admin.mjs", "admin", common::ADMIN_PW);
}

#[test]
fn ui_share_links_read_only_file_and_folder_anonymous_curl_and_revoke() {
    flow("shares.mjs");
}

#[test]
fn ui_share_link_password_expiry_and_download_limit() {
    flow("share_password.mjs");
}

#[test]
fn ui_file_drop_takes_uploads_through_its_page_and_never_lists_or_reads() {
    flow("share_drop.mjs");
}

#[test]
fn ui_folder_zip_download_from_a_row_and_the_toolbar() {
    flow("zip.mjs");
}

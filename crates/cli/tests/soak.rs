//! The soak run's short version (issue 16, point 3): `bench/soak.py` for two minutes
//! against the real server binary — a mixed WebDAV and S3 workload with GC, retention,
//! trash expiry and scrub every 30 s — for correctness only (no timing): every
//! acknowledged write reads back byte-exact, the `/metrics` counters equal the clients'
//! counts, the server stops cleanly, `fsck --verify-data` is clean and every worker ran.
//! Needs python3 with boto3 (the test command puts its venv first on PATH).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

#[test]
fn a_two_minute_soak_loses_nothing_and_fsck_is_clean() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("report");
    let r = Command::new("python3")
        .arg(repo.join("bench/soak.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_silent-nas")])
        .args(["--duration", "120", "--sample", "10", "--interval", "30s"])
        .args(["--rate", "15", "--live", "100"])
        .arg("--work")
        .arg(t.path().join("work"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("python3 runs (the test command installs it with boto3)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap_or_default();
    assert!(r.status.success(), "the soak passes:\n{said}\n{report}");
    assert!(report.starts_with("# Soak run: PASS"), "{report}");
    for check in [
        "| every acknowledged write reads back byte-exact, every delete is gone | ok |",
        "| /metrics request counters equal the clients' counts | ok |",
        "| fsck --verify-data is clean | ok |",
        "| every maintenance worker ran | ok |",
    ] {
        assert!(report.contains(check), "{check}\n{report}");
    }
    assert!(out.join("rss.svg").is_file() && out.join("samples.tsv").is_file());
}

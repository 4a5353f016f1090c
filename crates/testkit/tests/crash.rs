//! Crash test: the `torture` child writes, overwrites, deletes and runs GC in a loop and is
//! killed with SIGKILL at random moments, many times, on the same data directory. After
//! each kill the store must open without repair, fsck must be clean, every file must hold
//! exactly the content of its last reported write (or of the one write in flight, if that
//! committed), and every version the child reported as done must read back byte-exact.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use nas_engine::Store;
use nas_testkit::LogLine;
use nas_types::{NasPath, VersionNum};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Default)]
struct Expected {
    /// Live paths and the hash of their newest content.
    heads: BTreeMap<String, String>,
    /// Versions reported done and not deleted since: (path, num) -> hash.
    versions: BTreeMap<(String, u64), String>,
    /// Lines of the log already applied.
    applied: usize,
}

impl Expected {
    fn write(&mut self, path: &str, num: u64, hash: &str) {
        self.heads.insert(path.into(), hash.into());
        self.versions.insert((path.into(), num), hash.into());
    }
    fn delete(&mut self, path: &str) {
        self.heads.remove(path);
        self.versions.retain(|(p, _), _| p != path);
    }
}

fn hash_of(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Applies the new log lines; resolves the one operation that may have been in flight by
/// looking at the store.
fn apply_log(exp: &mut Expected, log: &Path, store: &Store) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let home = store.home("crash").unwrap();
    let mut pending: Option<LogLine> = None;
    for (i, raw) in lines.iter().enumerate().skip(exp.applied) {
        let Some(line) = LogLine::parse(raw) else {
            assert_eq!(
                i,
                lines.len() - 1,
                "only the last line may be torn: {raw:?}"
            );
            continue;
        };
        match &line {
            LogLine::DoneWrite { path, num, hash } => {
                exp.write(path, *num, hash);
                pending = None;
            }
            LogLine::DoneDelete { path } => {
                exp.delete(path);
                pending = None;
            }
            LogLine::DoneGc | LogLine::Run => pending = None,
            _ => pending = Some(line.clone()),
        }
    }
    exp.applied = lines.len();
    match pending {
        Some(LogLine::BeginWrite { path, hash }) => {
            let np = NasPath::parse(&path).unwrap();
            if let Ok(e) = home.stat(&np)
                && e.hash.map(|h| h.to_hex()) == Some(hash.clone())
                && exp.heads.get(&path) != Some(&hash)
            {
                exp.write(&path, e.version.unwrap().0, &hash); // it committed before the kill
            }
        }
        Some(LogLine::BeginDelete { path })
            if !home.exists(&NasPath::parse(&path).unwrap()).unwrap() =>
        {
            exp.delete(&path); // it committed before the kill
        }
        _ => {}
    }
}

fn verify(exp: &Expected, store: &Store, round: usize) {
    let home = store.home("crash").unwrap();
    for path in nas_testkit::torture_paths() {
        let np = NasPath::parse(&path).unwrap();
        match exp.heads.get(&path) {
            None => assert!(
                !home.exists(&np).unwrap(),
                "round {round}: {path} should not exist"
            ),
            Some(hash) => {
                let data = home
                    .read_all(&np, None)
                    .unwrap_or_else(|e| panic!("round {round}: {path}: {e}"));
                assert_eq!(
                    &hash_of(&data),
                    hash,
                    "round {round}: {path} is neither old nor new content"
                );
            }
        }
    }
    for ((path, num), hash) in &exp.versions {
        let np = NasPath::parse(path).unwrap();
        let data = home
            .read_all(&np, Some(VersionNum(*num)))
            .unwrap_or_else(|e| panic!("round {round}: {path} v{num} was reported done: {e}"));
        assert_eq!(&hash_of(&data), hash, "round {round}: {path} v{num}");
    }
}

#[test]
fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let mut rng = StdRng::seed_from_u64(20261128);
    let mut exp = Expected::default();
    let rounds = 30;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_torture"))
            .args([
                data.to_str().unwrap(),
                log.to_str().unwrap(),
                &round.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
        child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no goodbye
        let status = child.wait().unwrap();
        if status.code().is_some() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("round {round}: child exited on its own ({status}): {err}");
        }
        let store = Store::open(&data, Default::default())
            .expect("store opens after a crash without repair");
        apply_log(&mut exp, &log, &store);
        verify(&exp, &store, round);
        let report = store.fsck(round % 5 == 4, &mut |_, _| {}).unwrap();
        assert!(
            report.is_clean(),
            "round {round}: fsck {:?}",
            report.problems
        );
    }
    assert!(
        exp.versions.len() > 20,
        "the child got real work done: {} versions",
        exp.versions.len()
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("D G"), "GC ran (and was interrupted) too");
}

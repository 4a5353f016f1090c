//! Cold recompression in the real server (`[workers] recompress_*`): run through
//! `POST /api/v1/admin/workers/recompress/run`, it shrinks a store of LZ4 text while a
//! reader loop reads every file back byte-exact, shows its outcome in the admin API and its
//! totals in `/metrics`, grows "saved by compression" in `stats --json` and
//! `/metrics/storage-v2`, and leaves fsck `--verify-data` clean; a `kill -9` in the middle
//! of a run leaves every file readable and fsck clean, and the next run resumes; packs read
//! (or first seen) today are not cold under `recompress_after = "1d"`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(300);

/// `len` bytes of text: words from a made-up vocabulary picked by a seeded generator
/// (LZ4 halves it; zstd at a high level does much better).
fn text(len: usize, seed: u64) -> Vec<u8> {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "nu", "re", "sa", "ti", "vo", "wen", "dor", "ish", "bal", "un", "ter",
        "qua", "ph",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let vocab: Vec<String> = (0..1500)
        .map(|i| {
            let mut v = i as u64 + 1;
            let mut w = String::new();
            while v > 0 {
                w.push_str(SYL[(v % 16) as usize]);
                v /= 16;
            }
            w
        })
        .collect();
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        let r = next();
        // a skewed choice, as in real text: a few words are frequent
        let i = ((r % 1500) * (r >> 32 & 0xff) / 256) as usize;
        out.extend_from_slice(vocab[i].as_bytes());
        out.push(if r >> 50 & 15 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// `base` with a few bytes changed every `every` bytes (a later version of a document).
fn edited(base: &[u8], every: usize, salt: u8) -> Vec<u8> {
    let mut v = base.to_vec();
    let mut at = every / 2;
    while at < v.len() {
        v[at] = b'a' + (v[at].wrapping_add(salt) % 26);
        at += every;
    }
    v
}

fn files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..4u64 {
        let t = text(1 << 20, i + 1);
        out.push((format!("doc{i}.txt"), t.clone()));
        out.push((format!("doc{i}-v2.txt"), edited(&t, 40_000, i as u8 + 1)));
    }
    out
}

fn start(dir: &Path, workers: &str) -> Server {
    let cfg = dir.join("silent-nas.toml");
    // the interval is long: runs come from POST .../run only
    std::fs::write(
        &cfg,
        format!("[workers]\nrecompress_interval = \"1h\"\n{workers}\n"),
    )
    .unwrap();
    Server::start_with(&dir.join("data"), &["--config", cfg.to_str().unwrap()])
}

fn stats(s: &Server) -> serde_json::Value {
    serde_json::from_str(&nas_ok(&[
        "stats",
        "--data",
        s.data.to_str().unwrap(),
        "--json",
    ]))
    .unwrap()
}

fn get(s: &Server, name: &str) -> Reply {
    let a = auth("admin", ADMIN_PW);
    curl(&["-u", &a, &s.url(&format!("/dav/{name}"))], None)
}

fn fsck_clean(data: &Path) {
    let out = std::process::Command::new(bin())
        .args(["fsck", "--verify-data", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn saved_by_compression(s: &Server) -> f64 {
    let m = scrape_as_admin(s, "/metrics/storage-v2");
    assert_eq!(m.status, 200);
    sample(
        &m.text(),
        "silent_nas_storage_saved_bytes{by=\"compression\"}",
    )
    .unwrap()
}

#[test]
fn recompression_shrinks_lz4_text_while_every_read_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(
        dir.path(),
        "recompress_after = \"0d\"\nrecompress_rate = \"2MiB/s\"",
    );
    let files = Arc::new(files());
    for (name, body) in files.iter() {
        put(&s, name, body);
    }
    let before = stats(&s);
    let metric_before = saved_by_compression(&s);
    // a reader loop over every file for as long as the run lasts
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, reads, files) = (stop.clone(), reads.clone(), files.clone());
        let (addr, a) = (s.addr.clone(), auth("admin", ADMIN_PW));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for (name, body) in files.iter() {
                    let r = curl(&["-u", &a, &format!("http://{addr}/dav/{name}")], None);
                    assert_eq!(r.status, 200, "GET {name} during recompression");
                    assert!(
                        r.body == *body,
                        "{name} read back different during recompression"
                    );
                    reads.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let w = run_worker(&s, "recompress");
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert!(reads.load(Ordering::SeqCst) > 0);
    assert!(w["last_error"].is_null(), "{w}");
    let outcome = &w["last_outcome"];
    assert!(outcome["items"].as_u64().unwrap() > 0, "{w}");
    let after = stats(&s);
    let (b, a) = (
        before["stored_bytes"].as_u64().unwrap(),
        after["stored_bytes"].as_u64().unwrap(),
    );
    eprintln!(
        "stored {b} -> {a} bytes, {} reads during the run, {} delta chunks: {}",
        reads.load(Ordering::SeqCst),
        after["delta_chunks"],
        outcome["summary"]
    );
    assert!(
        a * 4 <= b * 3,
        "stored bytes {b} -> {a}: less than 25% saved"
    );
    assert!(
        after["saved_by_compression"].as_u64().unwrap()
            > before["saved_by_compression"].as_u64().unwrap(),
        "{before} -> {after}"
    );
    assert!(saved_by_compression(&s) > metric_before);
    let m = scrape_as_admin(&s, "/metrics").text();
    assert!(sample(&m, "silent_nas_recompress_chunks_total").unwrap() > 0.0);
    assert!(sample(&m, "silent_nas_recompress_saved_bytes_total").unwrap() > 0.0);
    // the edited copies found their originals as bases
    assert!(after["delta_chunks"].as_u64().unwrap() > 0, "{after}");
    for (name, body) in files.iter() {
        assert!(get(&s, name).body == *body, "{name} after recompression");
    }
    // a second run finds nothing left to do
    let w = run_worker(&s, "recompress");
    assert_eq!(w["last_outcome"]["items"], 0, "{w}");
    s.kill9();
    fsck_clean(&dir.path().join("data"));
    let s = start(dir.path(), "");
    for (name, body) in files.iter() {
        assert!(get(&s, name).body == *body, "{name} after a restart");
    }
}

#[test]
fn kill_9_in_the_middle_of_recompression_leaves_every_file_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let slow = "recompress_after = \"0d\"\nrecompress_rate = \"256KiB/s\"";
    let mut s = start(dir.path(), slow);
    let files = files();
    for (name, body) in &files {
        put(&s, name, body);
    }
    let before = stats(&s)["stored_bytes"].as_u64().unwrap();
    let a = auth("admin", ADMIN_PW);
    let url = s.url("/api/v1/admin/workers/recompress/run");
    assert_eq!(curl(&["-u", &a, "-X", "POST", &url], None).status, 202);
    // wait for a batch (64 chunks) to commit, then the knife
    let until = Instant::now() + PATIENCE;
    loop {
        let w = worker(&s, "recompress").unwrap();
        let done = w["progress"]["done"].as_u64().unwrap_or(0);
        if done >= 64 {
            assert!(w["running"].as_bool().unwrap(), "finished too soon: {w}");
            break;
        }
        assert!(Instant::now() < until, "no progress: {w}");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.kill9();
    fsck_clean(&data);
    let s = start(
        dir.path(),
        "recompress_after = \"0d\"\nrecompress_rate = \"unlimited\"",
    );
    let mid = stats(&s)["stored_bytes"].as_u64().unwrap();
    eprintln!("killed mid-run: stored {before} -> {mid}");
    assert!(
        mid < before,
        "the committed batches stay: {before} -> {mid}"
    );
    for (name, body) in &files {
        assert!(get(&s, name).body == *body, "{name} after the kill");
    }
    // the next run goes on and finishes the job
    let w = run_worker(&s, "recompress");
    assert!(w["last_error"].is_null(), "{w}");
    let end = stats(&s)["stored_bytes"].as_u64().unwrap();
    assert!(
        end < mid && end * 4 <= before * 3,
        "{before} -> {mid} -> {end}"
    );
    for (name, body) in &files {
        assert!(get(&s, name).body == *body, "{name} after the second run");
    }
    drop(s);
    fsck_clean(&data);
}

#[test]
fn packs_read_or_written_today_are_not_cold_after_one_day() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "recompress_after = \"1d\"");
    let (name, body) = files().swap_remove(0);
    put(&s, &name, &body);
    assert!(get(&s, &name).body == body);
    let before = stats(&s)["stored_bytes"].clone();
    let w = run_worker(&s, "recompress");
    assert!(w["last_error"].is_null(), "{w}");
    assert_eq!(w["last_outcome"]["items"], 0, "{w}");
    assert!(
        w["last_outcome"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("0 cold packs"),
        "{w}"
    );
    assert_eq!(stats(&s)["stored_bytes"], before);
}

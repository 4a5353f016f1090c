//! Metadata latency of the engine facade on a home of 100,000 files.
//!
//! One store is built once, in a temporary directory, before any benchmark runs:
//! 90 folders × 1,000 files plus one folder (`/big`) of 10,000 files, each file a few
//! bytes of unique content written through [`Home::write_all`] (so every file costs one
//! durable commit), by 4 threads (`NAS_BENCH_WRITERS=n` to change) to overlap the fsyncs.
//! The time the build takes is printed (about 32 s with 4 threads, 48 s with 1, on the
//! 2-core VM it was written on).
//!
//! Benchmarks (criterion reports means):
//! - `metadata/stat_random_file` — [`Home::stat`] of a random existing file.
//!   Goal: **p99 ≤ 1 ms**.
//! - `metadata/list_page_1000` — one 1,000-entry page of `/big` starting after a random
//!   cursor ([`Home::list`]). Goal: **≤ 10 ms** per page.
//!
//! Because criterion only reports means, the setup also times individual calls with
//! [`Instant`] (10,000 stats, 1,000 list pages) and prints p50/p99/max to stdout, on lines
//! starting with `[metadata]`.
//!
//! Run with `cargo bench -p nas-engine --bench metadata`. Under `cargo test` (criterion's
//! test mode, no `--bench` flag) the store is built at a small scale so that tests stay
//! fast; those numbers mean nothing.
//!
//! [`Home::write_all`]: nas_engine::Home::write_all
//! [`Home::stat`]: nas_engine::Home::stat
//! [`Home::list`]: nas_engine::Home::list

// A benchmark is not library code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::Criterion;
use nas_engine::{Home, Store, StoreOptions, WriteOptions};
use nas_types::NasPath;
use rand::Rng;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How big a store to build.
struct Scale {
    /// Folders of `files_per_dir` files each.
    dirs: usize,
    files_per_dir: usize,
    /// Files in `/big`, the folder that is listed.
    big_files: usize,
    /// Entries per listed page.
    page: usize,
    /// Individually timed calls for the percentile report.
    stat_samples: usize,
    list_samples: usize,
}

/// What `cargo bench` measures: 100,000 files.
const FULL: Scale = Scale {
    dirs: 90,
    files_per_dir: 1_000,
    big_files: 10_000,
    page: 1_000,
    stat_samples: 10_000,
    list_samples: 1_000,
};

/// What `cargo test --benches` builds, only to check that the benchmarks run.
const SMOKE: Scale = Scale {
    dirs: 4,
    files_per_dir: 50,
    big_files: 300,
    page: 100,
    stat_samples: 100,
    list_samples: 10,
};

/// Threads that write the files during setup (`NAS_BENCH_WRITERS` overrides).
fn writers() -> usize {
    std::env::var("NAS_BENCH_WRITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
        .max(1)
}

/// The store every benchmark reads, and the paths in it.
struct Fixture {
    home: Home,
    _store: Store,
    /// Never dropped (the fixture lives in a static): `main` removes it at the end.
    dir: tempfile::TempDir,
    /// Every file in the home.
    files: Vec<NasPath>,
    /// The listed folder and its entries' names, sorted.
    big: NasPath,
    big_names: Vec<String>,
    page: usize,
}

impl Fixture {
    fn build(scale: &Scale) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open store");
        let home = store.home("bench").expect("home");
        let started = Instant::now();
        let mut files = Vec::with_capacity(scale.dirs * scale.files_per_dir + scale.big_files);
        for d in 0..scale.dirs {
            let folder = NasPath::parse(&format!("/dir-{d:03}")).expect("path");
            home.mkdir_all(&folder).expect("mkdir");
            for f in 0..scale.files_per_dir {
                files.push(folder.join(&format!("file-{f:05}.txt")).expect("path"));
            }
        }
        let big = NasPath::parse("/big").expect("path");
        home.mkdir_all(&big).expect("mkdir");
        let mut big_names: Vec<String> = (0..scale.big_files)
            .map(|f| format!("file-{f:05}.txt"))
            .collect();
        files.extend(big_names.iter().map(|n| big.join(n).expect("path")));
        big_names.sort();

        // Every commit waits for two fsyncs (pack, then SQLite's WAL); several writers
        // overlap that waiting. Writer `w` takes files w, w + writers, ...
        let writers = writers();
        std::thread::scope(|s| {
            for w in 0..writers {
                let (home, files) = (&home, &files);
                s.spawn(move || {
                    for (n, path) in files.iter().enumerate().skip(w).step_by(writers) {
                        // Unique content, so every write appends a chunk (no dedup shortcut).
                        let body = format!("file {n}\n");
                        home.write_all(path, body.as_bytes(), WriteOptions::default())
                            .expect("write file");
                    }
                });
            }
        });
        let took = started.elapsed();
        println!(
            "[metadata] setup: wrote {} files with {writers} writer threads in {:.1} s \
             ({:.0} files/s, {:.2} ms/file)",
            files.len(),
            took.as_secs_f64(),
            files.len() as f64 / took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / files.len() as f64,
        );

        Fixture {
            home,
            _store: store,
            dir,
            files,
            big,
            big_names,
            page: scale.page,
        }
    }

    fn random_file(&self, rng: &mut impl Rng) -> &NasPath {
        &self.files[rng.random_range(0..self.files.len())]
    }

    /// A cursor that leaves at least one full page after it (`None` = from the start).
    fn random_cursor(&self, rng: &mut impl Rng) -> Option<&str> {
        let i = rng.random_range(0..=self.big_names.len() - self.page);
        i.checked_sub(1).map(|i| self.big_names[i].as_str())
    }

    fn stat_random(&self, rng: &mut impl Rng) {
        let entry = self.home.stat(self.random_file(rng)).expect("stat");
        black_box(entry);
    }

    fn list_random(&self, rng: &mut impl Rng) {
        let page = self
            .home
            .list(&self.big, self.random_cursor(rng), self.page)
            .expect("list");
        assert_eq!(page.entries.len(), self.page, "short page");
        black_box(page);
    }
}

/// Times `n` single calls of `op` and prints p50/p99/max.
fn report_percentiles(label: &str, goal: Duration, n: usize, mut op: impl FnMut()) {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            op();
            t.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let p99 = at(0.99);
    println!(
        "[metadata] {label}: n={n} p50={:?} p99={p99:?} max={:?} (goal p99 <= {goal:?}: {})",
        at(0.50),
        samples[samples.len() - 1],
        if p99 <= goal { "ok" } else { "MISSED" },
    );
}

/// The shared store, built on first use (so `--list` or a filter that matches nothing
/// builds nothing).
static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// [`FIXTURE`], built and its percentile report printed on the first call.
fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let args: Vec<String> = std::env::args().collect();
        let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
        let scale = if bench_mode { &FULL } else { &SMOKE };
        let fx = Fixture::build(scale);
        let mut rng = rand::rng();
        // Warm the reader pool and SQLite's page cache before timing anything.
        for _ in 0..1_000 {
            fx.stat_random(&mut rng);
        }
        report_percentiles(
            "stat random file",
            Duration::from_millis(1),
            scale.stat_samples,
            || fx.stat_random(&mut rng),
        );
        report_percentiles(
            &format!("list {}-entry page of {}", scale.page, scale.big_files),
            Duration::from_millis(10),
            scale.list_samples,
            || fx.list_random(&mut rng),
        );
        fx
    })
}

fn bench_metadata(c: &mut Criterion) {
    let mut group = c.benchmark_group("metadata");
    // A 1,000-entry page takes about a millisecond: 100 samples need more than the
    // default 5 s.
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("stat_random_file", |b| {
        let fx = fixture();
        let mut rng = rand::rng();
        b.iter(|| fx.stat_random(&mut rng));
    });
    group.bench_function("list_page_1000", |b| {
        let fx = fixture();
        let mut rng = rand::rng();
        b.iter(|| fx.list_random(&mut rng));
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_metadata(&mut c);
    c.final_summary();
    // Statics are never dropped, so the temporary store is removed by hand.
    if let Some(fx) = FIXTURE.get() {
        let _ = std::fs::remove_dir_all(fx.dir.path());
    }
}

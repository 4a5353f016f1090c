//! What the read cache (`docs/design/caches.md`) saves on SQLite metadata, in process:
//! the same reads on two stores, one with `read_cache` off and one with it on (the
//! default). Each store holds 1,000 files of 4 KiB (distinct content) and one file of
//! 16 MiB; the benchmarks read a working set read before (the case a cache is for):
//!
//! - `read_cache/hot_4k/{off,on}` — [`Home::read_all`] of one of 50 small files, in turn;
//! - `read_cache/again_16mib/{off,on}` — [`Home::read_all`] of the 16 MiB file.
//!
//! Run with `cargo bench -p nas-engine --bench read_cache`; under `cargo test` each runs
//! once (a smoke test, figures meaningless). With PostgreSQL metadata the saving is a
//! round trip per lookup instead; `bench/pg.sh` with `CACHE_AB=1` measures that.
//!
//! [`Home::read_all`]: nas_engine::Home::read_all

// A benchmark is not library code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::Criterion;
use nas_engine::{Home, Store, StoreOptions, WriteOptions};
use nas_types::NasPath;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::hint::black_box;

const SMALL: usize = 1_000;
const HOT: usize = 50;

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill(&mut v[..]);
    v
}

fn fixture(cache: bool) -> (tempfile::TempDir, Store, Home) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        read_cache: cache,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let home = store.home("bench").unwrap();
    let files: Vec<_> = (0..SMALL)
        .map(|i| {
            let p = NasPath::parse(&format!("/f{i:04}")).unwrap();
            (p, bytes(4096, i as u64))
        })
        .collect();
    home.commit_batch_small(&files);
    home.write_all(
        &NasPath::parse("/big").unwrap(),
        &bytes(16 << 20, 99),
        WriteOptions::default(),
    )
    .unwrap();
    (dir, store, home)
}

trait Batch {
    fn commit_batch_small(&self, files: &[(NasPath, Vec<u8>)]);
}

impl Batch for Home {
    fn commit_batch_small(&self, files: &[(NasPath, Vec<u8>)]) {
        for (p, data) in files {
            self.write_all(p, data, WriteOptions::default()).unwrap();
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let stores = [("off", fixture(false)), ("on", fixture(true))];
    let hot: Vec<_> = (0..HOT)
        .map(|i| NasPath::parse(&format!("/f{i:04}")).unwrap())
        .collect();
    let big = NasPath::parse("/big").unwrap();
    let mut g = c.benchmark_group("read_cache");
    for (name, (_, _, home)) in &stores {
        let mut i = 0;
        g.bench_function(format!("hot_4k/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % HOT;
                black_box(home.read_all(&hot[i], None).unwrap())
            })
        });
    }
    g.sample_size(20);
    for (name, (_, _, home)) in &stores {
        g.bench_function(format!("again_16mib/{name}"), |b| {
            b.iter(|| black_box(home.read_all(&big, None).unwrap()))
        });
    }
    g.finish();
    for (name, (_, store, _)) in &stores {
        let (v, ch) = store.read_cache_counters();
        println!(
            "[read_cache] {name}: versions {} hits / {} misses, chunks {} hits / {} misses",
            v.hits, v.misses, ch.hits, ch.misses
        );
    }
    c.final_summary();
}

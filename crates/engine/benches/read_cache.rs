//! What the read caches (`docs/design/caches.md`) save on SQLite metadata, in process:
//! the same reads on three stores — `off` (no cache), `on` (the read cache, the default)
//! and `decoded` (the read cache and 100 MiB of decoded chunks, `chunk_cache`). Each
//! holds 1,000 files of 4 KiB, one of 16 MiB and one of 192 MiB (text-like content, so
//! that chunks are LZ4-compressed as most stored data is):
//!
//! - `read_cache/hot_4k/*` — [`Home::read_all`] of one of 50 small files, in turn (a
//!   working set read again: the case a cache is for);
//! - `read_cache/again_16mib/*` — the 16 MiB file read again;
//! - `read_cache/scan_192mib/*` — the 192 MiB file read again: larger than the decoded
//!   cache, so every chunk misses it (what a cache costs when it cannot help).
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

/// Text-like bytes (words from a small vocabulary): LZ4 compresses them about 2x.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"alpha ",
        b"beta ",
        b"gamma ",
        b"delta ",
        b"storage ",
        b"chunk ",
        b"\n",
        b"nas ",
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(words[rng.random_range(0..words.len())]);
    }
    v.truncate(len);
    v
}

fn fixture(read_cache: bool, chunk_cache: u64) -> (tempfile::TempDir, Store, Home) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        read_cache,
        chunk_cache,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let home = store.home("bench").unwrap();
    for i in 0..SMALL {
        let p = NasPath::parse(&format!("/f{i:04}")).unwrap();
        home.write_all(&p, &bytes(4096, i as u64), WriteOptions::default())
            .unwrap();
    }
    for (name, len) in [("/big", 16 << 20), ("/scan", 192 << 20)] {
        let p = NasPath::parse(name).unwrap();
        home.write_all(&p, &bytes(len, len as u64), WriteOptions::default())
            .unwrap();
    }
    (dir, store, home)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let stores = [
        ("off", fixture(false, 0)),
        ("on", fixture(true, 0)),
        ("decoded", fixture(true, 100 << 20)),
    ];
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
    let scan = NasPath::parse("/scan").unwrap();
    g.sample_size(10);
    for (name, (_, _, home)) in &stores {
        g.bench_function(format!("scan_192mib/{name}"), |b| {
            b.iter(|| black_box(home.read_all(&scan, None).unwrap().len()))
        });
    }
    g.finish();
    for (name, (_, store, _)) in &stores {
        let (v, ch) = store.read_cache_counters();
        let d = store.chunk_cache_counters();
        println!(
            "[read_cache] {name}: versions {} hits / {} misses, chunks {} hits / {} misses, \
             decoded {} hits / {} misses / {} evictions",
            v.hits, v.misses, ch.hits, ch.misses, d.hits, d.misses, d.evictions
        );
    }
    c.final_summary();
}

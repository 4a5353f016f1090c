//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use nas_engine::{Home, Store, StoreOptions};
use nas_types::NasPath;
use rand::{Rng, SeedableRng, rngs::StdRng};

pub fn p(s: &str) -> NasPath {
    NasPath::parse(s).unwrap()
}

pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    (dir, s)
}

/// A store whose packs are sealed at `pack_size` bytes (small packs: GC deletes and
/// compacts them all the time).
pub fn store_with_packs(pack_size: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        pack_size,
        ..Default::default()
    };
    let s = Store::open(dir.path(), opts).unwrap();
    (dir, s)
}

pub fn home(s: &Store) -> Home {
    s.home("test").unwrap()
}

pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill(&mut v[..]);
    v
}

/// Text-like bytes that compress.
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let words = [
        "alpha ", "beta ", "gamma ", "delta ", "storage ", "chunk ", "\n",
    ];
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
    }
    v.truncate(len);
    v
}

/// One full pass of cold recompression over every pack (everything counts as cold), in
/// batches of `batch` chunks; returns (chunks re-encoded, of them stored as deltas).
pub fn recompress_all(s: &Store, batch: usize) -> (u64, u64) {
    let opts = nas_engine::RecompressOptions {
        cold_after: std::time::Duration::ZERO,
        batch,
        ..nas_engine::RecompressOptions::default()
    };
    let cold = s.cold_packs(opts.cold_after).unwrap();
    let (mut at, mut n, mut d) = (nas_engine::ChunkRow(0), 0, 0);
    loop {
        let b = s.recompress_batch(at, &cold, &opts).unwrap().unwrap();
        n += b.recoded;
        d += b.as_delta;
        match b.next {
            Some(next) => at = next,
            None => return (n, d),
        }
    }
}

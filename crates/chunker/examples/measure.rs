//! Measures chunker parameters on a corpus (see `docs/design/chunking.md`):
//! `cargo run --release -p nas-chunker --example measure -- CORPUS_DIR`
//!
//! For each parameter set, chunks every file of `v0..v7` in order and reports unique
//! bytes, chunk count, unique bytes after per-chunk zstd-3 and LZ4, extent-list size,
//! and the chunk bytes a 1-byte edit in the middle of `image.bin` costs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool, not a library

use nas_chunker::{ChunkerParams, chunk_lengths};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let corpus = PathBuf::from(std::env::args().nth(1).expect("usage: measure CORPUS_DIR"));
    let sets = [
        (4, 16, 64),
        (8, 32, 128),
        (16, 64, 256),
        (32, 128, 512),
        (64, 256, 1024),
        (256, 1024, 4096),
    ];
    println!(
        "min/avg/max KiB | chunks | unique MB | zstd3 MB | lz4 MB | extents KB/version | 1-byte edit KiB (raw / lz4)"
    );
    for (min, avg, max) in sets {
        let p = ChunkerParams {
            min: min << 10,
            avg: avg << 10,
            max: max << 10,
        };
        let mut seen = HashSet::new();
        let (mut unique, mut z, mut l, mut n_chunks, mut extents) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut versions = 0;
        for v in 0..8 {
            let dir = corpus.join(format!("v{v}"));
            if !dir.exists() {
                break;
            }
            versions += 1;
            let mut list = Vec::new();
            files(&dir, &mut list);
            for f in list {
                let data = std::fs::read(&f).unwrap();
                let mut off = 0;
                for len in chunk_lengths(p, &data) {
                    let c = &data[off..off + len];
                    off += len;
                    extents += 1;
                    if seen.insert(blake3::hash(c)) {
                        unique += len as u64;
                        n_chunks += 1;
                        z += zstd::bulk::compress(c, 3).unwrap().len().min(len) as u64;
                        l += lz4_flex::block::compress(c).len().min(len) as u64;
                    }
                }
            }
        }
        // 1-byte edit in the middle of the last image
        let img = std::fs::read(corpus.join(format!("v{}/image.bin", versions - 1))).unwrap();
        let mut edited = img.clone();
        let mid = edited.len() / 2;
        edited[mid] ^= 1;
        let before: HashSet<_> = {
            let mut off = 0;
            chunk_lengths(p, &img)
                .into_iter()
                .map(|len| {
                    let h = blake3::hash(&img[off..off + len]);
                    off += len;
                    h
                })
                .collect()
        };
        let (mut edit_raw, mut edit_lz4) = (0usize, 0usize);
        let mut off = 0;
        for len in chunk_lengths(p, &edited) {
            let c = &edited[off..off + len];
            off += len;
            if !before.contains(&blake3::hash(c)) {
                edit_raw += len;
                edit_lz4 += lz4_flex::block::compress(c).len().min(len);
            }
        }
        println!(
            "{min}/{avg}/{max} | {n_chunks} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} / {:.0}",
            unique as f64 / 1e6,
            z as f64 / 1e6,
            l as f64 / 1e6,
            extents as f64 * 6.0 / versions as f64 / 1e3,
            edit_raw as f64 / 1024.0,
            edit_lz4 as f64 / 1024.0
        );
    }
}

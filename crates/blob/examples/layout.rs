//! Measures the two chunk layouts the design chose between (see
//! `docs/design/on-disk-format.md`): one file per chunk vs append-only pack files.
//! `cargo run --release -p nas-blob --example layout -- DIR`
//!
//! Workloads: (a) 20,000 small chunks (100 B – 8 KiB, like the corpus's small files), each
//! made durable before the next (one commit per file); (b) the same, made durable in groups
//! of 512 (an import's group commit); (c) 256 MiB of 32 KiB chunks made durable once at the
//! end (one large file). File-per-chunk writes `xx/<hash>` via a temp file + rename, fsyncs
//! each file and its directory; packs append and fsync the pack.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool, not a library

use nas_blob::{BlobStore, LocalPackStore};
use nas_types::ChunkId;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn chunks_small(n: usize) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(1);
    (0..n)
        .map(|_| {
            let mut v = vec![0u8; rng.random_range(100..8192)];
            rng.fill(&mut v[..]);
            v
        })
        .collect()
}

fn chunks_big() -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(2);
    (0..8192)
        .map(|_| {
            let mut v = vec![0u8; 32 * 1024];
            rng.fill(&mut v[..]);
            v
        })
        .collect()
}

fn file_per_chunk(dir: &Path, chunks: &[Vec<u8>], group: usize) -> f64 {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    let t = Instant::now();
    let mut pending: Vec<(File, std::path::PathBuf)> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let id = ChunkId::of(c).to_hex();
        let sub = dir.join(&id[..2]);
        fs::create_dir_all(&sub).unwrap();
        let tmp = sub.join(format!("{id}.tmp"));
        let mut f = File::create(&tmp).unwrap();
        f.write_all(c).unwrap();
        pending.push((f, tmp));
        if (i + 1) % group == 0 || i + 1 == chunks.len() {
            for (f, tmp) in pending.drain(..) {
                f.sync_all().unwrap();
                let dest = tmp.with_extension("");
                fs::rename(&tmp, &dest).unwrap();
                File::open(dest.parent().unwrap())
                    .unwrap()
                    .sync_all()
                    .unwrap();
            }
        }
    }
    t.elapsed().as_secs_f64()
}

fn packs(dir: &Path, chunks: &[Vec<u8>], group: usize) -> f64 {
    let _ = fs::remove_dir_all(dir);
    let s = LocalPackStore::open(dir, 64 << 20).unwrap();
    let t = Instant::now();
    for (i, c) in chunks.iter().enumerate() {
        s.append(&ChunkId::of(c), c).unwrap();
        if (i + 1) % group == 0 || i + 1 == chunks.len() {
            s.sync().unwrap();
        }
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: layout DIR"));
    let small = chunks_small(20_000);
    let big = chunks_big();
    let mb_small = small.iter().map(|c| c.len()).sum::<usize>() as f64 / 1e6;
    println!("workload | file-per-chunk s | packs s | ratio");
    for (name, data, group, mb) in [
        ("20k small, commit each", &small, 1, mb_small),
        ("20k small, commit per 512", &small, 512, mb_small),
        ("256 MiB of 32 KiB, one commit", &big, usize::MAX, 268.4),
    ] {
        let a = file_per_chunk(&root.join("fpc"), data, group);
        let b = packs(&root.join("packs"), data, group);
        println!("{name} ({mb:.0} MB) | {a:.2} | {b:.2} | {:.1}x", a / b);
    }
    let files = walk_count(&root.join("fpc"));
    println!(
        "files on disk: file-per-chunk {files}, packs {}",
        walk_count(&root.join("packs"))
    );
    let _ = fs::remove_dir_all(&root);
}

fn walk_count(d: &Path) -> usize {
    fs::read_dir(d)
        .map(|rd| {
            rd.map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() { walk_count(&p) } else { 1 }
            })
            .sum()
        })
        .unwrap_or(0)
}

//! Name search on a home of 100,000 files: times indexed queries (FTS5 trigram, needles of
//! 3+ characters) next to the reference measured in the same run — a needle of 2
//! characters, which the index cannot serve, so it scans every name with `LIKE` (what a
//! search without the index costs).
//!
//! `cargo run --release -p nas-engine --example search_bench [N]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use nas_engine::{NodeKind, SearchFilter, Store, StoreOptions, WriteOptions};
use nas_types::NasPath;
use std::time::Instant;

const WORDS: [&str; 8] = [
    "report", "invoice", "photo", "notes", "backup", "draft", "scan", "budget",
];

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let home = store.home("alice").unwrap();
    let t = Instant::now();
    let per_dir = 1000;
    for d in 0..n.div_ceil(per_dir) {
        let folder = NasPath::parse(&format!("/dir-{d:03}")).unwrap();
        home.mkdir(&folder).unwrap();
        let mut batch = Vec::with_capacity(per_dir);
        for i in d * per_dir..((d + 1) * per_dir).min(n) {
            let name = format!("{}-{i:06}.dat", WORDS[i % WORDS.len()]);
            let mut w = home
                .writer(&folder.join(&name).unwrap(), WriteOptions::default())
                .unwrap();
            w.write(&(i as u64).to_le_bytes()).unwrap();
            batch.push(w.prepare().unwrap());
        }
        home.commit_batch(batch).unwrap();
    }
    println!("built {n} files in {:.1} s", t.elapsed().as_secs_f64());
    let run = |label: &str, f: SearchFilter, limit: usize| {
        let t = Instant::now();
        let rounds = 20;
        let mut found = 0;
        for _ in 0..rounds {
            found = home.search(&f, None, limit).unwrap().entries.len();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
        println!("{label:<58} {found:>5} hits  {ms:>8.2} ms");
    };
    let q = |needle: &str| SearchFilter {
        needle: needle.into(),
        ..SearchFilter::default()
    };
    run("indexed: one file (\"042424\")", q("042424"), 100);
    run("indexed: rare (\"t-09999\")", q("t-09999"), 100);
    run(
        "indexed: common (\"report\", first page of 100)",
        q("report"),
        100,
    );
    run(
        "indexed: common, files >= 9 B (none: filters every hit)",
        SearchFilter {
            min_size: Some(9),
            kind: Some(NodeKind::File),
            ..q("report")
        },
        100,
    );
    run(
        "reference, LIKE scan: 2 chars (\"z9\", no hit)",
        q("z9"),
        100,
    );
    run(
        "reference, LIKE scan: 2 chars (\"42\", first page)",
        q("42"),
        100,
    );
}

//! Name search on a home of 100,000 files. Search has no name index: each query scans
//! names in id order until a page is full, so the figures range from "first page found
//! early" to "nothing matches: every name scanned". The reference, measured in the same
//! run, is listing one folder of 1,000 entries (the cheapest namespace read a client does).
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
    run("one file (\"042424\": scans to it)", q("042424"), 100);
    run("rare (\"t-09999\")", q("t-09999"), 100);
    run("common (\"report\", first page of 100)", q("report"), 100);
    run(
        "common, files >= 9 B (none: filters every hit)",
        SearchFilter {
            min_size: Some(9),
            kind: Some(NodeKind::File),
            ..q("report")
        },
        100,
    );
    run("no hit (\"zzz\": every name scanned)", q("zzz"), 100);
    let folder = NasPath::parse("/dir-050").unwrap();
    let t = Instant::now();
    for _ in 0..20 {
        home.list(&folder, None, 1000).unwrap();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let label = "reference: list one folder of 1,000 entries";
    println!("{label:<58} {:>5} rows  {ms:>8.2} ms", 1000);
}

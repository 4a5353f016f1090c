//! Name search on a home of 100,000 files, before and after the name index catches up.
//!
//! 1. Creates the files (100 folders × 1,000, one `commit_batch` per folder) and prints the
//!    time: the index is off the commit path, so this must match a build without it.
//! 2. Times each query while nothing is indexed yet — every name is in the unindexed
//!    tail, so this is the plain scan: the reference, measured in the same run.
//! 3. Indexes the 100,000 names (`Store::index_names`, what the `search-index` worker
//!    does) and prints the time.
//! 4. Times what an idle run of the worker costs, and the same queries through the index
//!    (a 2-character needle still scans).
//!
//! `cargo run --release -p nas-engine --example search_bench [N]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use nas_engine::{Home, NodeKind, SearchFilter, Store, StoreOptions, WriteOptions};
use nas_types::NasPath;
use std::time::Instant;

const WORDS: [&str; 8] = [
    "report", "invoice", "photo", "notes", "backup", "draft", "scan", "budget",
];

fn q(needle: &str) -> SearchFilter {
    SearchFilter {
        needle: needle.into(),
        ..SearchFilter::default()
    }
}

/// The queries: a label, a filter, and a page size.
fn queries() -> Vec<(&'static str, SearchFilter)> {
    vec![
        ("rare, one file (\"042424\")", q("042424")),
        ("rare (\"t-09999\")", q("t-09999")),
        ("no hit (\"zzz\")", q("zzz")),
        ("common (\"report\", first page of 100)", q("report")),
        (
            "common, files >= 9 B (none: filters every hit)",
            SearchFilter {
                min_size: Some(9),
                kind: Some(NodeKind::File),
                ..q("report")
            },
        ),
        ("2 chars, scan (\"42\", first page of 100)", q("42")),
        ("2 chars, scan (\"zq\", no hit)", q("zq")),
    ]
}

/// Milliseconds per query (the mean of 20) and the hits of each.
fn time_queries(home: &Home) -> Vec<(usize, f64)> {
    queries()
        .iter()
        .map(|(_, f)| {
            let rounds = 20;
            let mut found = 0;
            let t = Instant::now();
            for _ in 0..rounds {
                found = home.search(f, None, 100).unwrap().entries.len();
            }
            (found, t.elapsed().as_secs_f64() * 1000.0 / rounds as f64)
        })
        .collect()
}

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
    println!("built {n} files in {:.2} s", t.elapsed().as_secs_f64());
    let scanned = time_queries(&home);
    let t = Instant::now();
    let r = store.index_names(&mut || true).unwrap();
    println!(
        "indexed {} names in {:.2} s ({} transactions)",
        r.indexed,
        t.elapsed().as_secs_f64(),
        r.steps
    );
    assert!(store.name_index_status().unwrap().is_current());
    // what an idle run of the worker costs: the status check and one slice of pruning
    let t = Instant::now();
    for _ in 0..20 {
        store.index_names(&mut || true).unwrap();
        store.prune_name_index(nas_types::NodeId(0), 5000).unwrap();
    }
    println!(
        "an idle worker run (status, prune a slice of 5,000): {:.2} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    let indexed = time_queries(&home);
    println!(
        "{:<50} {:>5} {:>12} {:>12}",
        "query", "hits", "scan ms", "index ms"
    );
    for (((label, _), (hits, before)), (hits_after, after)) in
        queries().iter().zip(&scanned).zip(&indexed)
    {
        assert_eq!(hits, hits_after, "{label}: the index changed the answer");
        println!("{label:<50} {hits:>5} {before:>12.2} {after:>12.2}");
    }
    let folder = NasPath::parse(&format!("/dir-{:03}", n / per_dir / 2)).unwrap();
    let t = Instant::now();
    for _ in 0..20 {
        home.list(&folder, None, 1000).unwrap();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let label = "reference: list one folder of 1,000 entries";
    println!("{label:<50} {:>5} {ms:>12.2}", 1000);
}

//! Reads every version of one file of an existing store in-process, from the page cache,
//! and prints the throughput of each (the best of 5 reads): how fast a version made of
//! delta chunks reads compared with one stored whole, without a process start or a door.
//!
//! `cargo run --release -p nas-engine --example read_speed -- DATA_DIR HOME PATH`
//! (the store must not be open elsewhere).

use nas_engine::{Store, StoreOptions};
use nas_types::NasPath;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, home, path] = args.as_slice() else {
        eprintln!("usage: read_speed DATA_DIR HOME PATH");
        std::process::exit(2);
    };
    let store = Store::open(std::path::Path::new(data), StoreOptions::default())?;
    let home = store.home(home)?;
    let path = NasPath::parse(path)?;
    for v in home.versions(&path)? {
        let mut best = f64::MAX;
        let mut len = 0;
        for _ in 0..5 {
            let t = Instant::now();
            // streamed through a 1 MiB buffer, as a door sends it (not collected: a
            // collected read of a big file measures the page faults of its output)
            let mut r = home.open(&path, Some(v.num))?.reader();
            len = std::io::copy(&mut r, &mut std::io::sink())? as usize;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "version {}: {} bytes, {:.0} MB/s",
            v.num,
            len,
            len as f64 / best / 1e6
        );
    }
    let c = store.base_cache_counters();
    println!(
        "base cache: {} hits, {} misses, {} evictions",
        c.hits, c.misses, c.evictions
    );
    Ok(())
}

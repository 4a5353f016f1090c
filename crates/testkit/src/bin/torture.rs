//! Crash-test child: writes, overwrites, deletes and collects garbage in a loop on a
//! store, logging each step before and after (see `nas_testkit::LogLine`), until killed.
//!
//! `torture DATA_DIR LOG_FILE SEED`

use nas_engine::{Store, StoreOptions, WriteOptions};
use nas_testkit::{LogLine, content, torture_paths};
use nas_types::NasPath;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, log, seed] = args.as_slice() else {
        eprintln!("usage: torture DATA_DIR LOG_FILE SEED");
        return ExitCode::from(2);
    };
    match run(data, log, seed.parse().unwrap_or(0)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("torture: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(data: &str, log: &str, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    // Small packs so that pack rotation and compaction happen under the knife too.
    let store = Store::open(
        std::path::Path::new(data),
        StoreOptions {
            pack_size: 4 << 20,
            ..Default::default()
        },
    )?;
    let home = store.home("crash")?;
    for d in 0..3 {
        home.mkdir_all(&NasPath::parse(&format!("/d{d}"))?)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut say = |l: LogLine| -> std::io::Result<()> { writeln!(out, "{}", l.render()) };
    say(LogLine::Run)?;
    let paths = torture_paths();
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0u64.. {
        let path = paths[rng.random_range(0..paths.len())].clone();
        let np = NasPath::parse(&path)?;
        match rng.random_range(0..100) {
            0..=74 => {
                let len = rng.random_range(0..700_000);
                let body = content(seed.wrapping_mul(1_000_003).wrapping_add(step), len);
                let hash = blake3::hash(&body).to_hex().to_string();
                say(LogLine::BeginWrite {
                    path: path.clone(),
                    hash: hash.clone(),
                })?;
                let mut w = home.writer(&np, WriteOptions::default())?;
                for piece in body.chunks(64 * 1024) {
                    w.write(piece)?;
                }
                let v = w.commit()?;
                say(LogLine::DoneWrite {
                    path,
                    num: v.num.0,
                    hash,
                })?;
            }
            75..=92 => {
                if !home.exists(&np)? {
                    continue;
                }
                say(LogLine::BeginDelete { path: path.clone() })?;
                home.delete(&np)?;
                say(LogLine::DoneDelete { path })?;
            }
            _ => {
                say(LogLine::BeginGc)?;
                // purge old trash so GC has work: chunks and whole packs to free
                for t in home.trash_list()?.into_iter().skip(3) {
                    home.trash_purge(t.id)?;
                }
                store.gc(false)?;
                say(LogLine::DoneGc)?;
            }
        }
    }
    Ok(())
}

//! `import`: copies the contents of a local folder into a home (like `rsync -r SRC/ DEST/`
//! without deletes). A file that exists gets a new version; mtimes are kept. Symlinks and
//! special files are skipped (never followed out of the source tree).
//!
//! Shape: the walking thread creates folders and queues files; one worker per core streams
//! files through the engine's write pipeline; a committer groups the prepared writes and
//! commits them together (one fsync and one transaction per group), so an import of many
//! small files is not bound by fsync latency. A crash loses at most the groups not yet
//! committed, and every file is at its old or its new content.

use super::{open_with, path};
use crate::HomeArgs;
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use nas_engine::{Compression, Home, PreparedWrite, StoreOptions, WriteOptions};
use nas_types::NasPath;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Instant, UNIX_EPOCH};

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Local folder whose contents are copied in.
    src: PathBuf,
    /// Folder in the home to copy into (created if missing).
    #[arg(long, default_value = "/")]
    dest: String,
    /// Compression for new chunks in this run: lz4 (default), zstd, zstd:LEVEL, none.
    #[arg(long, value_parser = parse_compression)]
    compression: Option<Compression>,
    /// Files processed in parallel (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

pub fn parse_compression(s: &str) -> Result<Compression, String> {
    Compression::parse(s)
        .ok_or_else(|| format!("unknown compression {s:?} (lz4, zstd, zstd:1..19, none)"))
}

const BATCH_FILES: usize = 512;
const BATCH_BYTES: u64 = 64 << 20;
const READ_BUF: usize = 256 * 1024;

#[derive(Default)]
struct Totals {
    files: u64,
    bytes: u64,
    skipped: u64,
}

struct Job {
    src: PathBuf,
    target: NasPath,
    mtime_ns: Option<i64>,
}

fn scan(dir: &Path, t: &mut Totals) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            scan(&e.path(), t)?;
        } else if ft.is_file() {
            t.files += 1;
            t.bytes += e.metadata()?.len();
        }
    }
    Ok(())
}

/// Walks `src`, creating folders and queueing files in name order.
fn walk(
    home: &Home,
    src: &Path,
    dest: &NasPath,
    jobs: &SyncSender<Job>,
    t: &mut Totals,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            eprintln!("skipping {}: name is not UTF-8", e.path().display());
            t.skipped += 1;
            continue;
        };
        let target = dest
            .join(name)
            .with_context(|| format!("cannot import {}", e.path().display()))?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            home.mkdir_all(&target)?;
            walk(home, &e.path(), &target, jobs, t)?;
        } else if ft.is_file() {
            let md = e.metadata()?;
            let mtime_ns = md
                .modified()
                .ok()
                .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64);
            t.files += 1;
            t.bytes += md.len();
            let job = Job {
                src: e.path(),
                target,
                mtime_ns,
            };
            if jobs.send(job).is_err() {
                return Ok(()); // a worker failed; its error is reported
            }
        } else {
            t.skipped += 1;
        }
    }
    Ok(())
}

/// Streams one file through the engine's write pipeline, up to (not including) commit.
fn prepare(home: &Home, job: &Job, bar: &ProgressBar, buf: &mut [u8]) -> Result<PreparedWrite> {
    let ctx = || format!("cannot import {}", job.src.display());
    let mut f = fs::File::open(&job.src).with_context(ctx)?;
    let opts = WriteOptions {
        mtime_ns: job.mtime_ns,
        ..Default::default()
    };
    let mut w = home.writer(&job.target, opts).with_context(ctx)?;
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(ctx),
        };
        w.write(&buf[..n]).with_context(ctx)?;
        bar.inc(n as u64);
    }
    w.prepare().with_context(ctx)
}

fn worker(
    home: &Home,
    jobs: &Mutex<Receiver<Job>>,
    out: &SyncSender<PreparedWrite>,
    bar: &ProgressBar,
) -> Result<()> {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let job = match jobs
            .lock()
            .map_err(|_| anyhow!("job queue poisoned"))?
            .recv()
        {
            Ok(j) => j,
            Err(_) => return Ok(()),
        };
        let prepared = prepare(home, &job, bar, &mut buf)?;
        if out.send(prepared).is_err() {
            return Ok(()); // the committer failed; its error is reported
        }
    }
}

/// Commits prepared writes in groups.
fn committer(home: &Home, rx: Receiver<PreparedWrite>) -> Result<()> {
    let mut batch: Vec<PreparedWrite> = Vec::new();
    let mut bytes = 0u64;
    for w in rx {
        bytes += w.size();
        batch.push(w);
        if batch.len() >= BATCH_FILES || bytes >= BATCH_BYTES {
            home.commit_batch(std::mem::take(&mut batch))?;
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        home.commit_batch(batch)?;
    }
    Ok(())
}

pub fn run(a: ImportArgs) -> Result<ExitCode> {
    if !a.src.is_dir() {
        bail!("{} is not a folder", a.src.display());
    }
    let opts = StoreOptions {
        compression: a.compression,
        ..Default::default()
    };
    let store = open_with(&a.home.data, opts)?;
    let home = store.home(&a.home.home)?;
    let dest = path(&a.dest)?;
    home.mkdir_all(&dest)?;
    let mut total = Totals::default();
    scan(&a.src, &mut total)?;
    let bar = if a.quiet || a.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total.bytes)
    };
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let jobs_n = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
        .clamp(1, 16);
    let start = Instant::now();
    let mut done = Totals::default();
    std::thread::scope(|s| -> Result<()> {
        let (job_tx, job_rx) = sync_channel::<Job>(64);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (out_tx, out_rx) = sync_channel::<PreparedWrite>(64);
        let commit = s.spawn(|| committer(&home, out_rx));
        let workers: Vec<_> = (0..jobs_n)
            .map(|_| {
                let (rx, tx, bar, home) = (job_rx.clone(), out_tx.clone(), &bar, &home);
                s.spawn(move || worker(home, &rx, &tx, bar))
            })
            .collect();
        drop(out_tx);
        let walked = walk(&home, &a.src, &dest, &job_tx, &mut done);
        drop(job_tx);
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("an import worker panicked"))??;
        }
        commit
            .join()
            .map_err(|_| anyhow!("the import committer panicked"))??;
        walked
    })?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let mbps = done.bytes as f64 / 1e6 / secs.max(1e-9);
    if a.json {
        crate::output::json(&serde_json::json!({
            "files": done.files, "bytes": done.bytes, "skipped": done.skipped,
            "seconds": secs, "mb_per_s": mbps, "jobs": jobs_n,
        }))?;
    } else {
        let skipped = if done.skipped > 0 {
            format!(", skipped {} non-regular entries", done.skipped)
        } else {
            String::new()
        };
        println!(
            "imported {} files, {} in {secs:.2}s ({mbps:.1} MB/s){skipped}",
            done.files,
            crate::output::size(done.bytes),
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `import`: copies the contents of a local folder into a home (like `rsync -r SRC/ DEST/`
//! without deletes). A file that exists gets a new version; mtimes are kept. Symlinks and
//! special files are skipped (never followed out of the source tree).
//!
//! Shape: the walking thread creates folders (without an fsync each: they become durable
//! with the next commit) and hands files to the workers in bundles; one worker per core
//! reads and stores a bundle (its small files with one chunk-index lookup for all) and
//! hands the prepared writes to a committer, which commits them in groups (one fsync and
//! one transaction per group). No thread hand-off and no metadata round trip per file, so
//! an import of many small files is bound by neither. A crash loses at most the groups not
//! yet committed, and every file is at its old or its new content.

use super::{open_with, path};
use crate::HomeArgs;
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use nas_engine::{Compression, Entry, FileWriter, Home, PreparedWrite, StoreOptions, WriteOptions};
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

/// Files a commit groups at most (one pack fsync and one transaction for them all).
const BATCH_FILES: usize = 2048;
/// Files a group waits for unless the walk is over.
const MIN_GROUP_FILES: usize = 256;
const BATCH_BYTES: u64 = 64 << 20;
/// Files the walker hands to a worker at once, and a worker to the committer: one channel
/// send (and at most one thread wake-up) per this many small files, not one per file.
const HANDOFF_FILES: usize = 32;
const READ_BUF: usize = 256 * 1024;

#[derive(Default)]
struct Totals {
    files: u64,
    bytes: u64,
    skipped: u64,
}

/// A file to import into a folder the walker created.
struct Job {
    src: PathBuf,
    dir: Arc<Entry>,
    name: String,
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

/// Walks `src`, creating folders and queueing files in name order, in bundles of
/// [`HANDOFF_FILES`]. Only names and types are read here (no stat per file): the workers
/// stat what they open.
fn walk(
    home: &Home,
    src: &Path,
    dest: Arc<Entry>,
    jobs: &SyncSender<Vec<Job>>,
    t: &mut Totals,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut bundle = Vec::new();
    let mut dirs = Vec::new();
    for e in entries {
        let Ok(name) = e.file_name().into_string() else {
            eprintln!("skipping {}: name is not UTF-8", e.path().display());
            t.skipped += 1;
            continue;
        };
        let ft = e.file_type()?;
        if ft.is_dir() {
            dirs.push((e.path(), name));
        } else if ft.is_file() {
            t.files += 1;
            bundle.push(Job {
                src: e.path(),
                dir: dest.clone(),
                name,
            });
            if bundle.len() >= HANDOFF_FILES && jobs.send(std::mem::take(&mut bundle)).is_err() {
                return Ok(()); // a worker failed; its error is reported
            }
        } else {
            t.skipped += 1;
        }
    }
    if !bundle.is_empty() && jobs.send(bundle).is_err() {
        return Ok(());
    }
    for (path, name) in dirs {
        let target = dest
            .path
            .join(&name)
            .with_context(|| format!("cannot import {}", path.display()))?;
        let dir = home.mkdir_all_deferred(&target)?;
        walk(home, &path, Arc::new(dir), jobs, t)?;
    }
    Ok(())
}

/// Files up to this size are read whole and stored with the others of their bundle
/// (`Home::prepare_many`: one chunk-index lookup for the bundle); larger ones stream.
const WHOLE_FILE: u64 = 256 * 1024;

/// A file opened for import: its writer, and its content if it is read whole.
struct Opened {
    file: fs::File,
    writer: FileWriter,
    whole: Option<Vec<u8>>,
}

/// Reads a file of (about) `len` bytes to its end. Not `read_to_end`, which stats and
/// seeks the file first to size its buffer: the size is known from the open's stat.
fn read_all(f: &mut fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    // one byte more than the stat said, so the read that finds the end needs no regrowth
    let mut data = vec![0u8; len as usize + 1];
    let mut n = 0;
    loop {
        if n == data.len() {
            data.resize(n * 2, 0); // the file grew since its stat
        }
        match f.read(&mut data[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(n);
    Ok(data)
}

/// Opens one file, stats the open file (its mtime is kept), starts its writer, and reads
/// it whole if it is small.
fn open(home: &Home, job: &Job) -> Result<Opened> {
    let ctx = || format!("cannot import {}", job.src.display());
    let mut file = fs::File::open(&job.src).with_context(ctx)?;
    let md = file.metadata().with_context(ctx)?;
    let mtime_ns = md
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64);
    let opts = WriteOptions {
        mtime_ns,
        ..Default::default()
    };
    let writer = home
        .writer_in(&job.dir, &job.name, opts)
        .with_context(ctx)?;
    let whole = if md.len() <= WHOLE_FILE {
        Some(read_all(&mut file, md.len()).with_context(ctx)?)
    } else {
        None
    };
    Ok(Opened {
        file,
        writer,
        whole,
    })
}

/// Streams a larger file through the engine's write pipeline, up to (not including) commit.
fn stream(job: &Job, o: Opened, bar: &ProgressBar, buf: &mut [u8]) -> Result<PreparedWrite> {
    let ctx = || format!("cannot import {}", job.src.display());
    let Opened {
        mut file,
        writer: mut w,
        ..
    } = o;
    loop {
        let n = match file.read(buf) {
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

/// Stores one bundle: the small files together, the larger ones streamed one by one.
fn prepare_bundle(
    home: &Home,
    bundle: &[Job],
    bar: &ProgressBar,
    buf: &mut [u8],
) -> Result<Vec<PreparedWrite>> {
    let mut out = Vec::with_capacity(bundle.len());
    let (mut small, mut small_jobs) = (Vec::new(), Vec::new());
    for job in bundle {
        let mut o = open(home, job)?;
        match o.whole.take() {
            Some(data) => {
                bar.inc(data.len() as u64);
                small.push((o.writer, data));
                small_jobs.push(job);
            }
            None => out.push(stream(job, o, bar, buf)?),
        }
    }
    for (prepared, job) in home.prepare_many(small).into_iter().zip(small_jobs) {
        out.push(prepared.with_context(|| format!("cannot import {}", job.src.display()))?);
    }
    Ok(out)
}

fn worker(
    home: &Home,
    jobs: &Mutex<Receiver<Vec<Job>>>,
    out: &SyncSender<Vec<PreparedWrite>>,
    bar: &ProgressBar,
) -> Result<()> {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let bundle = match jobs
            .lock()
            .map_err(|_| anyhow!("job queue poisoned"))?
            .recv()
        {
            Ok(j) => j,
            Err(_) => return Ok(()),
        };
        let prepared = prepare_bundle(home, &bundle, bar, &mut buf)?;
        if out.send(prepared).is_err() {
            return Ok(()); // the committer failed; its error is reported
        }
    }
}

/// Commits prepared writes in groups: whatever the workers prepared while the last group
/// committed (up to the limits) is the next group, so the committer is never idle while
/// there is work, groups grow as large as the disk's latency makes them, and the last one
/// holds only what was prepared during the one before. Returns the bytes committed.
fn committer(home: &Home, rx: Receiver<Vec<PreparedWrite>>) -> Result<u64> {
    let mut total = 0u64;
    while let Ok(first) = rx.recv() {
        let mut batch = first;
        let mut bytes: u64 = batch.iter().map(PreparedWrite::size).sum();
        while batch.len() < BATCH_FILES && bytes < BATCH_BYTES {
            // below MIN_GROUP_FILES, wait for more (a group costs two fsyncs)
            let more = if batch.len() < MIN_GROUP_FILES {
                rx.recv().ok()
            } else {
                rx.try_recv().ok()
            };
            let Some(more) = more else { break };
            bytes += more.iter().map(PreparedWrite::size).sum::<u64>();
            batch.extend(more);
        }
        home.commit_batch(batch)?;
        total += bytes;
    }
    Ok(total)
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
    let dest = Arc::new(home.mkdir_all_deferred(&dest)?);
    let bar = if a.quiet || a.json {
        ProgressBar::hidden() // and no scan of the tree for its total
    } else {
        let mut total = Totals::default();
        scan(&a.src, &mut total)?;
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
        let (job_tx, job_rx) = sync_channel::<Vec<Job>>(64);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (out_tx, out_rx) = sync_channel::<Vec<PreparedWrite>>(64);
        let commit = s.spawn(|| committer(&home, out_rx));
        let workers: Vec<_> = (0..jobs_n)
            .map(|_| {
                let (rx, tx, bar, home) = (job_rx.clone(), out_tx.clone(), &bar, &home);
                s.spawn(move || worker(home, &rx, &tx, bar))
            })
            .collect();
        drop(out_tx);
        let walked = walk(&home, &a.src, dest, &job_tx, &mut done);
        drop(job_tx);
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("an import worker panicked"))??;
        }
        done.bytes = commit
            .join()
            .map_err(|_| anyhow!("the import committer panicked"))??;
        walked?;
        // folders made after the last commit (empty ones at the end of the walk) are
        // durable before the import says it is done
        Ok(home.sync_deferred()?)
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

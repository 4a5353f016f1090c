//! `import`: copies the contents of a local folder into a home (like `rsync -r SRC/ DEST/`
//! without deletes). A file that exists gets a new version; mtimes are kept. Symlinks and
//! special files are skipped (never followed out of the source tree).

use super::{open_with, path};
use crate::HomeArgs;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use nas_engine::{Compression, Home, PreparedWrite, StoreOptions, WriteOptions};
use nas_types::NasPath;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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

struct Walk {
    files: u64,
    bytes: u64,
    skipped: u64,
}

fn scan(dir: &Path, w: &mut Walk) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            scan(&e.path(), w)?;
        } else if t.is_file() {
            w.files += 1;
            w.bytes += e.metadata()?.len();
        } else {
            w.skipped += 1;
        }
    }
    Ok(())
}

/// Files are committed in groups (one fsync and one transaction per group): an import of
/// many small files is not bound by fsync latency. A crash loses at most the last group,
/// and every file is at its old or its new content.
struct Batch {
    writes: Vec<PreparedWrite>,
    bytes: u64,
}

const BATCH_FILES: usize = 512;
const BATCH_BYTES: u64 = 64 << 20;

impl Batch {
    fn push(&mut self, home: &Home, w: PreparedWrite) -> Result<()> {
        self.bytes += w.size();
        self.writes.push(w);
        if self.writes.len() >= BATCH_FILES || self.bytes >= BATCH_BYTES {
            self.flush(home)?;
        }
        Ok(())
    }

    fn flush(&mut self, home: &Home) -> Result<()> {
        if !self.writes.is_empty() {
            home.commit_batch(std::mem::take(&mut self.writes))?;
        }
        self.bytes = 0;
        Ok(())
    }
}

fn copy_in(
    home: &Home,
    src: &Path,
    dest: &NasPath,
    bar: &ProgressBar,
    done: &mut Walk,
    batch: &mut Batch,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            bar.suspend(|| eprintln!("skipping {}: name is not UTF-8", e.path().display()));
            continue;
        };
        let target = dest
            .join(name)
            .with_context(|| format!("cannot import {}", e.path().display()))?;
        let t = e.file_type()?;
        if t.is_dir() {
            home.mkdir_all(&target)?;
            copy_in(home, &e.path(), &target, bar, done, batch)?;
        } else if t.is_file() {
            let md = e.metadata()?;
            let mtime_ns = md
                .modified()
                .ok()
                .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64);
            let f = fs::File::open(e.path())
                .with_context(|| format!("cannot open {}", e.path().display()))?;
            let opts = WriteOptions {
                mtime_ns,
                ..Default::default()
            };
            let mut w = home.writer(&target, opts)?;
            std::io::copy(&mut bar.wrap_read(f), &mut w)
                .with_context(|| format!("cannot import {}", e.path().display()))?;
            batch.push(home, w.prepare()?)?;
            done.files += 1;
            done.bytes += md.len();
        } else {
            done.skipped += 1;
        }
    }
    Ok(())
}

pub fn run(a: ImportArgs) -> Result<ExitCode> {
    if !a.src.is_dir() {
        bail!("{} is not a folder", a.src.display());
    }
    let store = open_with(
        &a.home.data,
        StoreOptions {
            compression: a.compression,
            ..Default::default()
        },
    )?;
    let home = store.home(&a.home.home)?;
    let dest = path(&a.dest)?;
    home.mkdir_all(&dest)?;
    let mut total = Walk {
        files: 0,
        bytes: 0,
        skipped: 0,
    };
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
    let start = Instant::now();
    let mut done = Walk {
        files: 0,
        bytes: 0,
        skipped: 0,
    };
    let mut batch = Batch {
        writes: Vec::new(),
        bytes: 0,
    };
    copy_in(&home, &a.src, &dest, &bar, &mut done, &mut batch)?;
    batch.flush(&home)?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let mbps = done.bytes as f64 / 1e6 / secs.max(1e-9);
    if a.json {
        crate::output::json(&serde_json::json!({
            "files": done.files, "bytes": done.bytes, "skipped": done.skipped,
            "seconds": secs, "mb_per_s": mbps,
        }))?;
    } else {
        println!(
            "imported {} files, {} in {secs:.2}s ({mbps:.1} MB/s){}",
            done.files,
            crate::output::size(done.bytes),
            if done.skipped > 0 {
                format!(", skipped {} non-regular entries", done.skipped)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

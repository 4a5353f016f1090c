//! `export`: copies a folder (or one file) out of a home to local disk, as it is now or
//! as it was at `--version-at TIME` (each file at the newest version created at or before
//! that time; files that did not exist then are skipped). Files deleted since (in the
//! trash) are not part of the export.

use super::{open_home_read, path};
use crate::HomeArgs;
use anyhow::{Context, Result, bail};
use nas_engine::{Home, NodeKind};
use nas_types::NasPath;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Folder or file in the home.
    path: String,
    /// Local destination folder (created if missing).
    dest: PathBuf,
    /// Export the state at this time (RFC 3339, e.g. 2026-11-28T12:00:00Z, or Unix seconds).
    #[arg(long, value_parser = parse_time)]
    version_at: Option<SystemTime>,
}

fn parse_time(s: &str) -> Result<SystemTime, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_secs(secs));
    }
    humantime::parse_rfc3339_weak(s).map_err(|e| format!("bad time {s:?}: {e}"))
}

struct Count {
    files: u64,
    skipped: u64,
}

fn export_file(
    home: &Home,
    src: &NasPath,
    dest: &Path,
    at: Option<i64>,
    n: &mut Count,
) -> Result<()> {
    let version = match at {
        Some(t) => match home.version_at(src, t)? {
            Some(v) => Some(v.num),
            None => {
                n.skipped += 1;
                return Ok(());
            }
        },
        None => None,
    };
    let reader = home.open(src, version)?;
    let tmp = dest.with_extension("silent-nas-partial");
    let mut out =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    std::io::copy(&mut reader.reader(), &mut out)
        .with_context(|| format!("cannot export {src}"))?;
    let mtime = UNIX_EPOCH + Duration::from_nanos(reader.version().mtime_ns.max(0) as u64);
    out.set_modified(mtime)?;
    drop(out);
    fs::rename(&tmp, dest)?;
    n.files += 1;
    Ok(())
}

fn export_dir(
    home: &Home,
    src: &NasPath,
    dest: &Path,
    at: Option<i64>,
    n: &mut Count,
) -> Result<()> {
    fs::create_dir_all(dest)?;
    let mut after: Option<String> = None;
    loop {
        let page = home.list(src, after.as_deref(), 1000)?;
        for e in &page.entries {
            let target = dest.join(e.name());
            match e.kind {
                NodeKind::Dir => export_dir(home, &e.path, &target, at, n)?,
                NodeKind::File => export_file(home, &e.path, &target, at, n)?,
            }
        }
        match page.next_after {
            Some(x) => after = Some(x),
            None => return Ok(()),
        }
    }
}

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let (_s, home) = open_home_read(&a.home)?;
    let src = path(&a.path)?;
    let at = a.version_at.map(|t| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    });
    let mut n = Count {
        files: 0,
        skipped: 0,
    };
    let e = home.stat(&src)?;
    match e.kind {
        NodeKind::Dir => export_dir(&home, &src, &a.dest, at, &mut n)?,
        NodeKind::File => {
            fs::create_dir_all(&a.dest)?;
            let Some(name) = src.name() else {
                bail!("nothing to export")
            };
            export_file(&home, &src, &a.dest.join(name), at, &mut n)?;
        }
    }
    println!(
        "exported {} files to {}{}",
        n.files,
        a.dest.display(),
        if n.skipped > 0 {
            format!(" ({} did not exist at that time)", n.skipped)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

//! Commands that look at or change one path: put, ls, stat, cat, mkdir, mv, cp, rm,
//! versions, restore, delete-version.

use super::{open_home, open_home_read, path};
use crate::HomeArgs;
use crate::output::{json, size, time};
use anyhow::Result;
use nas_engine::{Entry, NodeKind, VersionRecord, WriteOptions};
use nas_types::VersionNum;
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PathArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Path inside the home, e.g. /photos/cat.jpg.
    path: String,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Destination path; its folder must exist.
    path: String,
}

#[derive(clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Folder to list.
    #[arg(default_value = "/")]
    path: String,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct CatArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// File to print.
    path: String,
    /// Version number (default: the newest).
    #[arg(long)]
    version: Option<u64>,
}

#[derive(clap::Args)]
pub struct MoveArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Source path.
    from: String,
    /// Destination path.
    to: String,
    /// Replace an existing destination (it goes to the trash).
    #[arg(long)]
    overwrite: bool,
}

#[derive(clap::Args)]
pub struct VersionArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// File path.
    path: String,
    /// Version number.
    #[arg(long)]
    version: u64,
}

/// An entry as printed by `--json`.
#[derive(Serialize)]
pub struct EntryOut {
    path: String,
    kind: &'static str,
    size: u64,
    mtime: String,
    mtime_ns: i64,
    id: i64,
    version: Option<u64>,
    blake3: Option<String>,
    content_type: Option<String>,
    meta: std::collections::BTreeMap<String, String>,
}

impl From<&Entry> for EntryOut {
    fn from(e: &Entry) -> Self {
        EntryOut {
            path: e.path.to_string(),
            kind: if e.kind == NodeKind::Dir {
                "dir"
            } else {
                "file"
            },
            size: e.size,
            mtime: time(e.mtime_ns),
            mtime_ns: e.mtime_ns,
            id: e.id.0,
            version: e.version.map(|v| v.0),
            blake3: e.hash.map(|h| h.to_hex()),
            content_type: e.attrs.content_type.clone(),
            meta: e.attrs.user.clone(),
        }
    }
}

/// A version as printed by `--json`.
#[derive(Serialize)]
pub struct VersionOut {
    version: u64,
    size: u64,
    created: String,
    created_ns: i64,
    mtime: String,
    blake3: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
}

impl From<&VersionRecord> for VersionOut {
    fn from(v: &VersionRecord) -> Self {
        VersionOut {
            version: v.num.0,
            size: v.size,
            created: time(v.created_ns),
            created_ns: v.created_ns,
            mtime: time(v.mtime_ns),
            blake3: v.hash.to_hex(),
            author: v.author.clone(),
        }
    }
}

fn line(e: &Entry) -> String {
    let kind = if e.kind == NodeKind::Dir { 'd' } else { '-' };
    let name = if e.kind == NodeKind::Dir {
        format!("{}/", e.name())
    } else {
        e.name().to_owned()
    };
    format!("{kind} {:>10}  {}  {name}", size(e.size), time(e.mtime_ns))
}

pub fn put(a: PutArgs) -> Result<ExitCode> {
    let (_s, home) = open_home(&a.home)?;
    let p = path(&a.path)?;
    let v = home.write_from(&p, std::io::stdin().lock(), WriteOptions::default())?;
    println!("{p}: version {} ({} bytes)", v.num, v.size);
    Ok(ExitCode::SUCCESS)
}

pub fn ls(a: LsArgs) -> Result<ExitCode> {
    let (_s, home) = open_home_read(&a.home)?;
    let p = path(&a.path)?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let page = home.list(&p, after.as_deref(), 1000)?;
        for e in &page.entries {
            if a.json {
                all.push(EntryOut::from(e));
            } else {
                writeln!(out, "{}", line(e))?;
            }
        }
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    if a.json {
        json(&all)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stat(a: PathArgs) -> Result<ExitCode> {
    let (_s, home) = open_home_read(&a.home)?;
    let e = home.stat(&path(&a.path)?)?;
    if a.json {
        json(&EntryOut::from(&e))?;
    } else {
        println!("{}", line(&e));
        if let (Some(v), Some(h)) = (e.version, e.hash) {
            println!("version {v}  blake3 {h}  id {}", e.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cat(a: CatArgs) -> Result<ExitCode> {
    let (_s, home) = open_home_read(&a.home)?;
    let r = home.open(&path(&a.path)?, a.version.map(VersionNum))?;
    let mut reader = r.reader();
    let out = std::io::stdout();
    let mut out = out.lock();
    match std::io::copy(&mut reader, &mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e.into()),
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn mkdir(a: PathArgs) -> Result<ExitCode> {
    let (_s, home) = open_home(&a.home)?;
    home.mkdir_all(&path(&a.path)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn mv(a: MoveArgs, copy: bool) -> Result<ExitCode> {
    let (_s, home) = open_home(&a.home)?;
    let (from, to) = (path(&a.from)?, path(&a.to)?);
    if copy {
        home.copy(&from, &to, a.overwrite)?;
    } else {
        home.rename(&from, &to, a.overwrite)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rm(a: PathArgs) -> Result<ExitCode> {
    let (_s, home) = open_home(&a.home)?;
    let t = home.delete(&path(&a.path)?)?;
    if a.json {
        json(&serde_json::json!({ "trash_id": t.id.0, "path": t.path }))?;
    } else {
        println!("moved {} to the trash (entry {})", t.path, t.id);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn versions(a: PathArgs) -> Result<ExitCode> {
    let (_s, home) = open_home_read(&a.home)?;
    let vs = home.versions(&path(&a.path)?)?;
    if a.json {
        json(&vs.iter().map(VersionOut::from).collect::<Vec<_>>())?;
    } else {
        for v in &vs {
            println!(
                "{:>4}  {:>10}  {}  {}  {}",
                v.num,
                size(v.size),
                time(v.created_ns),
                &v.hash.to_hex()[..16],
                v.author.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `restore` without `--from`: makes `version` of `file` the newest again.
pub fn restore_version(
    data: &std::path::Path,
    home: &str,
    file: &str,
    version: u64,
) -> Result<ExitCode> {
    let (_s, home) = open_home(&HomeArgs {
        data: crate::DataArgs::dir(data.to_path_buf()),
        home: home.to_owned(),
    })?;
    let v = home.restore_version(&path(file)?, VersionNum(version))?;
    println!("{file}: version {version} restored as version {}", v.num);
    Ok(ExitCode::SUCCESS)
}

pub fn delete_version(a: VersionArgs) -> Result<ExitCode> {
    let (_s, home) = open_home(&a.home)?;
    home.delete_version(&path(&a.path)?, VersionNum(a.version))?;
    Ok(ExitCode::SUCCESS)
}

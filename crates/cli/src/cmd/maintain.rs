//! Store-wide commands: init, prune, gc, fsck, stats, backup-meta.

use super::{import::parse_compression, open, open_with};
use crate::DataArgs;
use crate::output::{json, size};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use nas_engine::{Compression, RetentionPolicy, StoreOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Default compression for new chunks: lz4, zstd, zstd:LEVEL, none.
    #[arg(long, value_parser = parse_compression, default_value = "lz4")]
    compression: Compression,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Keep the newest N versions of each file.
    #[arg(long)]
    keep_last: Option<usize>,
    /// Keep versions younger than this (e.g. 30d).
    #[arg(long, value_parser = humantime::parse_duration)]
    keep_within: Option<Duration>,
    /// Apply the rules above to every home, ignoring the retention each user's account
    /// may set for its own home (as the retention worker applies it).
    #[arg(long)]
    ignore_user_overrides: bool,
    /// Only say what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only say what would be freed.
    #[arg(long)]
    dry_run: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct FsckArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Also read back and re-hash every chunk.
    #[arg(long)]
    verify_data: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Destination file (must not exist).
    out: PathBuf,
}

pub fn init(a: InitArgs) -> Result<ExitCode> {
    let s = open_with(
        &a.data,
        StoreOptions {
            compression: Some(a.compression),
            ..Default::default()
        },
    )?;
    s.set_default_compression(a.compression)?;
    println!(
        "store ready in {} (compression {:?})",
        a.data.data.display(),
        a.compression
    );
    Ok(ExitCode::SUCCESS)
}

pub fn prune(a: PruneArgs) -> Result<ExitCode> {
    let s = open(&a.data)?;
    let policy = RetentionPolicy {
        keep_last: a.keep_last,
        keep_within: a.keep_within,
    };
    let plan = if a.ignore_user_overrides {
        s.retention_plan(&policy)?
    } else {
        s.retention_plan_by_user(&policy, &mut |_| {})?
    };
    for (_, p, num, sz) in &plan.victims {
        println!(
            "{} version {num} ({})",
            p.as_deref().unwrap_or("?"),
            size(*sz)
        );
    }
    if a.dry_run {
        println!(
            "would delete {} versions ({})",
            plan.victims.len(),
            size(plan.bytes())
        );
    } else {
        let n = s.retention_execute(&plan)?;
        println!(
            "deleted {n} versions ({}); run gc to free their chunks",
            size(plan.bytes())
        );
    }
    if plan.retained > 0 {
        println!(
            "kept {} versions under object lock (retention or legal hold)",
            plan.retained
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn gc(a: GcArgs) -> Result<ExitCode> {
    let s = open(&a.data)?;
    let r = s.gc(a.dry_run)?;
    if a.json {
        json(&r)?;
    } else if a.dry_run {
        let p = &r.plan;
        println!(
            "would free {} chunks ({}), delete {} packs, compact {} packs: {} of disk",
            p.chunks,
            size(p.chunk_bytes),
            p.delete_packs.len(),
            p.compact_packs.len(),
            size(p.reclaim_bytes)
        );
    } else {
        println!(
            "freed {} chunks, deleted {} packs ({} compacted first): {} of disk{}",
            r.chunks_freed,
            r.packs_deleted,
            r.packs_compacted,
            size(r.bytes_freed),
            if r.chunks_pinned > 0 {
                format!("; {} chunks kept for writes in flight", r.chunks_pinned)
            } else {
                String::new()
            }
        );
        if r.plan.young_packs > 0 {
            println!(
                "{} packs younger than the grace period kept",
                r.plan.young_packs
            );
        }
    }
    for e in &r.errors {
        eprintln!("gc: {e}");
    }
    Ok(if r.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn fsck(a: FsckArgs) -> Result<ExitCode> {
    let s = open(&a.data)?;
    let bar = if a.verify_data && !a.json {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("verifying {pos}/{len} chunks {wide_bar} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let r = s.fsck(a.verify_data, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if a.json {
        json(&r)?;
    } else {
        for p in &r.repaired {
            match &p.path {
                Some(path) => println!("REPAIRED {path}: {}", p.detail),
                None => println!("REPAIRED {}", p.detail),
            }
        }
        for p in &r.problems {
            match &p.path {
                Some(path) => println!("DAMAGED {path}: {}", p.detail),
                None => println!("PROBLEM {}", p.detail),
            }
        }
        println!(
            "checked {} versions, {} chunks{}, {} packs: {}",
            r.versions,
            r.chunks,
            if a.verify_data {
                format!(" ({} re-hashed)", r.chunks_verified)
            } else {
                String::new()
            },
            r.packs,
            if r.is_clean() && r.repaired.is_empty() {
                "clean".to_owned()
            } else if r.is_clean() {
                format!("clean after repairs ({} repaired)", r.repaired.len())
            } else {
                format!(
                    "{} repaired, {} problems (unrepairable), {} damaged files",
                    r.repaired.len(),
                    r.problems.len(),
                    r.damaged_files.len()
                )
            }
        );
    }
    Ok(if r.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn stats(a: StatsArgs) -> Result<ExitCode> {
    let s = super::open_read(&a.data)?;
    let st = s.stats()?;
    if a.json {
        json(&st)?;
    } else {
        println!("files           {}", st.files);
        println!("folders         {}", st.dirs);
        println!("versions        {}", st.versions);
        println!(
            "logical bytes   {} ({})",
            st.logical_bytes,
            size(st.logical_bytes)
        );
        println!(
            "current bytes   {} ({})",
            st.current_bytes,
            size(st.current_bytes)
        );
        println!(
            "unique bytes    {} ({})",
            st.unique_bytes,
            size(st.unique_bytes)
        );
        println!(
            "stored bytes    {} ({})",
            st.stored_bytes,
            size(st.stored_bytes)
        );
        println!(
            "pack bytes      {} ({})",
            st.pack_bytes,
            size(st.pack_bytes)
        );
        println!(
            "metadata bytes  {} ({})",
            st.meta_bytes,
            size(st.meta_bytes)
        );
        println!("chunks          {}", st.chunks);
        println!("dedup ratio     {:.2}", st.dedup_ratio);
        println!("compression     {:.2}", st.compression_ratio);
        println!("delta chunks    {}", st.delta_chunks);
        for (what, n) in [
            ("saved by dedup ", st.saved_by_dedup),
            ("saved by compr.", st.saved_by_compression),
            ("saved by delta ", st.saved_by_delta),
        ] {
            println!("{what} {n} ({})", size(n));
        }
        println!("trash entries   {}", st.trash_entries);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn backup(a: BackupArgs) -> Result<ExitCode> {
    if a.out.exists() {
        anyhow::bail!("{} already exists", a.out.display());
    }
    a.data
        .location()?
        .require_sqlite("`silent-nas backup-meta`")?;
    // no store lock: this works while the server runs
    nas_engine::Store::backup_meta_at(&a.data.data, &a.out)
        .with_context(|| format!("cannot back up the metadata of {}", a.data.data.display()))?;
    println!("metadata copied to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

//! `silent-nas tier`: the object-storage tier of a store (configured by the
//! `SILENT_NAS_BLOBS_*` environment, as `[blobs]` is for the server). `status` shows where
//! packs live, what the upload queue holds and, under a `tiered` policy
//! (`SILENT_NAS_BLOBS_POLICY`), the local bytes and what the mover would move now; `evict` drops the local copy of every pack
//! whose remote copy is verified (never another); `backup` uploads a metadata backup for
//! disaster recovery (`restore --from`). Each opens the store exclusively, and at
//! open the packs a previous run left unuploaded are queued again and upload.

use crate::DataArgs;
use anyhow::{Result, bail};
use nas_engine::TierPolicy;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TierArgs {
    #[command(subcommand)]
    cmd: TierCmd,
}

#[derive(clap::Subcommand)]
enum TierCmd {
    /// Where packs live (local, remote, both) and the upload queue.
    Status {
        #[command(flatten)]
        data: DataArgs,
        /// First wait (at most this many seconds) for pending uploads.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },
    /// Back the metadata up to the object store now (as the `meta_backup` worker does;
    /// for disaster recovery, `restore --from`). The server must not be running: it runs
    /// the worker itself (start it by hand at /api/v1/admin/workers/meta_backup/run).
    Backup {
        #[command(flatten)]
        data: DataArgs,
        /// Backups kept (the oldest beyond are deleted); `[blobs] meta_backup_keep` else.
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Drop the local copy of every pack with a verified remote copy.
    Evict {
        #[command(flatten)]
        data: DataArgs,
        /// First wait (at most this many seconds) for pending uploads.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },
}

pub fn run(a: TierArgs) -> Result<ExitCode> {
    let (data, wait, evict) = match a.cmd {
        TierCmd::Status { data, wait } => (data, wait, false),
        TierCmd::Evict { data, wait } => (data, wait, true),
        TierCmd::Backup { data, keep } => return backup(&data, keep),
    };
    let policy = crate::config::blobs::from_env()?.policy;
    let s = super::open(&data)?;
    if s.remote_status().is_none() {
        bail!("no object-storage tier: set SILENT_NAS_BLOBS_REMOTE (docs/configuration.md)");
    }
    if let Some(secs) = wait
        && !s.wait_uploaded(Duration::from_secs(secs))
    {
        eprintln!("uploads still pending after {secs} s");
    }
    if evict {
        println!("evicted {} packs", s.evict_local_packs()?);
    }
    let Some(st) = s.remote_status() else {
        bail!("no object-storage tier");
    };
    println!("remote          {}", st.url);
    println!("local only      {}", st.placement.local_only);
    println!("both            {}", st.placement.both);
    println!("remote only     {}", st.placement.remote_only);
    println!("upload queue    {}", st.upload_queue);
    println!(
        "uploaded        {} packs, {} bytes",
        st.packs_uploaded, st.bytes_uploaded
    );
    println!("upload errors   {}", st.upload_errors);
    match policy {
        TierPolicy::Mirror => {
            println!("policy          mirror (every sealed pack local and remote)")
        }
        TierPolicy::Tiered(t) => {
            let plan = s.mover_plan(&t)?;
            println!(
                "policy          tiered (hot_size {} bytes, cold_after {}, mover every {}, batch {})",
                t.hot_size,
                humantime::format_duration(t.cold_after),
                humantime::format_duration(t.interval),
                t.batch
            );
            println!(
                "local           {} packs, {} bytes",
                plan.local_packs, plan.local_bytes
            );
            println!(
                "to move         {} packs ({} bytes after), {} waiting for their upload",
                plan.moves.len(),
                plan.local_bytes_after,
                plan.waiting_upload
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tier backup`: one metadata backup to the object store, now.
fn backup(data: &DataArgs, keep: Option<usize>) -> Result<ExitCode> {
    let blobs = crate::config::blobs::from_env()?;
    let s = super::open(data)?;
    if s.remote_status().is_none() {
        bail!("no object-storage tier: set SILENT_NAS_BLOBS_REMOTE (docs/configuration.md)");
    }
    let opts = nas_engine::BackupOptions {
        keep: keep.unwrap_or(blobs.meta_backup_keep).max(1),
        ..nas_engine::BackupOptions::default()
    };
    let r = s.backup_to_remote(&opts)?;
    let m = &r.manifest;
    println!(
        "backup {} uploaded: {} bytes of metadata ({} compressed), {} packs referenced, {} older backups pruned",
        m.name, m.db_bytes, m.compressed_bytes, m.packs, r.pruned
    );
    for p in &m.not_uploaded {
        println!("NOT UPLOADED pack {p}: its files are at risk in a restore from this backup");
    }
    Ok(ExitCode::SUCCESS)
}

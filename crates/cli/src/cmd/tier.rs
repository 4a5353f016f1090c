//! `silent-nas tier`: the object-storage tier of a store (configured by the
//! `SILENT_NAS_BLOBS_*` environment, as `[blobs]` is for the server). `status` shows where
//! packs live and what the upload queue holds; `evict` drops the local copy of every pack
//! whose remote copy is verified (never another). Both open the store exclusively, and at
//! open the packs a previous run left unuploaded are queued again and upload.

use crate::DataArgs;
use anyhow::{Result, bail};
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
    };
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
    Ok(ExitCode::SUCCESS)
}

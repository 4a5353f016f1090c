//! The metadata backup worker (named [`META_BACKUP`]): with an object-storage tier, backs
//! the metadata database up to the object store every interval
//! ([`Store::backup_to_remote`]: the referenced packs uploaded first, a consistent
//! snapshot, zstd, `PREFIX/meta/`, the oldest pruned beyond `keep`), so that `silent-nas
//! restore --from` can rebuild the data directory from the object store alone. Its
//! schedule survives restarts (as the maintenance workers' does); a run that cannot reach
//! the object store fails and the next one tries again.

use super::maintenance::persisted;
use super::{Outcome, ProgressUnit, RunContext, Worker, WorkerError};
use crate::backup::BackupOptions;
use crate::store::Store;
use std::time::Duration;

/// Name of the metadata backup worker.
pub const META_BACKUP: &str = "meta_backup";

/// The metadata backup worker, ready for [`super::WorkerRunner::add`].
pub fn meta_backup_worker(store: &Store, every: Duration, opts: BackupOptions) -> Worker {
    let s = store.clone();
    persisted(store, META_BACKUP, every, move |ctx: &RunContext| {
        run(&s, &opts, ctx)
    })
}

fn run(s: &Store, opts: &BackupOptions, ctx: &RunContext) -> Result<Outcome, WorkerError> {
    ctx.progress(0, Some(1), ProgressUnit::Items);
    let r = s.backup_to_remote(opts)?;
    ctx.progress(1, Some(1), ProgressUnit::Items);
    let m = &r.manifest;
    let mut summary = format!(
        "metadata backup {} uploaded ({} bytes, {} compressed; {} packs referenced); pruned {}",
        m.name, m.db_bytes, m.compressed_bytes, m.packs, r.pruned
    );
    if !m.not_uploaded.is_empty() {
        summary.push_str(&format!(
            "; {} packs not uploaded yet (their files are at risk)",
            m.not_uploaded.len()
        ));
    }
    Ok(Outcome {
        summary,
        items: 1,
        ..Outcome::default()
    })
}

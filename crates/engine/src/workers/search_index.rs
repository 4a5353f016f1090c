//! The `search-index` worker: keeps the name index behind search current, off the commit
//! path. Each run adds the names of files and folders created since the last run and
//! re-indexes renamed ones ([`Store::index_names`], pausing briefly between its short
//! transactions so request writes go first), then looks at one slice of the index for
//! entries of purged nodes ([`Store::prune_name_index`]; the slices go round the index
//! run by run). A run with nothing to do writes nothing.
//!
//! On a store migrated from before the index (or after the worker was off), the first run
//! — one second after start-up — backfills every name; searches are exact meanwhile
//! (what is not indexed yet is scanned), only slower.

use super::{Outcome, RunContext, Worker, WorkerError};
use crate::store::Store;
use nas_types::NodeId;
use std::time::Duration;

/// Name of the name-index worker.
pub const SEARCH_INDEX: &str = "search-index";

/// Pause between two indexing transactions of one run.
const PAUSE: Duration = Duration::from_millis(1);

/// Index entries checked for purged nodes per run.
const PRUNE_SLICE: usize = 5000;

/// The first run after start-up (a backfill after a migration starts at once).
const FIRST_RUN: Duration = Duration::from_secs(1);

/// The `search-index` worker, running every `every`.
pub fn search_index_worker(store: &Store, every: Duration) -> Worker {
    let s = store.clone();
    let mut sweep = NodeId(0);
    Worker::new(SEARCH_INDEX, every, move |ctx: &RunContext| {
        let r = s.index_names(&mut || ctx.sleep(PAUSE))?;
        let mut summary = format!(
            "indexed {} new names, re-indexed {} renamed",
            r.indexed, r.reindexed
        );
        if r.interrupted {
            summary.push_str(" (stopped by shutdown before catching up)");
            return Ok(Outcome {
                summary,
                items: r.indexed + r.reindexed,
                ..Outcome::default()
            });
        }
        let p = s.prune_name_index(sweep, PRUNE_SLICE)?;
        sweep = p.next.unwrap_or(NodeId(0));
        summary.push_str(&format!(
            "; dropped {} entries of purged nodes ({} checked)",
            p.dropped, p.checked
        ));
        Ok::<_, WorkerError>(Outcome {
            summary,
            items: r.indexed + r.reindexed + p.dropped,
            ..Outcome::default()
        })
    })
    .first_run_in(FIRST_RUN.min(every))
}

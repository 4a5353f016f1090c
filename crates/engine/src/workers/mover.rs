//! The tier mover: a worker (named [`MOVER`]) that, under a `tiered` policy, evicts the
//! local copies of packs the policy sends to the object store ([`crate::tiering`]): at
//! most `batch` per run, paced at `rate` bytes a second, stopping at shutdown. Each
//! eviction is one `BlobStore::evict_local` (the remote copy checked first), so a run
//! stopped or killed anywhere is simply continued by the next; progress counts the packs
//! of the batch, and the outcome says how many wait for their upload.

use super::{Outcome, ProgressUnit, RunContext, Throttle, Worker, WorkerError};
use crate::store::Store;
use crate::tiering::TieredPolicy;
use std::time::Duration;

/// Name of the mover worker.
pub const MOVER: &str = "mover";

/// The mover for `policy`, ready for [`super::WorkerRunner::add`] (its first run comes
/// one interval after start-up, or at `run_now`).
pub fn mover_worker(store: &Store, policy: TieredPolicy) -> Worker {
    let s = store.clone();
    Worker::new(MOVER, policy.interval, move |ctx: &RunContext| {
        run(&s, &policy, ctx)
    })
}

fn run(s: &Store, policy: &TieredPolicy, ctx: &RunContext) -> Result<Outcome, WorkerError> {
    let plan = s.mover_plan(policy)?;
    let batch: Vec<_> = plan.moves.iter().take(policy.batch).copied().collect();
    let total = batch.len() as u64;
    ctx.progress(0, Some(total), ProgressUnit::Items);
    let mut throttle = Throttle::new(policy.rate);
    let (mut moved, mut freed, mut kept) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        if ctx.should_stop() {
            break;
        }
        match s.evict_local_pack(m.pack) {
            Ok(true) => {
                moved += 1;
                freed += m.size;
            }
            Ok(false) => kept += 1,
            Err(e) => {
                // the object store is unreachable, say: the rest waits for the next run
                errors.push(format!("pack {}: {e}", m.pack));
                break;
            }
        }
        ctx.progress(i as u64 + 1, Some(total), ProgressUnit::Items);
        let pause = throttle.after(m.size);
        if pause >= Duration::from_millis(5) && !ctx.sleep(pause) {
            break;
        }
    }
    let mut summary = format!(
        "moved {moved} packs ({freed} bytes) to the object store; local {} -> {} bytes; \
         {} waiting for their upload",
        plan.local_bytes,
        plan.local_bytes.saturating_sub(freed),
        plan.waiting_upload
    );
    if kept > 0 {
        summary.push_str(&format!("; {kept} kept (no verified remote copy)"));
    }
    let left = plan.moves.len() as u64 - moved - kept;
    if left > 0 {
        summary.push_str(&format!("; {left} left for the next run"));
    }
    if !errors.is_empty() {
        return Err(format!("{summary}; stopped: {}", errors.join("; ")).into());
    }
    Ok(Outcome {
        summary,
        freed_bytes: freed,
        items: moved,
        damage: 0,
    })
}

//! The lifecycle worker: applies the lifecycle rules of every home's top-level folders
//! (`crate::lifecycle`: expire current files, delete noncurrent versions), a plan and then
//! its execution, like retention.

use super::{Outcome, RunContext, Worker};
use crate::store::Store;
use crate::time::now_ns;
use std::time::Duration;

/// Name of the lifecycle worker.
pub const LIFECYCLE: &str = "lifecycle";

/// The lifecycle worker, running every `every`, with rules' days `day` long (one day,
/// except in tests).
pub fn lifecycle_worker(store: &Store, every: Duration, day: Duration) -> Worker {
    let s = store.clone();
    Worker::new(LIFECYCLE, every, move |_: &RunContext| {
        let plan = s.lifecycle_plan(day, now_ns())?;
        let n = s.lifecycle_execute(&plan)?;
        let mut summary = format!(
            "{} files expired to the trash, {} noncurrent versions deleted, {} versions and \
             {} entries of deleted files purged",
            plan.expire.len(),
            plan.versions.len(),
            plan.trashed.len(),
            plan.purge.len()
        );
        if !plan.problems.is_empty() {
            summary.push_str(&format!("; skipped: {}", plan.problems.join("; ")));
        }
        Ok(Outcome {
            summary,
            items: n as u64,
            ..Outcome::default()
        })
    })
}

//! Background workers: one [`WorkerRunner`] runs named jobs on fixed intervals, each on its
//! own thread, never two runs of the same job at once, and keeps each job's state in memory
//! ([`WorkerRunner::states`]) for the admin API: schedule, last result and, during a run,
//! the progress the job reports ([`RunContext::progress`]). The store's maintenance — GC,
//! retention of old versions, trash expiry, a throttled scrub, the name index behind
//! search — is a set of ordinary
//! workers ([`maintenance_workers`]), and so are cold recompression ([`recompress_worker`]),
//! the tier mover ([`mover_worker`]) and the
//! metadata backup to the object store ([`meta_backup_worker`]); a door registers its own (e.g. expiry of abandoned
//! uploads) the same way, with a name, an interval and a closure. Nothing here knows of
//! HTTP; metrics come from a [`WorkerObserver`] the server plugs in.
//!
//! ```
//! use nas_engine::workers::{Outcome, ProgressUnit, Worker, WorkerRunner};
//! use std::time::Duration;
//! let runner = WorkerRunner::new(None);
//! runner
//!     .add(Worker::new("tidy", Duration::from_secs(3600), |ctx| {
//!         for i in 0..10 {
//!             ctx.progress(i + 1, Some(10), ProgressUnit::Items); // shown while it runs
//!         }
//!         Ok(Outcome::summary("nothing to tidy"))
//!     }))
//!     .unwrap();
//! runner.run_now("tidy").unwrap();
//! runner.stop(); // waits for a run in progress, then joins every thread
//! ```

mod lifecycle;
mod maintenance;
mod meta_backup;
mod mover;
mod recompress;
mod runner;
mod search_index;
#[cfg(test)]
mod tests;
mod throttle;

pub use lifecycle::{LIFECYCLE, lifecycle_worker};
pub use maintenance::{GC, MaintenanceConfig, RETENTION, SCRUB, TRASH, maintenance_workers};
pub use meta_backup::{META_BACKUP, meta_backup_worker};
pub use mover::{MOVER, mover_worker};
pub use recompress::{RECOMPRESS, RecompressConfig, recompress_worker};
pub use runner::{LEASED_ELSEWHERE, RunContext, Trigger, WorkerRunner};
pub use search_index::{SEARCH_INDEX, search_index_worker};
pub use throttle::Throttle;

pub use crate::progress::{Progress, ProgressUnit};
use std::time::{Duration, SystemTime};

/// What a worker's run returns when it fails.
pub type WorkerError = Box<dyn std::error::Error + Send + Sync>;

/// The job of a worker: called once per run, never concurrently with itself.
pub type Job = Box<dyn FnMut(&RunContext) -> Result<Outcome, WorkerError> + Send>;

/// A named job and how often it runs.
pub struct Worker {
    pub(crate) name: String,
    pub(crate) interval: Duration,
    pub(crate) first_in: Option<Duration>,
    pub(crate) job: Job,
}

impl Worker {
    /// A worker called `name` that runs `job` every `interval` (the first run comes one
    /// interval after it is added, or at [`WorkerRunner::run_now`]).
    pub fn new(
        name: impl Into<String>,
        interval: Duration,
        job: impl FnMut(&RunContext) -> Result<Outcome, WorkerError> + Send + 'static,
    ) -> Worker {
        Worker {
            name: name.into(),
            interval,
            first_in: None,
            job: Box::new(job),
        }
    }

    /// Makes the first run come after `d` instead of one interval (e.g. to keep a schedule
    /// across restarts).
    pub fn first_run_in(mut self, d: Duration) -> Worker {
        self.first_in = Some(d);
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What one successful run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A short human summary ("freed 12 chunks, 3.1 MB").
    pub summary: String,
    /// Disk bytes given back.
    pub freed_bytes: u64,
    /// Things the run acted on (chunks freed, versions deleted, entries expired, chunks
    /// verified).
    pub items: u64,
    /// Problems found (scrub).
    pub damage: u64,
}

impl Outcome {
    /// An outcome with only a summary.
    pub fn summary(s: impl Into<String>) -> Outcome {
        Outcome {
            summary: s.into(),
            ..Outcome::default()
        }
    }
}

/// What the runner knows of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerState {
    /// Its name.
    pub name: String,
    /// How often it runs.
    pub interval: Duration,
    /// A run is in progress.
    pub running: bool,
    /// Start of the last (or current) run.
    pub last_start: Option<SystemTime>,
    /// End of the last finished run.
    pub last_end: Option<SystemTime>,
    /// End of the last successful run.
    pub last_success: Option<SystemTime>,
    /// When the next run is due (a manual trigger may come sooner).
    pub next_run: Option<SystemTime>,
    /// What the last successful run did.
    pub last_outcome: Option<Outcome>,
    /// The error of the last run, if it failed (cleared by a success).
    pub last_error: Option<String>,
    /// Finished runs.
    pub runs: u64,
    /// Finished runs that failed.
    pub failures: u64,
    /// How far the current run is, as the job last reported it (`None` when idle, or
    /// while a run has not reported yet).
    pub progress: Option<Progress>,
}

/// Told about each worker's life; the server turns this into metrics.
pub trait WorkerObserver: Send + Sync {
    /// A worker was added; it runs every `interval`.
    fn registered(&self, _name: &str, _interval: Duration) {}
    /// A run began.
    fn started(&self, _name: &str) {}
    /// A run reported its progress (at most every 50 ms, and whenever its unit changes or
    /// its total is reached; [`WorkerObserver::finished`] ends it).
    fn progress(&self, _name: &str, _progress: &Progress) {}
    /// A run ended; `state` is the state after it.
    fn finished(
        &self,
        _name: &str,
        _state: &WorkerState,
        _result: &Result<Outcome, String>,
        _took: Duration,
    ) {
    }
}

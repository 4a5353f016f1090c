//! The store's own workers: GC, retention of old versions, trash expiry, scrub and the
//! name index (`search_index`). The first four are a plan followed by its execution (see
//! `gc`, `retention`, `trash`, `fsck`), so what a worker does is exactly what the matching
//! offline command does, each reports its progress to the runner as it goes, and their
//! schedules survive restarts (the last success of each is kept in the store's settings);
//! the name index runs every few seconds from start-up.

use super::{Outcome, RunContext, Throttle, Worker, WorkerError};
use crate::retention::RetentionPolicy;
use crate::store::Store;
use crate::time::{duration_ns, now_ns};
use std::time::Duration;

/// Name of the GC worker.
pub const GC: &str = "gc";
/// Name of the retention worker (prunes old versions).
pub const RETENTION: &str = "retention";
/// Name of the trash-expiry worker.
pub const TRASH: &str = "trash";
/// Name of the scrub worker (fsck with data verification).
pub const SCRUB: &str = "scrub";

/// A worker whose last success lies more than one interval back runs this soon after
/// start-up (or after one interval, if that is shorter).
const OVERDUE_DELAY: Duration = Duration::from_secs(60);

/// Schedules and limits of the maintenance workers. `None` intervals disable a worker.
#[derive(Debug, Clone)]
pub struct MaintenanceConfig {
    /// How often GC runs.
    pub gc_interval: Option<Duration>,
    /// Which old versions to keep, unless a user's account overrides it for their home;
    /// with no rule set here or in any account, a retention run deletes nothing.
    pub retention: RetentionPolicy,
    /// How often retention runs.
    pub retention_interval: Option<Duration>,
    /// Trash entries older than this are purged; `None` keeps them forever.
    pub trash_retention: Option<Duration>,
    /// How often the trash is checked for expired entries.
    pub trash_interval: Duration,
    /// How often a scrub runs.
    pub scrub_interval: Option<Duration>,
    /// Bytes per second a scrub may read; `None` is unlimited.
    pub scrub_rate: Option<u64>,
    /// How often the name index catches up with new and renamed names. `None` stops it:
    /// searches stay exact but scan every name created since.
    pub search_index_interval: Option<Duration>,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            gc_interval: Some(Duration::from_secs(6 * 3600)),
            retention: RetentionPolicy::default(),
            retention_interval: Some(Duration::from_secs(24 * 3600)),
            trash_retention: Some(Duration::from_secs(30 * 86_400)),
            trash_interval: Duration::from_secs(3600),
            scrub_interval: Some(Duration::from_secs(7 * 86_400)),
            scrub_rate: Some(50 << 20),
            search_index_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// The maintenance workers `cfg` enables, ready for [`super::WorkerRunner::add`].
pub fn maintenance_workers(store: &Store, cfg: &MaintenanceConfig) -> Vec<Worker> {
    let mut out = Vec::new();
    if let Some(every) = cfg.gc_interval {
        let s = store.clone();
        out.push(persisted(store, GC, every, move |ctx: &RunContext| {
            gc(&s, ctx)
        }));
    }
    // Registered even when the server's policy keeps everything: an account may have a
    // rule of its own (set at any time, without a restart).
    if let Some(every) = cfg.retention_interval {
        let s = store.clone();
        let policy = cfg.retention;
        out.push(persisted(
            store,
            RETENTION,
            every,
            move |ctx: &RunContext| retention(&s, &policy, ctx),
        ));
    }
    if let Some(age) = cfg.trash_retention {
        let s = store.clone();
        out.push(Worker::new(
            TRASH,
            cfg.trash_interval,
            move |ctx: &RunContext| {
                let n = s.expire_trash_with(age, &mut |p| ctx.report(p))?;
                Ok(Outcome {
                    summary: format!("purged {n} trash entries older than {}s", age.as_secs()),
                    items: n as u64,
                    ..Outcome::default()
                })
            },
        ));
    }
    if let Some(every) = cfg.scrub_interval {
        let s = store.clone();
        let rate = cfg.scrub_rate;
        out.push(persisted(store, SCRUB, every, move |ctx: &RunContext| {
            scrub(&s, rate, ctx)
        }));
    }
    if let Some(every) = cfg.search_index_interval {
        out.push(super::search_index_worker(store, every));
    }
    out
}

fn last_success_key(name: &str) -> String {
    format!("worker.{name}.last_success_ns")
}

/// When a worker last succeeded on this store (kept in the store's settings).
fn first_run_in(store: &Store, name: &str, every: Duration) -> Duration {
    let last = store
        .inner
        .meta
        .setting(&last_success_key(name))
        .ok()
        .flatten()
        .and_then(|v| v.parse::<i64>().ok());
    let Some(last) = last else {
        return every;
    };
    let since = now_ns().saturating_sub(last).max(0);
    match duration_ns(every).checked_sub(since) {
        Some(left) if left > 0 => Duration::from_nanos(left as u64),
        _ => every.min(OVERDUE_DELAY),
    }
}

/// A maintenance worker whose schedule survives restarts: the end of each successful run
/// is recorded in the store's settings, and the first run after start-up comes one
/// interval after the recorded one (soon, if that is past).
pub(super) fn persisted(
    store: &Store,
    name: &'static str,
    every: Duration,
    mut job: impl FnMut(&RunContext) -> Result<Outcome, WorkerError> + Send + 'static,
) -> Worker {
    let first = first_run_in(store, name, every);
    let s = store.clone();
    Worker::new(name, every, move |ctx: &RunContext| {
        let mut o = job(ctx)?;
        if let Err(e) = s
            .inner
            .meta
            .set_setting(&last_success_key(name), &now_ns().to_string())
        {
            o.summary
                .push_str(&format!(" (the run time was not recorded: {e})"));
        }
        Ok(o)
    })
    .first_run_in(first)
}

fn gc(s: &Store, ctx: &RunContext) -> Result<Outcome, WorkerError> {
    let r = s.gc_with(&mut |p| ctx.report(p))?;
    let mut summary = format!(
        "freed {} chunks, deleted {} packs, compacted {}: {} bytes",
        r.chunks_freed, r.packs_deleted, r.packs_compacted, r.bytes_freed
    );
    if r.plan.young_packs > 0 {
        summary.push_str(&format!(
            "; {} packs younger than the grace period kept",
            r.plan.young_packs
        ));
    }
    if !r.errors.is_empty() {
        summary.push_str(&format!(
            "; {} packs skipped: {}",
            r.errors.len(),
            r.errors.join("; ")
        ));
    }
    Ok(Outcome {
        summary,
        freed_bytes: r.bytes_freed,
        items: r.chunks_freed as u64,
        damage: 0,
    })
}

fn retention(
    s: &Store,
    policy: &RetentionPolicy,
    ctx: &RunContext,
) -> Result<Outcome, WorkerError> {
    let plan = s.retention_plan_by_user(policy, &mut |p| ctx.report(p))?;
    let n = s.retention_execute_with(&plan, &mut |p| ctx.report(p))?;
    Ok(Outcome {
        summary: format!(
            "deleted {n} old versions ({} bytes; GC frees their chunks); kept {} under object lock",
            plan.bytes(),
            plan.retained
        ),
        items: n as u64,
        ..Outcome::default()
    })
}

fn scrub(s: &Store, rate: Option<u64>, ctx: &RunContext) -> Result<Outcome, WorkerError> {
    let mut throttle = Throttle::new(rate);
    let r = s.scrub(&mut |bytes, at| {
        ctx.report(at);
        let pause = throttle.after(bytes);
        if pause >= Duration::from_millis(5) {
            ctx.sleep(pause)
        } else {
            !ctx.should_stop()
        }
    })?;
    if r.interrupted {
        return Err(format!(
            "interrupted by shutdown after {} chunks ({} problems so far)",
            r.chunks_verified,
            r.problems.len()
        )
        .into());
    }
    let repaired = if r.repaired.is_empty() {
        String::new()
    } else {
        format!("; repaired from the remote copy: {}", r.repaired.len())
    };
    let summary = if r.is_clean() {
        format!("clean: {} chunks verified{repaired}", r.chunks_verified)
    } else {
        format!(
            "{} problems, {} damaged files: {}",
            r.problems.len(),
            r.damaged_files.len(),
            r.damaged_files
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ) + &repaired
    };
    Ok(Outcome {
        summary,
        freed_bytes: 0,
        items: r.chunks_verified,
        damage: r.problems.len() as u64,
    })
}

//! The cold-recompression worker: each run finds the packs not read for `after`, then
//! re-encodes their LZ4 chunks a batch at a time ([`crate::Store::recompress_batch`]),
//! paced by a byte budget like scrub, and resumable: the row it reached is kept in the store's settings after every batch, so a
//! restart (or a shutdown mid-run) goes on from there; a run that reaches the end starts
//! the next pass from the first chunk.

use super::{Outcome, ProgressUnit, RunContext, Throttle, Worker, WorkerError};
use crate::recompress::{RecompressBatch, RecompressOptions};
use crate::store::Store;
use nas_meta::ChunkRow;
use std::time::Duration;

/// Name of the cold-recompression worker.
pub const RECOMPRESS: &str = "recompress";

const CURSOR: &str = "worker.recompress.cursor";

/// Schedule and limits of the cold-recompression worker.
#[derive(Debug, Clone, Copy)]
pub struct RecompressConfig {
    /// How often it runs (`None`: never).
    pub interval: Option<Duration>,
    /// How it re-encodes, and which packs count as cold.
    pub options: RecompressOptions,
    /// Frame bytes per second it may read; `None` is unlimited.
    pub rate: Option<u64>,
}

impl Default for RecompressConfig {
    fn default() -> Self {
        RecompressConfig {
            interval: Some(Duration::from_secs(86_400)),
            options: RecompressOptions::default(),
            rate: Some(2 << 20),
        }
    }
}

/// The cold-recompression worker `cfg` enables (its schedule survives restarts).
pub fn recompress_worker(store: &Store, cfg: &RecompressConfig) -> Option<Worker> {
    let every = cfg.interval?;
    let s = store.clone();
    let cfg = *cfg;
    Some(super::maintenance::persisted(
        store,
        RECOMPRESS,
        every,
        move |ctx: &RunContext| run(&s, &cfg, ctx),
    ))
}

fn cursor(s: &Store) -> ChunkRow {
    let at = s.inner.meta.setting(CURSOR).ok().flatten();
    ChunkRow(at.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn run(s: &Store, cfg: &RecompressConfig, ctx: &RunContext) -> Result<Outcome, WorkerError> {
    let cold = s.cold_packs(cfg.options.cold_after)?;
    let total = s.recompress_candidates()?;
    let mut at = cursor(s);
    let mut sum = RecompressBatch::default();
    let mut throttle = Throttle::new(cfg.rate);
    ctx.progress(0, Some(total), ProgressUnit::Chunks);
    let finished = loop {
        if cold.is_empty() {
            break true;
        }
        if ctx.should_stop() {
            break false;
        }
        let b = match s.recompress_batch(at, &cold, &cfg.options)? {
            Ok(b) => b,
            Err(no_room) => {
                return Err(format!(
                    "stopped at row {} (resumes there): {}; re-encoded {} chunks so far",
                    at.0, no_room.0, sum.recoded
                )
                .into());
            }
        };
        sum.add(&b);
        ctx.progress(sum.examined.min(total), Some(total), ProgressUnit::Chunks);
        let Some(next) = b.next else {
            break true;
        };
        at = next;
        s.inner.meta.set_setting(CURSOR, &at.0.to_string())?;
        let pause = throttle.after(b.bytes_read);
        if pause >= Duration::from_millis(5) && !ctx.sleep(pause) {
            break false;
        }
    };
    if finished {
        s.inner.meta.set_setting(CURSOR, "0")?;
    }
    let summary = format!(
        "{} cold packs; re-encoded {} of {} LZ4 chunks examined ({} as deltas): {} -> {} bytes",
        cold.len(),
        sum.recoded,
        sum.examined,
        sum.as_delta,
        sum.bytes_before,
        sum.bytes_after
    );
    if !finished {
        return Err(format!(
            "interrupted by shutdown (resumes at row {}): {summary}",
            at.0
        )
        .into());
    }
    Ok(Outcome {
        summary,
        // what the new frames saved; GC gives the old frames' space back
        freed_bytes: sum.bytes_before.saturating_sub(sum.bytes_after),
        items: sum.recoded,
        damage: 0,
    })
}

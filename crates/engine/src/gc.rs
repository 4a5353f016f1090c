//! Garbage collection: a plan (what is unreferenced, which packs empty or mostly dead, and
//! small sealed packs to merge once there are enough of them), then an execution. Runs
//! while writes go on:
//! - index rows are deleted only if they still have no reference *and* no writer has them
//!   pinned (see [`crate::pins`]), in one transaction under the pin lock — and, with a
//!   grace period ([`crate::StoreOptions::gc_grace`], cluster mode), only once they have
//!   had no reference for longer than it;
//! - with a grace period, a pack younger than it (last written, or its placement last
//!   recorded, less than the grace ago: [`nas_blob::PackInfo::age`]) is neither deleted
//!   nor compacted: in cluster mode a pack another node wrote may hold frames of a commit
//!   in flight there — uploaded, its index rows not recorded yet — which no pin of this
//!   node protects (`docs/design/versions-and-gc.md`, "Packs and the grace period");
//! - a pack is deleted only when no index row points into it; a pack that is mostly dead
//!   is compacted first (live frames copied to the active pack, fsynced, rows relocated in
//!   one transaction, then the old pack removed). A crash at any step leaves either the
//!   old or the new copy indexed; the other is dead space for the next run;
//! - with an object store, a compacted pack (and its object, which metadata backups taken
//!   before the run point at) is removed only once the pack its frames moved to is sealed
//!   and uploaded, so a restore from such a backup finds every frame
//!   (`docs/design/object-storage.md`, "Disaster recovery").

use crate::coord::KeyGuard;
use crate::error::{EngineError, EngineResult};
use crate::progress::{Progress, ProgressUnit, ignore};
use crate::store::{Inner, Store};
use nas_blob::RECORD_HEADER_LEN;
use nas_meta::{ChunkRecord, ChunkRow};
use nas_types::PackId;
use serde::Serialize;
use std::collections::HashMap;

/// A pack is compacted when more than this fraction of it is dead.
const COMPACT_DEAD_FRACTION: f64 = 0.3;

/// The keyed-lock scope of GC runs (see `Store::gc_exclusive`).
const GC_SCOPE: &str = "gc";

/// The active pack is sealed and compacted (or deleted) when it is mostly dead and at
/// least this much of it is: on a disk smaller than a pack everything lives in the active
/// pack, and deleted files would otherwise never give their space back.
const SEAL_ACTIVE_DEAD: u64 = 1 << 20;
/// With an object store: how long a run waits for the packs its compaction filled to be
/// uploaded before it deletes the compacted ones (else they wait for the next run).
const UPLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
const BATCH: usize = 1000;
/// Sealed packs smaller than the pack size divided by this are "small"…
const SMALL_PACK_DIVISOR: u64 = 4;
/// …and merged (compacted together into the active pack) once there are at least this
/// many: a trickle of commits acknowledged only once uploaded (`[blobs] ack = "remote"`)
/// seals a pack per commit, and without this they would stay one object each forever.
const MERGE_SMALL_MIN: usize = 8;

/// What a GC run would do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcPlan {
    /// Chunks no version references.
    pub chunks: usize,
    /// Their stored bytes.
    pub chunk_bytes: u64,
    /// Packs that hold nothing live (deleted outright): `(id, size)`.
    pub delete_packs: Vec<(String, u64)>,
    /// Packs mostly dead (compacted): `(id, size, live bytes)`.
    pub compact_packs: Vec<(String, u64, u64)>,
    /// Disk bytes the run would give back.
    pub reclaim_bytes: u64,
    /// Packs left alone because they are younger than the grace period (they may hold
    /// frames of a commit in flight on another node).
    pub young_packs: usize,
    #[serde(skip)]
    rows: Vec<ChunkRow>,
    #[serde(skip)]
    packs: Vec<PackId>,
    /// The active pack, sealed first because it is in `packs`.
    #[serde(skip)]
    seal_active: Option<PackId>,
}

/// What a GC run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// The plan it executed.
    pub plan: GcPlan,
    /// Index rows deleted.
    pub chunks_freed: usize,
    /// Unreferenced chunks kept because a write in flight had pinned them, or because
    /// they lost their last reference less than the grace period ago.
    pub chunks_pinned: usize,
    /// Packs removed.
    pub packs_deleted: usize,
    /// Packs rewritten.
    pub packs_compacted: usize,
    /// Disk bytes given back.
    pub bytes_freed: u64,
    /// Packs left alone because reading them failed (see fsck).
    pub errors: Vec<String>,
}

/// Packs being compacted together: `(pack, bytes it frees)`, their live frames, and the
/// disk bytes those take.
#[derive(Default)]
struct Group {
    packs: Vec<(PackId, u64)>,
    live: Vec<ChunkRecord>,
    need: u64,
}

fn disk_bytes_of(chunks: u64, live: u64) -> u64 {
    live + chunks * RECORD_HEADER_LEN + nas_blob::PACK_MAGIC.len() as u64
}

impl Store {
    /// Plans a GC run (this is the whole of `--dry-run`).
    pub fn gc_plan(&self) -> EngineResult<GcPlan> {
        let meta = &self.inner.meta;
        let mut unref: Vec<ChunkRecord> = Vec::new();
        let mut after = ChunkRow(0);
        loop {
            let page = meta.unreferenced_chunks(after, BATCH)?;
            let Some(last) = page.last() else { break };
            after = last.row;
            unref.extend(page);
        }
        let mut usage: HashMap<PackId, (u64, u64)> = meta
            .pack_usage()?
            .into_iter()
            .map(|u| (u.pack, (u.chunks, u.live_bytes)))
            .collect();
        for c in &unref {
            if let Some(u) = usage.get_mut(&c.loc.pack) {
                u.0 = u.0.saturating_sub(1);
                u.1 = u.1.saturating_sub(u64::from(c.loc.len));
            }
        }
        let mut plan = GcPlan {
            chunks: unref.len(),
            chunk_bytes: unref.iter().map(|c| u64::from(c.loc.len)).sum(),
            rows: unref.iter().map(|c| c.row).collect(),
            ..GcPlan::default()
        };
        // packs to delete come first: on a full disk they give back the room compaction
        // needs (it copies the live frames before the old pack goes)
        let mut compact = Vec::new();
        let small_limit = self.inner.blobs.pack_size().map(|s| s / SMALL_PACK_DIVISOR);
        let mut small = Vec::new();
        let grace = self.inner.gc_grace;
        for p in self.inner.blobs.packs()? {
            if !grace.is_zero() && p.age.is_some_and(|a| a < grace) {
                plan.young_packs += 1;
                continue;
            }
            let (chunks, live) = usage.get(&p.id).copied().unwrap_or((0, 0));
            if p.active {
                // frames of writes in flight look dead here: the pack is only deleted if
                // no writer holds a pin on it (see `execute_locked`)
                let dead = p.size.saturating_sub(disk_bytes_of(chunks, live));
                if dead < SEAL_ACTIVE_DEAD || (dead as f64) <= COMPACT_DEAD_FRACTION * p.size as f64
                {
                    continue;
                }
                plan.seal_active = Some(p.id);
            }
            if chunks == 0 {
                plan.delete_packs.push((p.id.to_string(), p.size));
                plan.reclaim_bytes += p.size;
                plan.packs.push(p.id);
            } else {
                let keep = disk_bytes_of(chunks, live);
                let dead = p.size.saturating_sub(keep);
                if dead as f64 > COMPACT_DEAD_FRACTION * p.size as f64 {
                    plan.compact_packs.push((p.id.to_string(), p.size, live));
                    plan.reclaim_bytes += dead;
                    compact.push(p.id);
                } else if !p.active
                    && small_limit.is_some_and(|l| p.size < l)
                    && !self.inner.blobs.is_remote_only(p.id)
                {
                    small.push((p, live, dead));
                }
            }
        }
        if small.len() >= MERGE_SMALL_MIN {
            for (p, live, dead) in small {
                plan.compact_packs.push((p.id.to_string(), p.size, live));
                plan.reclaim_bytes += dead;
                compact.push(p.id);
            }
        }
        plan.packs.extend(compact);
        Ok(plan)
    }

    /// Executes a plan. Safe to run while writers work; never frees a referenced or
    /// pinned chunk.
    pub fn gc_execute(&self, plan: GcPlan) -> EngineResult<GcReport> {
        let _one_at_a_time = self.gc_exclusive()?;
        self.execute_locked(plan, &mut ignore)
    }

    /// Executes `plan`, telling `progress` of the chunks examined (a batch at a time), then
    /// of the packs deleted or compacted.
    fn execute_locked(
        &self,
        plan: GcPlan,
        progress: &mut dyn FnMut(Progress),
    ) -> EngineResult<GcReport> {
        let inner = &self.inner;
        let mut report = GcReport::default();
        let grace_ns = i64::try_from(inner.gc_grace.as_nanos()).unwrap_or(i64::MAX);
        let rows = plan.rows.len() as u64;
        progress(Progress::new(0, Some(rows), ProgressUnit::Chunks));
        let mut examined = 0u64;
        // bases whose last delta this run deleted: freed too, if nothing else holds them
        let mut released: Vec<ChunkRow> = Vec::new();
        for batch in plan.rows.chunks(BATCH) {
            let deleted = inner.pins.locked(|pins| {
                inner
                    .meta
                    .delete_unreferenced(batch, &|id| pins.chunk_pinned(id), grace_ns)
            })?;
            released.extend(deleted.iter().filter_map(|c| c.base));
            report.chunks_pinned += batch.len() - deleted.len();
            report.chunks_freed += deleted.len();
            examined += batch.len() as u64;
            progress(Progress::new(examined, Some(rows), ProgressUnit::Chunks));
        }
        released.sort_unstable();
        released.dedup();
        // one round is enough: a base is never a delta, so freeing it releases nothing
        for batch in released.chunks(BATCH) {
            let deleted = inner.pins.locked(|pins| {
                inner
                    .meta
                    .delete_unreferenced(batch, &|id| pins.chunk_pinned(id), grace_ns)
            })?;
            report.chunks_freed += deleted.len();
        }
        if let Some(active) = plan.seal_active
            && inner.blobs.active_pack() == Some(active)
        {
            inner.blobs.seal()?; // now a sealed pack like the others of the plan
        }
        let packs = plan.packs.len() as u64;
        progress(Progress::new(0, Some(packs), ProgressUnit::Packs));
        let sizes: HashMap<PackId, u64> = inner
            .blobs
            .packs()?
            .into_iter()
            .filter(|p| !p.active)
            .map(|p| (p.id, p.size))
            .collect();
        let mut after_upload: Vec<(PackId, u64)> = Vec::new();
        // live frames of several packs are copied together, one sync for the group: with
        // `ack = "remote"` every sync seals a pack, and merging small packs one by one
        // would make as many new ones
        let group_limit = inner.blobs.pack_size().unwrap_or(64 << 20) / 2;
        let mut group = Group::default();
        for (i, pack) in plan.packs.iter().enumerate() {
            let done = Progress::new(i as u64 + 1, Some(packs), ProgressUnit::Packs);
            let Some(&size) = sizes.get(pack) else {
                progress(done);
                continue;
            };
            let live = inner.meta.chunks_in_pack(*pack)?;
            if live.is_empty() {
                self.delete_if_unused(*pack, size, &mut report)?;
                progress(done);
                continue;
            }
            let kept: u64 = live.iter().map(|c| u64::from(c.loc.len)).sum();
            let need = disk_bytes_of(live.len() as u64, kept);
            if let Some(why) = no_room_to_compact(inner, group.need + need) {
                report
                    .errors
                    .push(format!("pack {pack}: not compacted: {why}"));
                progress(done);
                continue;
            }
            group.packs.push((*pack, size.saturating_sub(need)));
            group.live.extend(live);
            group.need += need;
            if group.need >= group_limit {
                self.compact_group(std::mem::take(&mut group), &mut after_upload, &mut report)?;
            }
            progress(done);
        }
        self.compact_group(group, &mut after_upload, &mut report)?;
        if !after_upload.is_empty() {
            // with an object store, the remote copy of a compacted pack is what a metadata
            // backup taken before this run points at: it is deleted only once the packs
            // its live frames moved to have verified remote copies (docs/design/object-storage.md)
            inner.blobs.seal()?;
            if inner.blobs.wait_uploaded(UPLOAD_WAIT) {
                for (pack, freed) in after_upload {
                    self.delete_if_unused(pack, freed, &mut report)?;
                }
            } else {
                report.errors.push(format!(
                    "{} compacted packs kept until the frames moved out of them are uploaded \
                     (the next run deletes them)",
                    after_upload.len()
                ));
            }
        }
        report.plan = plan;
        Ok(report)
    }

    /// Deletes `pack` if no index row points into it any more and no writer has an
    /// uncommitted frame there, checked under the pin lock (see `pins`).
    fn delete_if_unused(
        &self,
        pack: PackId,
        freed: u64,
        report: &mut GcReport,
    ) -> EngineResult<()> {
        let inner = &self.inner;
        let deleted = inner.pins.locked(|pins| {
            if pins.pack_pinned(pack) || !inner.meta.chunks_in_pack(pack)?.is_empty() {
                return Ok::<_, EngineError>(false);
            }
            inner.blobs.delete_pack(pack)?;
            Ok(true)
        })?;
        if deleted {
            report.packs_deleted += 1;
            report.bytes_freed += freed;
        }
        Ok(())
    }

    /// One GC run at a time: in this process (`gc_lock`) and, when the store is shared by
    /// several nodes, across all of them (a keyed lock of the coordinator, held for the
    /// run) — a node's GC worker and `silent-nas gc` run by hand beside a cluster alike.
    fn gc_exclusive(&self) -> EngineResult<(std::sync::MutexGuard<'_, ()>, KeyGuard<'_>)> {
        let here = self.inner.gc_lock.lock().unwrap_or_else(|p| p.into_inner());
        let everywhere = self.inner.coord.lock_key(GC_SCOPE, "run")?;
        Ok((here, everywhere))
    }

    /// Plans and, unless `dry_run`, executes.
    pub fn gc(&self, dry_run: bool) -> EngineResult<GcReport> {
        if dry_run {
            let _one_at_a_time = self.inner.gc_lock.lock().unwrap_or_else(|p| p.into_inner());
            return Ok(GcReport {
                plan: self.gc_plan()?,
                ..GcReport::default()
            });
        }
        self.gc_with(&mut ignore)
    }

    /// Plans and executes, telling `progress` how far the execution is: chunks examined of
    /// the plan's unreferenced chunks, then packs done of the packs to delete or compact.
    pub fn gc_with(&self, progress: &mut dyn FnMut(Progress)) -> EngineResult<GcReport> {
        let _one_at_a_time = self.gc_exclusive()?;
        let plan = self.gc_plan()?;
        self.execute_locked(plan, progress)
    }

    /// Compacts a group of packs (their live frames copied together, one sync), then
    /// deletes them — with an object store, only after the frames moved out are uploaded
    /// (`after_upload`).
    fn compact_group(
        &self,
        group: Group,
        after_upload: &mut Vec<(PackId, u64)>,
        report: &mut GcReport,
    ) -> EngineResult<()> {
        if group.packs.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.compact(&group.live) {
            for (pack, _) in &group.packs {
                report.errors.push(format!("pack {pack}: {e}"));
            }
            return Ok(());
        }
        report.packs_compacted += group.packs.len();
        if self.inner.blobs.has_tier() {
            after_upload.extend(group.packs);
            return Ok(());
        }
        for (pack, freed) in group.packs {
            self.delete_if_unused(pack, freed, report)?;
        }
        Ok(())
    }

    /// Copies the given indexed frames of a pack to the active pack and re-points the index.
    fn compact(&self, live: &[ChunkRecord]) -> EngineResult<()> {
        let blobs = &self.inner.blobs;
        let mut moves = Vec::with_capacity(live.len());
        for c in live {
            let frame = blobs.read(&c.loc)?;
            let loc = blobs.append_for_gc(&c.id, &frame)?;
            moves.push((c.row, loc));
        }
        blobs.sync()?;
        crate::write::check_durable(blobs.as_ref(), moves.iter().map(|(_, l)| l.pack))?;
        self.inner.meta.relocate(&moves)?;
        Ok(())
    }
}

/// Why a compaction (or a recompression batch) that copies `need` bytes cannot run now:
/// it may use half of the reserve new data leaves (it gives space back), not more — the
/// other half stays for the metadata database — and the chunk store would refuse the
/// copy. Deleting dead packs needs no room.
pub(crate) fn no_room_to_compact(inner: &Inner, need: u64) -> Option<String> {
    let sp = inner.blobs.space()?;
    let keep = sp.reserve / 2;
    (sp.reserve > 0 && sp.free < keep.saturating_add(need)).then(|| {
        format!(
            "it copies {need} bytes, and {} bytes are free above half the reserve ({keep})",
            sp.free.saturating_sub(keep)
        )
    })
}

/// Gives back, at once, the space an abandoned write (failed, refused, cut off) took in
/// packs that no other write in flight uses (checked under the pin lock, as GC does): a
/// pack no index row points into is deleted, another one is cut back to the end of its
/// last indexed frame. The active pack is left alone (later writes still fill it), and a
/// pack the blob store retired was already cut back to its durable prefix. Skipped while
/// a GC runs (its compaction appends frames that have no index row until it relocates
/// them); that run, or the next, reclaims the space instead.
pub(crate) fn reclaim_abandoned(inner: &Inner, packs: &[PackId]) {
    let Ok(_one_at_a_time) = inner.gc_lock.try_lock() else {
        return;
    };
    let active = inner.blobs.active_pack();
    for &pack in packs {
        if inner.blobs.is_failed(pack) || active == Some(pack) {
            continue;
        }
        let _ = inner.pins.locked(|pins| {
            if pins.pack_pinned(pack) {
                return Ok::<_, EngineError>(());
            }
            let live = inner.meta.chunks_in_pack(pack)?;
            // both refused for the active pack
            let _ = match live
                .iter()
                .map(|c| c.loc.offset + u64::from(c.loc.len))
                .max()
            {
                None => inner.blobs.delete_pack(pack),
                Some(end) => inner.blobs.trim_pack(pack, end),
            };
            Ok(())
        });
    }
}

//! Cold recompression: chunks stored with LZ4 in packs nobody has read for a while are
//! re-encoded with zstd at a high level, or as a delta against a similar chunk when the
//! delta rules ([`crate::delta`]) find a base and say it pays. Design and figures:
//! `docs/design/delta.md`, "Cold recompression".
//!
//! Safe while the store is in use, the way compaction is (`gc`):
//! - a batch runs under the GC lock, so no GC or compaction moves or frees its chunks
//!   meanwhile, and an abandoned write's reclaim leaves its new frames alone;
//! - the new frames are appended and made durable **before** one metadata transaction
//!   points the rows at them; until then (and for a reader that looked the row up
//!   before) the old frame is read. The old frame becomes dead space, given back when GC
//!   compacts its pack. A crash at any point leaves each row at its old or its new frame;
//! - a chunk becomes a delta only if no delta names it as its base and no writer has it
//!   pinned (a writer pins a candidate base before it looks it up), both checked in the
//!   transaction under the pin lock; its base is pinned from the moment it is chosen and
//!   gains a reference in the same transaction, so GC never frees a base in use and a
//!   base is never a delta (depth 1);
//! - packs only in the object store are skipped (reading them would fetch them).

use crate::delta::DeltaState;
use crate::error::EngineResult;
use crate::store::Store;
use nas_codec::{Codec, Compression};
use nas_meta::{ChunkRecord, ChunkRow, Recode};
use nas_types::{ChunkId, PackId};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How cold recompression re-encodes.
#[derive(Debug, Clone, Copy)]
pub struct RecompressOptions {
    /// A pack is cold when its last read (or, never read, when it was first seen) is at
    /// least this long ago, counted in whole days (`0`: every pack).
    pub cold_after: Duration,
    /// zstd level of chunks re-encoded whole.
    pub level: i32,
    /// Look for a delta base (the delta rules decide whether one pays).
    pub delta: bool,
    /// LZ4 chunks examined per batch (one metadata transaction).
    pub batch: usize,
}

impl Default for RecompressOptions {
    fn default() -> Self {
        RecompressOptions {
            cold_after: Duration::from_secs(7 * 86_400),
            level: DEFAULT_LEVEL,
            delta: true,
            batch: 64,
        }
    }
}

/// Default zstd level of re-encoded chunks (see `docs/design/delta.md` for the measure).
pub const DEFAULT_LEVEL: i32 = 9;

/// The packs whose chunks may be re-encoded now.
#[derive(Debug, Clone, Default)]
pub struct ColdPacks(HashSet<PackId>);

impl ColdPacks {
    /// How many packs are cold.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no pack is cold.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RecompressBatch {
    /// LZ4 chunks looked at.
    pub examined: u64,
    /// Chunks re-encoded (their rows now point at the new frames).
    pub recoded: u64,
    /// Of those, chunks now stored as a delta.
    pub as_delta: u64,
    /// Stored bytes of the re-encoded chunks before.
    pub bytes_before: u64,
    /// Their stored bytes after.
    pub bytes_after: u64,
    /// Frame bytes read (for the throttle).
    pub bytes_read: u64,
    /// Where the next batch starts; `None` when the scan reached the end.
    #[serde(skip)]
    pub next: Option<ChunkRow>,
}

/// Why a batch wrote nothing: the disk is too full to append its new frames (they take
/// room until GC compacts the old ones away); the run should stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRoom(pub String);

impl RecompressBatch {
    /// Adds another batch's figures.
    pub fn add(&mut self, b: &RecompressBatch) {
        self.examined += b.examined;
        self.recoded += b.recoded;
        self.as_delta += b.as_delta;
        self.bytes_before += b.bytes_before;
        self.bytes_after += b.bytes_after;
        self.bytes_read += b.bytes_read;
    }
}

/// Totals of this process's recompression, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecompressCounters {
    /// Chunks re-encoded.
    pub chunks: u64,
    /// Of those, stored as a delta.
    pub deltas: u64,
    /// Their stored bytes before.
    pub bytes_before: u64,
    /// Their stored bytes after.
    pub bytes_after: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    chunks: AtomicU64,
    deltas: AtomicU64,
    before: AtomicU64,
    after: AtomicU64,
}

impl Store {
    /// Writes the packs' read marks noted since the last call to the metadata store.
    pub fn flush_read_marks(&self) -> EngineResult<()> {
        let marks = self.inner.read_marks.take();
        if marks.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.inner.meta.record_pack_read_days(&marks) {
            self.inner.read_marks.restore(marks);
            return Err(e.into());
        }
        Ok(())
    }

    /// Flushes the read marks and lists the packs not read for `cold_after` (whole days),
    /// skipping packs only in the object store. A pack never read counts from the first
    /// time it is seen here (recorded now).
    pub fn cold_packs(&self, cold_after: Duration) -> EngineResult<ColdPacks> {
        let inner = &self.inner;
        self.flush_read_marks()?;
        let mut days: HashMap<PackId, i64> = inner.meta.pack_read_days()?.into_iter().collect();
        let today = crate::read_marks::today();
        let after_days = (cold_after.as_secs() / 86_400) as i64;
        let mut first_seen = Vec::new();
        let mut cold = HashSet::new();
        for p in inner.blobs.packs()? {
            let day = match days.remove(&p.id) {
                Some(d) => d,
                None => {
                    first_seen.push((p.id, today));
                    today
                }
            };
            if day.saturating_add(after_days) <= today && !inner.blobs.is_remote_only(p.id) {
                cold.insert(p.id);
            }
        }
        inner.meta.record_pack_read_days(&first_seen)?;
        // what is left names packs deleted since
        let gone: Vec<PackId> = days.into_keys().collect();
        inner.meta.forget_pack_read_days(&gone)?;
        Ok(ColdPacks(cold))
    }

    /// Chunks stored with LZ4 (what recompression looks at).
    pub fn recompress_candidates(&self) -> EngineResult<u64> {
        Ok(self.inner.meta.count_chunks_with_codec(Codec::Lz4 as u8)?)
    }

    /// Totals of this process's recompression.
    pub fn recompress_counters(&self) -> RecompressCounters {
        let c = &self.inner.recompress;
        RecompressCounters {
            chunks: c.chunks.load(Ordering::Relaxed),
            deltas: c.deltas.load(Ordering::Relaxed),
            bytes_before: c.before.load(Ordering::Relaxed),
            bytes_after: c.after.load(Ordering::Relaxed),
        }
    }

    /// Re-encodes the LZ4 chunks of cold packs among the next `opts.batch` LZ4 chunks with
    /// rows after `after` (see the module docs for why this is safe while the store is in
    /// use).
    pub fn recompress_batch(
        &self,
        after: ChunkRow,
        cold: &ColdPacks,
        opts: &RecompressOptions,
    ) -> EngineResult<Result<RecompressBatch, NoRoom>> {
        let inner = &self.inner;
        let _one_at_a_time = inner.gc_lock.lock().unwrap_or_else(|p| p.into_inner());
        let page = inner
            .meta
            .chunks_with_codec(Codec::Lz4 as u8, after, opts.batch.max(1))?;
        let mut pinned = Vec::new();
        let result = self.recode_page(&page, cold, opts, &mut pinned);
        inner.pins.unpin_all(pinned.iter(), &[]);
        let mut b = match result? {
            Ok(b) => b,
            Err(no_room) => return Ok(Err(no_room)),
        };
        b.next = (page.len() >= opts.batch.max(1))
            .then(|| page.last().map(|c| c.row))
            .flatten();
        let c = &inner.recompress;
        c.chunks.fetch_add(b.recoded, Ordering::Relaxed);
        c.deltas.fetch_add(b.as_delta, Ordering::Relaxed);
        c.before.fetch_add(b.bytes_before, Ordering::Relaxed);
        c.after.fetch_add(b.bytes_after, Ordering::Relaxed);
        Ok(Ok(b))
    }

    fn recode_page(
        &self,
        page: &[ChunkRecord],
        cold: &ColdPacks,
        opts: &RecompressOptions,
        pinned: &mut Vec<ChunkId>,
    ) -> EngineResult<Result<RecompressBatch, NoRoom>> {
        let inner = &self.inner;
        let mut b = RecompressBatch::default();
        // first every cold chunk's plaintext, and the sketches of all of them indexed, so
        // a chunk can find a base among the chunks of its own batch (the versions of a
        // file written one after the other sit side by side in row order)
        let mut todo = Vec::new();
        for rec in page {
            b.examined += 1;
            if !cold.0.contains(&rec.loc.pack) {
                continue;
            }
            // a frame that cannot be read or verified is left to scrub and repair
            let Ok(frame) = inner.blobs.read(&rec.loc) else {
                continue;
            };
            b.bytes_read += frame.len() as u64;
            if let Ok(data) = nas_codec::decode_verified(&frame, &rec.id) {
                todo.push((rec, data));
            }
        }
        // at most what was read is appended: it may use what compaction may (half the
        // reserve new data leaves), not more
        if let Some(why) = crate::gc::no_room_to_compact(inner, b.bytes_read) {
            return Ok(Err(NoRoom(format!("no room for the new frames: {why}"))));
        }
        if opts.delta {
            let sketches: Vec<_> = todo
                .iter()
                .filter_map(|(rec, data)| Some((rec.row, crate::delta::sketch::sketch(data)?)))
                .collect();
            inner.meta.add_sketches(&sketches)?;
        }
        let mut recodes = Vec::new();
        let (mut whole, mut delta) = (Vec::new(), Vec::new());
        // decisions of this batch, not committed yet: a chunk chosen as a base stays whole,
        // a chunk made a delta is no base (else the transaction would refuse the second)
        let (mut bases, mut deltas) = (HashSet::new(), HashSet::new());
        for (rec, data) in &todo {
            let codec = nas_codec::encode(data, Compression::Zstd(opts.level), &mut whole);
            let mut new = Recode {
                row: rec.row,
                old: rec.loc,
                loc: rec.loc,
                codec: codec as u8,
                base: None,
                whole_len: 0,
            };
            if opts.delta && !bases.contains(&rec.id) && !inner.meta.is_base(rec.row)? {
                let mut st = DeltaState::for_recode(rec.id);
                let whole_len = whole.len();
                let choice = st.choose(inner, data, 0, &mut || whole_len, &mut delta);
                pinned.append(&mut st.pinned);
                if let Some(base) = choice?.base
                    && !deltas.contains(&base)
                {
                    bases.insert(base);
                    deltas.insert(rec.id);
                    new.base = Some(base);
                    new.codec = Codec::ZstdDelta as u8;
                    new.whole_len = whole_len as u32;
                }
            }
            let out = if new.base.is_some() { &delta } else { &whole };
            if out.len() >= rec.loc.len as usize {
                continue; // nothing to gain
            }
            new.loc = inner.blobs.append_for_gc(&rec.id, out)?;
            recodes.push(new);
        }
        if recodes.is_empty() {
            return Ok(Ok(b));
        }
        inner.blobs.sync()?;
        crate::write::check_durable(inner.blobs.as_ref(), recodes.iter().map(|r| r.loc.pack))?;
        let done: HashSet<ChunkRow> = inner
            .pins
            .locked(|pins| inner.meta.recode(&recodes, &|id| pins.chunk_pinned(id)))?
            .into_iter()
            .collect();
        for r in recodes.iter().filter(|r| done.contains(&r.row)) {
            b.recoded += 1;
            b.as_delta += u64::from(r.base.is_some());
            b.bytes_before += u64::from(r.old.len);
            b.bytes_after += u64::from(r.loc.len);
        }
        Ok(Ok(b))
    }
}

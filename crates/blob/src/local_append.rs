//! The write path of [`LocalPackStore`]: appending a record to the active pack (rolling
//! to a new pack when it is full, refusing under the free-space reserve, retiring the pack
//! on a failed write) with early writeback every [`KICK`] bytes, and `sync`, which fsyncs
//! the active pack and every pack that filled since the last one. The rules are in the
//! parent module's docs.

use super::{KICK, LocalPackStore, RECORD_HEADER_LEN, lock};
use crate::{BlobError, BlobLocation};
use nas_types::ChunkId;
use std::fs::File;
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::sync::atomic::Ordering;

/// Asks the kernel to start writing `len` bytes at `offset` of `f` to disk, without
/// waiting (a hint: durability still comes from fsync, and a failure is harmless). The
/// one `unsafe` of the workspace: no safe wrapper of `sync_file_range` exists in rustix or
/// nix, and `posix_fadvise(DONTNEED)` would also drop the pages from the cache.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: `f` keeps the descriptor open for the duration of the call; the call only
    // reads its integer arguments and touches no memory of ours.
    let _ = unsafe { libc::sync_file_range(f.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_f: &File, _offset: u64, _len: u64) {}

/// Whether `e` says the disk (or the user's disk quota) is full.
pub(super) fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Writes every byte of `slices` at `offset` of `file`. The active pack is only written
/// here, under its lock, so positioning the cursor first is as good as a `pwritev`.
pub(super) fn write_all_vectored_at(
    file: &File,
    mut slices: &mut [IoSlice<'_>],
    offset: u64,
) -> std::io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    while !slices.is_empty() {
        match f.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl LocalPackStore {
    /// Appends one record; `gc`: a compaction's copy (see [`BlobStore::append_for_gc`]).
    pub(super) fn append_with(
        &self,
        id: &ChunkId,
        parts: &[&[u8]],
        gc: bool,
    ) -> Result<BlobLocation, BlobError> {
        let frame_len: usize = parts.iter().map(|p| p.len()).sum();
        let frame_len = u32::try_from(frame_len)
            .map_err(|_| std::io::Error::other("a frame larger than 4 GiB"))?;
        let mut guard = lock(&self.active);
        if let Err(e) = self
            .space
            .take(RECORD_HEADER_LEN + u64::from(frame_len), gc)
        {
            // Under the reserve: refused like a full disk. The active pack's tail past its
            // last fsync (the refused upload's frames, most likely) is given back now.
            return Err(match guard.take() {
                Some(a) if a.len > a.synced.load(Ordering::Acquire) => {
                    self.retire(a.id, &a.file, &a.synced, e)
                }
                Some(a) => {
                    *guard = Some(a);
                    BlobError::Io(e)
                }
                None => BlobError::Io(e),
            });
        }
        if let Some(a) = guard.as_ref()
            && a.len + u64::from(frame_len) > self.target_pack_size
        {
            // Full: its writeback starts now and the next `sync` fsyncs it (no commit can
            // point at its frames before that `sync` returns).
            start_writeback(&a.file, a.kicked, a.len - a.kicked);
            lock(&self.unsynced).push((a.id, a.file.clone(), a.synced.clone(), a.len));
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(self.new_pack()?);
        }
        let Some(active) = guard.as_mut() else {
            unreachable!("active pack set above")
        };
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        head[..4].copy_from_slice(&frame_len.to_le_bytes());
        head[4..].copy_from_slice(&id.0);
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() + 1);
        slices.push(IoSlice::new(&head));
        slices.extend(
            parts
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| IoSlice::new(p)),
        );
        // one vectored write at the end of the pack, straight from the caller's buffers; a
        // failed one retires the pack (its debris is a torn tail `records` ignores)
        if let Err(e) = self.write_record(&active.file, &mut slices, active.len) {
            let (id, file, synced) = (active.id, active.file.clone(), active.synced.clone());
            *guard = None;
            return Err(self.retire(id, &file, &synced, e));
        }
        let loc = BlobLocation {
            pack: active.id,
            offset: active.len + RECORD_HEADER_LEN,
            len: frame_len,
        };
        active.len += RECORD_HEADER_LEN + u64::from(frame_len);
        if active.len - active.kicked >= KICK {
            start_writeback(&active.file, active.kicked, active.len - active.kicked);
            active.kicked = active.len;
        }
        Ok(loc)
    }

    /// [`BlobStore::sync`].
    pub(super) fn sync_all(&self) -> Result<(), BlobError> {
        // Taken before the active pack: a pack that fills up meanwhile is either in this
        // list or still the active one here — either way it is fsynced below. A pack whose
        // fsync fails is retired and never fsynced again; the others are still fsynced.
        let full = std::mem::take(&mut *lock(&self.unsynced));
        let active = lock(&self.active)
            .as_ref()
            .map(|a| (a.id, a.file.clone(), a.synced.clone(), a.len));
        let mut first_error = None;
        let packs = full
            .iter()
            .map(|(id, f, synced, len)| (*id, f, synced, *len))
            .chain(active.iter().map(|(id, f, s, len)| (*id, f, s, *len)));
        for (id, f, synced, len) in packs {
            match self.fsync(f) {
                // every byte written before the fsync is durable
                Ok(()) => {
                    synced.fetch_max(len, Ordering::AcqRel);
                }
                Err(e) => {
                    let mut guard = lock(&self.active);
                    if guard.as_ref().is_some_and(|a| a.id == id) {
                        *guard = None;
                    }
                    drop(guard);
                    first_error.get_or_insert(self.retire(id, f, synced, e));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

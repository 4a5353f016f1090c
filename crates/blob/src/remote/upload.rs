//! The upload worker: one thread that takes sealed packs from a queue, uploads each as one
//! object (in parts, read from the disk a part at a time, when it is larger than
//! `multipart_threshold`), verifies it (the object's size, and its MD5 when the server's ETag is a plain
//! MD5) and only then records the pack as `remote` in the placement table. A failed upload
//! is retried after a growing pause (1 s to 60 s); the queue itself is rebuilt from the
//! local packs and the placement table at every start, so an upload cut off by a crash
//! simply runs again. While idle the worker writes the reads the read path noted (each
//! pack's coarse `last_read_ns`, for the mover) to the placement log in one batch.

use super::Shared;
use super::placement::{Placement, lock};
use bytes::Bytes;
use nas_types::PackId;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often an idle worker writes the reads noted since (the packs' `last_read_ns`).
const READ_FLUSH: Duration = Duration::from_secs(60);

/// Runs until `shared.stop` is set. While idle, it also records the reads noted by the
/// read path (one batch a minute at most).
pub(crate) fn run(shared: std::sync::Arc<Shared>) {
    let mut pause = Duration::from_secs(1);
    loop {
        let pack = {
            let mut q = lock(&shared.queue);
            loop {
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
                if let Some(p) = q.pop_front() {
                    shared.busy.store(true, Ordering::Release);
                    break p;
                }
                let (g, idle) = shared
                    .queue_cv
                    .wait_timeout(q, READ_FLUSH)
                    .unwrap_or_else(|p| p.into_inner());
                q = g;
                if idle.timed_out() {
                    drop(q);
                    shared.flush_reads();
                    q = lock(&shared.queue);
                }
            }
        };
        let r = upload_one(&shared, pack);
        let mut q = lock(&shared.queue);
        shared.busy.store(false, Ordering::Release);
        match r {
            Ok(()) => {
                pause = Duration::from_secs(1);
                shared.succeeded();
            }
            Err(e) => {
                shared.failed(&e);
                shared
                    .counters
                    .upload_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(pack = %pack, error = %e, "pack upload failed; retrying later");
                q.push_back(pack);
                // wait, but wake for a stop
                let _ = shared
                    .queue_cv
                    .wait_timeout_while(q, pause, |_| !shared.stop.load(Ordering::Acquire));
                pause = (pause * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Uploads and verifies one pack, then records it. A pack deleted meanwhile (by GC) is
/// dropped from the queue. Called by the worker, and by a committing `sync` when commits
/// are acknowledged only once remote (`ack_remote`).
pub(crate) fn upload_one(shared: &Shared, pack: PackId) -> Result<(), crate::BlobError> {
    // GC's delete_pack waits for this: no pack is recorded after it was deleted
    let _busy = lock(&shared.upload_lock);
    if shared.placements.get(pack).is_some_and(|p| p.remote) {
        return Ok(());
    }
    let file = match shared.local.open_sealed(pack) {
        Ok(f) => f,
        Err(crate::BlobError::Missing { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    // a sealed pack never changes: its size now is its size
    let size = file.metadata()?.len();
    if shared.placements.get(pack).is_none() {
        // sealed, here, not uploaded yet: "local" until the upload is verified
        shared.placements.set(Placement {
            pack,
            local: true,
            remote: false,
            size,
            md5: None,
            last_read_ns: super::now_ns(), // sealed now: "read" now
            age: None,
        })?;
    }
    let md5 = if size > shared.client.multipart_threshold() {
        // in parts, read a part at a time: memory stays bounded however large packs are
        use md5::Digest;
        let mut h = md5::Md5::new();
        shared
            .client
            .put_parts(pack, &file, size, &mut |b| h.update(b))?;
        hex(&h.finalize())
    } else {
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        std::io::Read::read_to_end(&mut &file, &mut data)?;
        if data.len() as u64 != size {
            return Err(mismatch(
                pack,
                format!("read {} of {size} bytes", data.len()),
            ));
        }
        let md5 = hex(&md5_of(&data));
        shared.client.put(pack, Bytes::from(data))?;
        md5
    };
    let info = shared.client.head(pack)?;
    if info.size != size {
        return Err(mismatch(pack, format!("size {} != {size}", info.size)));
    }
    if let Some(tag) = info.e_tag.as_deref().map(|t| t.trim_matches('"'))
        && tag.len() == 32
        && !tag.contains('-')
        && !tag.eq_ignore_ascii_case(&md5)
    {
        return Err(mismatch(pack, format!("ETag {tag} != MD5 {md5}")));
    }
    shared.placements.set(Placement {
        pack,
        local: true,
        remote: true,
        size,
        md5: Some(md5),
        last_read_ns: 0, // kept: set() never moves it back
        age: None,
    })?;
    shared
        .counters
        .packs_uploaded
        .fetch_add(1, Ordering::Relaxed);
    shared
        .counters
        .bytes_uploaded
        .fetch_add(size, Ordering::Relaxed);
    tracing::debug!(pack = %pack, size, "pack uploaded and verified");
    Ok(())
}

fn mismatch(pack: PackId, what: String) -> crate::BlobError {
    crate::BlobError::Io(std::io::Error::other(format!(
        "uploaded pack {pack} does not verify: {what}"
    )))
}

pub(crate) fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

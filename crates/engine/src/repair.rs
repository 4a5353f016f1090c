//! Self-repair on read: a chunk frame that fails its check (it does not decode, or its
//! BLAKE3 is not the chunk id) is asked of the blob store's other copy — the object-storage
//! tier's copy of the pack (`nas_blob::BlobStore::repair_frame`). A copy that verifies is
//! written back over the damaged bytes by the blob store and served: the client never
//! sees the damage. Without another copy (or when it is damaged too) the read fails as it
//! always did, with the error naming the file. fsck and scrub use the same repair
//! ([`repair_chunk`]) for every frame they find damaged, and report what they repaired
//! apart from what they could not.

use crate::store::Inner;
use nas_meta::ChunkRecord;

/// The chunk's content from the other copy of its frame, or the original error `err`. A
/// copy counts as good when it decodes to the chunk id's content (against its base for a
/// delta chunk).
pub(crate) fn from_other_copy(
    inner: &Inner,
    rec: &ChunkRecord,
    what: &dyn std::fmt::Display,
    err: String,
) -> Result<Vec<u8>, String> {
    let decode = |f: &[u8]| {
        crate::delta::decode(inner, rec, f)
            .ok()
            .and_then(Result::ok)
    };
    let verify = |f: &[u8]| decode(f).is_some();
    let context = format!("{what}, chunk {}", rec.id);
    match inner.blobs.repair_frame(&rec.loc, &verify, &context) {
        Some(Ok(frame)) => decode(&frame).ok_or(err),
        _ => Err(err),
    }
}

/// fsck's and scrub's repair of a chunk whose frame failed its check: `None` when the
/// store has no other copy of its pack, `Some(Ok)` when the other copy verified and was
/// written back, `Some(Err(why))` when it did not verify or could not be read.
pub(crate) fn repair_chunk(
    inner: &Inner,
    rec: &ChunkRecord,
    context: &str,
) -> Option<Result<(), String>> {
    let verify = |f: &[u8]| {
        crate::delta::decode(inner, rec, f)
            .ok()
            .and_then(Result::ok)
            .is_some_and(|d| d.len() == rec.raw_len as usize)
    };
    inner
        .blobs
        .repair_frame(&rec.loc, &verify, context)
        .map(|r| r.map(|_| ()).map_err(|e| e.to_string()))
}

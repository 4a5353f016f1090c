//! Self-repair on read: a chunk frame that fails its check (it does not decode, or its
//! BLAKE3 is not the chunk id) is asked of the blob store's other copy — the object-storage
//! tier's copy of the pack (`nas_blob::BlobStore::repair_frame`). A copy that verifies is
//! written back over the damaged bytes by the blob store and served: the client never
//! sees the damage. Without another copy (or when it is damaged too) the read fails as it
//! always did, with the error naming the file.

use crate::store::Inner;
use nas_codec::CodecError;
use nas_meta::ChunkRecord;

/// The chunk's content from the other copy of its frame, or the original error `err`.
pub(crate) fn from_other_copy(
    inner: &Inner,
    rec: &ChunkRecord,
    what: &dyn std::fmt::Display,
    err: CodecError,
) -> Result<Vec<u8>, CodecError> {
    let verify = |f: &[u8]| nas_codec::decode_verified(f, &rec.id).is_ok();
    let context = format!("{what}, chunk {}", rec.id);
    match inner.blobs.repair_frame(&rec.loc, &verify, &context) {
        Some(Ok(frame)) => nas_codec::decode_verified(&frame, &rec.id),
        _ => Err(err),
    }
}

//! Codec 3: a chunk stored as a zstd frame compressed against a *base* chunk's plaintext,
//! referenced as a raw prefix (zstd's `refPrefix`, the same as `zstd --patch-from`).
//!
//! Measured (`examples/delta_speed.rs`, text edited every 4 KiB): a prefix encodes up to 2x
//! faster than loading the same bytes as a dictionary for every chunk, at the same size;
//! with long-distance matching (on here) a 1 MiB chunk's delta is ~1 KiB instead of ~150
//! KiB (plain compression) on repetitive text.
//!
//! A prefix is always raw content (a dictionary would be parsed as a trained zstd
//! dictionary when the base happens to start with its magic number), costs no copy, and
//! is used for one frame only. The frame carries the base's [`ChunkId`] right after the
//! header, so a reader knows which chunk to fetch before it can decode.

use crate::{Codec, CodecError, FORMAT_V1, HEADER_LEN};
use nas_types::ChunkId;
use zstd::zstd_safe::{CCtx, CParameter, DCtx};

/// Header bytes of a delta frame: the common header, then the base's id.
pub const DELTA_HEADER_LEN: usize = HEADER_LEN + 32;

/// Encodes `raw` as a delta against `base` (whose id is `base_id`) into `out` (cleared
/// first), at zstd `level`. The caller decides whether the result pays (compare its
/// length with the plain frame's).
pub fn encode_delta(
    raw: &[u8],
    base_id: &ChunkId,
    base: &[u8],
    level: i32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    out.clear();
    out.extend_from_slice(&[FORMAT_V1, Codec::ZstdDelta as u8]);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&base_id.0);
    let bound = zstd::zstd_safe::compress_bound(raw.len());
    out.reserve(bound);
    let mut cx = CCtx::create();
    let err = |c: usize| CodecError::Corrupt(zstd::zstd_safe::get_error_name(c).to_owned());
    cx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(err)?;
    // no checksum: the chunk id is verified after every decode
    cx.set_parameter(CParameter::ChecksumFlag(false))
        .map_err(err)?;
    // the window must reach back over the whole base, or zstd (which sizes it for the
    // input alone) cannot match the base's start against the chunk's end
    cx.set_parameter(CParameter::WindowLog(window_log(base.len() + raw.len())))
        .map_err(err)?;
    // long-distance matching, as `zstd --patch-from` turns on: it finds the long runs the
    // base shares with the chunk even in repetitive content, where the regular match
    // finder's hash table only remembers the most recent (short) candidates
    cx.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .map_err(err)?;
    cx.ref_prefix(base).map_err(err)?;
    let mut payload = Vec::with_capacity(bound);
    cx.compress2(&mut payload, raw).map_err(err)?;
    out.extend_from_slice(&payload);
    Ok(())
}

/// The smallest window (log2) covering `n` bytes, within what every decoder accepts
/// without being told (zstd's default limit is 2^27).
fn window_log(n: usize) -> u32 {
    let bits = usize::BITS - n.max(1).leading_zeros();
    bits.clamp(10, 27)
}

/// Decodes a delta payload of `n` plaintext bytes against `base`.
pub(crate) fn decode_delta(payload: &[u8], base: &[u8], n: usize) -> Result<Vec<u8>, CodecError> {
    let err = |c: usize| CodecError::Corrupt(zstd::zstd_safe::get_error_name(c).to_owned());
    let mut dx = DCtx::create();
    dx.ref_prefix(base).map_err(err)?;
    let mut out = Vec::with_capacity(n);
    dx.decompress(&mut out, payload).map_err(err)?;
    Ok(out)
}

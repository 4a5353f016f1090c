//! Codec 3: a chunk stored as a zstd frame compressed against a *base* chunk's plaintext,
//! which is the history preceding the chunk's bytes (raw content: what `zstd
//! --patch-from` does with a prefix).
//!
//! Encoding and decoding go through one zstd context per thread, reused
//! (`ZSTD_compress_usingDict` / `ZSTD_decompress_usingDict` with the base as raw content):
//! a context created per chunk allocated and page-faulted its workspace every time. Those
//! calls take a buffer starting with zstd's dictionary magic for a *trained* dictionary,
//! so such a base (and one under 8 bytes) goes through a single-use prefix instead — the
//! same frame either way, since both mean the same history. No long-distance matching:
//! with it, the context cannot be reused (zstd's advanced parameters need the prefix
//! call, which borrows the base for the context's lifetime); on the tar series it made
//! the deltas 0.3% smaller for 15% more CPU on the delta path (`docs/design/delta.md`).
//!
//! The frame carries the base's [`ChunkId`] right after the header, so a reader knows
//! which chunk to fetch before it can decode.

use crate::{Codec, CodecError, FORMAT_V1, HEADER_LEN};
use nas_types::ChunkId;
use std::cell::RefCell;
use zstd::zstd_safe::{CCtx, CParameter, DCtx};

/// Header bytes of a delta frame: the common header, then the base's id.
pub const DELTA_HEADER_LEN: usize = HEADER_LEN + 32;

/// zstd's dictionary magic number (little-endian on disk).
const DICT_MAGIC: [u8; 4] = 0xEC30_A437u32.to_le_bytes();

thread_local! {
    /// One compression and one decompression context per thread, reused for every frame:
    /// creating one per chunk allocated (and page-faulted) its workspace every time.
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// Whether `base` can go to zstd's `*_usingDict` calls as raw content: they would take a
/// buffer starting with the dictionary magic for a trained dictionary, and ignore one
/// shorter than 8 bytes. Such a base goes through a single-use prefix instead.
fn raw_content(base: &[u8]) -> bool {
    base.len() >= 8 && base[..4] != DICT_MAGIC
}

fn zstd_err(c: usize) -> CodecError {
    CodecError::Corrupt(zstd::zstd_safe::get_error_name(c).to_owned())
}

/// Encodes `raw` as a delta against `base` (whose id is `base_id`) into `out` (cleared
/// first), at zstd `level`. The caller decides whether the result pays (compare its
/// length with the plain frame's).
///
/// The base is the history preceding the chunk (`ZSTD_compress_usingDict` with raw
/// content, through the thread's reused context; the window covers base and chunk; no
/// checksum — the chunk id is verified after every decode). A decoder may take it as a
/// dictionary of raw content or as a prefix: both mean the same history.
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
    if !raw_content(base) {
        return encode_with_prefix(raw, base, level, out);
    }
    let bound = zstd::zstd_safe::compress_bound(raw.len());
    out.resize(DELTA_HEADER_LEN + bound, 0);
    let done = CCTX.with(|cx| {
        let mut cx = cx.try_borrow_mut().ok()?;
        Some(cx.compress_using_dict(&mut out[DELTA_HEADER_LEN..], raw, base, level))
    });
    match done {
        Some(Ok(n)) => {
            out.truncate(DELTA_HEADER_LEN + n);
            Ok(())
        }
        Some(Err(c)) => Err(zstd_err(c)),
        None => {
            out.truncate(DELTA_HEADER_LEN);
            encode_with_prefix(raw, base, level, out)
        }
    }
}

/// The payload through a context of its own with `base` as a single-use prefix (a base
/// that is not plain raw content for the `*_usingDict` calls).
fn encode_with_prefix(
    raw: &[u8],
    base: &[u8],
    level: i32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let mut cx = CCtx::create();
    let err = zstd_err;
    cx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(err)?;
    cx.set_parameter(CParameter::ChecksumFlag(false))
        .map_err(err)?;
    // the window must reach back over the whole base, or zstd (which sizes it for the
    // input alone) cannot match the base's start against the chunk's end
    cx.set_parameter(CParameter::WindowLog(window_log(base.len() + raw.len())))
        .map_err(err)?;
    cx.ref_prefix(base).map_err(err)?;
    let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
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
    let mut out = Vec::with_capacity(n);
    if raw_content(base) {
        let done = DCTX.with(|dx| {
            let mut dx = dx.try_borrow_mut().ok()?;
            Some(dx.decompress_using_dict(&mut out, payload, base))
        });
        if let Some(r) = done {
            r.map_err(zstd_err)?;
            return Ok(out);
        }
    }
    let mut dx = DCtx::create();
    dx.ref_prefix(base).map_err(zstd_err)?;
    dx.decompress(&mut out, payload).map_err(zstd_err)?;
    Ok(out)
}

/// Decodes a plain zstd payload of `n` plaintext bytes with the thread's reused context.
pub(crate) fn decode_zstd(payload: &[u8], n: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(n);
    let done = DCTX.with(|dx| {
        let mut dx = dx.try_borrow_mut().ok()?;
        Some(dx.decompress(&mut out, payload))
    });
    match done {
        Some(r) => r.map_err(zstd_err)?,
        None => DCtx::create()
            .decompress(&mut out, payload)
            .map_err(zstd_err)?,
    };
    Ok(out)
}

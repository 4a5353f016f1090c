//! Chunk framing for Silent-NAS: how one chunk's bytes are laid out at rest.
//!
//! A frame is a 6-byte header and a payload (full layout in `docs/design/on-disk-format.md`):
//!
//! ```text
//! 0      format   u8   = 1 (bump for encryption or any other layout change)
//! 1      codec    u8   0 raw | 1 lz4 block | 2 zstd | 3 zstd delta (see below)
//! 2..6   raw_len  u32 LE, length of the plaintext
//! [codec 3 only: 6..38 base ChunkId, the chunk this one is a patch against]
//! ..     payload
//! ```
//!
//! Integrity is the chunk id itself: the BLAKE3 of the decoded plaintext must equal the id
//! the frame was stored under ([`decode_verified`]). A frame this crate cannot decode is an
//! error, never zeros. Codec 3 stores a chunk as a zstd `--patch-from` delta against a
//! similar *base* chunk ([`encode_delta`]); decoding one needs the base chunk's plaintext
//! ([`decode_with_base`]). Which chunk may be a base is the engine's rule
//! (`docs/design/delta.md`).
//!
//! ```
//! use nas_codec::{Compression, encode, decode_verified};
//! use nas_types::ChunkId;
//! let data = b"hello hello hello hello hello hello hello hello".repeat(20);
//! let mut frame = Vec::new();
//! encode(&data, Compression::Lz4, &mut frame);
//! assert!(frame.len() < data.len());
//! assert_eq!(decode_verified(&frame, &ChunkId::of(&data)).unwrap(), data);
//! ```

mod delta;
mod entropy;

pub use delta::{DELTA_HEADER_LEN, encode_delta};
pub use entropy::looks_incompressible;
use nas_types::ChunkId;
use thiserror::Error;

/// Current frame format byte.
pub const FORMAT_V1: u8 = 1;
/// Header length of non-delta frames.
pub const HEADER_LEN: usize = 6;
/// Largest plaintext a frame may carry (chunks are far smaller; this bounds allocations
/// when reading a damaged frame).
pub const MAX_RAW_LEN: usize = 64 << 20;

/// How a payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is.
    Raw = 0,
    /// LZ4 block.
    Lz4 = 1,
    /// Zstandard frame.
    Zstd = 2,
    /// Zstandard frame compressed against a base chunk's plaintext (see [`encode_delta`]).
    ZstdDelta = 3,
}

impl Codec {
    fn from_tag(t: u8) -> Option<Codec> {
        Some(match t {
            0 => Codec::Raw,
            1 => Codec::Lz4,
            2 => Codec::Zstd,
            3 => Codec::ZstdDelta,
            _ => return None,
        })
    }
}

/// The compression a store applies to new chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Never compress.
    None,
    /// LZ4 (the default: fast enough to never be the bottleneck).
    Lz4,
    /// Zstandard at the given level (1..=19; 3 is a good default).
    Zstd(i32),
}

impl Compression {
    /// Parses `none`, `lz4`, `zstd` or `zstd:LEVEL`.
    pub fn parse(s: &str) -> Option<Compression> {
        match s {
            "none" => Some(Compression::None),
            "lz4" => Some(Compression::Lz4),
            "zstd" => Some(Compression::Zstd(3)),
            _ => {
                let level: i32 = s.strip_prefix("zstd:")?.parse().ok()?;
                (1..=19)
                    .contains(&level)
                    .then_some(Compression::Zstd(level))
            }
        }
    }
}

/// What can go wrong reading a frame.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// Shorter than its header says.
    #[error("frame truncated")]
    Truncated,
    /// Unknown format byte (written by a newer version?).
    #[error("unknown frame format {0}")]
    UnknownFormat(u8),
    /// Unknown codec tag.
    #[error("unknown codec tag {0}")]
    UnknownCodec(u8),
    /// Declared length beyond [`MAX_RAW_LEN`].
    #[error("declared length {0} is implausible")]
    BadLength(u32),
    /// The payload did not decompress to the declared length.
    #[error("payload does not decode: {0}")]
    Corrupt(String),
    /// A delta frame was read without its base chunk.
    #[error("delta frame needs base chunk {0}")]
    NeedsBase(ChunkId),
    /// The decoded bytes do not hash to the expected chunk id.
    #[error("content hash mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The id the chunk was stored under.
        expected: ChunkId,
        /// What the decoded bytes hash to.
        actual: ChunkId,
    },
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// How the payload is encoded.
    pub codec: Codec,
    /// Plaintext length.
    pub raw_len: u32,
    /// For delta frames, the base chunk.
    pub base: Option<ChunkId>,
    /// Where the payload starts.
    pub payload_offset: usize,
}

/// Encodes `raw` into `out` (cleared first), choosing raw storage when compression would
/// not pay: data that looks incompressible is not even tried, and a result that does not
/// save at least 1/32 of the size is thrown away. Returns the codec used.
pub fn encode(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> Codec {
    let codec = encode_head(raw, compression, out);
    if codec == Codec::Raw {
        out.extend_from_slice(raw);
    }
    codec
}

/// As [`encode`], without copying a payload stored raw: the frame is the two returned
/// parts one after the other (the header in `out`, then `raw` itself; or all of it in
/// `out` when compressed, with an empty second part).
pub fn encode_parts<'a>(
    raw: &'a [u8],
    compression: Compression,
    out: &'a mut Vec<u8>,
) -> (Codec, [&'a [u8]; 2]) {
    let codec = encode_head(raw, compression, out);
    let payload: &[u8] = if codec == Codec::Raw { raw } else { &[] };
    (codec, [out.as_slice(), payload])
}

/// The frame header in `out`, followed by the compressed payload unless the codec chosen
/// is [`Codec::Raw`] (whose payload is `raw` itself, left to the caller).
fn encode_head(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> Codec {
    out.clear();
    out.reserve(HEADER_LEN + raw.len());
    out.extend_from_slice(&[FORMAT_V1, 0]);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    let worth_trying = compression != Compression::None && !looks_incompressible(raw);
    let codec = if worth_trying {
        let limit = raw.len() - raw.len() / 32;
        match compression {
            Compression::Lz4 => {
                let bound = lz4_flex::block::get_maximum_output_size(raw.len());
                out.resize(HEADER_LEN + bound, 0);
                match lz4_flex::block::compress_into(raw, &mut out[HEADER_LEN..]) {
                    Ok(n) if n < limit => {
                        out.truncate(HEADER_LEN + n);
                        Codec::Lz4
                    }
                    _ => Codec::Raw,
                }
            }
            Compression::Zstd(level) => match zstd::bulk::compress(raw, level) {
                Ok(c) if c.len() < limit => {
                    out.extend_from_slice(&c);
                    Codec::Zstd
                }
                _ => Codec::Raw,
            },
            Compression::None => Codec::Raw,
        }
    } else {
        Codec::Raw
    };
    if codec == Codec::Raw {
        out.truncate(HEADER_LEN);
    }
    out[1] = codec as u8;
    codec
}

/// Parses a frame's header.
pub fn header(frame: &[u8]) -> Result<FrameHeader, CodecError> {
    if frame.len() < HEADER_LEN {
        return Err(CodecError::Truncated);
    }
    if frame[0] != FORMAT_V1 {
        return Err(CodecError::UnknownFormat(frame[0]));
    }
    let codec = Codec::from_tag(frame[1]).ok_or(CodecError::UnknownCodec(frame[1]))?;
    let raw_len = u32::from_le_bytes([frame[2], frame[3], frame[4], frame[5]]);
    if raw_len as usize > MAX_RAW_LEN {
        return Err(CodecError::BadLength(raw_len));
    }
    let (base, payload_offset) = if codec == Codec::ZstdDelta {
        let b = frame
            .get(HEADER_LEN..HEADER_LEN + 32)
            .ok_or(CodecError::Truncated)?;
        (ChunkId::from_slice(b), HEADER_LEN + 32)
    } else {
        (None, HEADER_LEN)
    };
    Ok(FrameHeader {
        codec,
        raw_len,
        base,
        payload_offset,
    })
}

/// Decodes a non-delta frame (no hash check: see [`decode_verified`]).
pub fn decode(frame: &[u8]) -> Result<Vec<u8>, CodecError> {
    decode_with_base(frame, None)
}

/// Decodes any frame; `base` is the plaintext of the base chunk for delta frames.
pub fn decode_with_base(frame: &[u8], base: Option<&[u8]>) -> Result<Vec<u8>, CodecError> {
    let h = header(frame)?;
    let payload = &frame[h.payload_offset..];
    let n = h.raw_len as usize;
    let out = match h.codec {
        Codec::Raw => {
            if payload.len() != n {
                return Err(CodecError::Truncated);
            }
            payload.to_vec()
        }
        Codec::Lz4 => lz4_flex::block::decompress(payload, n)
            .map_err(|e| CodecError::Corrupt(e.to_string()))?,
        Codec::Zstd => delta::decode_zstd(payload, n)?,
        Codec::ZstdDelta => {
            let base_id = h.base.ok_or(CodecError::Truncated)?;
            let base = base.ok_or(CodecError::NeedsBase(base_id))?;
            delta::decode_delta(payload, base, n)?
        }
    };
    if out.len() != n {
        return Err(CodecError::Corrupt(format!(
            "decoded {} bytes, header says {n}",
            out.len()
        )));
    }
    Ok(out)
}

/// Decodes a frame and checks that its plaintext hashes to `expected`.
pub fn decode_verified(frame: &[u8], expected: &ChunkId) -> Result<Vec<u8>, CodecError> {
    decode_verified_with_base(frame, None, expected)
}

/// As [`decode_verified`], for any frame: `base` is the base's plaintext for a delta.
pub fn decode_verified_with_base(
    frame: &[u8],
    base: Option<&[u8]>,
    expected: &ChunkId,
) -> Result<Vec<u8>, CodecError> {
    let out = decode_with_base(frame, base)?;
    let actual = ChunkId::of(&out);
    if &actual != expected {
        return Err(CodecError::HashMismatch {
            expected: *expected,
            actual,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

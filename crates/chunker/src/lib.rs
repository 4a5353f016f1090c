//! Content-defined chunking for Silent-NAS: FastCDC (2020, normalization level 1) over a
//! *pushed* stream, so a network door can feed bytes as they arrive and memory stays bounded
//! (the buffer never holds more than `2 * max` bytes).
//!
//! Boundaries are identical to running FastCDC over the whole input at once: a cut is only
//! searched when `max` bytes are buffered (or at end of stream), which is all the lookahead
//! FastCDC ever uses. Snapshot tests pin them: if boundaries move, dedup against data
//! already stored silently breaks.
//!
//! ```
//! use nas_chunker::{Chunker, ChunkerParams};
//! let mut c = Chunker::new(ChunkerParams::DEFAULT);
//! let mut sizes = Vec::new();
//! c.push(&vec![7u8; 300_000], |chunk| { sizes.push(chunk.len()); Ok::<_, ()>(()) }).unwrap();
//! c.finish(|chunk| { sizes.push(chunk.len()); Ok::<_, ()>(()) }).unwrap();
//! assert_eq!(sizes.iter().sum::<usize>(), 300_000);
//! ```

use fastcdc::v2020::{Normalization, cut, select_masks};
use thiserror::Error;

/// Chunk size limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkerParams {
    /// No chunk is shorter, except the last one of a stream.
    pub min: usize,
    /// Target average.
    pub avg: usize,
    /// No chunk is longer.
    pub max: usize,
}

/// Invalid chunker parameters.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid chunker parameters: {0}")]
pub struct ParamsError(&'static str);

impl ChunkerParams {
    /// The store's parameters: 8 KiB / 32 KiB / 128 KiB. Chosen by measurement on the
    /// shared corpus (see `docs/design/chunking.md`). Changing them breaks dedup against
    /// existing data, so a store records its parameters when it is created.
    pub const DEFAULT: ChunkerParams = ChunkerParams {
        min: 8 * 1024,
        avg: 32 * 1024,
        max: 128 * 1024,
    };

    /// Checks the limits FastCDC accepts.
    pub fn validate(&self) -> Result<(), ParamsError> {
        use fastcdc::v2020 as f;
        if !(f::MINIMUM_MIN..=f::MINIMUM_MAX).contains(&self.min) {
            return Err(ParamsError("min out of range"));
        }
        if !(f::AVERAGE_MIN..=f::AVERAGE_MAX).contains(&self.avg) {
            return Err(ParamsError("avg out of range"));
        }
        if !(f::MAXIMUM_MIN..=f::MAXIMUM_MAX).contains(&self.max) {
            return Err(ParamsError("max out of range"));
        }
        if !(self.min <= self.avg && self.avg <= self.max) {
            return Err(ParamsError("need min <= avg <= max"));
        }
        if self.min % 2 + self.avg % 2 + self.max % 2 != 0 {
            return Err(ParamsError("sizes must be even"));
        }
        Ok(())
    }
}

/// A push-based chunker: feed bytes with [`Chunker::push`], end with [`Chunker::finish`].
/// Each complete chunk is handed to the callback as a slice valid for that call only.
pub struct Chunker {
    params: ChunkerParams,
    masks: (u64, u64),
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
}

impl Chunker {
    /// A chunker with `params` (call [`ChunkerParams::validate`] on untrusted ones).
    pub fn new(params: ChunkerParams) -> Self {
        Chunker {
            params,
            masks: select_masks(params.avg, Normalization::Level1),
            buf: Vec::new(), // grows to at most 2 * max; small files stay small
            pos: 0,
        }
    }

    /// The limits in use.
    pub fn params(&self) -> ChunkerParams {
        self.params
    }

    fn next_cut(&self, window: &[u8]) -> usize {
        let (ms, ml) = self.masks;
        let p = self.params;
        let (_, n) = cut(window, p.min, p.avg, p.max, ms, ml, ms << 1, ml << 1);
        n
    }

    /// Adds bytes; emits every chunk whose end is now known.
    ///
    /// Bytes are cut where they lie: only a chunk that straddles two pushes is gathered in
    /// the chunker's buffer (at most `max` bytes copied per push), and what is left at the
    /// end of a push (less than `max`) waits there for the next one. A cut is always taken
    /// in a window of `max` bytes from the chunk's start, so the chunks do not depend on
    /// how the stream was split into pushes.
    pub fn push<E>(
        &mut self,
        mut data: &[u8],
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let max = self.params.max;
        if self.pos < self.buf.len() {
            // bytes are waiting (fewer than `max`): complete their window from `data`
            self.buf.drain(..self.pos);
            self.pos = 0;
            let waiting = self.buf.len();
            let take = max.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            while self.buf.len() - self.pos >= max {
                let window = &self.buf[self.pos..self.pos + max];
                let n = self.next_cut(window);
                emit(&self.buf[self.pos..self.pos + n])?;
                self.pos += n;
                if self.pos >= waiting {
                    // the rest of the buffer is a copy of `data`: go on from there
                    data = &data[self.pos - waiting..];
                    self.buf.clear();
                    self.pos = 0;
                    break;
                }
            }
            if !self.buf.is_empty() {
                // not enough bytes yet for a full window: all of `data` is in the buffer
                return Ok(());
            }
        } else {
            self.buf.clear();
            self.pos = 0;
        }
        while data.len() >= max {
            let n = self.next_cut(&data[..max]);
            emit(&data[..n])?;
            data = &data[n..];
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Ends the stream, emitting the remaining chunks (none for an empty stream).
    pub fn finish<E>(mut self, mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        while self.pos < self.buf.len() {
            let window = &self.buf[self.pos..];
            let n = self.next_cut(window).max(1);
            emit(&self.buf[self.pos..self.pos + n])?;
            self.pos += n;
        }
        Ok(())
    }
}

/// Chunk lengths of a whole in-memory buffer (used by tests and tools).
pub fn chunk_lengths(params: ChunkerParams, data: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut c = Chunker::new(params);
    let _ = c.push(data, |ch| {
        out.push(ch.len());
        Ok::<_, ()>(())
    });
    let _ = c.finish(|ch| {
        out.push(ch.len());
        Ok::<_, ()>(())
    });
    out
}

#[cfg(test)]
mod tests;

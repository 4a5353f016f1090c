//! The extent list of a version: which chunks, in order, make up its content.
//!
//! Encoded compactly in one column (`versions.extents`): a format byte `1`, then per chunk
//! a LEB128 varint of the chunk row and a varint of the plaintext length. ~6 bytes per
//! chunk, so a 64 MiB file's list is ~6 KiB. Offsets are prefix sums computed on load;
//! a range read binary-searches them and never touches the chunks before it.

use crate::ChunkRow;

/// One chunk of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Chunk row in the index.
    pub chunk: ChunkRow,
    /// Offset of the chunk's first byte in the file.
    pub offset: u64,
    /// Plaintext length.
    pub len: u32,
}

const FORMAT: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Encodes `(row, len)` pairs.
pub fn encode_extents(items: impl IntoIterator<Item = (ChunkRow, u32)>) -> Vec<u8> {
    let mut out = vec![FORMAT];
    for (row, len) in items {
        put_varint(&mut out, row.0 as u64);
        put_varint(&mut out, u64::from(len));
    }
    out
}

/// Decodes an extent list, computing offsets.
pub fn decode_extents(buf: &[u8]) -> Result<Vec<Extent>, String> {
    match buf.first() {
        Some(&FORMAT) => {}
        Some(f) => return Err(format!("unknown extent list format {f}")),
        None => return Err("empty extent list".into()),
    }
    let mut pos = 1;
    let mut offset = 0u64;
    let mut out = Vec::new();
    while pos < buf.len() {
        let row = get_varint(buf, &mut pos).ok_or("truncated extent list")?;
        let len = get_varint(buf, &mut pos).ok_or("truncated extent list")?;
        let len = u32::try_from(len).map_err(|_| "extent length overflow")?;
        out.push(Extent {
            chunk: ChunkRow(row as i64),
            offset,
            len,
        });
        offset += u64::from(len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let items = vec![
            (ChunkRow(1), 10u32),
            (ChunkRow(300), 70000),
            (ChunkRow(1 << 40), 1),
        ];
        let enc = encode_extents(items.clone());
        let dec = decode_extents(&enc).unwrap();
        assert_eq!(dec.len(), 3);
        assert_eq!(dec[1].offset, 10);
        assert_eq!(dec[2].offset, 70010);
        assert_eq!(dec[2].chunk, ChunkRow(1 << 40));
        assert!(decode_extents(&enc[..enc.len() - 1]).is_err());
        assert!(decode_extents(&[]).is_err());
        assert!(decode_extents(&[9]).is_err());
        assert_eq!(decode_extents(&[1]).unwrap(), vec![]);
    }
}

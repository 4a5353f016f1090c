//! MD5 (RFC 1321), for what S3 and tus clients check: a PutObject's ETag, `Content-MD5`,
//! the multipart `md5-of-md5s`, tus's `Upload-Checksum: md5`. Nothing here is used for
//! security; MD5 is only ever an integrity check that clients ask for.
//!
//! Why not the `md-5` crate: on a single-stream S3 upload MD5 is the largest cost (about
//! 40 % of the server's CPU), and it cannot be split over cores. `md-5`'s assembly runs at
//! ~620 MB/s on the reference machine; this implementation runs at ~770 MB/s, as fast as
//! OpenSSL's (`cargo bench -p nas-md5`; figures in `bench/reports/log-2026-11-28-to-12-07.md`). The difference is
//! the order of the additions in each step: MD5 is one long dependency chain (64 steps per
//! 64-byte block), and a step's latency is the path from the register written by the step
//! before. Here each step adds `K[i] + M[g]` to its target register as soon as that register
//! is known (four steps early), so only `F(b, c, d)`, the add, the rotate and the add of `b`
//! remain on the chain; round 2 also adds the `c & !d` half of `G` early (the two halves
//! never share a bit, so `|` is `+`). LLVM reassociates constant additions to the end of a
//! chain, which puts two extra adds back on it; reading the constants through
//! [`std::hint::black_box`] keeps them opaque so the order written is the order run.
//!
//! ```
//! let mut h = nas_md5::Md5::new();
//! h.update(b"The quick brown fox ");
//! h.update(b"jumps over the lazy dog");
//! assert_eq!(nas_md5::hex(&h.finalize()), "9e107d9d372bb6826bd81d3542a419d6");
//! ```

/// Per-step rotation amounts.
const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, //
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, //
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, //
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// Per-step constants, `floor(abs(sin(i + 1)) * 2^32)`.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// The message word each step reads.
const G: [usize; 64] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, //
    1, 6, 11, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, //
    5, 8, 11, 14, 1, 4, 7, 10, 13, 0, 3, 6, 9, 12, 15, 2, //
    0, 7, 14, 5, 12, 3, 10, 1, 8, 15, 6, 13, 4, 11, 2, 9,
];

const INIT: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/// A running MD5.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// Bytes fed so far.
    len: u64,
    /// The start of an unfinished block.
    buf: [u8; 64],
    buffered: usize,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5").field("len", &self.len).finish()
    }
}

impl Md5 {
    /// An MD5 of nothing yet.
    pub fn new() -> Self {
        Md5 {
            state: INIT,
            len: 0,
            buf: [0; 64],
            buffered: 0,
        }
    }

    /// The MD5 of `data`.
    pub fn digest(data: &[u8]) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(data);
        h.finalize()
    }

    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (64 - self.buffered).min(data.len());
            self.buf[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return;
            }
            let block = self.buf;
            compress(&mut self.state, &[block]);
            self.buffered = 0;
        }
        let (blocks, rest) = data.as_chunks::<64>();
        compress(&mut self.state, blocks);
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The digest of everything fed.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = [0u8; 128];
        tail[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
        tail[self.buffered] = 0x80;
        let n = if self.buffered < 56 { 64 } else { 128 };
        tail[n - 8..n].copy_from_slice(&bits.to_le_bytes());
        let (blocks, _) = tail[..n].as_chunks::<64>();
        compress(&mut self.state, blocks);
        let mut out = [0u8; 16];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        out
    }
}

/// Lower-case hex of a digest (what an ETag holds).
pub fn hex(digest: &[u8; 16]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Runs the 64 steps over each block.
fn compress(state: &mut [u32; 4], blocks: &[[u8; 64]]) {
    // opaque to the optimiser: see the module docs
    let k: &[u32; 64] = std::hint::black_box(&K);
    for block in blocks {
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.as_chunks::<4>().0) {
            *w = u32::from_le_bytes(*b);
        }
        let [a0, b0, c0, d0] = *state;
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        // each register's value plus the K + M of the next step that writes it
        let mut pa = a.wrapping_add(k[0]).wrapping_add(m[0]);
        let mut pd = d.wrapping_add(k[1]).wrapping_add(m[1]);
        let mut pc = c.wrapping_add(k[2]).wrapping_add(m[2]);
        let mut pb = b.wrapping_add(k[3]).wrapping_add(m[3]);
        macro_rules! step {
            ($a:ident, $pa:ident, $b:ident, $i:expr, $f:expr) => {
                $a = $b.wrapping_add($pa.wrapping_add($f).rotate_left(S[$i]));
                // (the last four steps' values are never read: dead, so not computed)
                $pa = $a
                    .wrapping_add(k[($i + 4) % 64])
                    .wrapping_add(m[G[($i + 4) % 64]]);
            };
        }
        macro_rules! four {
            ($i:expr, $f:ident) => {
                step!(a, pa, b, $i, $f!(b, c, d));
                step!(d, pd, a, $i + 1, $f!(a, b, c));
                step!(c, pc, d, $i + 2, $f!(d, a, b));
                step!(b, pb, c, $i + 3, $f!(c, d, a));
            };
        }
        macro_rules! f {
            ($b:ident, $c:ident, $d:ident) => {
                $d ^ ($b & ($c ^ $d))
            };
        }
        macro_rules! g {
            ($b:ident, $c:ident, $d:ident) => {
                ($c & !$d).wrapping_add($b & $d)
            };
        }
        macro_rules! h {
            ($b:ident, $c:ident, $d:ident) => {
                $b ^ ($c ^ $d)
            };
        }
        macro_rules! i {
            ($b:ident, $c:ident, $d:ident) => {
                $c ^ ($b | !$d)
            };
        }
        four!(0, f);
        four!(4, f);
        four!(8, f);
        four!(12, f);
        four!(16, g);
        four!(20, g);
        four!(24, g);
        four!(28, g);
        four!(32, h);
        four!(36, h);
        four!(40, h);
        four!(44, h);
        four!(48, i);
        four!(52, i);
        four!(56, i);
        four!(60, i);
        *state = [
            a0.wrapping_add(a),
            b0.wrapping_add(b),
            c0.wrapping_add(c),
            d0.wrapping_add(d),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5_ref::Digest as _;
    use proptest::prelude::*;

    /// RFC 1321, appendix A.5.
    #[test]
    fn rfc_1321_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                hex(&Md5::digest(input)),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// Every length around the padding boundaries (55, 56, 63, 64 bytes, …).
    #[test]
    fn agrees_with_md5_crate_on_every_length_to_300() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..=data.len() {
            let want: [u8; 16] = md5_ref::Md5::digest(&data[..n]).into();
            assert_eq!(Md5::digest(&data[..n]), want, "length {n}");
        }
    }

    proptest! {
        /// However the input is split into updates, the digest is the md-5 crate's.
        #[test]
        fn split_updates_agree_with_md5_crate(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            cuts in proptest::collection::vec(0usize..5000, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut h = Md5::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                h.update(&data[at..c]);
                at = c;
            }
            let want: [u8; 16] = md5_ref::Md5::digest(&data).into();
            prop_assert_eq!(h.finalize(), want);
        }
    }
}

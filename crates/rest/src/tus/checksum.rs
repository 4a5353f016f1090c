//! The tus checksum extension: `Upload-Checksum: <algorithm> <base64 digest>` on a PATCH
//! is checked against the body before the segment is committed (460 otherwise).

use crate::error::{RestError, RestResult};
use base64::Engine as _;
use sha2::Digest;

/// The algorithms this server checks, as advertised in `Tus-Checksum-Algorithm`.
pub const ALGORITHMS: &str = "sha1,md5,crc32,sha256";

/// A checksum the client claims for a PATCH body.
pub struct Claim {
    hasher: Hasher,
    want: Vec<u8>,
}

enum Hasher {
    Sha1(sha1::Sha1),
    Md5(nas_md5::Md5),
    Sha256(sha2::Sha256),
    Crc32(crc32fast::Hasher),
}

impl Claim {
    /// Parses `Upload-Checksum` (400 for an unknown algorithm or a malformed value).
    pub fn parse(value: &str) -> RestResult<Claim> {
        let bad = |m: &str| RestError::BadRequest(format!("Upload-Checksum: {m}"));
        let (algo, digest) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("expected '<algorithm> <base64>'"))?;
        let want = base64::engine::general_purpose::STANDARD
            .decode(digest.trim())
            .map_err(|_| bad("the digest is not base64"))?;
        let hasher = match algo.to_ascii_lowercase().as_str() {
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "md5" => Hasher::Md5(nas_md5::Md5::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "crc32" => Hasher::Crc32(crc32fast::Hasher::new()),
            _ => {
                return Err(bad(&format!(
                    "unsupported algorithm (use one of {ALGORITHMS})"
                )));
            }
        };
        Ok(Claim { hasher, want })
    }

    /// Feeds body bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Crc32(h) => h.update(data),
        }
    }

    /// Whether the body seen matches the claim.
    pub fn holds(self) -> bool {
        let got: Vec<u8> = match self.hasher {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        };
        got == self.want
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_hold_only_for_their_body() {
        // sha1("hello") = aaf4c61d dcc5e8a2 dabede0f 3b482cd9 aea9434d
        let mut c = Claim::parse("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=").unwrap();
        c.update(b"hel");
        c.update(b"lo");
        assert!(c.holds());
        let mut c = Claim::parse("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=").unwrap();
        c.update(b"hellO");
        assert!(!c.holds());
        let mut c = Claim::parse("md5 XUFAKrxLKna5cZ2REBfFkg==").unwrap();
        c.update(b"hello");
        assert!(c.holds());
        // crc32("hello") = 0x3610a686, big-endian bytes
        let mut c = Claim::parse("crc32 NhCmhg==").unwrap();
        c.update(b"hello");
        assert!(c.holds());
        assert!(Claim::parse("whirlpool AAAA").is_err());
        assert!(Claim::parse("sha1").is_err());
        assert!(Claim::parse("sha1 !!!").is_err());
    }
}

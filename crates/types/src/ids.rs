//! Newtype identifiers. Database row ids are `i64` (what SQL speaks); hashes are 32 bytes.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

row_id!(
    /// A home (one per user later): the root of a separate tree.
    HomeId
);
row_id!(
    /// A file or folder in a home's tree. Stable across renames and moves.
    NodeId
);
row_id!(
    /// An entry in the trash.
    TrashId
);

/// A file's version number: 1, 2, 3… oldest first; numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionNum(pub u64);

impl fmt::Display for VersionNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A pack file holding many chunk frames. Random 64-bit, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackId(pub u64);

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl PackId {
    /// Parses the 16-hex-digit form produced by `Display`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(PackId)
    }
}

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// BLAKE3 of `data`.
            pub fn of(data: &[u8]) -> Self {
                Self(*blake3::hash(data).as_bytes())
            }
            /// Lower-case hex, 64 digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parses 64 hex digits.
            pub fn from_hex(s: &str) -> Option<Self> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).ok()?;
                Some(Self(out))
            }
            /// Builds from a byte slice of exactly 32 bytes.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                <[u8; 32]>::try_from(b).ok().map(Self)
            }
        }

        impl From<blake3::Hash> for $name {
            fn from(h: blake3::Hash) -> Self {
                Self(*h.as_bytes())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), &self.to_hex()[..16])
            }
        }
    };
}

hash_id!(
    /// BLAKE3 of a chunk's plaintext: its identity for dedup and its integrity check.
    ChunkId
);
hash_id!(
    /// BLAKE3 of a whole file version's content.
    ContentHash
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ChunkId::of(b"abc");
        assert_eq!(ChunkId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(ChunkId::from_hex("zz"), None);
        let p = PackId(0xdead_beef);
        assert_eq!(PackId::parse(&p.to_string()), Some(p));
        assert_eq!(PackId::parse("123"), None);
    }
}

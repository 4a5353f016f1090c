//! The shared vocabulary of Silent-NAS: newtype IDs, the content hash, byte ranges and
//! [`NasPath`], the one place where path rules are enforced.
//!
//! Every other crate speaks in these types, so a chunk hash can never be passed where a
//! file id is expected, and a path that reached the engine is always normalized.
//!
//! ```
//! use nas_types::{ChunkId, NasPath};
//! let p = NasPath::parse("/photos/2024/cat.jpg").unwrap();
//! assert_eq!(p.name(), Some("cat.jpg"));
//! let id = ChunkId::of(b"hello");
//! assert_eq!(id.to_hex().len(), 64);
//! ```

mod ids;
mod path;
mod range;

pub use ids::{ChunkId, ContentHash, HomeId, NodeId, PackId, TrashId, VersionNum};
pub use path::{MAX_NAME_BYTES, MAX_PATH_BYTES, NasPath, PathError};
pub use range::{
    ByteRange, MAX_RANGES, MULTIPART_PART_OVERHEAD, RangePlan, RangeRequest, RangeSpec,
};

//! The Silent-NAS storage engine: the one facade every door (WebDAV, S3, REST, CLI) calls.
//!
//! It owns the write pipeline (chunk → hash → dedup → compress → append → commit), the read
//! pipeline (offset index → fetch → verify), the namespace, versions and retention, the
//! trash, name search and its index, garbage collection and fsck, the background workers
//! that run them on a schedule ([`workers`]), and the batched writer of the audit log
//! ([`audit`]). It knows nothing of HTTP; it reaches disk only through
//! [`nas_blob::BlobStore`] and [`nas_meta::MetaStore`], and shares the data with other
//! handles and processes only through its [`Coordinator`] ([`coord`]). [`Store::open`]
//! builds the three over a data directory; [`Store::from_parts`] takes any.
//!
//! ```
//! use nas_engine::{Store, StoreOptions, WriteOptions};
//! use nas_types::NasPath;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
//! let home = store.home("alice").unwrap();
//! let path = NasPath::parse("/notes.txt").unwrap();
//! home.write_all(&path, b"first", WriteOptions::default()).unwrap();
//! home.write_all(&path, b"second", WriteOptions::default()).unwrap();
//! assert_eq!(home.read_all(&path, None).unwrap(), b"second");
//! assert_eq!(home.versions(&path).unwrap().len(), 2);
//! ```
//!
//! The API is synchronous and thread-safe (`Store` is `Clone + Send + Sync`). From async
//! code use [`AsyncHome`], which runs each call on tokio's blocking pool so the runtime's
//! workers never wait on disk.

mod accounts;
mod asyncio;
pub mod audit;
mod backup;
pub mod changes;
mod compose;
pub mod coord;
mod delta;
mod error;
mod folder_lock;
mod fsck;
mod gc;
mod group_commit;
mod history;
mod home;
mod implicit;
mod lifecycle;
mod lru;
mod meta_location;
mod object_lock;
mod pins;
mod progress;
mod quota;
mod read;
mod read_cache;
mod read_marks;
mod recompress;
mod recover;
mod repair;
mod retention;
mod search;
mod shares;
#[cfg(test)]
mod shares_tests;
mod staging;
mod stats;
mod store;
mod tiering;
mod time;
mod trash;
mod trashed;
pub mod upload;
mod user_cache;
mod version_attrs;
mod versions;
pub mod workers;
mod write;

pub use accounts::{Accounts, LockTable};
pub use asyncio::{AsyncHome, SMALL_READ, read_ahead};
pub use backup::{BackupManifest, BackupOptions, BackupReport};
pub use compose::Composition;
pub use coord::{
    ClusterCoordinator, Coordinator, KeyGuard, LocalCoordinator, NODE_BEAT, NODE_FORGET, NODE_LIVE,
};
pub use delta::DEFAULT_BASE_CACHE;
pub use error::{EngineError, EngineResult};
pub use folder_lock::{
    DefaultRetention, FOLDER_LOCK_NS, FOLDER_LOCK_PROP, encode_folder_lock, parse_folder_lock,
};
pub use fsck::{FsckReport, Problem};
pub use gc::{GcPlan, GcReport};
pub use history::Located;
pub use home::{Entry, Home, ListPage};
pub use lifecycle::{LIFECYCLE_NS, LifecyclePlan, LifecycleRule};
pub use lru::CacheCounters;
pub use meta_location::MetaLocation;
pub use nas_blob::{PlacementCounts, RemoteConfig, RemoteStatus, Space, TierPack};
pub use nas_codec::Compression;
pub use nas_meta::ChunkRow;
pub use nas_meta::{
    AppPasswordRecord, DeadProp, Expect, FileAttrs, HomeUsage, KeyRecord, ListKey, LockChange,
    LockRecord, NameIndexStatus, NodeKind, ObjectLock, PropOp, PruneStep, QuotaCounts, Retention,
    RetentionMode, SearchFilter, TrashRecord, UserRecord, VersionRecord,
};
pub use nas_meta::{ClusterNode, FailureCount, FailureCounts, FailureKey, NodeRegistry};
pub use progress::{Progress, ProgressUnit};
pub use read::{FileReader, RangeReader};
pub use recompress::{
    ColdPacks, DEFAULT_LEVEL as RECOMPRESS_LEVEL, NoRoom, RecompressBatch, RecompressCounters,
    RecompressOptions,
};
pub use recover::{RestoreReport, list_remote_backups, restore_from_remote};
pub use retention::{
    MAX_KEEP_DAYS, MAX_KEEP_VERSIONS, RetentionPlan, RetentionPolicy, UserRetention,
};
pub use search::{IndexReport, SearchPage};
pub use shares::{
    MAX_SHARES_PER_USER, NewShare, OpenShare, SHARE_TOKEN_LEN, Share, ShareError, ShareKind,
    ShareRecord, looks_like_share_token, share_token_hash,
};
pub use staging::{KeyedLocks, account_of, new_upload_id, upload_dir};
pub use stats::StoreStats;
pub use store::{DEFAULT_CHUNK_CACHE, DEFAULT_DELTA, DEFAULT_RESERVE, Store, StoreOptions};
pub use tiering::{Move, MovePlan, MoveReason, TierPolicy, TieredPolicy};
pub use time::now_ns;
pub use trash::TrashPurge;
pub use upload::Upload;
pub use user_cache::{LINKED_TTL, UNLINKED_TTL, USER_CACHE_ENTRIES};
pub use write::{FileWriter, PreparedWrite, WriteOptions, WriteTarget};

//! Plain records passed across the [`crate::MetaStore`] traits.

use crate::ObjectLock;
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, HomeId, NodeId, PackId, TrashId, VersionNum};
use std::collections::BTreeMap;

/// Row id of a chunk in the index (compact reference used in extent lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkRow(pub i64);

/// A home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeRecord {
    /// Its id.
    pub id: HomeId,
    /// Its name.
    pub name: String,
    /// Its root folder.
    pub root: NodeId,
}

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A folder.
    Dir,
    /// A file.
    File,
}

/// A node with its head version (files).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    /// Stable id (survives renames; a file id for sync clients).
    pub id: NodeId,
    /// Home.
    pub home: HomeId,
    /// Enclosing folder (`None` for a root or a trashed subtree top).
    pub parent: Option<NodeId>,
    /// Name in its folder.
    pub name: String,
    /// File or folder.
    pub kind: NodeKind,
    /// Folder mtime (files: see `head`).
    pub mtime_ns: i64,
    /// Newest version of a file.
    pub head: Option<VersionRecord>,
}

/// Content type and user metadata of a version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAttrs {
    /// MIME type.
    pub content_type: Option<String>,
    /// User key/value metadata.
    pub user: BTreeMap<String, String>,
}

/// One version of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// File.
    pub node: NodeId,
    /// 1, 2, 3… oldest first.
    pub num: VersionNum,
    /// Bytes.
    pub size: u64,
    /// Modification time (settable by clients).
    pub mtime_ns: i64,
    /// When this version was committed.
    pub created_ns: i64,
    /// BLAKE3 of the content.
    pub hash: ContentHash,
    /// Content type and user metadata.
    pub attrs: FileAttrs,
    /// Who made it: the account's name, or `share:<id>` for an upload through a file-drop
    /// link (`None` for versions written before authors were recorded).
    pub author: Option<String>,
    /// Its object lock (none by default; schema 18).
    pub lock: ObjectLock,
}

/// A chunk in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRecord {
    /// Row.
    pub row: ChunkRow,
    /// Content id.
    pub id: ChunkId,
    /// Plaintext length.
    pub raw_len: u32,
    /// Codec tag of the stored frame.
    pub codec: u8,
    /// Where the frame is.
    pub loc: BlobLocation,
    /// References: one per version extent naming it, plus one per delta chunk whose base
    /// it is (so a base outlives every delta that needs it).
    pub refs: i64,
    /// For a delta chunk (codec 3), the row of its base chunk — which is never itself a
    /// delta (depth 1).
    pub base: Option<ChunkRow>,
}

/// A chunk's resemblance sketch: a few super-features, each a hash of content-defined
/// samples. Two chunks sharing a super-feature are likely similar (see
/// `docs/design/delta.md`). Only chunks stored whole carry one (only they can be bases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sketch(pub [u64; SKETCH_FEATURES]);

/// Super-features in a [`Sketch`].
pub const SKETCH_FEATURES: usize = 3;

/// A chunk written by a commit (not yet in the index).
#[derive(Debug, Clone, Copy)]
pub struct NewChunk {
    /// Content id.
    pub id: ChunkId,
    /// Plaintext length.
    pub raw_len: u32,
    /// Codec tag.
    pub codec: u8,
    /// Where it was appended.
    pub loc: BlobLocation,
    /// For a delta chunk: the content id of its base (a committed chunk stored whole, which
    /// the writer keeps pinned until the commit). The commit adds a reference to it.
    pub base: Option<ChunkId>,
    /// For a delta chunk: the frame length it would have had stored whole (what the delta
    /// saved is `whole_len - loc.len`); 0 otherwise.
    pub whole_len: u32,
    /// For a chunk stored whole: its resemblance sketch, indexed for base lookups.
    pub sketch: Option<Sketch>,
}

/// What to do with an existing destination: move it to the trash under this path.
#[derive(Debug, Clone)]
pub struct Displace {
    /// Path of the destination, recorded in its trash entry.
    pub path: String,
    /// Time of the deletion.
    pub now_ns: i64,
}

/// A new version to commit.
#[derive(Debug, Clone)]
pub struct CommitRequest<'a> {
    /// What the file's current version must be for the commit to happen (conditional
    /// writes); checked inside the transaction.
    pub expect: Option<Expect>,
    /// Folder of the file.
    pub parent: NodeId,
    /// File name.
    pub name: &'a str,
    /// The file's path in its home (`/a/b.txt`): a new file at a path whose deleted files
    /// are in the trash numbers its versions on from theirs, so a path's version numbers
    /// never repeat while they are kept.
    pub path: &'a str,
    /// Chunk ids in file order with their plaintext lengths.
    pub extents: &'a [(ChunkId, u32)],
    /// Chunks this write appended (others are deduplicated against the index).
    pub new_chunks: &'a [NewChunk],
    /// Content length.
    pub size: u64,
    /// BLAKE3 of the content.
    pub hash: ContentHash,
    /// Modification time.
    pub mtime_ns: i64,
    /// Commit time.
    pub now_ns: i64,
    /// Content type and user metadata.
    pub attrs: FileAttrs,
    /// Who makes the version (see [`VersionRecord::author`]).
    pub author: Option<&'a str>,
    /// The object lock the new version starts with (none by default).
    pub lock: ObjectLock,
}

/// A trash entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashRecord {
    /// Entry id.
    pub id: TrashId,
    /// Home.
    pub home: HomeId,
    /// Top node of the deleted subtree.
    pub node: NodeId,
    /// Path it had.
    pub path: String,
    /// Deletion time.
    pub deleted_ns: i64,
    /// File or folder.
    pub kind: NodeKind,
}

/// Live bytes in one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackUsage {
    /// Pack.
    pub pack: PackId,
    /// Frames still indexed.
    pub chunks: u64,
    /// Their bytes (frames only).
    pub live_bytes: u64,
}

/// One version as seen by fsck.
#[derive(Debug, Clone)]
pub struct VersionScan {
    /// Its record.
    pub version: VersionRecord,
    /// Decoded extents, or why they do not decode.
    pub extents: Result<Vec<Extent>, String>,
}

/// What a home's quota counts (a store-wide setting, see `docs/design/quota.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuotaCounts {
    /// The current content of live files (like Nextcloud and Seafile): old versions and
    /// the trash are free, bounded by retention and trash expiry instead.
    #[default]
    Current,
    /// Every version of every file, trashed ones included (like Synology, whose recycle
    /// bin counts, or Google Drive): what the home keeps, as logical bytes.
    All,
}

impl QuotaCounts {
    /// The store-wide setting that holds it.
    pub const SETTING: &'static str = "quota_counts";

    /// The setting's name in configuration and in the metadata (`current`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaCounts::Current => "current",
            QuotaCounts::All => "all",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(s: &str) -> Option<QuotaCounts> {
        match s {
            "current" => Some(QuotaCounts::Current),
            "all" => Some(QuotaCounts::All),
            _ => None,
        }
    }
}

/// A home's usage counters (kept in the same transaction as every change, so reading
/// them is O(1)) and its owner's quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HomeUsage {
    /// Logical bytes of the head versions of the live files.
    pub current_bytes: u64,
    /// Logical bytes of every version of every file of the home, trashed ones included.
    pub all_bytes: u64,
    /// The quota of the account of the same name; `None` is unlimited.
    pub quota: Option<u64>,
    /// Which counter the quota applies to.
    pub counts: QuotaCounts,
}

impl HomeUsage {
    /// The bytes the quota counts.
    pub fn used(&self) -> u64 {
        match self.counts {
            QuotaCounts::Current => self.current_bytes,
            QuotaCounts::All => self.all_bytes,
        }
    }

    /// Bytes that may still be added (`None`: unlimited).
    pub fn room(&self) -> Option<u64> {
        self.quota.map(|q| q.saturating_sub(self.used()))
    }
}

/// Totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaStats {
    /// Live files.
    pub files: u64,
    /// Live folders (roots excluded).
    pub dirs: u64,
    /// Versions of all files, live and trashed.
    pub versions: u64,
    /// Sum of all versions' sizes.
    pub logical_bytes: u64,
    /// Sum of head versions' sizes of live files.
    pub current_bytes: u64,
    /// Distinct chunks.
    pub chunks: u64,
    /// Their plaintext bytes.
    pub chunk_raw_bytes: u64,
    /// Their stored frame bytes.
    pub chunk_stored_bytes: u64,
    /// Chunks stored as a delta against a base.
    pub delta_chunks: u64,
    /// Stored frame bytes of the delta chunks.
    pub delta_stored_bytes: u64,
    /// What the delta chunks would take stored whole (compressed alone).
    pub delta_whole_bytes: u64,
    /// Trash entries.
    pub trash_entries: u64,
}

/// A user account (the password is a PHC string: never the password itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name (also the name of the user's home).
    pub name: String,
    /// Password hash in PHC format (argon2id).
    pub password: String,
    /// `admin`, `user` or `readonly`.
    pub role: String,
    /// Byte quota; `None` is unlimited.
    pub quota: Option<u64>,
    /// A disabled user cannot sign in.
    pub disabled: bool,
    /// Creation time.
    pub created_ns: i64,
    /// Retention of old versions in this user's home: keep the newest N. `None` follows
    /// the server's rule, `Some(0)` turns the rule off for this user (schema 8).
    pub keep_versions: Option<u32>,
    /// Retention: keep versions younger than D days. `None` follows the server's rule,
    /// `Some(0)` turns the rule off for this user (schema 8).
    pub keep_days: Option<u32>,
    /// Raised by the database each time the account is disabled (schema 11); never written
    /// by `create_user`/`update_user`. Sessions of another epoch are over.
    pub sessions_epoch: u64,
}

/// A dead property (WebDAV PROPPATCH): namespace, name, XML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProp {
    /// XML namespace URI.
    pub ns: String,
    /// XML prefix the client used.
    pub prefix: String,
    /// Local name.
    pub name: String,
    /// The property element's XML, as sent.
    pub value: Vec<u8>,
}

/// A WebDAV lock as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    /// Opaque lock token (`urn:uuid:…`).
    pub token: String,
    /// Lock space: the user whose home the path is in.
    pub space: String,
    /// Locked path inside the home, decoded, `/`-separated, without trailing `/`.
    pub path: String,
    /// The path as the client addressed it (URL-encoded, with the door's prefix).
    pub href: String,
    /// Who took it.
    pub principal: Option<String>,
    /// The client's `<owner>` XML.
    pub owner: Option<Vec<u8>>,
    /// Shared (else exclusive).
    pub shared: bool,
    /// Depth infinity (else depth 0).
    pub deep: bool,
    /// Requested timeout; `None` is infinite.
    pub timeout_ns: Option<i64>,
    /// When it expires; `None` never.
    pub expires_ns: Option<i64>,
    /// When it was taken.
    pub created_ns: i64,
}

/// An S3 access key of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Access key id (public).
    pub access_key: String,
    /// Secret access key (SigV4 needs it in clear).
    pub secret: String,
    /// Owner.
    pub user: String,
    /// Creation time.
    pub created_ns: i64,
    /// A revoked key is refused.
    pub revoked: bool,
    /// What the owner called it (e.g. "laptop restic"), if anything.
    pub name: Option<String>,
    /// Signs in with the read-only role whatever the owner's role.
    pub read_only: bool,
}

/// An app password (see [`crate::AppPasswords`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordRecord {
    /// Public id (for listing and revoking).
    pub id: String,
    /// Owner.
    pub user: String,
    /// What the owner called it.
    pub name: String,
    /// BLAKE3 of the secret (the secret itself is never stored).
    pub hash: [u8; 32],
    /// Signs in with the read-only role whatever the owner's role.
    pub read_only: bool,
    /// Creation time.
    pub created_ns: i64,
    /// Last use, if any (recorded with a coarse resolution).
    pub last_used_ns: Option<i64>,
}

/// What a share link lets its recipient do (see [`crate::Shares`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareKind {
    /// Read (download a file; list, download and zip a folder).
    Read,
    /// Upload-only "file drop" into a folder: never list or read.
    Drop,
}

impl ShareKind {
    /// The stored name: `read` or `drop`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ShareKind::Read => "read",
            ShareKind::Drop => "drop",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<ShareKind> {
        match s {
            "read" => Some(ShareKind::Read),
            "drop" => Some(ShareKind::Drop),
            _ => None,
        }
    }
}

/// A share link (see [`crate::Shares`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// Public id (for listing and revoking; not the token).
    pub id: String,
    /// The account that made it; the node is in its home.
    pub owner: String,
    /// What it points at (followed through renames).
    pub node: NodeId,
    /// Read or drop.
    pub kind: ShareKind,
    /// BLAKE3 of the link's token (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// Argon2id PHC string of the password, when there is one.
    pub password: Option<String>,
    /// When the link stops working, ns since the epoch.
    pub expires_ns: Option<i64>,
    /// How many downloads the link gives at most.
    pub max_downloads: Option<u64>,
    /// Downloads given so far.
    pub downloads: u64,
    /// Creation time.
    pub created_ns: i64,
}

use crate::Extent;

/// A conditional write's expectation of the file's current version, checked atomically
/// with the commit (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The file must not exist.
    Absent,
    /// The file's current version must be this one.
    Head(VersionNum),
}

/// One entry of the audit log: a change, or a refused sign-in / permission, at any door.
/// Never holds a password, a token or a secret key; the path is the request path without
/// its query string (presigned URLs carry signatures there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id, increasing with time (0 in a record not yet stored).
    pub id: i64,
    /// When the request was answered.
    pub time_ns: i64,
    /// The user, when known (for a refused sign-in: the name that was tried).
    pub user: Option<String>,
    /// `webdav`, `s3`, `rest`, `ops` or `other`.
    pub door: String,
    /// `write` or `auth_failure`.
    pub kind: String,
    /// The client's address.
    pub client: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path (as sent, percent-encoded; no query string).
    pub path: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Destination of a move or copy.
    pub destination: Option<String>,
    /// The S3 access key id the request was signed with.
    pub access_key: Option<String>,
}

/// A page request over the audit log: newest first, every filter optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this user's entries.
    pub user: Option<String>,
    /// Only this door's entries.
    pub door: Option<String>,
    /// Only entries at or after this time.
    pub since_ns: Option<i64>,
    /// Only entries before this time.
    pub until_ns: Option<i64>,
    /// Only entries older than this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    /// At most this many entries.
    pub limit: usize,
}

/// The order of a sorted folder listing (see `Namespace::list_sorted`); ties are broken by
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKey {
    /// Bytewise by name.
    Name,
    /// By the head version's size (folders count as 0).
    Size,
    /// By modification time (the head version's, or the folder's).
    Mtime,
}

/// What a name search looks for (see `Namespace::search`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Substring of the name, not empty; ASCII letters match either case, every other
    /// character only itself (SQL `LIKE` semantics).
    pub needle: String,
    /// Only files or only folders.
    pub kind: Option<NodeKind>,
    /// Files of at least this many bytes (excludes folders).
    pub min_size: Option<u64>,
    /// Files of at most this many bytes (excludes folders).
    pub max_size: Option<u64>,
    /// Modified at or after (ns).
    pub modified_after: Option<i64>,
    /// Modified before (ns).
    pub modified_before: Option<i64>,
}

/// Where the name index stands (see [`crate::NameIndex`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameIndexStatus {
    /// Every node with an id up to this one is in the index (renamed ones once their
    /// re-indexing is done): the watermark. Ids are never reused.
    pub indexed_to: NodeId,
    /// Nodes created after the watermark, not indexed yet (search scans them).
    pub unindexed: u64,
    /// Renamed nodes waiting to be re-indexed (search scans them).
    pub pending: u64,
}

impl NameIndexStatus {
    /// Nothing is waiting: every search of 3+ characters is an index lookup.
    pub fn is_current(&self) -> bool {
        self.unindexed == 0 && self.pending == 0
    }
}

/// What one step of the name indexer did (one short write transaction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStep {
    /// Names of new nodes added (the watermark moved past them).
    pub indexed: u64,
    /// Renamed nodes whose entry was replaced (or dropped, when the node is gone).
    pub reindexed: u64,
    /// Work may remain: the step stopped at its batch size.
    pub more: bool,
}

/// What one pruning step of the name index did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStep {
    /// Index entries looked at.
    pub checked: u64,
    /// Entries of nodes that no longer exist, dropped.
    pub dropped: u64,
    /// Where the next step starts; `None` once the end of the index was reached.
    pub next: Option<NodeId>,
}

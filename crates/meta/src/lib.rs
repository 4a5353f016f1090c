//! Metadata for Silent-NAS: the namespace (homes, folders, files), versions, the chunk
//! index with reference counts, and the trash — behind traits, implemented by
//! [`SqliteMeta`] (embedded) and, with the cargo feature `postgres`, by `PgMeta`
//! (PostgreSQL, for cluster mode: `docs/design/postgres.md`).
//!
//! [`MetaStore`] is the union of narrow traits, one per concern: [`Namespace`],
//! [`NameIndex`], [`Versions`], [`ChunkIndex`], [`TrashStore`], [`Users`], [`Props`],
//! [`Locks`], [`AuditTrail`], [`Shares`]. Every method is one ACID
//! transaction: when it returns `Ok`, its effect is durable (SQLite: WAL with
//! `synchronous=FULL`). This crate is the only one that names the database.
//! The schema is documented in `docs/design/metadata-schema.md`.
//!
//! ```
//! use nas_meta::{Namespace, SqliteMeta};
//! let dir = tempfile::tempdir().unwrap();
//! let meta = SqliteMeta::open(&dir.path().join("meta.sqlite")).unwrap();
//! let home = meta.create_home("alice", "alice", 0).unwrap();
//! let docs = meta.mkdir(home.root, "docs", 0).unwrap();
//! assert_eq!(meta.child(home.root, "docs").unwrap().unwrap().id, docs.id);
//! ```

mod columns;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod extents;
mod lock;
#[cfg(feature = "postgres")]
mod postgres;
mod recode;
mod records;
mod shared;
mod sqlite;

pub use error::{MetaError, MetaResult};
pub use extents::{Extent, decode_extents, encode_extents};
pub use lock::{LockChange, ObjectLock, Retention, RetentionMode};
#[cfg(feature = "postgres")]
pub use postgres::PgMeta;
pub use recode::Recode;
pub use records::*;
pub use shared::{
    AdvisoryLocks, ClusterNode, Document, Documents, FailureCount, FailureCounts, FailureKey,
    HeldLock, NodeRegistry,
};
pub use sqlite::{SCHEMA_VERSION, SqliteMeta};

use nas_types::{ChunkId, ContentHash, HomeId, NodeId, PackId, TrashId, VersionNum};

/// The node reached from folder `from` through the (non-empty) `names`, each looked up
/// with `child`; `None` when one is missing or a node on the way is not a folder. The one
/// walk behind every [`Namespace::walk`].
pub(crate) fn walk_names(
    from: NodeId,
    names: &[&str],
    mut child: impl FnMut(NodeId, &str) -> MetaResult<Option<NodeRecord>>,
) -> MetaResult<Option<NodeRecord>> {
    let Some((last, dirs)) = names.split_last() else {
        return Ok(None);
    };
    let mut parent = from;
    for name in dirs {
        match child(parent, name)? {
            Some(n) if n.kind == NodeKind::Dir => parent = n.id,
            _ => return Ok(None), // missing, or a file in the middle of the path
        }
    }
    child(parent, last)
}

/// Homes, folders and files (by node id; paths are resolved by the engine).
pub trait Namespace {
    /// Returns the home called `name`, creating it (with an empty root folder) if needed;
    /// a new home counts against the quota of the account called `account`.
    fn create_home(&self, name: &str, account: &str, now_ns: i64) -> MetaResult<HomeRecord>;
    /// The home called `name`.
    fn home(&self, name: &str) -> MetaResult<Option<HomeRecord>>;
    /// Every home.
    fn homes(&self) -> MetaResult<Vec<HomeRecord>>;
    /// A node by id (live or in the trash).
    fn node(&self, id: NodeId) -> MetaResult<Option<NodeRecord>>;
    /// The child of folder `parent` called `name`.
    fn child(&self, parent: NodeId, name: &str) -> MetaResult<Option<NodeRecord>>;
    /// The node reached from folder `from` through `names` (each a child of the one
    /// before); `None` when a name is missing or a node on the way is not a folder. One
    /// consistent view: a rename running at the same time is seen wholly or not at all.
    fn walk(&self, from: NodeId, names: &[&str]) -> MetaResult<Option<NodeRecord>> {
        if names.is_empty() {
            return self.node(from);
        }
        walk_names(from, names, |parent, name| self.child(parent, name))
    }
    /// What a write to a path needs: the node reached from folder `from` through all of
    /// the (non-empty) `names` but the last — folders on the way, the last of them of any
    /// kind — and, when that is a folder, its child called the last name. `None` when a
    /// name before the last is missing or a node before the last but one is not a folder.
    /// (On PostgreSQL one statement; here a walk, then a child lookup.)
    fn walk_parent(
        &self,
        from: NodeId,
        names: &[&str],
    ) -> MetaResult<Option<(NodeRecord, Option<NodeRecord>)>> {
        let Some((last, dirs)) = names.split_last() else {
            return Err(MetaError::Invalid("a walk to the parent of no name".into()));
        };
        let Some(parent) = self.walk(from, dirs)? else {
            return Ok(None);
        };
        let child = match parent.kind {
            NodeKind::Dir => self.child(parent.id, last)?,
            NodeKind::File => None,
        };
        Ok(Some((parent, child)))
    }
    /// Up to `limit` children of `parent` with names sorted bytewise after `after`.
    fn list(
        &self,
        parent: NodeId,
        after: Option<&str>,
        limit: usize,
    ) -> MetaResult<Vec<NodeRecord>>;
    /// Up to `limit` children of `parent` ordered by `key`, then name, ascending or (with
    /// `desc`) descending, strictly after `after` = (key value, name) in that order — a
    /// keyset cursor, so every child present for a whole walk is returned exactly once.
    /// The key value is ignored for [`ListKey::Name`].
    fn list_sorted(
        &self,
        parent: NodeId,
        key: ListKey,
        desc: bool,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> MetaResult<Vec<NodeRecord>>;
    /// Creates folder `parent/name`.
    fn mkdir(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord>;
    /// As [`mkdir`](Namespace::mkdir), without waiting for the disk: the folder becomes
    /// durable with the next durable commit of this store, which writes after it (a crash
    /// before that may lose the folder, never anything committed after it). For bulk
    /// writers (import) that create many folders and then commit files into them.
    fn mkdir_deferred(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord> {
        self.mkdir(parent, name, now_ns)
    }
    /// Makes every change made without waiting for the disk ([`mkdir_deferred`]) durable
    /// now (any later durable commit does it too).
    ///
    /// [`mkdir_deferred`]: Namespace::mkdir_deferred
    fn sync_deferred(&self) -> MetaResult<()> {
        Ok(())
    }
    /// Moves `node` to `new_parent/new_name` (O(1) for folders). If the destination exists
    /// it is moved to the trash when `displace` is given (as its path), else `Exists`.
    fn rename(
        &self,
        node: NodeId,
        new_parent: NodeId,
        new_name: &str,
        displace: Option<&Displace>,
    ) -> MetaResult<NodeRecord>;
    /// Copies `node` (a file's head version, or a whole folder tree) to `new_parent/new_name`;
    /// chunks are shared, not copied. Every version the copy makes starts with `lock` (the
    /// destination's default retention: the caller decides; the source's lock never travels).
    fn copy(
        &self,
        node: NodeId,
        new_parent: NodeId,
        new_name: &str,
        displace: Option<&Displace>,
        now_ns: i64,
        lock: ObjectLock,
    ) -> MetaResult<NodeRecord>;
    /// Sets a folder's mtime or a file's head version's mtime.
    fn set_mtime(&self, node: NodeId, mtime_ns: i64) -> MetaResult<()>;
    /// Sets the head version's content type and user metadata.
    fn set_attrs(&self, node: NodeId, attrs: &FileAttrs) -> MetaResult<()>;
    /// The path of a node inside its home, or inside its trash entry (`None` if gone).
    fn node_path(&self, node: NodeId) -> MetaResult<Option<String>>;
    /// The usage counters a home's quota checks and the quota of its account (O(1): the
    /// counters are kept by every transaction that changes them). A user's home counts
    /// alone; a staging home counts with every home of its account. Every transaction that raises the counter
    /// the quota counts above the quota fails with [`MetaError::QuotaExceeded`] and changes
    /// nothing; one that lowers it always passes, even over a quota lowered since.
    fn usage(&self, home: HomeId) -> MetaResult<HomeUsage>;
    /// Every home whose usage counters differ from a recount of what it stores (one
    /// consistent snapshot, so it may run beside writers), as messages; empty when all agree.
    fn check_usage(&self) -> MetaResult<Vec<String>>;
    /// Sum of the current sizes of every file below `node`.
    fn tree_bytes(&self, node: NodeId) -> MetaResult<u64>;
    /// Whether the node hangs off its home's root (not trashed, not detached).
    fn is_live(&self, node: NodeId) -> MetaResult<bool>;
    /// Name search in home `home`: up to `limit` nodes (not the root, not the top of a
    /// trashed subtree) whose name contains `filter.needle` (ASCII case-insensitively, as
    /// SQL `LIKE`) and that match the filter, with ids above `after`, ascending. A needle
    /// of 3+ characters is looked up in the [`NameIndex`] (plus a scan of what it does
    /// not cover yet); a shorter one scans names in id order until `limit` matches. Either
    /// way the result is exactly what the scan returns. Nodes below a trashed folder are
    /// returned too: the caller drops them (their path says so).
    fn search(
        &self,
        home: HomeId,
        filter: &SearchFilter,
        after: Option<NodeId>,
        limit: usize,
    ) -> MetaResult<Vec<NodeId>>;
}

/// The name index behind [`Namespace::search`], maintained off the commit path: creating
/// a node does not touch it, a rename queues the node (a trigger), and a background
/// indexer calls these methods in short transactions of their own. Search is exact
/// whether or not the indexer has caught up; the index only makes it fast.
pub trait NameIndex {
    /// Where the index stands.
    fn name_index_status(&self) -> MetaResult<NameIndexStatus>;
    /// One write transaction: re-indexes up to `batch` renamed nodes, then adds the names
    /// of the oldest nodes created after the watermark (up to `batch` less the renamed
    /// ones) and moves the watermark past them.
    fn index_names(&self, batch: usize) -> MetaResult<IndexStep>;
    /// Looks at up to `limit` index entries after node `after` and drops those of nodes
    /// that no longer exist (purged). Writes only when it has something to drop.
    fn prune_name_index(&self, after: NodeId, limit: usize) -> MetaResult<PruneStep>;
}

/// File versions.
pub trait Versions {
    /// Commits a new version of `parent/name` (creating the file), atomically registering
    /// new chunks and taking references on every chunk the version uses.
    fn commit_version(&self, req: &CommitRequest<'_>) -> MetaResult<VersionRecord> {
        let mut v = self.commit_versions(std::slice::from_ref(req))?;
        v.pop()
            .ok_or_else(|| MetaError::Corrupt("empty commit".into()))
    }
    /// Commits several versions in one transaction: all or none (group commit).
    fn commit_versions(&self, reqs: &[CommitRequest<'_>]) -> MetaResult<Vec<VersionRecord>>;
    /// All versions of a file, oldest first.
    fn versions(&self, node: NodeId) -> MetaResult<Vec<VersionRecord>>;
    /// One version (the head when `num` is `None`) with its extent list.
    fn version(
        &self,
        node: NodeId,
        num: Option<VersionNum>,
    ) -> MetaResult<Option<(VersionRecord, Vec<Extent>)>>;
    /// Makes version `num` the newest, as a new version sharing its chunks, starting with
    /// `lock` (the old version's lock does not travel). `author` is who restores it.
    fn restore_version(
        &self,
        node: NodeId,
        num: VersionNum,
        now_ns: i64,
        author: Option<&str>,
        lock: ObjectLock,
    ) -> MetaResult<VersionRecord>;
    /// Deletes one version, releasing its chunk references. The only version of a file
    /// cannot be deleted (`Invalid`) — except of a file a trash entry holds: the entry
    /// stays, holding no version (S3's delete marker with nothing behind it). A version
    /// under object lock cannot be deleted either (`Retained`).
    fn delete_version(&self, node: NodeId, num: VersionNum) -> MetaResult<()>;
    /// [`Versions::delete_version`], passing over a running governance retention (cleared
    /// in the same transaction); a compliance retention or a legal hold still refuse.
    fn delete_version_bypassing_governance(&self, node: NodeId, num: VersionNum) -> MetaResult<()>;
    /// Makes `change` to the object lock of version `num` if [`ObjectLock::may_become`]
    /// allows it at `now_ns` (`Retained` otherwise), in one transaction; returns the
    /// version as changed.
    fn set_version_lock(
        &self,
        node: NodeId,
        num: VersionNum,
        change: LockChange,
        now_ns: i64,
        bypass_governance: bool,
    ) -> MetaResult<VersionRecord>;
    /// Replaces the content type and user metadata of version `num` in place: no new
    /// version, content untouched. `NotFound` if the file has no such version.
    fn set_version_attrs(&self, node: NodeId, num: VersionNum, attrs: &FileAttrs)
    -> MetaResult<()>;
    /// Every file node with more than `keep` versions, with the home it is in (for
    /// retention), by node id.
    fn files_with_versions_over(&self, keep: usize) -> MetaResult<Vec<(NodeId, HomeId)>>;
    /// A version of size `size` whose content hash is `hash`, among the files of home
    /// `home` only (live files first, then trashed ones; newest first), with its extent
    /// list. Indexed by hash (schema 6).
    fn find_version_by_hash(
        &self,
        home: HomeId,
        hash: &ContentHash,
        size: u64,
    ) -> MetaResult<Option<(VersionRecord, Vec<Extent>)>>;
    /// Visits every version of every file (live and trashed), for fsck.
    fn for_each_version(&self, f: &mut dyn FnMut(VersionScan) -> MetaResult<()>) -> MetaResult<()>;
}

/// The chunk index: where each chunk lives and how many versions reference it.
pub trait ChunkIndex {
    /// Looks a chunk up by content id.
    fn find_chunk(&self, id: &ChunkId) -> MetaResult<Option<ChunkRecord>>;
    /// Whether each chunk is in the index, in the order given: the write pipeline's dedup
    /// lookup, for many small writes or a large file's new chunks 64 at a time (one read
    /// transaction or statement for all, not one per chunk).
    fn chunks_present(&self, ids: &[ChunkId]) -> MetaResult<Vec<bool>> {
        ids.iter()
            .map(|id| Ok(self.find_chunk(id)?.is_some()))
            .collect()
    }
    /// Looks a chunk up by row.
    fn chunk(&self, row: ChunkRow) -> MetaResult<Option<ChunkRecord>>;
    /// The content ids of chunk rows, in the order given (`None` for a row that is gone).
    fn chunk_ids(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkId>>> {
        rows.iter()
            .map(|r| Ok(self.chunk(*r)?.map(|c| c.id)))
            .collect()
    }
    /// Chunks by row, in the order given (`None` for a row that is gone): the read path
    /// looks up a window of a file's extents at once, one query instead of one per chunk.
    fn chunks(&self, rows: &[ChunkRow]) -> MetaResult<Vec<Option<ChunkRecord>>> {
        rows.iter().map(|r| self.chunk(*r)).collect()
    }
    /// Up to `limit` chunks with no reference, rows after `after`.
    fn unreferenced_chunks(&self, after: ChunkRow, limit: usize) -> MetaResult<Vec<ChunkRecord>>;
    /// Deletes each listed chunk that still has no reference, has had none for longer than
    /// `grace_ns` (by the database's clock; 0: no grace) and for which `keep` is false, in
    /// one transaction (run while holding the engine's pin lock). Returns the deleted ones.
    fn delete_unreferenced(
        &self,
        rows: &[ChunkRow],
        keep: &dyn Fn(&ChunkId) -> bool,
        grace_ns: i64,
    ) -> MetaResult<Vec<ChunkRecord>>;
    /// Live bytes and chunk count per pack.
    fn pack_usage(&self) -> MetaResult<Vec<PackUsage>>;
    /// Every chunk stored in `pack`.
    fn chunks_in_pack(&self, pack: PackId) -> MetaResult<Vec<ChunkRecord>>;
    /// Points chunks at new locations (after compaction copied them), atomically.
    fn relocate(&self, moves: &[(ChunkRow, nas_blob::BlobLocation)]) -> MetaResult<()>;
    /// Visits every chunk, for fsck and scrub.
    fn for_each_chunk(&self, f: &mut dyn FnMut(ChunkRecord) -> MetaResult<()>) -> MetaResult<()>;
    /// Up to `limit` chunks stored whole (candidates for a delta's base) whose sketch shares
    /// at least one super-feature with `sketch`, those sharing the most first.
    fn similar_chunks(&self, sketch: &Sketch, limit: usize) -> MetaResult<Vec<ChunkRecord>>;
    /// The sketch indexed for the chunk at `row` (`None`: it has none — a delta, a chunk
    /// written without delta, or too short to sketch).
    fn chunk_sketch(&self, row: ChunkRow) -> MetaResult<Option<Sketch>>;
    /// Totals for `stats`.
    fn stats(&self) -> MetaResult<MetaStats>;
    /// Up to `limit` chunks with codec tag `codec` and rows after `after`, in row order.
    fn chunks_with_codec(
        &self,
        codec: u8,
        after: ChunkRow,
        limit: usize,
    ) -> MetaResult<Vec<ChunkRecord>>;
    /// How many chunks have frames with codec tag `codec`.
    fn count_chunks_with_codec(&self, codec: u8) -> MetaResult<u64>;
    /// Points chunks at re-encoded frames atomically; returns the rows changed. Skipped
    /// (the frame is dead space): a row gone or no longer at `old`; a delta whose chunk is
    /// `busy` (a writer's), is some delta's base, or whose base is gone or a delta (depth
    /// 1). A delta's recode adds a reference to its base and drops the chunk's sketch.
    fn recode(
        &self,
        recodes: &[Recode],
        busy: &dyn Fn(&ChunkId) -> bool,
    ) -> MetaResult<Vec<ChunkRow>>;
    /// Indexes sketches of chunks stored whole (rows gone, deltas, sketched: left alone).
    fn add_sketches(&self, sketches: &[(ChunkRow, Sketch)]) -> MetaResult<()>;
    /// Whether some delta chunk names `row` as its base.
    fn is_base(&self, row: ChunkRow) -> MetaResult<bool>;
    /// Each pack's recorded last read, as a day number (days since the epoch).
    fn pack_read_days(&self) -> MetaResult<Vec<(PackId, i64)>>;
    /// Records packs' last read days in one batch: each becomes the larger of the stored
    /// and the given day.
    fn record_pack_read_days(&self, days: &[(PackId, i64)]) -> MetaResult<()>;
    /// Forgets the read days of packs that no longer exist.
    fn forget_pack_read_days(&self, packs: &[PackId]) -> MetaResult<()>;
}

/// The trash: deleted subtrees, restorable until purged.
pub trait TrashStore {
    /// Detaches `node` into a new trash entry remembering `path`.
    fn trash(&self, node: NodeId, path: &str, now_ns: i64) -> MetaResult<TrashRecord>;
    /// Entries of a home, newest first.
    fn trash_list(&self, home: HomeId) -> MetaResult<Vec<TrashRecord>>;
    /// One entry.
    fn trash_entry(&self, id: TrashId) -> MetaResult<Option<TrashRecord>>;
    /// Re-attaches an entry at `parent/name` (`Invalid` for a file entry holding no
    /// version: see [`Versions::delete_version`]).
    fn trash_restore(&self, id: TrashId, parent: NodeId, name: &str) -> MetaResult<NodeRecord>;
    /// Deletes an entry's subtree for good, releasing chunk references.
    fn trash_purge(&self, id: TrashId) -> MetaResult<()>;
    /// Moves every version of the trashed file `id` into file `into` (of the same home),
    /// as its oldest versions, then removes the emptied entry: a file deleted from a path
    /// and the one there after it become one history (S3: removing a delete marker that
    /// is not the latest). `Invalid` unless each version's number is below every one of
    /// `into`'s (the numbering of one path's history); nothing changes then.
    fn trash_merge(&self, id: TrashId, into: NodeId) -> MetaResult<()>;
    /// Entries (all homes) deleted before `before_ns`.
    fn trash_older_than(&self, before_ns: i64) -> MetaResult<Vec<TrashRecord>>;
}

/// User accounts, shared by every door.
pub trait Users {
    /// Creates a user; `Exists` if the name is taken.
    fn create_user(&self, user: &UserRecord) -> MetaResult<()>;
    /// One user.
    fn user(&self, name: &str) -> MetaResult<Option<UserRecord>>;
    /// Every user, by name.
    fn users(&self) -> MetaResult<Vec<UserRecord>>;
    /// Replaces a user's password hash, role, quota and disabled flag.
    fn update_user(&self, user: &UserRecord) -> MetaResult<()>;
    /// Deletes a user (not their home), their app passwords, and revokes their access keys
    /// (a new account of the same name inherits no credential).
    fn delete_user(&self, name: &str) -> MetaResult<()>;
    /// Stores a new access key.
    fn create_key(&self, key: &KeyRecord) -> MetaResult<()>;
    /// One access key.
    fn key(&self, access_key: &str) -> MetaResult<Option<KeyRecord>>;
    /// Keys of a user (all users with `None`).
    fn keys(&self, user: Option<&str>) -> MetaResult<Vec<KeyRecord>>;
    /// Revokes a key; false if there is no such key.
    fn revoke_key(&self, access_key: &str) -> MetaResult<bool>;
}

/// App passwords: user-created, named, revocable credentials for scripts and WebDAV/REST
/// clients. Only a hash of the secret is kept; the secret is looked up by that hash.
pub trait AppPasswords {
    /// Stores a new app password.
    fn create_app_password(&self, app: &AppPasswordRecord) -> MetaResult<()>;
    /// The app password whose secret hashes to `hash`.
    fn app_password_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<AppPasswordRecord>>;
    /// A user's app passwords, oldest first.
    fn app_passwords(&self, user: &str) -> MetaResult<Vec<AppPasswordRecord>>;
    /// Deletes one of `user`'s app passwords; false if `user` has none with that id.
    fn delete_app_password(&self, user: &str, id: &str) -> MetaResult<bool>;
    /// Records a use (at most as precise as the caller wants; see `nas-auth`).
    fn touch_app_password(&self, id: &str, now_ns: i64) -> MetaResult<()>;
}

/// Share links: a token (kept only as its BLAKE3 hash, looked up by it) giving anyone who
/// holds it read or drop access to one node of its owner's home.
pub trait Shares {
    /// Stores a new share; `Exists` if the id or the token hash is taken.
    fn create_share(&self, share: &ShareRecord) -> MetaResult<()>;
    /// The share whose token hashes to `hash`.
    fn share_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<ShareRecord>>;
    /// An owner's shares, oldest first.
    fn shares(&self, owner: &str) -> MetaResult<Vec<ShareRecord>>;
    /// Deletes one of `owner`'s shares; false if `owner` has none with that id.
    fn delete_share(&self, owner: &str, id: &str) -> MetaResult<bool>;
    /// Counts one download of share `id`, atomically, unless it has reached its
    /// `max_downloads`: true when counted, false when the limit was reached (or the share
    /// is gone).
    fn take_share_download(&self, id: &str) -> MetaResult<bool>;
}

/// One PROPPATCH operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropOp {
    /// Set a property.
    Set(DeadProp),
    /// Remove a property by (namespace, name).
    Remove(String, String),
}

/// Dead properties of nodes (they follow renames; copies copy them).
pub trait Props {
    /// Every dead property of a node.
    fn props(&self, node: NodeId) -> MetaResult<Vec<DeadProp>>;
    /// The dead properties of those of `nodes` whose folder is `parent`, in one query, as
    /// (node, property) ordered by node, then as [`props`](Props::props) orders them; ids
    /// of nodes elsewhere (or gone) are ignored. A listing's entries' properties at once.
    fn child_props(&self, parent: NodeId, nodes: &[NodeId]) -> MetaResult<Vec<(NodeId, DeadProp)>>;
    /// Whether any node has a dead property.
    fn any_props(&self) -> MetaResult<bool>;
    /// Applies set and remove operations in order, in one transaction.
    fn patch_props(&self, node: NodeId, ops: &[PropOp]) -> MetaResult<()>;
}

/// The audit log: appended in batches, kept to the newest entries, read newest first.
pub trait AuditTrail {
    /// Appends `entries` (their `id` is ignored) and deletes the oldest entries beyond the
    /// newest `keep`, in one transaction. Returns how many old entries were deleted.
    fn append_audit(&self, entries: &[AuditRecord], keep: u64) -> MetaResult<u64>;
    /// A page of entries, newest first.
    fn audit(&self, q: &AuditQuery) -> MetaResult<Vec<AuditRecord>>;
}

/// Persisted WebDAV locks. Expired locks are never returned and are deleted lazily.
pub trait Locks {
    /// Unexpired locks of a space (all spaces with `None`), oldest first.
    fn locks(&self, space: Option<&str>, now_ns: i64) -> MetaResult<Vec<LockRecord>>;
    /// Stores a new lock.
    fn insert_lock(&self, lock: &LockRecord) -> MetaResult<()>;
    /// Deletes a lock; false if there was none.
    fn delete_lock(&self, token: &str) -> MetaResult<bool>;
    /// Sets a lock's timeout and expiry; false if there is no such lock.
    fn refresh_lock(
        &self,
        token: &str,
        timeout_ns: Option<i64>,
        expires_ns: Option<i64>,
    ) -> MetaResult<bool>;
    /// Deletes the locks of a space on `path` and below.
    fn delete_locks_below(&self, space: &str, path: &str) -> MetaResult<()>;
}

/// Folders made only to hold what is put in them (the parents of an S3 key): such a
/// folder goes away with the last thing in it, so S3 never shows an empty "folder" that
/// no client made. Any other folder is explicit and stays.
pub trait ImplicitFolders {
    /// Creates folder `parent/name`, marked implicit, in one transaction.
    fn mkdir_implicit(&self, parent: NodeId, name: &str, now_ns: i64) -> MetaResult<NodeRecord>;
    /// Whether folder `node` is implicit.
    fn is_implicit(&self, node: NodeId) -> MetaResult<bool>;
    /// Marks folder `node` implicit (it goes with its last child) or explicit (it stays
    /// when emptied); a no-op when it is that already.
    fn set_implicit(&self, node: NodeId, implicit: bool) -> MetaResult<()>;
    /// Removes folder `node` for good if it is live, implicit and empty, then its parent
    /// on the same terms, and so on up, in one transaction (so a child added meanwhile
    /// keeps its folder). Returns how many folders were removed.
    fn prune_implicit(&self, node: NodeId) -> MetaResult<usize>;
}

/// Everything the engine needs from a metadata store.
pub trait MetaStore:
    Namespace
    + ImplicitFolders
    + NameIndex
    + Versions
    + ChunkIndex
    + TrashStore
    + Users
    + AppPasswords
    + Shares
    + Props
    + Locks
    + AuditTrail
    + Documents
    + FailureCounts
    + NodeRegistry
    + Send
    + Sync
{
    /// A consistent copy of the metadata at `dest` (online).
    fn backup(&self, dest: &std::path::Path) -> MetaResult<()>;
    /// Reads a store-wide setting.
    fn setting(&self, key: &str) -> MetaResult<Option<String>>;
    /// Writes a store-wide setting.
    fn set_setting(&self, key: &str, value: &str) -> MetaResult<()>;
    /// The database's own consistency check; empty when clean.
    fn integrity_check(&self) -> MetaResult<Vec<String>>;
}

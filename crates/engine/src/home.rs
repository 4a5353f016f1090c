//! [`Home`]: one tree of folders and files, and the namespace operations on it.
//!
//! Paths arrive as [`NasPath`] (already normalized and confined) and are resolved here,
//! segment by segment, to node ids; the metadata store never sees a path it must parse.
//! Reads, writes, versions, the trash and search are further `impl Home` blocks in their
//! modules.

use crate::changes::{Change, ChangeKind, of_version};
use crate::coord::Hint;
use crate::error::{EngineError, EngineResult};
use crate::implicit::DirMode;
use crate::store::Inner;
use crate::time::now_ns;
use nas_meta::{
    DeadProp, Displace, FileAttrs, HomeRecord, HomeUsage, ListKey, NodeKind, NodeRecord,
    VersionRecord,
};
use nas_types::{ContentHash, NasPath, NodeId, VersionNum};
use std::collections::HashMap;
use std::sync::Arc;

/// A file or folder as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable id (survives renames).
    pub id: NodeId,
    /// Where it is.
    pub path: NasPath,
    /// File or folder.
    pub kind: NodeKind,
    /// Bytes (0 for folders).
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Current version of a file.
    pub version: Option<VersionNum>,
    /// BLAKE3 of a file's current content.
    pub hash: Option<ContentHash>,
    /// Content type and user metadata of a file's current version.
    pub attrs: FileAttrs,
    /// Object lock of a file's current version.
    pub lock: nas_meta::ObjectLock,
}

impl Entry {
    pub(crate) fn from_node(path: NasPath, n: NodeRecord) -> Entry {
        let (size, mtime_ns, version, hash, attrs, lock) = match n.head {
            Some(v) => (
                v.size,
                v.mtime_ns,
                Some(v.num),
                Some(v.hash),
                v.attrs,
                v.lock,
            ),
            None => (
                0,
                n.mtime_ns,
                None,
                None,
                FileAttrs::default(),
                Default::default(),
            ),
        };
        Entry {
            id: n.id,
            path,
            kind: n.kind,
            size,
            mtime_ns,
            version,
            hash,
            attrs,
            lock,
        }
    }

    /// This entry's value for a sorted listing's key (see [`Home::list_sorted`]): size in
    /// bytes (0 for folders), modification time in ns, or 0 for name order.
    pub fn sort_value(&self, key: ListKey) -> i64 {
        match key {
            ListKey::Name => 0,
            ListKey::Size => i64::try_from(self.size).unwrap_or(i64::MAX),
            ListKey::Mtime => self.mtime_ns,
        }
    }

    /// The file at `path` as a version just committed there leaves it (what a stat right
    /// after the commit would say, without the lookup).
    pub fn of_version(path: NasPath, v: &VersionRecord) -> Entry {
        Entry {
            id: v.node,
            path,
            kind: NodeKind::File,
            size: v.size,
            mtime_ns: v.mtime_ns,
            version: Some(v.num),
            hash: Some(v.hash),
            attrs: v.attrs.clone(),
            lock: v.lock,
        }
    }

    /// The last path segment (empty for the root).
    pub fn name(&self) -> &str {
        self.path.name().unwrap_or("")
    }
}

/// One page of a folder listing.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Entries sorted bytewise by name.
    pub entries: Vec<Entry>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_after: Option<String>,
    /// The listed folder (for [`Home::props_of_page`]).
    pub(crate) folder: NodeId,
}

/// A handle on one home. Cheap to clone.
#[derive(Clone)]
pub struct Home {
    pub(crate) inner: Arc<Inner>,
    pub(crate) rec: HomeRecord,
}

impl Home {
    pub(crate) fn new(inner: Arc<Inner>, rec: HomeRecord) -> Home {
        Home { inner, rec }
    }

    /// The home's name.
    pub fn name(&self) -> &str {
        &self.rec.name
    }

    /// Resolves a path to its node.
    pub(crate) fn resolve(&self, path: &NasPath) -> EngineResult<NodeRecord> {
        let names: Vec<&str> = path.segments().collect();
        self.inner
            .meta
            .walk(self.rec.root, &names)?
            .ok_or_else(|| EngineError::NotFound(path.to_string()))
    }

    /// Resolves the folder that holds `path`, and `path`'s name.
    pub(crate) fn resolve_parent<'p>(
        &self,
        path: &'p NasPath,
    ) -> EngineResult<(NodeRecord, &'p str)> {
        let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
            return Err(EngineError::Conflict("the root has no parent".into()));
        };
        let p = self.resolve(&parent).map_err(|e| e.at(parent.as_str()))?;
        if p.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(parent.to_string()));
        }
        Ok((p, name))
    }

    /// Stats a path.
    pub fn stat(&self, path: &NasPath) -> EngineResult<Entry> {
        Ok(Entry::from_node(path.clone(), self.resolve(path)?))
    }

    /// Whether something exists at `path`.
    pub fn exists(&self, path: &NasPath) -> EngineResult<bool> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(EngineError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Lists up to `limit` entries of a folder with names after `after` (bytewise order).
    pub fn list(
        &self,
        path: &NasPath,
        after: Option<&str>,
        limit: usize,
    ) -> EngineResult<ListPage> {
        let dir = self.resolve(path)?;
        if dir.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(path.to_string()));
        }
        let limit = limit.clamp(1, 10_000);
        let nodes = self.inner.meta.list(dir.id, after, limit)?;
        let next_after = (nodes.len() == limit).then(|| nodes[limit - 1].name.clone());
        let mut entries = Vec::with_capacity(nodes.len());
        for n in nodes {
            let p = path.join(&n.name)?;
            entries.push(Entry::from_node(p, n));
        }
        Ok(ListPage {
            entries,
            next_after,
            folder: dir.id,
        })
    }

    /// Lists up to `limit` entries of a folder ordered by `key` then name (descending with
    /// `desc`), after the entry whose (key value, name) is `after` — see
    /// [`Entry::sort_value`] for the key value of an entry, to continue after it.
    pub fn list_sorted(
        &self,
        path: &NasPath,
        key: ListKey,
        desc: bool,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> EngineResult<Vec<Entry>> {
        let dir = self.resolve(path)?;
        if dir.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(path.to_string()));
        }
        let nodes =
            (self.inner.meta).list_sorted(dir.id, key, desc, after, limit.clamp(1, 10_000))?;
        nodes
            .into_iter()
            .map(|n| Ok(Entry::from_node(path.join(&n.name)?, n)))
            .collect()
    }

    /// Creates a folder; its parent must exist.
    pub fn mkdir(&self, path: &NasPath) -> EngineResult<Entry> {
        let (parent, name) = self.resolve_parent(path)?;
        let n = self
            .inner
            .meta
            .mkdir(parent.id, name, now_ns())
            .map_err(|e| EngineError::from(e).at(path.as_str()))?;
        self.node_changed(ChangeKind::Create, path, None, n.id, true);
        Ok(Entry::from_node(path.clone(), n))
    }

    /// Creates a folder and any missing parents; succeeds if it already exists.
    pub fn mkdir_all(&self, path: &NasPath) -> EngineResult<()> {
        self.make_dirs(path, DirMode::Now).map(drop)
    }

    /// As [`mkdir_all`](Home::mkdir_all), returning the folder, without waiting for the
    /// disk: the folders it creates become durable with this store's next commit (a crash
    /// before it may lose them, never a file committed into them, since that commit comes
    /// after). For bulk writers such as import, which create a folder, then commit files
    /// into it ([`writer_in`](Home::writer_in)).
    pub fn mkdir_all_deferred(&self, path: &NasPath) -> EngineResult<Entry> {
        Ok(Entry::from_node(
            path.clone(),
            self.make_dirs(path, DirMode::Deferred)?,
        ))
    }

    /// Makes the folders [`mkdir_all_deferred`](Home::mkdir_all_deferred) created durable
    /// now, for a caller that commits nothing after them (any commit does it too).
    pub fn sync_deferred(&self) -> EngineResult<()> {
        Ok(self.inner.meta.sync_deferred()?)
    }

    pub(crate) fn make_dirs(&self, path: &NasPath, mode: DirMode) -> EngineResult<NodeRecord> {
        let mut cur = NasPath::root();
        let mut node = self.resolve(&cur)?;
        let meta = &self.inner.meta;
        for seg in path.segments() {
            cur = cur.join(seg)?;
            let made = match meta.child(node.id, seg)? {
                Some(n) if n.kind == NodeKind::Dir => Ok(n),
                Some(_) => return Err(EngineError::NotADirectory(cur.to_string())),
                None => match mode {
                    DirMode::Now => meta.mkdir(node.id, seg, now_ns()),
                    DirMode::Deferred => meta.mkdir_deferred(node.id, seg, now_ns()),
                    DirMode::Implicit => meta.mkdir_implicit(node.id, seg, now_ns()),
                },
            };
            node = match made {
                Ok(n) => {
                    self.node_changed(ChangeKind::Create, &cur, None, n.id, true);
                    n
                }
                Err(nas_meta::MetaError::Exists(_)) => self.resolve(&cur)?,
                Err(e) => return Err(EngineError::from(e).at(cur.as_str())),
            };
        }
        Ok(node)
    }

    fn displace(&self, to: &NasPath, overwrite: bool) -> Option<Displace> {
        overwrite.then(|| Displace {
            path: to.to_string(),
            now_ns: now_ns(),
        })
    }

    /// Renames or moves a file or folder (O(1): one row changes). With `overwrite`, an
    /// existing destination goes to the trash; without it, `AlreadyExists`. Into itself,
    /// onto itself or onto a folder containing it: `Conflict` (see [`refuse_nesting`]).
    pub fn rename(&self, from: &NasPath, to: &NasPath, overwrite: bool) -> EngineResult<Entry> {
        let src = self.resolve(from)?;
        refuse_nesting("move", from, to)?;
        let (parent, name) = self.resolve_parent(to)?;
        let d = self.displace(to, overwrite);
        let n = self
            .inner
            .meta
            .rename(src.id, parent.id, name, d.as_ref())
            .map_err(|e| EngineError::from(e).at(to.as_str()))?;
        let dir = n.kind == NodeKind::Dir;
        self.node_changed(ChangeKind::Move, to, Some(from), n.id, dir);
        Ok(Entry::from_node(to.clone(), n))
    }

    /// Copies a file (its current version) or a folder tree. Chunks are shared: the cost
    /// is metadata only. Each copied file's version is new: it starts with the default
    /// retention of the bucket it lands in (`folder_lock`), never its source's lock. Into
    /// itself, onto itself or onto a folder containing it: `Conflict` (see
    /// [`refuse_nesting`]).
    pub fn copy(&self, from: &NasPath, to: &NasPath, overwrite: bool) -> EngineResult<Entry> {
        let src = self.resolve(from)?;
        refuse_nesting("copy", from, to)?;
        let (parent, name) = self.resolve_parent(to)?;
        let lock = self.lock_for_copy(from, to, src.kind == NodeKind::Dir)?;
        let d = self.displace(to, overwrite);
        let n = self
            .inner
            .meta
            .copy(src.id, parent.id, name, d.as_ref(), now_ns(), lock)
            .map_err(|e| EngineError::from(e).at(to.as_str()))?;
        match (&n.head, n.kind) {
            (Some(v), NodeKind::File) => self.changed(|home| Change {
                from: Some(from.to_string()),
                ..of_version(ChangeKind::Create, home, to.as_str(), v)
            }),
            _ => self.node_changed(ChangeKind::Create, to, Some(from), n.id, true),
        }
        Ok(Entry::from_node(to.clone(), n))
    }

    /// Sets the modification time (for sync clients).
    pub fn set_mtime(&self, path: &NasPath, mtime_ns: i64) -> EngineResult<()> {
        let n = self.resolve(path)?;
        Ok(self.inner.meta.set_mtime(n.id, mtime_ns)?)
    }

    /// Replaces a file's content type and user metadata (current version).
    pub fn set_attrs(&self, path: &NasPath, attrs: &FileAttrs) -> EngineResult<()> {
        let n = self.resolve(path)?;
        self.inner
            .meta
            .set_attrs(n.id, attrs)
            .map_err(|e| EngineError::from(e).at(path.as_str()))
    }

    /// Dead properties of a file or folder (WebDAV PROPPATCH).
    pub fn props(&self, path: &NasPath) -> EngineResult<Vec<DeadProp>> {
        self.read_props(|| {
            let props = self.inner.meta.props(self.resolve(path)?.id)?;
            let any = !props.is_empty();
            Ok((props, any))
        })
    }

    /// As [`props`](Home::props), for the file or folder a [`stat`](Home::stat) of this home
    /// returned, without resolving its path again (a door that stats, then reads the
    /// properties, in one request: one path walk instead of two).
    pub fn props_of(&self, entry: &Entry) -> EngineResult<Vec<DeadProp>> {
        self.read_props(|| {
            let props = self.inner.meta.props(entry.id)?;
            let any = !props.is_empty();
            Ok((props, any))
        })
    }

    /// The dead properties of every entry of a page of this home's [`list`](Home::list), in
    /// one query whatever the page's size, by entry id (an entry with none is absent). An
    /// entry moved out of the folder since the page was read has none here.
    pub fn props_of_page(&self, page: &ListPage) -> EngineResult<HashMap<NodeId, Vec<DeadProp>>> {
        if page.entries.is_empty() {
            return Ok(HashMap::new());
        }
        self.read_props(|| {
            let ids: Vec<NodeId> = page.entries.iter().map(|e| e.id).collect();
            let rows = self.inner.meta.child_props(page.folder, &ids)?;
            let any = !rows.is_empty();
            let mut by_node: HashMap<NodeId, Vec<DeadProp>> = HashMap::new();
            for (node, prop) in rows {
                by_node.entry(node).or_default().push(prop);
            }
            Ok((by_node, any))
        })
    }

    /// Runs `read` (answering what it found and whether that was any property) unless no
    /// dead property can exist anywhere — then nothing is looked up — and settles that
    /// hint when it was unknown. A shared coordinator never settles a hint (another node
    /// may add a property at any time): then the hint's own query would be wasted.
    fn read_props<T: Default>(
        &self,
        read: impl FnOnce() -> EngineResult<(T, bool)>,
    ) -> EngineResult<T> {
        let seen = self.inner.coord.hint(Hint::DeadProps);
        if seen.known == Some(false) {
            return Ok(T::default());
        }
        let (found, any_here) = read()?;
        if seen.known.is_none() && !self.inner.coord.shared() {
            let any = any_here || self.inner.meta.any_props()?;
            self.inner
                .coord
                .settle_hint(Hint::DeadProps, seen.generation, any);
        }
        Ok(found)
    }

    /// Applies dead-property sets and removals in order, in one transaction.
    pub fn patch_props(&self, path: &NasPath, ops: &[nas_meta::PropOp]) -> EngineResult<()> {
        let n = self.resolve(path)?;
        if ops.iter().any(|o| matches!(o, nas_meta::PropOp::Set(_))) {
            self.inner.coord.note_created(Hint::DeadProps);
        }
        Ok(self.inner.meta.patch_props(n.id, ops)?)
    }

    /// The usage counters this home's quota checks, and the quota (O(1); see
    /// `docs/design/quota.md`).
    pub fn usage(&self) -> EngineResult<HomeUsage> {
        Ok(self.inner.meta.usage(self.rec.id)?)
    }

    /// The bytes this home's quota counts (O(1)).
    pub fn used_bytes(&self) -> EngineResult<u64> {
        Ok(self.usage()?.used())
    }
}

/// The one rule of every door for a copy or move between a folder and its inside, either
/// way, or onto itself: refused (`Conflict`). Into itself it would copy without end; onto
/// a folder containing it, the overwrite would send the source to the trash with that
/// folder before the copy or move (WebDAV answers the same case 403 before it gets here).
fn refuse_nesting(op: &str, from: &NasPath, to: &NasPath) -> EngineResult<()> {
    if to == from {
        return Err(EngineError::Conflict(format!(
            "cannot {op} {from} onto itself"
        )));
    }
    if to.is_within(from) {
        return Err(EngineError::Conflict(format!(
            "cannot {op} {from} into itself ({to} is inside it)"
        )));
    }
    if from.is_within(to) {
        return Err(EngineError::Conflict(format!(
            "cannot {op} {from} onto {to}, which contains it"
        )));
    }
    Ok(())
}

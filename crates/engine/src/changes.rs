//! Change events: what changed in a home's namespace, told to whoever listens — in
//! cluster mode, NATS (`docs/api/events.md`), so that other nodes drop stale cache entries
//! and other programs can follow the store.
//!
//! The engine calls [`ChangeSink::publish`] after each change is committed, never before
//! and never for a change that failed: a new file or folder ([`ChangeKind::Create`]; a copy
//! is a create with `from`), a new version of an existing file ([`ChangeKind::Update`]),
//! a rename or move ([`ChangeKind::Move`]), a delete to the trash or of one version
//! ([`ChangeKind::Delete`]), and a restore from the trash or of an old version
//! ([`ChangeKind::Restore`]). A change to a folder stands for its whole subtree (one event
//! for a folder moved or deleted with everything in it). Attribute-only changes (mtime,
//! dead properties, tags) and purges of the trash publish nothing.
//!
//! Events are hints, never the record: the metadata is. A sink must return at once and may
//! drop events (a bus that is down must never slow or fail a write); a listener that missed
//! some re-reads what it caches (short TTLs). Without a sink ([`Store::publish_changes_to`]
//! never called) the cost is one atomic load per change.

use crate::home::Home;
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::VersionRecord;
use nas_types::{ContentHash, NasPath, NodeId, VersionNum};
use std::sync::Arc;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new file (its first version) or folder, or a copy's destination.
    Create,
    /// A new version of a file that existed.
    Update,
    /// A rename or move (`from` is the old path).
    Move,
    /// Moved to the trash, or one version deleted (`version` set).
    Delete,
    /// Restored from the trash, or an old version made current again (`version` set).
    Restore,
}

impl ChangeKind {
    /// The kind's name in events: `create`, `update`, `move`, `delete`, `restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Move => "move",
            ChangeKind::Delete => "delete",
            ChangeKind::Restore => "restore",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The home (user) it happened in.
    pub home: String,
    /// The path in the home after the change (for a delete: where it was).
    pub path: String,
    /// For a move: the old path; for a copy: its source.
    pub from: Option<String>,
    /// The node (a file keeps its id through renames).
    pub node: NodeId,
    /// A folder (the change covers its subtree).
    pub dir: bool,
    /// The version made (create, update, restore) or deleted (delete of one version).
    pub version: Option<u64>,
    /// Bytes of that version.
    pub size: Option<u64>,
    /// BLAKE3 of that version's content.
    pub hash: Option<ContentHash>,
    /// When it was committed (ns since the epoch).
    pub time_ns: i64,
}

/// Where change events go. `publish` must not block.
pub trait ChangeSink: Send + Sync {
    /// Takes one committed change (may drop it; see the module doc).
    fn publish(&self, change: Change);
    /// Takes a change of user `name`'s account record (password, role, quota, disabled,
    /// sessions; created or removed), committed: other nodes drop their cached copy. The
    /// event carries the name only, never a secret. None by default.
    fn account_changed(&self, name: &str) {
        let _ = name;
    }
    /// How the sink is doing, for readiness and metrics.
    fn status(&self) -> SinkStatus;
}

/// What a node's caches are told by the bus it hears other nodes' changes on
/// (`crate::user_cache` says what each call does to the user cache).
pub trait ChangeListener: Send + Sync {
    /// Another node changed user `name`'s account.
    fn account_changed(&self, name: &str);
    /// The bus is heard (`true`: connected and subscribed) or not.
    fn linked(&self, up: bool);
    /// The bus dropped messages meant for this node (a slow consumer).
    fn missed(&self);
}

/// A sink's state and totals since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStatus {
    /// Where events go (for people: no credentials).
    pub target: String,
    /// Why events are not delivered now (e.g. the bus is unreachable); `None` when they are.
    pub degraded: Option<String>,
    /// Events handed on.
    pub published: u64,
    /// Events dropped (the bus was unreachable and the queue full).
    pub dropped: u64,
}

impl Store {
    /// Sends every committed change of this store to `sink` from now on. Set once: a second
    /// call is refused (`false`).
    pub fn publish_changes_to(&self, sink: Arc<dyn ChangeSink>) -> bool {
        self.inner.changes.set(sink).is_ok()
    }

    /// The change sink's status (`None`: changes are published nowhere).
    pub fn changes_status(&self) -> Option<SinkStatus> {
        self.inner.changes.get().map(|s| s.status())
    }
}

impl Home {
    /// Publishes a change built by `f`, if anyone listens.
    pub(crate) fn changed(&self, f: impl FnOnce(&str) -> Change) {
        if let Some(sink) = self.inner.changes.get() {
            sink.publish(f(self.name()));
        }
    }

    /// Publishes a file's new version.
    pub(crate) fn version_changed(&self, kind: ChangeKind, path: &NasPath, v: &VersionRecord) {
        self.changed(|home| of_version(kind, home, path.as_str(), v));
    }

    /// Publishes a change with no version: a folder made, a move, a copy, a delete.
    pub(crate) fn node_changed(
        &self,
        kind: ChangeKind,
        path: &NasPath,
        from: Option<&NasPath>,
        node: NodeId,
        dir: bool,
    ) {
        self.changed(|home| Change {
            kind,
            home: home.to_owned(),
            path: path.to_string(),
            from: from.map(|p| p.to_string()),
            node,
            dir,
            version: None,
            size: None,
            hash: None,
            time_ns: now_ns(),
        });
    }
}

impl Home {
    /// Publishes the deletion of version `num` of the file `node` at `path`.
    pub(crate) fn version_deleted(&self, path: &NasPath, node: NodeId, num: VersionNum) {
        self.changed(|home| Change {
            kind: ChangeKind::Delete,
            home: home.to_owned(),
            path: path.to_string(),
            from: None,
            node,
            dir: false,
            version: Some(num.0),
            size: None,
            hash: None,
            time_ns: now_ns(),
        });
    }
}

/// A committed write's kind: an update when the file existed before it (`existed`, when
/// the writer looked; bulk writers do not, and then a first version number tells).
pub(crate) fn write_kind(existed: Option<bool>, v: &VersionRecord) -> ChangeKind {
    match existed.unwrap_or(v.num.0 > 1) {
        true => ChangeKind::Update,
        false => ChangeKind::Create,
    }
}

/// The change that committed version `v` of the file at `path` of `home`.
pub(crate) fn of_version(kind: ChangeKind, home: &str, path: &str, v: &VersionRecord) -> Change {
    Change {
        kind,
        home: home.to_owned(),
        path: path.to_owned(),
        from: None,
        node: v.node,
        dir: false,
        version: Some(v.num.0),
        size: Some(v.size),
        hash: Some(v.hash),
        time_ns: v.created_ns,
    }
}

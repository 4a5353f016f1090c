//! What the two SQL stores (SQLite and PostgreSQL) share of their rows: the columns a node
//! and a version are read with, and how a node's kind and a version's attributes are
//! encoded in them. One place, so the two stores cannot drift apart.

use crate::{FileAttrs, NodeKind};
use std::collections::BTreeMap;

pub const NODE_SELECT: &str = "SELECT n.id, n.home, n.parent, n.name, n.kind, n.mtime_ns,
    v.node, v.num, v.size, v.mtime_ns, v.created_ns, v.hash, v.content_type, v.user_meta,
    v.author, v.lock_mode, v.lock_until_ns, v.legal_hold
    FROM nodes n LEFT JOIN versions v ON v.id = n.head";

pub const VERSION_COLS: &str = "node, num, size, mtime_ns, created_ns, hash, content_type, user_meta, author, lock_mode, lock_until_ns, legal_hold";

/// How many columns [`VERSION_COLS`] names.
pub const VERSION_NCOLS: usize = 12;

/// A node's kind from its column (0: folder).
pub fn kind_of(k: i64) -> NodeKind {
    if k == 0 {
        NodeKind::Dir
    } else {
        NodeKind::File
    }
}

/// A node's kind as stored.
pub fn kind_code(k: NodeKind) -> i64 {
    match k {
        NodeKind::Dir => 0,
        NodeKind::File => 1,
    }
}

/// A version's attributes from its content type and user metadata (a JSON object).
pub fn attrs_from(ct: Option<String>, um: Option<String>) -> FileAttrs {
    let user: BTreeMap<String, String> = um
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    FileAttrs {
        content_type: ct,
        user,
    }
}

/// User metadata as stored (`None` when there is none).
pub fn user_meta_json(attrs: &FileAttrs) -> Option<String> {
    if attrs.user.is_empty() {
        None
    } else {
        serde_json::to_string(&attrs.user).ok()
    }
}

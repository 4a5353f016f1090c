//! Name search on PostgreSQL. The result is defined by the scan, as on SQLite: nodes of the
//! home whose name contains the needle (ASCII case-insensitively — both sides pass through
//! `translate(…, 'A…Z', 'a…z')`, so other characters compare exactly — with `%`, `_` and
//! `\` taken literally), that pass the filters, in node-id order after the cursor.
//!
//! A needle of three characters or more is answered, in one statement (one snapshot), as
//! the union of (a) hits of the trigram index on `name_index` (ASCII-lowercased names,
//! `pg_trgm`'s GIN index serving `LIKE`), joined to the node as it is now and re-checked,
//! and (b) the nodes queued in `name_index_pending` (created or renamed since the indexer
//! last ran), checked the same way. Every node is in one or the other with its current
//! name, so the answer equals the scan's however far the indexer lags.

use super::conn::Db;
use crate::{MetaResult, NodeKind, SearchFilter};
use nas_types::{HomeId, NodeId};
use std::sync::LazyLock;

/// A node's name, ASCII-lowercased (what the pattern is matched against).
pub(super) const LOWER_NAME: &str =
    "translate(n.name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";

/// `$1` the `LIKE` pattern, `$2` home, `$3` kind, `$4`/`$5` size bounds, `$6`/`$7` mtime
/// bounds; the statements add `$8` (ids above) and `$9` (limit).
static FILTERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{LOWER_NAME} LIKE $1 ESCAPE '\\' AND n.home = $2 AND n.parent IS NOT NULL
      AND ($3::BIGINT IS NULL OR n.kind = $3)
      AND ($4::BIGINT IS NULL OR (n.kind = 1 AND v.size >= $4))
      AND ($5::BIGINT IS NULL OR (n.kind = 1 AND v.size <= $5))
      AND ($6::BIGINT IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) >= $6)
      AND ($7::BIGINT IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) < $7)"
    )
});

/// Characters a trigram index needs to serve a needle.
const MIN_INDEXED_CHARS: usize = 3;

static SCAN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT n.id FROM nodes n LEFT JOIN versions v ON v.id = n.head
         WHERE n.id > $8 AND {} ORDER BY n.id LIMIT $9",
        *FILTERS
    )
});

/// (a) ∪ (b) of the module doc, in one statement.
static INDEXED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id FROM (
            (SELECT n.id FROM name_index f JOIN nodes n ON n.id = f.node
             LEFT JOIN versions v ON v.id = n.head
             WHERE f.name LIKE $1 ESCAPE '\\' AND f.node > $8 AND {filters}
             ORDER BY f.node LIMIT $9)
            UNION
            (SELECT n.id FROM name_index_pending p JOIN nodes n ON n.id = p.node
             LEFT JOIN versions v ON v.id = n.head
             WHERE p.node > $8 AND {filters}
             ORDER BY p.node LIMIT $9)
         ) AS hits ORDER BY id LIMIT $9",
        filters = *FILTERS
    )
});

/// Whether the index can serve `needle` (three characters or more: one trigram).
fn indexable(needle: &str) -> bool {
    needle.chars().count() >= MIN_INDEXED_CHARS
}

/// The `LIKE` pattern of `needle`: ASCII-lowercased, wildcards escaped.
pub(super) fn pattern(needle: &str) -> String {
    let escaped = needle
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Node ids matching `f` in `home`, above `after`, ascending, at most `limit`.
pub fn search(
    c: &Db<'_>,
    home: HomeId,
    f: &SearchFilter,
    after: Option<NodeId>,
    limit: usize,
) -> MetaResult<Vec<NodeId>> {
    if f.needle.contains('\0') {
        return Ok(Vec::new()); // PostgreSQL's text holds no NUL: no name contains one
    }
    let size = |s: Option<u64>| s.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let kind = f.kind.map(|k| match k {
        NodeKind::Dir => 0i64,
        NodeKind::File => 1,
    });
    let sql: &str = if indexable(&f.needle) {
        &INDEXED
    } else {
        &SCAN
    };
    let rows = c.rows(
        sql,
        &[
            &pattern(&f.needle),
            &home.0,
            &kind,
            &size(f.min_size),
            &size(f.max_size),
            &f.modified_after,
            &f.modified_before,
            &after.map_or(0, |n| n.0),
            &i64::try_from(limit).unwrap_or(i64::MAX),
        ],
    )?;
    rows.iter().map(|r| Ok(NodeId(r.try_get(0)?))).collect()
}

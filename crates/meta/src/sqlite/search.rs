//! Name search on SQLite: a `LIKE '%needle%'` scan of the names in node-id order (ASCII
//! case-insensitive), stopping at the page size; filters on kind, size and modification
//! time use the node's head version. There is no name index: an FTS5 trigram index was
//! tried and withdrawn (see `docs/api/rest.md`, Search).

use crate::{MetaResult, NodeKind, SearchFilter};
use nas_types::{HomeId, NodeId};
use rusqlite::{Connection, params};

const FILTERS: &str = "n.home = ?2 AND n.parent IS NOT NULL
      AND (?3 IS NULL OR n.kind = ?3)
      AND (?4 IS NULL OR (n.kind = 1 AND v.size >= ?4))
      AND (?5 IS NULL OR (n.kind = 1 AND v.size <= ?5))
      AND (?6 IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) >= ?6)
      AND (?7 IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) < ?7)";

/// Node ids matching `f` in `home`, above `after`, ascending, at most `limit`.
pub fn search(
    c: &Connection,
    home: HomeId,
    f: &SearchFilter,
    after: Option<NodeId>,
    limit: usize,
) -> MetaResult<Vec<NodeId>> {
    let kind = f.kind.map(|k| match k {
        NodeKind::Dir => 0i64,
        NodeKind::File => 1,
    });
    let size = |s: Option<u64>| s.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let after = after.map_or(0, |n| n.0);
    let sql = format!(
        "SELECT n.id FROM nodes n LEFT JOIN versions v ON v.id = n.head
         WHERE n.name LIKE ?1 ESCAPE '\\' AND n.id > ?8 AND {FILTERS}
         ORDER BY n.id LIMIT ?9"
    );
    let escaped = f
        .needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            pattern,
            home.0,
            kind,
            size(f.min_size),
            size(f.max_size),
            f.modified_after,
            f.modified_before,
            after,
            limit as i64
        ],
        |r| Ok(NodeId(r.get(0)?)),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

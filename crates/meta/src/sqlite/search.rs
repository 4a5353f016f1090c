//! Name search on SQLite. The result is defined by the scan: nodes of the home whose name
//! is `LIKE '%needle%'` (ASCII case-insensitive, `%`, `_` and `\` taken literally), that
//! pass the filters (kind; size and modification time from the node's head version), in
//! node-id order after the cursor, at most a page.
//!
//! A needle of three characters or more is answered from the name index (schema 9, see
//! `name_index.rs`) instead, in one read snapshot, as the union of
//! (a) index hits (`MATCH` on the trigram table) joined to the node as it is now (stale
//!     entries of purged nodes drop out of the join, those of renamed ones fail the
//!     re-check below),
//! (b) a scan of the nodes above the watermark (created since the indexer last ran) and
//! (c) a scan of the renamed nodes waiting in `name_index_pending`,
//! each re-checked with the same `LIKE` and filters. The trigram tokenizer folds Unicode
//! case, so (a) finds a superset of the `LIKE` matches among indexed names and the
//! re-check narrows it back: the answer equals the scan's exactly, however far the
//! indexer lags. Needles of one or two characters have no trigram and are scanned.

use super::name_index::indexed_to;
use crate::{MetaResult, NodeKind, SearchFilter};
use nas_types::{HomeId, NodeId};
use rusqlite::{Connection, params};
use std::sync::LazyLock;

/// `?1` the `LIKE` pattern, `?2` home, `?3` kind, `?4`/`?5` size bounds, `?6`/`?7` mtime
/// bounds; the callers add `?8` (ids above), `?9` (limit) and maybe `?10`.
const FILTERS: &str = "n.name LIKE ?1 ESCAPE '\\' AND n.home = ?2 AND n.parent IS NOT NULL
      AND (?3 IS NULL OR n.kind = ?3)
      AND (?4 IS NULL OR (n.kind = 1 AND v.size >= ?4))
      AND (?5 IS NULL OR (n.kind = 1 AND v.size <= ?5))
      AND (?6 IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) >= ?6)
      AND (?7 IS NULL OR COALESCE(v.mtime_ns, n.mtime_ns) < ?7)";

/// Characters a trigram index needs to serve a needle.
const MIN_INDEXED_CHARS: usize = 3;

/// The filter as bound values `?1`–`?7`.
struct Bound {
    pattern: String,
    home: i64,
    kind: Option<i64>,
    min_size: Option<i64>,
    max_size: Option<i64>,
    after_ns: Option<i64>,
    before_ns: Option<i64>,
}

impl Bound {
    fn new(home: HomeId, f: &SearchFilter) -> Bound {
        let size = |s: Option<u64>| s.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let escaped = f
            .needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        Bound {
            pattern: format!("%{escaped}%"),
            home: home.0,
            kind: f.kind.map(|k| match k {
                NodeKind::Dir => 0i64,
                NodeKind::File => 1,
            }),
            min_size: size(f.min_size),
            max_size: size(f.max_size),
            after_ns: f.modified_after,
            before_ns: f.modified_before,
        }
    }

    /// Runs `sql` with `?1`–`?7` from the filter, `?8` = `above`, `?9` = `limit` and `?10`
    /// = `extra` (when the statement uses it).
    fn ids(
        &self,
        c: &Connection,
        sql: &str,
        above: i64,
        limit: usize,
        extra: Option<&str>,
    ) -> MetaResult<Vec<NodeId>> {
        let mut st = c.prepare_cached(sql)?;
        let limit = limit as i64;
        let mut p = params![
            self.pattern,
            self.home,
            self.kind,
            self.min_size,
            self.max_size,
            self.after_ns,
            self.before_ns,
            above,
            limit,
        ]
        .to_vec();
        if let Some(x) = &extra {
            p.push(x);
        }
        let rows = st.query_map(p.as_slice(), |r| Ok(NodeId(r.get(0)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The scan: matching nodes with ids above `above`, ascending, at most `limit`.
pub(super) fn scan(
    c: &Connection,
    home: HomeId,
    f: &SearchFilter,
    above: i64,
    limit: usize,
) -> MetaResult<Vec<NodeId>> {
    Bound::new(home, f).ids(c, &SCAN, above, limit, None)
}

static SCAN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT n.id FROM nodes n LEFT JOIN versions v ON v.id = n.head
         WHERE n.id > ?8 AND {FILTERS}
         ORDER BY n.id LIMIT ?9"
    )
});

/// (a): index hits, re-checked against the node as it is now. The join drops entries of
/// purged nodes and the `LIKE` on the current name those of renamed ones, so comparing the
/// entry's stored name with the node's is not needed (it would cost a lookup in the FTS
/// content table per hit, which shows on a needle with thousands of hits filtered out).
static INDEXED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT n.id FROM name_index
         JOIN nodes n ON n.id = name_index.rowid
         LEFT JOIN versions v ON v.id = n.head
         WHERE name_index MATCH ?10 AND name_index.rowid > ?8 AND {FILTERS}
         ORDER BY name_index.rowid LIMIT ?9"
    )
});

/// (c): renamed nodes waiting to be re-indexed.
static PENDING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT n.id FROM name_index_pending p JOIN nodes n ON n.id = p.node
         LEFT JOIN versions v ON v.id = n.head
         WHERE p.node > ?8 AND {FILTERS}
         ORDER BY p.node LIMIT ?9"
    )
});

/// Whether the index can serve `needle` (three characters or more: one trigram).
fn indexable(needle: &str) -> bool {
    needle.chars().count() >= MIN_INDEXED_CHARS && !needle.contains('\0')
}

/// Node ids matching `f` in `home`, above `after`, ascending, at most `limit`: exactly
/// what [`scan`] returns, from the index when the needle allows.
pub fn search(
    c: &Connection,
    home: HomeId,
    f: &SearchFilter,
    after: Option<NodeId>,
    limit: usize,
) -> MetaResult<Vec<NodeId>> {
    let after = after.map_or(0, |n| n.0);
    if !indexable(&f.needle) {
        return scan(c, home, f, after, limit);
    }
    let b = Bound::new(home, f);
    // the watermark, the index, the queue and the nodes as of one moment
    let tx = c.unchecked_transaction()?;
    let watermark = indexed_to(&tx)?;
    // one FTS5 phrase: the needle as a literal run of characters
    let phrase = format!("\"{}\"", f.needle.replace('"', "\"\""));
    let mut ids = b.ids(&tx, &INDEXED, after, limit, Some(&phrase))?;
    ids.extend(b.ids(&tx, &PENDING, after, limit, None)?);
    ids.extend(b.ids(&tx, &SCAN, after.max(watermark), limit, None)?);
    tx.commit()?;
    // a node may come twice: a hit and pending (renamed back), pending and in the tail
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(limit);
    Ok(ids)
}

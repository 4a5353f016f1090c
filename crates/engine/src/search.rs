//! Name search ([`Home::search`]) and the upkeep of the name index behind it
//! ([`Store::index_names`], [`Store::prune_name_index`]).
//!
//! The index lives in the metadata store (`nas_meta::NameIndex`) and is kept OFF the commit
//! path: a write never touches it; the `search-index` worker adds new names, re-indexes
//! renamed nodes and drops entries of purged ones, each step a short metadata transaction
//! of its own. A search is exact whether or not the worker has caught up (what it has not
//! indexed yet is scanned); the index only makes it fast.

use crate::error::{EngineError, EngineResult};
use crate::home::{Entry, Home};
use crate::store::Store;
use nas_meta::{NameIndexStatus, PruneStep, SearchFilter};
use nas_types::{NasPath, NodeId};

/// Names per indexing step (one metadata transaction of a few milliseconds).
const INDEX_BATCH: usize = 2000;

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// Matches in node-id order (may be fewer than asked even when more follow: items
    /// below a trashed folder are skipped).
    pub entries: Vec<Entry>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<NodeId>,
}

/// What one [`Store::index_names`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Names of new files and folders added.
    pub indexed: u64,
    /// Renamed nodes re-indexed.
    pub reindexed: u64,
    /// Metadata transactions it took.
    pub steps: u64,
    /// It stopped before catching up (`between` said so).
    pub interrupted: bool,
}

impl Home {
    /// Name search in this home: files and folders whose name contains `filter.needle`
    /// (ASCII letters in either case; any other character only as itself) and that match
    /// the filter, in node-id order, one page of at most `limit` (≤ 1000) after `after`
    /// (the previous page's `next_after`). Items in the trash are not returned. Needles of
    /// 3+ characters are looked up in the name index (what it does not cover yet is
    /// scanned), shorter ones scan names until the page is full; the answer is the same.
    pub fn search(
        &self,
        filter: &SearchFilter,
        after: Option<NodeId>,
        limit: usize,
    ) -> EngineResult<SearchPage> {
        if filter.needle.is_empty() {
            return Err(EngineError::InvalidArgument("empty search".into()));
        }
        let limit = limit.clamp(1, 1000);
        let meta = &self.inner.meta;
        let ids = meta.search(self.rec.id, filter, after, limit)?;
        let next_after = (ids.len() == limit).then(|| ids[limit - 1]);
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids {
            // below a trashed folder the path starts with "[trash #…]": not live
            let (Some(path), Some(node)) = (meta.node_path(id)?, meta.node(id)?) else {
                continue;
            };
            if !path.starts_with('/') {
                continue;
            }
            if let Ok(p) = NasPath::parse(&path) {
                entries.push(Entry::from_node(p, node));
            }
        }
        Ok(SearchPage {
            entries,
            next_after,
        })
    }
}

impl Store {
    /// How far the name index lags behind the namespace.
    pub fn name_index_status(&self) -> EngineResult<NameIndexStatus> {
        Ok(self.inner.meta.name_index_status()?)
    }

    /// Brings the name index up to date: renamed nodes first, then every node created
    /// since the last call, in steps of at most 2,000 names, each its own short metadata
    /// transaction (request writes go between them). `between` is called between steps;
    /// returning `false` stops early (what was done stays done). Does not write at all
    /// when the index is current.
    pub fn index_names(&self, between: &mut dyn FnMut() -> bool) -> EngineResult<IndexReport> {
        let meta = &self.inner.meta;
        let mut r = IndexReport::default();
        if meta.name_index_status()?.is_current() {
            return Ok(r);
        }
        loop {
            let step = meta.index_names(INDEX_BATCH)?;
            r.steps += 1;
            r.indexed += step.indexed;
            r.reindexed += step.reindexed;
            if !step.more {
                return Ok(r);
            }
            if !between() {
                r.interrupted = true;
                return Ok(r);
            }
        }
    }

    /// Looks at up to `limit` index entries after node `after` and drops those of purged
    /// nodes; `next` of the answer is where to go on (`None`: the end was reached).
    pub fn prune_name_index(&self, after: NodeId, limit: usize) -> EngineResult<PruneStep> {
        Ok(self.inner.meta.prune_name_index(after, limit)?)
    }
}

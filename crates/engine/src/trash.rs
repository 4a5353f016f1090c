//! The trash: deletes detach a subtree (O(1)); it can be listed, restored to its old or a
//! new path, purged, or expire after an age.

use crate::changes::ChangeKind;
use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::progress::{Progress, ProgressUnit, ignore};
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::TrashRecord;
use nas_types::{NasPath, TrashId};
use std::time::Duration;

/// What emptying a trash did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrashPurge {
    /// Entries purged for good.
    pub purged: usize,
    /// Entries kept because a version in them is under object lock.
    pub retained: usize,
}

impl Home {
    /// Moves a file or folder to the trash; an implicit folder left empty goes too.
    pub fn delete(&self, path: &NasPath) -> EngineResult<TrashRecord> {
        if path.is_root() {
            return Err(EngineError::Conflict("the root cannot be deleted".into()));
        }
        let n = self.resolve(path)?;
        let t = self.inner.meta.trash(n.id, path.as_str(), now_ns())?;
        let dir = t.kind == nas_meta::NodeKind::Dir;
        self.node_changed(ChangeKind::Delete, path, None, t.node, dir);
        // an implicit folder goes with its last child (`implicit`); failing that leaves
        // an empty folder, not a wrong answer: the delete itself is done
        let _ = self.prune_implicit(n.parent);
        Ok(t)
    }

    /// Trash entries of this home, newest first.
    pub fn trash_list(&self) -> EngineResult<Vec<TrashRecord>> {
        Ok(self.inner.meta.trash_list(self.rec.id)?)
    }

    fn own_entry(&self, id: TrashId) -> EngineResult<TrashRecord> {
        self.trash_entry(id)
    }

    /// Restores an entry to `to`, or to where it was (re-creating missing folders).
    /// `Conflict` for a file entry that holds no version any more (its last one was
    /// deleted: S3's delete marker with nothing behind it), which can only be purged.
    pub fn trash_restore(&self, id: TrashId, to: Option<&NasPath>) -> EngineResult<NasPath> {
        let t = self.own_entry(id)?;
        if t.kind == nas_meta::NodeKind::File && self.inner.meta.versions(t.node)?.is_empty() {
            return Err(EngineError::Conflict(format!(
                "{}: the deleted file holds no version any more: nothing to restore",
                t.path
            )));
        }
        let dest = match to {
            Some(p) => p.clone(),
            None => NasPath::parse(&t.path)?,
        };
        let parent = dest
            .parent()
            .ok_or_else(|| EngineError::Conflict("cannot restore onto the root".into()))?;
        if to.is_none() {
            self.mkdir_all(&parent)?;
        }
        let (p, name) = self.resolve_parent(&dest)?;
        self.inner
            .meta
            .trash_restore(id, p.id, name)
            .map_err(|e| EngineError::from(e).at(dest.as_str()))?;
        let dir = t.kind == nas_meta::NodeKind::Dir;
        self.node_changed(ChangeKind::Restore, &dest, None, t.node, dir);
        Ok(dest)
    }

    /// Deletes an entry for good (its chunks become garbage once nothing else uses them).
    /// `Retained` when a version in it is under object lock: nothing is purged.
    pub fn trash_purge(&self, id: TrashId) -> EngineResult<()> {
        self.own_entry(id)?;
        Ok(self.inner.meta.trash_purge(id)?)
    }

    /// Purges every entry of this home but those holding a version under object lock
    /// (a running retention or a legal hold), which stay and are counted.
    pub fn trash_purge_all(&self) -> EngineResult<TrashPurge> {
        let mut r = TrashPurge::default();
        for t in &self.trash_list()? {
            match self.inner.meta.trash_purge(t.id) {
                Ok(()) => r.purged += 1,
                Err(nas_meta::MetaError::Retained(_)) => r.retained += 1,
                Err(nas_meta::MetaError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(r)
    }
}

impl Store {
    /// Purges trash entries (all homes) older than `age`, but those holding a version under
    /// object lock (they stay until it ends). Returns how many were purged.
    pub fn expire_trash(&self, age: Duration) -> EngineResult<usize> {
        self.expire_trash_with(age, &mut ignore)
    }

    /// [`Store::expire_trash`], telling `progress` how many of the expired entries are
    /// purged so far.
    pub fn expire_trash_with(
        &self,
        age: Duration,
        progress: &mut dyn FnMut(Progress),
    ) -> EngineResult<usize> {
        let before = now_ns().saturating_sub(crate::time::duration_ns(age));
        let old = self.inner.meta.trash_older_than(before)?;
        let total = Some(old.len() as u64);
        progress(Progress::new(0, total, ProgressUnit::Entries));
        let mut purged = 0;
        for (i, t) in old.iter().enumerate() {
            match self.inner.meta.trash_purge(t.id) {
                Ok(()) => purged += 1,
                Err(nas_meta::MetaError::NotFound(_) | nas_meta::MetaError::Retained(_)) => {}
                Err(e) => return Err(e.into()),
            }
            progress(Progress::new(i as u64 + 1, total, ProgressUnit::Entries));
        }
        Ok(purged)
    }
}

//! Versions of a file in the trash: what a door that shows deleted files as "deleted but
//! versioned" (S3's delete markers) needs. A trashed file keeps its versions; they can be
//! listed, read, given new attributes or a new object lock (`object_lock`), and one of
//! them deleted for good, without restoring the file.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use nas_meta::{FileAttrs, NodeKind, TrashRecord, VersionRecord};
use nas_types::{TrashId, VersionNum};

impl Home {
    /// One trash entry of this home (`NotFound` for another home's or a missing one).
    pub fn trash_entry(&self, id: TrashId) -> EngineResult<TrashRecord> {
        match self.inner.meta.trash_entry(id)? {
            Some(t) if t.home == self.rec.id => Ok(t),
            _ => Err(EngineError::NotFound(format!("trash entry {id}"))),
        }
    }

    pub(crate) fn trashed_file(&self, id: TrashId) -> EngineResult<TrashRecord> {
        let t = self.trash_entry(id)?;
        if t.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(t.path));
        }
        Ok(t)
    }

    /// Every version of a file in the trash, oldest first (`IsADirectory` for a folder).
    pub fn trash_versions(&self, id: TrashId) -> EngineResult<Vec<VersionRecord>> {
        let t = self.trashed_file(id)?;
        Ok(self.inner.meta.versions(t.node)?)
    }

    /// Deletes one version of a file in the trash for good. Its last one too: the entry
    /// then stays, holding no version (S3's delete marker with nothing behind it): it
    /// cannot be restored, only purged (or it expires with the trash).
    pub fn trash_delete_version(&self, id: TrashId, num: VersionNum) -> EngineResult<()> {
        let t = self.trashed_file(id)?;
        self.inner
            .meta
            .delete_version(t.node, num)
            .map_err(|e| EngineError::from(e).at(&format!("trash entry {id} version {num}")))
    }

    /// [`Home::set_version_attrs`] for version `num` of a file in the trash: in place, no
    /// new version, the entry stays in the trash.
    pub fn trash_set_version_attrs(
        &self,
        id: TrashId,
        num: VersionNum,
        attrs: &FileAttrs,
    ) -> EngineResult<()> {
        let t = self.trashed_file(id)?;
        self.inner
            .meta
            .set_version_attrs(t.node, num, attrs)
            .map_err(|e| EngineError::from(e).at(&format!("trash entry {id} version {num}")))
    }
}

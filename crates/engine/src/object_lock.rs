//! Object lock (WORM) of versions: a retention (governance or compliance, until a date)
//! and a legal hold per version, set here and enforced for every caller.
//!
//! The rule, once: a version under a running retention or a legal hold is never destroyed
//! — not deleted by id, not purged with its trash entry, not pruned by retention or
//! lifecycle rules, not replaced as an empty placeholder — until the date passes and the
//! hold is lifted. The database refuses such a delete itself (schema 18's trigger), so
//! every path fails with [`EngineError::Retained`](crate::EngineError::Retained);
//! planners (retention, lifecycle, trash expiry, emptying a trash) skip such versions and
//! count them. Overwriting or deleting the *file* is allowed: it makes a new version or a
//! trash entry, and the locked version stays in the history. Only a governance retention
//! can be passed over, by a caller the door has found allowed to (S3: the owner's request
//! with `x-amz-bypass-governance-retention: true`); a compliance retention only grows.
//! `docs/design/versions-and-gc.md` ("Object lock").

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::time::now_ns;
use nas_meta::{LockChange, NodeKind, VersionRecord};
use nas_types::{NasPath, NodeId, TrashId, VersionNum};

impl Home {
    fn lock_target(
        &self,
        path: &NasPath,
        num: Option<VersionNum>,
    ) -> EngineResult<(NodeId, VersionNum)> {
        let n = self.resolve(path)?;
        if n.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        let num = match num {
            Some(v) => v,
            None => n
                .head
                .as_ref()
                .map(|h| h.num)
                .ok_or_else(|| EngineError::NotFound(path.to_string()))?,
        };
        Ok((n.id, num))
    }

    /// Changes the object lock of version `num` (the current one with `None`) of the file
    /// at `path`, as [`crate::ObjectLock::may_become`] allows: a running compliance retention
    /// only lengthens, a governance one shortens or goes only with `bypass_governance`;
    /// a legal hold is set or lifted freely. `Retained` otherwise, nothing changed.
    pub fn set_version_lock(
        &self,
        path: &NasPath,
        num: Option<VersionNum>,
        change: LockChange,
        bypass_governance: bool,
    ) -> EngineResult<VersionRecord> {
        let (node, num) = self.lock_target(path, num)?;
        self.inner
            .meta
            .set_version_lock(node, num, change, now_ns(), bypass_governance)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))
    }

    /// [`Home::set_version_lock`] for version `num` of a file in the trash (a version
    /// behind an S3 delete marker): the same rules, the entry stays in the trash.
    pub fn trash_set_version_lock(
        &self,
        id: TrashId,
        num: VersionNum,
        change: LockChange,
        bypass_governance: bool,
    ) -> EngineResult<VersionRecord> {
        let t = self.trashed_file(id)?;
        self.inner
            .meta
            .set_version_lock(t.node, num, change, now_ns(), bypass_governance)
            .map_err(|e| EngineError::from(e).at(&format!("trash entry {id} version {num}")))
    }

    /// [`Home::delete_version`] passing over a running governance retention (the caller
    /// has the permission); a compliance retention or a legal hold still refuse.
    pub fn delete_version_bypassing_governance(
        &self,
        path: &NasPath,
        num: VersionNum,
    ) -> EngineResult<()> {
        let (node, num) = self.lock_target(path, Some(num))?;
        self.inner
            .meta
            .delete_version_bypassing_governance(node, num)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))
    }

    /// [`Home::trash_delete_version`] passing over a running governance retention.
    pub fn trash_delete_version_bypassing_governance(
        &self,
        id: TrashId,
        num: VersionNum,
    ) -> EngineResult<()> {
        let t = self.trashed_file(id)?;
        self.inner
            .meta
            .delete_version_bypassing_governance(t.node, num)
            .map_err(|e| EngineError::from(e).at(&format!("trash entry {id} version {num}")))
    }
}

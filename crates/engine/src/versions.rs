//! Versions of a file: list, restore, delete, the version at a time. Pruning old versions
//! by policy is `retention`.

use crate::changes::ChangeKind;
use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::time::now_ns;
use nas_meta::{NodeKind, ObjectLock, VersionRecord};
use nas_types::{NasPath, NodeId, VersionNum};

impl Home {
    fn file(&self, path: &NasPath) -> EngineResult<NodeId> {
        let n = self.resolve(path)?;
        if n.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        Ok(n.id)
    }

    /// Every version of a file, oldest first.
    pub fn versions(&self, path: &NasPath) -> EngineResult<Vec<VersionRecord>> {
        let id = self.file(path)?;
        Ok(self.inner.meta.versions(id)?)
    }

    /// Makes version `num` the newest again (a new version sharing its chunks; nothing is
    /// copied and nothing is lost). Like any new version, it starts with the default
    /// retention of the bucket it is in (`folder_lock`), not the old version's lock.
    pub fn restore_version(&self, path: &NasPath, num: VersionNum) -> EngineResult<VersionRecord> {
        let id = self.file(path)?;
        let lock = self.lock_for_new_version(path, ObjectLock::default())?;
        let v = self
            .inner
            .meta
            .restore_version(id, num, now_ns(), Some(self.name()), lock)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))?;
        self.version_changed(ChangeKind::Restore, path, &v);
        Ok(v)
    }

    /// Deletes one version (not the only one).
    pub fn delete_version(&self, path: &NasPath, num: VersionNum) -> EngineResult<()> {
        let id = self.file(path)?;
        self.inner
            .meta
            .delete_version(id, num)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))?;
        self.version_deleted(path, id, num);
        Ok(())
    }

    /// The version that was current at `at_ns` (the newest created at or before it).
    pub fn version_at(&self, path: &NasPath, at_ns: i64) -> EngineResult<Option<VersionRecord>> {
        Ok(self
            .versions(path)?
            .into_iter()
            .rev()
            .find(|v| v.created_ns <= at_ns))
    }
}

//! A path's history across the trash: the file at a path now and the files deleted from
//! that path before it (the trash entries of a file at exactly that path, newest first)
//! form one history, as S3 sees a key's versions and delete markers. A file written at a
//! path whose deleted files are in the trash numbers its versions on from theirs (schema
//! 20, `nas_meta`'s commit), so a version number names one version of the history; it is
//! looked up in the file there now first, then in the deleted ones, newest first.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::read::FileReader;
use nas_meta::{NodeKind, TrashRecord, VersionRecord};
use nas_types::{NasPath, TrashId, VersionNum};

/// Where a version of a path's history is.
#[derive(Debug, Clone, PartialEq)]
pub enum Located {
    /// A version of the file at the path now.
    Live(VersionRecord),
    /// A version of a file deleted from the path (its trash entry).
    Trashed(TrashRecord, VersionRecord),
}

impl Home {
    /// The trash entries of a file deleted from exactly `path`, newest first.
    pub fn trashed_files_at(&self, path: &NasPath) -> EngineResult<Vec<TrashRecord>> {
        Ok(self
            .trash_list()?
            .into_iter()
            .filter(|t| t.kind == NodeKind::File && t.path == path.as_str())
            .collect())
    }

    /// Version `num` of `path`'s history: of the file there now, else of the newest file
    /// deleted from there that has it. `None` when none has it (or a folder is there).
    pub fn locate_version(&self, path: &NasPath, num: VersionNum) -> EngineResult<Option<Located>> {
        match self.versions(path) {
            Ok(vs) => {
                if let Some(v) = vs.into_iter().find(|v| v.num == num) {
                    return Ok(Some(Located::Live(v)));
                }
            }
            Err(EngineError::IsADirectory(_)) => return Ok(None),
            Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) => {}
            Err(e) => return Err(e),
        }
        for t in self.trashed_files_at(path)? {
            let vs = match self.trash_versions(t.id) {
                Ok(vs) => vs,
                Err(EngineError::NotFound(_)) => continue, // purged meanwhile
                Err(e) => return Err(e),
            };
            if let Some(v) = vs.into_iter().find(|v| v.num == num) {
                return Ok(Some(Located::Trashed(t, v)));
            }
        }
        Ok(None)
    }

    /// Removes the trash entry `id` of a file deleted from a path that had a newer file
    /// since (deleted too, or there now) and keeps its versions: they join that newer
    /// file's as its oldest (`nas_meta`'s `trash_merge`), so nothing of the path's history
    /// is lost — S3's removal of a delete marker that is not the latest. `Conflict` for
    /// the newest deleted file of a path where no file is now (restore it instead), or
    /// when the version numbers overlap (files deleted before schema 20 numbered a path's
    /// files apart, or one moved there).
    pub fn trash_merge_into_next(&self, id: TrashId) -> EngineResult<()> {
        let t = self.trash_entry(id)?;
        if t.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(t.path));
        }
        let p = NasPath::parse(&t.path)?;
        let all = self.trashed_files_at(&p)?;
        let i = all
            .iter()
            .position(|x| x.id == id)
            .ok_or_else(|| EngineError::NotFound(format!("trash entry {id}")))?;
        let into = match i.checked_sub(1) {
            Some(newer) => all[newer].node,
            None => match self.resolve(&p) {
                Ok(n) if n.kind == NodeKind::File => n.id,
                Ok(_) | Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) => {
                    return Err(EngineError::Conflict(format!(
                        "{}: no file was written there after this one: restore it",
                        t.path
                    )));
                }
                Err(e) => return Err(e),
            },
        };
        Ok(self.inner.meta.trash_merge(id, into)?)
    }

    /// Opens a version of a file in the trash (its newest when `version` is `None`)
    /// without restoring it.
    pub fn trash_open(&self, id: TrashId, version: Option<VersionNum>) -> EngineResult<FileReader> {
        let t = self.trash_entry(id)?;
        if t.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(t.path));
        }
        let label = NasPath::parse(&t.path).unwrap_or_else(|_| NasPath::root());
        self.open_node(t.node, &label, version)
    }
}

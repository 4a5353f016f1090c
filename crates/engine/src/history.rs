//! A path's history across the trash: the file at a path now and the files deleted from
//! that path before it (the trash entries of a file at exactly that path, newest first)
//! form one history, as S3 sees a key's versions and delete markers. A version number is
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

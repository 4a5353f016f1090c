//! Changing one version's attributes (content type and user metadata) in place: the rule
//! for metadata that describes a version without being part of its content (S3 object
//! tags). No new version is made, the content and its hash stay, and every other version
//! is untouched.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use nas_meta::{FileAttrs, NodeKind};
use nas_types::{NasPath, VersionNum};

impl Home {
    /// Replaces the attributes of version `num` of the file at `path`. `NotFound` if the
    /// file or that version is missing; `IsADirectory` for a folder.
    pub fn set_version_attrs(
        &self,
        path: &NasPath,
        num: VersionNum,
        attrs: &FileAttrs,
    ) -> EngineResult<()> {
        let n = self.resolve(path)?;
        if n.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        self.inner
            .meta
            .set_version_attrs(n.id, num, attrs)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))
    }
}

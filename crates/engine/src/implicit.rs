//! Implicit folders: a folder made only to hold what is put in it (the parents of an S3
//! key, as MinIO makes them) goes away with the last thing in it, whichever door deletes
//! that — so S3 never shows an empty "folder" no client made, and a bucket S3 shows empty
//! can be deleted. A folder made explicitly (WebDAV MKCOL, REST mkdir, an S3 `key/`
//! marker, `mkdir_all`) stays. The rule's state is the metadata store's
//! ([`nas_meta::ImplicitFolders`]).

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use nas_meta::NodeKind;
use nas_types::{NasPath, NodeId};

/// How [`Home::make_dirs`] creates the folders it lacks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirMode {
    /// Explicit, durable on return.
    Now,
    /// Explicit, durable with the next commit.
    Deferred,
    /// Implicit (removed with their last child), durable on return.
    Implicit,
}

impl Home {
    /// Creates the missing folders of `path` as implicit ones: each goes away with the
    /// last thing in it. Folders that exist keep what they are.
    pub fn mkdir_all_implicit(&self, path: &NasPath) -> EngineResult<()> {
        self.make_dirs(path, DirMode::Implicit).map(drop)
    }

    /// Makes folder `path` (creating it and its parents if missing) explicit: it stays
    /// when emptied. What an S3 `key/` marker object does.
    pub fn keep_folder(&self, path: &NasPath) -> EngineResult<()> {
        let n = self.make_dirs(path, DirMode::Now)?;
        Ok(self.inner.meta.set_implicit(n.id, false)?)
    }

    /// Lets folder `path` go: deleted now if empty (and its implicit parents left empty
    /// with it), else marked implicit, to go with its last child. What deleting an S3
    /// `key/` marker object does: the objects below stay.
    pub fn release_folder(&self, path: &NasPath) -> EngineResult<()> {
        let n = self.resolve(path)?;
        if n.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(path.to_string()));
        }
        self.inner.meta.set_implicit(n.id, true)?;
        self.prune_implicit(Some(n.id)).map(drop)
    }

    /// Whether folder `path` is implicit.
    pub fn is_implicit(&self, path: &NasPath) -> EngineResult<bool> {
        let n = self.resolve(path)?;
        Ok(self.inner.meta.is_implicit(n.id)?)
    }

    /// After something left folder `parent`: removes it if it is implicit and now empty,
    /// then its parents on the same terms. Returns how many folders went. The caller's
    /// own change is done either way: a failure here only leaves an empty folder, which
    /// the next delete in it removes.
    pub(crate) fn prune_implicit(&self, parent: Option<NodeId>) -> EngineResult<usize> {
        match parent {
            Some(id) => Ok(self.inner.meta.prune_implicit(id)?),
            None => Ok(0),
        }
    }
}

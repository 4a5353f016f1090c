//! [`Resolved`]: the node a read-only request (GET, HEAD) found at its path, kept for the
//! rest of that request. dav-server asks for a path's metadata, then opens it (and the
//! `Range` rule stats it before either): each would walk the path in the metadata store —
//! a round trip per walk on PostgreSQL. With the first lookup kept, a GET walks once.
//!
//! Only requests that change nothing keep it, so nothing the request itself does can make
//! it stale; a change by another request meanwhile is seen as if the GET had run a moment
//! earlier (the open reads the version the stat saw, so headers and body agree).

use nas_engine::{EngineResult, Entry, Home};
use nas_types::NasPath;
use std::sync::{Arc, Mutex};

/// The path lookup of one request, or nothing kept (every lookup goes to the engine).
#[derive(Clone, Default)]
pub struct Resolved(Option<Arc<Mutex<Option<Entry>>>>);

impl Resolved {
    /// Keeps the lookup: for a request that changes nothing (GET, HEAD).
    pub fn kept() -> Resolved {
        Resolved(Some(Arc::default()))
    }

    /// Stats `path` in `home`, or answers what this request's earlier stat of it found.
    pub fn stat(&self, home: &Home, path: &NasPath) -> EngineResult<Entry> {
        if let Some(e) = self.get(path) {
            return Ok(e);
        }
        let e = home.stat(path)?;
        if let Some(slot) = &self.0 {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        }
        Ok(e)
    }

    /// What this request's earlier stat of `path` found, if it kept one.
    pub fn get(&self, path: &NasPath) -> Option<Entry> {
        let slot = self.0.as_ref()?;
        let kept = slot.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref().filter(|e| &e.path == path).cloned()
    }
}

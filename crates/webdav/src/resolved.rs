//! [`Resolved`]: the lookup of a request's path, kept for the rest of that request.
//! dav-server asks for a path's metadata, then opens it (and the `Range` rule stats it
//! before either): each would walk the path in the metadata store — a round trip per walk
//! on PostgreSQL. With the first lookup kept, a GET or a PUT walks once.
//!
//! Only GET, HEAD and PROPFIND (which change nothing) and PUT (whose only change is the
//! write that uses the lookup) keep it, so nothing the request itself does makes it stale. A change by
//! another request meanwhile is seen as if this one had run a moment earlier: a GET opens
//! the version the stat saw, so headers and body agree; a PUT's commit checks the folder
//! and the name again, atomically, as every write does.

use nas_engine::{EngineError, EngineResult, Entry, Home, WriteTarget};
use nas_types::NasPath;
use std::sync::{Arc, Mutex};

/// What a request keeps of its path lookup.
#[derive(Clone, Default)]
pub struct Resolved(Option<(Keep, Arc<Mutex<Option<Kept>>>)>);

#[derive(Clone, Copy)]
enum Keep {
    /// A stat (GET, HEAD).
    Stat,
    /// The folder and the file (PUT): what the writer needs too.
    Write,
}

enum Kept {
    Stat(Entry),
    Located(WriteTarget),
}

impl Resolved {
    /// Keeps the stat: for a request that changes nothing (GET, HEAD, PROPFIND).
    pub fn for_reads() -> Resolved {
        Resolved(Some((Keep::Stat, Arc::default())))
    }

    /// Keeps the path's folder and file for the writer: for a PUT.
    pub fn for_a_write() -> Resolved {
        Resolved(Some((Keep::Write, Arc::default())))
    }

    /// Stats `path` in `home`, or answers what this request's earlier lookup of it found.
    pub fn stat(&self, home: &Home, path: &NasPath) -> EngineResult<Entry> {
        let Some((keep, slot)) = &self.0 else {
            return home.stat(path);
        };
        let mut kept = slot.lock().unwrap_or_else(|p| p.into_inner());
        let found = match &*kept {
            Some(Kept::Stat(e)) if &e.path == path => return Ok(e.clone()),
            Some(Kept::Located(l)) if l.path() == path => l.entry(),
            _ => match keep {
                Keep::Stat => {
                    let e = home.stat(path)?;
                    *kept = Some(Kept::Stat(e.clone()));
                    Some(e)
                }
                Keep::Write => match home.locate(path) {
                    Ok(l) => {
                        let e = l.entry();
                        *kept = Some(Kept::Located(l));
                        e
                    }
                    // no folder there: the stat says why, as it always did
                    Err(_) => return home.stat(path),
                },
            },
        };
        found.ok_or_else(|| EngineError::NotFound(path.to_string()))
    }

    /// What this request's earlier stat of `path` found, if it kept one.
    pub fn get(&self, path: &NasPath) -> Option<Entry> {
        let (_, slot) = self.0.as_ref()?;
        match &*slot.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(Kept::Stat(e)) if &e.path == path => Some(e.clone()),
            _ => None,
        }
    }

    /// The folder and file this request's earlier lookup of `path` found, for its writer
    /// (handed over once).
    pub fn take_located(&self, path: &NasPath) -> Option<WriteTarget> {
        let (_, slot) = self.0.as_ref()?;
        let mut kept = slot.lock().unwrap_or_else(|p| p.into_inner());
        match kept.take() {
            Some(Kept::Located(l)) if l.path() == path => Some(l),
            other => {
                *kept = other;
                None
            }
        }
    }
}

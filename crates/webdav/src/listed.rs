//! [`Listed`]: the pages of folder listings a request has read, kept for the rest of that
//! request. dav-server lists a folder, then asks for each entry's dead properties (and,
//! for a PROPFIND naming properties, for each named one): each ask would walk the entry's
//! path and read its properties, two round trips per entry on PostgreSQL. With the page
//! kept, the entry is known without a walk, and the properties of the whole page come in
//! one query, read when its first entry asks ([`nas_engine::Home::props_of_page`]).
//!
//! It lives in the request's credentials ([`crate::fs::DavUser`]), so it is never shared
//! across requests. What it answers is what the listing and that one query saw: a change
//! by another request meanwhile is seen as if this one had run a moment earlier, as for
//! the listing itself. A folder's page is replaced by its next one and dropped when its
//! listing ends: a request keeps one page per folder being listed (one folder unless
//! `Depth: infinity`), and at most that page's properties.

use nas_engine::{DeadProp, EngineResult, Entry, Home, ListPage};
use nas_types::{NasPath, NodeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a request keeps of its listings (cheap to clone: one shared slot per request).
#[derive(Clone, Default)]
pub struct Listed(Arc<Mutex<HashMap<NasPath, Kept>>>);

struct Kept {
    page: ListPage,
    /// The page's dead properties by entry id, once one of its entries asked.
    props: Option<HashMap<NodeId, Vec<DeadProp>>>,
}

impl Kept {
    fn find(&self, path: &NasPath) -> Option<&Entry> {
        let name = path.name()?;
        // a page is sorted bytewise by name, as `str` compares
        let at = (self.page.entries)
            .binary_search_by(|e| e.name().cmp(name))
            .ok()?;
        self.page.entries.get(at)
    }
}

impl Listed {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<NasPath, Kept>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `page`, the page of `folder`'s listing being answered (in place of the last).
    pub fn keep(&self, folder: &NasPath, page: &ListPage) {
        let kept = Kept {
            page: page.clone(),
            props: None,
        };
        self.slots().insert(folder.clone(), kept);
    }

    /// Drops what was kept of `folder`'s listing (it has ended).
    pub fn forget(&self, folder: &NasPath) {
        self.slots().remove(folder);
    }

    /// The entry at `path`, if a kept page lists it.
    pub fn entry(&self, path: &NasPath) -> Option<Entry> {
        let folder = path.parent()?;
        self.slots().get(&folder)?.find(path).cloned()
    }

    /// The dead properties of `path` if a kept page lists it (`None` when none does): the
    /// whole page's are read in one query on the first ask, then answered from memory.
    pub fn props(&self, home: &Home, path: &NasPath) -> Option<EngineResult<Vec<DeadProp>>> {
        let folder = path.parent()?;
        let mut slots = self.slots();
        let kept = slots.get_mut(&folder)?;
        let id = kept.find(path)?.id;
        if kept.props.is_none() {
            match home.props_of_page(&kept.page) {
                Ok(p) => kept.props = Some(p),
                Err(e) => return Some(Err(e)), // not kept: the next entry asks again
            }
        }
        let props = kept.props.as_ref()?.get(&id).cloned().unwrap_or_default();
        Some(Ok(props))
    }
}

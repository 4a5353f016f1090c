//! [`DavMetaData`] and directory entries built from engine entries.

use dav_server::fs::{DavDirEntry, DavMetaData, FsFuture, FsResult};
use nas_engine::{Entry, NodeKind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Metadata of a file or folder, as WebDAV shows it.
#[derive(Debug, Clone)]
pub struct Meta {
    pub entry: Entry,
}

fn time(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.entry.size
    }
    fn modified(&self) -> FsResult<SystemTime> {
        Ok(time(self.entry.mtime_ns))
    }
    fn is_dir(&self) -> bool {
        self.entry.kind == NodeKind::Dir
    }
    /// Strong ETag of the content: it changes with every content change and only then
    /// (files: the first 32 hex digits, 128 bits, of the content's BLAKE3 — REST and
    /// `oc:checksums` give all 64; folders: their id and mtime).
    fn etag(&self) -> Option<String> {
        Some(match self.entry.hash {
            Some(h) => h.to_hex()[..32].to_owned(),
            None => format!("d{}-{:x}", self.entry.id, self.entry.mtime_ns),
        })
    }
}

/// An entry of a folder listing.
pub struct DirEntry {
    pub name: Vec<u8>,
    pub meta: Meta,
}

impl DavDirEntry for DirEntry {
    fn name(&self) -> Vec<u8> {
        self.name.clone()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let m: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        Box::pin(async move { Ok(m) })
    }
    fn is_dir(&self) -> FsFuture<'_, bool> {
        let d = self.meta.entry.kind == NodeKind::Dir;
        Box::pin(async move { Ok(d) })
    }
}

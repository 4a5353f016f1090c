//! Where tus uploads live until they complete: a staging home per user
//! (`.tus-uploads.<user>`, a name no user can have), one folder per upload holding a
//! marker file (`upload`: the target path, the announced length and the client's
//! metadata, as user metadata of an empty file) and one file per acknowledged PATCH
//! (`seg-<offset>`, the offset zero-padded to 20 digits so names sort by offset).
//!
//! Segments go through the engine's write pipeline, so they are chunked, deduplicated
//! and durable like any file. A segment is committed with `Expect::Absent`, so two PATCHes
//! racing at the same offset cannot both land; segments are never changed afterwards, so
//! the upload's offset is the end of the chain of segments starting at 0.

use crate::error::{RestError, RestResult};
use nas_engine::{EngineError, Entry, FileReader, Home, NodeKind, Store};
use nas_types::NasPath;
use std::time::Duration;

/// Prefix of the staging homes' names (user names never start with a dot).
pub const STAGING_PREFIX: &str = ".tus-uploads.";

/// User-metadata keys of the marker file.
pub const LENGTH_KEY: &str = "tus:length";
pub const PATH_KEY: &str = "tus:path";
pub const METADATA_KEY: &str = "tus:metadata";

/// The name of `user`'s staging home.
pub fn staging_name(user: &str) -> String {
    format!("{STAGING_PREFIX}{user}")
}

pub use nas_engine::{KeyedLocks as UploadLocks, new_upload_id, upload_dir};

/// The marker file of upload folder `dir`.
pub fn marker(dir: &NasPath) -> NasPath {
    dir.join("upload").unwrap_or_else(|_| dir.clone())
}

/// The file of the segment starting at `offset` in `dir`.
pub fn segment_path(dir: &NasPath, offset: u64) -> NasPath {
    dir.join(&format!("seg-{offset:020}"))
        .unwrap_or_else(|_| dir.clone())
}

/// What the marker says about an upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The folder in the staging home.
    pub dir: NasPath,
    /// The file the upload becomes, in the user's home.
    pub target: NasPath,
    /// Announced length.
    pub length: u64,
    /// The `Upload-Metadata` header as the client sent it.
    pub metadata: String,
    /// Content type for the final version (metadata `filetype` or `content-type`).
    pub content_type: Option<String>,
    /// When the marker was written (creation).
    pub created_ns: i64,
}

/// The committed segments of an upload, in order, and what they add up to.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Segments of the chain from offset 0, in order.
    pub segments: Vec<Entry>,
    /// Bytes acknowledged: the end of the chain.
    pub offset: u64,
    /// Newest modification time among the marker and the segments (last activity).
    pub last_activity_ns: i64,
}

/// Reads the marker of upload `id` (404 when there is none: unknown, terminated,
/// completed, expired, or another user's).
pub fn load(staging: &Home, id: &str) -> RestResult<Upload> {
    let gone = || RestError::NotFound("not_found", format!("no upload {id}"));
    let dir = upload_dir(id).ok_or_else(gone)?;
    let m = match staging.stat(&marker(&dir)) {
        Ok(m) => m,
        Err(EngineError::NotFound(_)) => return Err(gone()),
        Err(e) => return Err(e.into()),
    };
    let u = &m.attrs.user;
    let length = u.get(LENGTH_KEY).and_then(|v| v.parse().ok());
    let target = u.get(PATH_KEY).and_then(|p| NasPath::parse(p).ok());
    let (Some(length), Some(target)) = (length, target) else {
        return Err(RestError::Internal(format!("upload {id}: damaged marker")));
    };
    Ok(Upload {
        dir,
        target,
        length,
        metadata: u.get(METADATA_KEY).cloned().unwrap_or_default(),
        content_type: m.attrs.content_type.clone(),
        created_ns: m.mtime_ns,
    })
}

/// The segments of an upload folder and its offset.
pub fn progress(staging: &Home, up: &Upload) -> RestResult<Progress> {
    let mut p = Progress {
        last_activity_ns: up.created_ns,
        ..Progress::default()
    };
    let mut after: Option<String> = None;
    loop {
        let page = staging.list(&up.dir, after.as_deref(), 1000)?;
        for e in page.entries {
            let Some(start) = e
                .name()
                .strip_prefix("seg-")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if e.kind != NodeKind::File {
                continue;
            }
            p.last_activity_ns = p.last_activity_ns.max(e.mtime_ns);
            if start == p.offset {
                p.offset += e.size;
                p.segments.push(e);
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    Ok(p)
}

/// Opens every segment of the chain, for composition.
pub fn open_segments(staging: &Home, p: &Progress) -> RestResult<Vec<FileReader>> {
    p.segments
        .iter()
        .map(|e| Ok(staging.open(&e.path, e.version)?))
        .collect()
}

/// Purges every upload with no activity (creation or acknowledged PATCH) for longer than
/// `age`, in every staging home. Returns how many were removed; GC frees their chunks.
pub fn expire_uploads(
    store: &Store,
    age: Duration,
    locks: &UploadLocks,
) -> Result<usize, EngineError> {
    store.expire_staged(STAGING_PREFIX, age, locks, |staging, dir| {
        match load(staging, dir.name()) {
            Ok(up) => match progress(staging, &up) {
                Ok(p) => p.last_activity_ns,
                Err(_) => up.created_ns,
            },
            // a folder without a readable marker is a creation cut short
            Err(_) => dir.mtime_ns,
        }
    })
}

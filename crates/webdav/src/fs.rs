//! [`EngineFs`]: dav-server's file-system trait on the engine. Every call runs on tokio's
//! blocking pool (the engine is synchronous). The credentials carry the signed-in user's
//! home, so a request can never name a path outside it: paths are relative to the home
//! and go through `NasPath` (no `..`, no empty segments, NFC).

use crate::dead_props::refusals;
use crate::file::{ReadFile, WriteFile};
pub use crate::listed::Listed;
use crate::metadata::{DirEntry, Meta};
pub use crate::resolved::Resolved;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream,
    GuardedFileSystem, OpenOptions, ReadDirMeta,
};
use futures_util::stream;
use http::StatusCode;
use nas_engine::{DeadProp, EngineError, Home, NodeKind, PropOp};
use nas_types::NasPath;
use std::time::{SystemTime, UNIX_EPOCH};

/// Who is asking: their home and what they may do.
#[derive(Clone)]
pub struct DavUser {
    /// The user's home.
    pub home: Home,
    /// False for read-only users.
    pub can_write: bool,
    /// The request's path lookup, kept for its later calls when it changes nothing.
    pub resolved: Resolved,
    /// The request's folder listings, kept for the properties of their entries.
    pub listed: Listed,
}

/// The engine as a dav-server file system (stateless: all state is in the credentials).
#[derive(Clone, Default)]
pub struct EngineFs;

/// Why a write was refused for space. dav-server's `FsError` carries no reason, so
/// [`fs_err`] notes it here for the request being served ([`REFUSAL`]), and the HTTP layer
/// gives the 507 its body: RFC 4331's precondition element and the engine's message.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The user's quota would be exceeded (`DAV:quota-not-exceeded`).
    Quota(String),
    /// The server's disk is full (`DAV:sufficient-disk-space`).
    DiskFull(String),
    /// The object store holding the data is unreachable (answered 503).
    Unavailable(String),
}

tokio::task_local! {
    /// The space refusal of the request being served, scoped per request by the HTTP layer.
    pub static REFUSAL: std::cell::RefCell<Option<Refusal>>;
}

fn note(r: Refusal) {
    // outside a request's scope (a blocking-pool thread) there is nowhere to note it: the
    // HTTP layer then falls back to the disk's state
    let _ = REFUSAL.try_with(|s| *s.borrow_mut() = Some(r));
}

/// A folder's entries as dav-server streams them: pages of 1,000 fetched as the response is
/// written, so memory stays bounded for folders of any size (a home's and a share's view).
/// Each page is kept in `listed` while its entries are answered, and dropped at the end.
pub fn listing(home: Home, p: NasPath, listed: Option<Listed>) -> FsStream<Box<dyn DavDirEntry>> {
    use futures_util::StreamExt;
    let pages = stream::unfold(Some(None::<String>), move |cursor| {
        let (home, p, listed) = (home.clone(), p.clone(), listed.clone());
        async move {
            let Some(after) = cursor else {
                if let Some(l) = &listed {
                    l.forget(&p);
                }
                return None;
            };
            let folder = p.clone();
            match blocking(move || home.list(&folder, after.as_deref(), 1000)).await {
                Ok(page) => {
                    if let Some(l) = &listed {
                        l.keep(&p, &page);
                    }
                    let next = page.next_after.clone().map(Some);
                    let items: Vec<FsResult<Box<dyn DavDirEntry>>> = page
                        .entries
                        .into_iter()
                        .map(|e| {
                            Ok(Box::new(DirEntry {
                                name: e.name().as_bytes().to_vec(),
                                meta: Meta { entry: e },
                            }) as Box<dyn DavDirEntry>)
                        })
                        .collect();
                    Some((stream::iter(items), next))
                }
                Err(e) => Some((stream::iter(vec![Err(e)]), None)),
            }
        }
    });
    Box::pin(pages.flatten())
}

/// Maps an engine error to the file-system error dav-server turns into a status.
pub fn fs_err(e: EngineError) -> FsError {
    match e {
        EngineError::NotFound(_) => FsError::NotFound,
        EngineError::AlreadyExists(_) => FsError::Exists,
        EngineError::NotADirectory(_) => FsError::NotFound,
        e @ EngineError::QuotaExceeded { .. } => {
            note(Refusal::Quota(e.to_string()));
            FsError::InsufficientStorage
        }
        EngineError::IsADirectory(_)
        | EngineError::Conflict(_)
        | EngineError::InvalidArgument(_)
        | EngineError::Path(_) => FsError::Forbidden,
        // a version under object lock: 403, as for anything the caller may not do
        EngineError::Retained(why) => {
            tracing::debug!("webdav: refused, object locked: {why}");
            FsError::Forbidden
        }
        EngineError::StorageFull(why) => {
            tracing::warn!("webdav: storage full: {why}");
            note(Refusal::DiskFull(why));
            FsError::InsufficientStorage // 507, given its body by the HTTP layer
        }
        EngineError::Unavailable(why) => {
            tracing::warn!("webdav: unavailable: {why}");
            note(Refusal::Unavailable(why));
            FsError::GeneralFailure // 503, given its status and body by the HTTP layer
        }
        other => {
            tracing::error!("webdav: {other}");
            FsError::GeneralFailure
        }
    }
}

/// The status dav-server answers for an engine error (through [`fs_err`]), for the few
/// requests this door answers outside dav-server: one mapping for the whole door.
pub fn status_of(e: EngineError) -> http::StatusCode {
    use http::StatusCode as S;
    match fs_err(e) {
        FsError::NotFound => S::NOT_FOUND,
        FsError::Forbidden => S::FORBIDDEN,
        FsError::Exists => S::METHOD_NOT_ALLOWED,
        FsError::InsufficientStorage => S::INSUFFICIENT_STORAGE,
        FsError::NotImplemented => S::NOT_IMPLEMENTED,
        FsError::TooLarge => S::PAYLOAD_TOO_LARGE,
        FsError::PathTooLong => S::URI_TOO_LONG,
        FsError::LoopDetected => S::LOOP_DETECTED,
        _ => S::INTERNAL_SERVER_ERROR,
    }
}

/// A DAV path as a home path; refused (403) when it breaks the path rules.
pub fn nas_path(path: &DavPath) -> FsResult<NasPath> {
    let s = std::str::from_utf8(path.as_bytes()).map_err(|_| FsError::Forbidden)?;
    NasPath::parse(s).map_err(|_| FsError::Forbidden)
}

/// Runs engine work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> FsResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(fs_err),
        Err(_) => Err(FsError::GeneralFailure),
    }
}

fn writable(u: &DavUser) -> FsResult<()> {
    if u.can_write {
        Ok(())
    } else {
        Err(FsError::Forbidden)
    }
}

/// Serializes PROPPATCH's check-then-write of the dead-property limits in this process
/// (PROPPATCH is rare; the engine's write lock serializes the writes themselves anyway).
static PATCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn prop_key(p: &DavProp) -> (String, String) {
    (p.namespace.clone().unwrap_or_default(), p.name.clone())
}

impl GuardedFileSystem<DavUser> for EngineFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
        u: &'a DavUser,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        Box::pin(async move {
            let p = nas_path(path)?;
            let home = u.home.clone();
            if options.write {
                writable(u)?;
                if options.append {
                    return Err(FsError::NotImplemented); // partial updates: whole-file writes only
                }
                let (truncate, create, create_new) =
                    (options.truncate, options.create, options.create_new);
                // Index reads run inline (microseconds, never blocked by writers in WAL
                // mode); only what commits goes to the blocking pool. A small PUT then
                // costs one thread hand-off instead of four.
                // dav-server looked the path up just before: the writer takes that lookup
                let writer = match u.resolved.take_located(&p) {
                    Some(at) => home.writer_located(&at, Default::default()),
                    None => home.writer_and_existing(&p, Default::default()),
                };
                let (w, exists) = match writer {
                    Ok(we) => we,
                    Err(EngineError::IsADirectory(_)) if create_new => {
                        return Err(FsError::Exists);
                    }
                    Err(e) => return Err(fs_err(e)),
                };
                if exists && create_new {
                    return Err(FsError::Exists);
                }
                if !exists && !create {
                    return Err(FsError::NotFound);
                }
                if !truncate {
                    if exists {
                        return Err(FsError::NotImplemented); // partial writes
                    }
                    // LOCK on a missing path (davfs2, Windows): the empty locked resource
                    // must exist now, not when the handle is flushed.
                    let (h, p2) = (home.clone(), p.clone());
                    blocking(move || h.write_all(&p2, b"", Default::default()).map(|_| ())).await?;
                }
                return Ok(Box::new(WriteFile::new(w, home, p)) as Box<dyn DavFile>);
            }
            // dav-server stats the path before it opens it: no second walk
            let mut file = match u.resolved.get(&p) {
                Some(e) => home.open_entry(&e),
                None => home.open(&p, None),
            }
            .map_err(fs_err)?;
            if file.may_need_remote() {
                // an unreachable object store: 503 now, not a body cut short
                file = blocking(move || file.check_available(0).map(|()| file)).await?;
            }
            let entry = file.entry();
            Ok(Box::new(ReadFile::new(file, entry)) as Box<dyn DavFile>)
        })
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
        u: &'a DavUser,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        Box::pin(async move {
            let p = nas_path(path)?;
            Ok(listing(u.home.clone(), p, Some(u.listed.clone())))
        })
    }

    fn metadata<'a>(
        &'a self,
        path: &'a DavPath,
        u: &'a DavUser,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let p = nas_path(path)?;
            let e = u.resolved.stat(&u.home, &p).map_err(fs_err)?; // inline: an index read
            Ok(Box::new(Meta { entry: e }) as Box<dyn DavMetaData>)
        })
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath, u: &'a DavUser) -> FsFuture<'a, ()> {
        Box::pin(async move {
            writable(u)?;
            let p = nas_path(path)?;
            let home = u.home.clone();
            blocking(move || home.mkdir(&p).map(|_| ())).await
        })
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath, u: &'a DavUser) -> FsFuture<'a, ()> {
        self.remove_file(path, u)
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath, u: &'a DavUser) -> FsFuture<'a, ()> {
        Box::pin(async move {
            writable(u)?;
            let p = nas_path(path)?;
            let home = u.home.clone();
            blocking(move || home.delete(&p).map(|_| ())).await
        })
    }

    fn rename<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        u: &'a DavUser,
    ) -> FsFuture<'a, ()> {
        Box::pin(async move {
            writable(u)?;
            let (f, t) = (nas_path(from)?, nas_path(to)?);
            let home = u.home.clone();
            // dav-server has already removed an existing destination when Overwrite allowed it
            blocking(move || home.rename(&f, &t, true).map(|_| ())).await
        })
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath, u: &'a DavUser) -> FsFuture<'a, ()> {
        Box::pin(async move {
            writable(u)?;
            let (f, t) = (nas_path(from)?, nas_path(to)?);
            let home = u.home.clone();
            blocking(move || home.copy(&f, &t, true).map(|_| ())).await
        })
    }

    fn set_modified<'a>(
        &'a self,
        path: &'a DavPath,
        tm: SystemTime,
        u: &'a DavUser,
    ) -> FsFuture<'a, ()> {
        Box::pin(async move {
            writable(u)?;
            let p = nas_path(path)?;
            let ns = tm
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0);
            let home = u.home.clone();
            blocking(move || home.set_mtime(&p, ns)).await
        })
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
        _u: &'a DavUser,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async { true })
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
        u: &'a DavUser,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        Box::pin(async move {
            writable(u)?;
            let p = nas_path(path)?;
            let mut ops = Vec::new();
            let mut out = Vec::new();
            for (is_set, prop) in patch {
                let (ns, name) = prop_key(&prop);
                if is_set {
                    ops.push(PropOp::Set(DeadProp {
                        ns,
                        name,
                        prefix: prop.prefix.clone().unwrap_or_default(),
                        value: prop.xml.clone().unwrap_or_default(),
                    }));
                } else {
                    ops.push(PropOp::Remove(ns, name));
                }
                let mut echo = prop;
                echo.xml = None;
                out.push((StatusCode::OK, echo));
            }
            let home = u.home.clone();
            // read, check the limits and write under one lock, so that two PROPPATCHes
            // cannot both pass the per-resource count
            let refused = blocking(move || {
                let _one_at_a_time = PATCHING.lock().unwrap_or_else(|p| p.into_inner());
                let current = home.props(&p)?;
                let refused = refusals(&current, &ops);
                if refused.is_none() {
                    home.patch_props(&p, &ops)?;
                }
                Ok(refused)
            })
            .await?;
            if let Some(codes) = refused {
                for ((code, _), refusal) in out.iter_mut().zip(codes) {
                    *code = refusal;
                }
            }
            Ok(out)
        })
    }

    fn get_props<'a>(
        &'a self,
        path: &'a DavPath,
        do_content: bool,
        u: &'a DavUser,
    ) -> FsFuture<'a, Vec<DavProp>> {
        Box::pin(async move {
            let p = nas_path(path)?;
            // Inline, not on the blocking pool: called once per entry of a PROPFIND, and a
            // thread hand-off per entry costs more than this indexed read. An entry of the
            // folder this request lists: its page's properties, read once for the page.
            let props = match u.listed.props(&u.home, &p) {
                Some(props) => props,
                None => match u.resolved.get(&p) {
                    Some(e) => u.home.props_of(&e), // the request's own path: no second walk
                    None => u.home.props(&p),
                },
            }
            .map_err(fs_err)?;
            Ok(props
                .into_iter()
                .map(|d| DavProp {
                    name: d.name,
                    prefix: Some(d.prefix),
                    namespace: Some(d.ns),
                    xml: do_content.then_some(d.value),
                })
                .collect())
        })
    }

    fn get_prop<'a>(
        &'a self,
        path: &'a DavPath,
        prop: DavProp,
        u: &'a DavUser,
    ) -> FsFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let p = nas_path(path)?;
            let (ns, name) = prop_key(&prop);
            // an entry this request listed or looked up already: no walk, and its
            // properties from its page's one query
            let (entry, props) = match u.listed.entry(&p).or_else(|| u.resolved.get(&p)) {
                Some(e) => {
                    let props = match u.listed.props(&u.home, &p) {
                        Some(props) => props,
                        None => u.home.props_of(&e),
                    };
                    (e, props.map_err(fs_err)?)
                }
                None => {
                    let home = u.home.clone();
                    blocking(move || Ok((home.stat(&p)?, home.props(&p)?))).await?
                }
            };
            if ns == "http://owncloud.org/ns" {
                // live sync-client properties: a stable file id and the content checksum
                match name.as_str() {
                    "fileid" => {
                        return Ok(format!(
                            "<oc:fileid xmlns:oc=\"{ns}\">{}</oc:fileid>",
                            entry.id
                        )
                        .into_bytes());
                    }
                    "checksums" if entry.kind == NodeKind::File => {
                        let h = entry.hash.map(|h| h.to_hex()).unwrap_or_default();
                        return Ok(format!("<oc:checksums xmlns:oc=\"{ns}\"><oc:checksum>BLAKE3:{h}</oc:checksum></oc:checksums>").into_bytes());
                    }
                    _ => {}
                }
            }
            props
                .into_iter()
                .find(|d| d.ns == ns && d.name == name)
                .map(|d| d.value)
                .ok_or(FsError::NotFound)
        })
    }

    fn get_quota<'a>(&'a self, u: &'a DavUser) -> FsFuture<'a, (u64, Option<u64>)> {
        Box::pin(async move {
            let home = u.home.clone();
            let usage = blocking(move || home.usage()).await?;
            Ok((usage.used(), usage.quota))
        })
    }
}

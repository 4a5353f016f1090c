//! The read-only WebDAV view of a share link, at `/s/{token}/dav/` (so a shared folder
//! can be mounted): `OPTIONS`, `PROPFIND` (depth 0 or 1), `GET` and `HEAD` only — every
//! other method is 405 (dav-server's method set `WEBDAV_RO`), and the file system below
//! refuses every write anyway. The REST crate's share door has already checked the link
//! (token, password, expiry, kind) and calls [`serve_share_view`] with the owner's home
//! and the shared folder's current path; paths are relative to that folder and go through
//! `NasPath` (no `..`), so nothing outside it can be named. No lock system: nothing to
//! lock in a read-only view. Dead properties are not shown.

use crate::file::ReadFile;
use crate::fs::{blocking, fs_err, listing, nas_path};
use crate::metadata::Meta;
use crate::paths::check_uri_path;
use crate::precheck::{guard_body, rewrite_range_at};
use crate::responses::status;
use axum::body::Body;
use axum::response::Response;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavMetaData, FsError, FsFuture, FsResult, FsStream, GuardedFileSystem,
    OpenOptions, ReadDirMeta,
};
use dav_server::{DavHandler, DavMethodSet};
use http::{Method, Request, StatusCode};
use nas_engine::Home;
use nas_types::NasPath;

/// The shared folder (or file) the view is rooted at.
#[derive(Clone)]
pub struct ShareRoot {
    home: Home,
    root: NasPath,
}

impl ShareRoot {
    /// The home path of a path of the view.
    fn path(&self, p: &DavPath) -> FsResult<NasPath> {
        let rel = nas_path(p)?;
        let mut out = self.root.clone();
        for seg in rel.segments() {
            out = out.join(seg).map_err(|_| FsError::Forbidden)?;
        }
        Ok(out)
    }
}

#[derive(Clone, Default)]
struct ShareFs;

impl GuardedFileSystem<ShareRoot> for ShareFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
        s: &'a ShareRoot,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        Box::pin(async move {
            if options.write || options.append || options.create || options.create_new {
                return Err(FsError::Forbidden);
            }
            let p = s.path(path)?;
            let home = s.home.clone();
            let file = blocking(move || home.open(&p, None)).await?;
            let entry = file.entry();
            Ok(Box::new(ReadFile::new(file, entry)) as Box<dyn DavFile>)
        })
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
        s: &'a ShareRoot,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        Box::pin(async move {
            let p = s.path(path)?;
            Ok(listing(s.home.clone(), p, None))
        })
    }

    fn metadata<'a>(
        &'a self,
        path: &'a DavPath,
        s: &'a ShareRoot,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let p = s.path(path)?;
            let e = s.home.stat(&p).map_err(fs_err)?; // an index read
            Ok(Box::new(Meta { entry: e }) as Box<dyn DavMetaData>)
        })
    }

    fn create_dir<'a>(&'a self, _: &'a DavPath, _: &'a ShareRoot) -> FsFuture<'a, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn remove_dir<'a>(&'a self, _: &'a DavPath, _: &'a ShareRoot) -> FsFuture<'a, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn remove_file<'a>(&'a self, _: &'a DavPath, _: &'a ShareRoot) -> FsFuture<'a, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn rename<'a>(&'a self, _: &'a DavPath, _: &'a DavPath, _: &'a ShareRoot) -> FsFuture<'a, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn copy<'a>(&'a self, _: &'a DavPath, _: &'a DavPath, _: &'a ShareRoot) -> FsFuture<'a, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }
}

/// Answers one request of the view of `root` (a path of `home`) mounted at `prefix`
/// (`/s/{token}/dav`).
pub async fn serve_share_view(
    home: Home,
    root: NasPath,
    prefix: String,
    mut req: Request<Body>,
) -> Response {
    let path = req.uri().path().to_owned();
    let rel = path.strip_prefix(prefix.as_str()).unwrap_or("/").to_owned();
    // the naming rules of every WebDAV path, on the path below the view's root
    if let Err(why) = check_uri_path(&format!("/dav{rel}")) {
        return status(StatusCode::BAD_REQUEST, why);
    }
    let method = req.method().clone();
    if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PROPFIND") {
        let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "this share is read-only");
        r.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("OPTIONS, GET, HEAD, PROPFIND"),
        );
        return r;
    }
    if method.as_str() == "PROPFIND"
        && req
            .headers()
            .get("depth")
            .and_then(|d| d.to_str().ok())
            .is_none_or(|d| d.eq_ignore_ascii_case("infinity"))
    {
        return status(StatusCode::FORBIDDEN, "PROPFIND takes Depth: 0 or 1 here");
    }
    let share = ShareRoot { home, root };
    if method == Method::GET || method == Method::HEAD {
        let dav = DavPath::new(if rel.is_empty() { "/" } else { &rel }).ok();
        let at = dav.and_then(|d| share.path(&d).ok());
        rewrite_range_at(req.headers_mut(), &share.home, at);
    }
    let req = match guard_body(req).await {
        Ok((req, _)) => req,
        Err(r) => return r,
    };
    let handler: DavHandler<ShareRoot> = DavHandler::builder()
        .filesystem(Box::new(ShareFs))
        .strip_prefix(prefix)
        .methods(DavMethodSet::WEBDAV_RO)
        .read_buf_size(256 * 1024)
        .build_handler();
    let resp = handler.handle_guarded(req, "share".into(), share).await;
    resp.map(Body::new)
}

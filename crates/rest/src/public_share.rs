//! The public share door at `/s/{token}…`: no account, a door on the engine's share API
//! (`nas_engine::shares`; design in `docs/design/shares.md`).
//!
//! - **Read share of a file**: `GET /s/{token}` downloads it (the download route's
//!   response: one `Range`, ETag, conditionals, `Content-Disposition: attachment`); a
//!   browser (`Accept` naming `text/html`) gets the file's page instead, whose button is
//!   `?download=1` (the download itself, for any client).
//! - **Read share of a folder**: `GET /s/{token}/` (and `/s/{token}/sub/…/`) lists it —
//!   HTML for browsers, JSON for `Accept: application/json` or `?format=json`, paged by
//!   name (`?after=`, `?limit=` ≤ 1000); `GET /s/{token}/path/file` downloads a file in it;
//!   `?download=1` on a folder streams a ZIP of it.
//! - **Drop share**: `PUT` (or `POST`) `/s/{token}/{name}` stores a new file in the folder
//!   (through the one upload bridge, `nas_engine::Upload`); a name in use gets
//!   `name (2).ext`…, never an overwrite, and the answer does not say which name was used.
//!   Every `GET`/`HEAD` is 403, with the same answer whatever the path: nothing is listed
//!   or read, no name is confirmed — but a browser at the share's root gets the drop page
//!   (200), whose plain form posts `multipart/form-data` to `/s/{token}/` (`drop_form.rs`).
//! - **WebDAV view** of a read share: `/s/{token}/dav/` (PROPFIND, GET, HEAD, OPTIONS;
//!   everything else 405), served by the WebDAV door through [`ShareDav`] — so a shared
//!   folder can be mounted (any user name, the share's password if it has one). A share
//!   with a download limit has no WebDAV view (403): its downloads are counted at the
//!   direct link only. (A top-level sub-folder called `dav` of a shared folder is reached
//!   through the view, not the listing.)
//! - **Password**: HTTP Basic with any user name (`curl -u :PASS`) or the page's form
//!   (`POST /s/{token}` with `password=`); attempts are throttled per share and client by
//!   nas-auth's limiter; success sets a cookie signed for this share only (1 hour, path
//!   `/s/{token}`, `HttpOnly`, `SameSite=Lax`), never the owner's session.
//! - **Downloads** count when a response carries a file's first byte (a whole `GET`, or a
//!   range starting at 0; a folder's ZIP counts one): reserved atomically before the body
//!   is sent, so a limit is never exceeded; `HEAD`, listings and later ranges (resumes,
//!   seeking) do not count. Over the limit or past the expiry: 410.
//! - Unknown, revoked, target deleted, owner disabled: 404. Every access is written to the
//!   audit log by this module (door `share`), with the share's id in place of the token
//!   (the server's audit middleware skips `/s/`, so a token never reaches the database).

use crate::download::serve_reader;
use crate::extract::segments_to_path;
use crate::public_page::{self, Listing, ListingEntry};
use crate::share_password::{
    SHARE_COOKIE_SECRET, basic_password, check_password, cookie_valid, password_form, set_cookie,
    share_password_limits,
};
use crate::state::RestState;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use nas_auth::RateLimiter;
use nas_engine::audit::AuditRecord;
use nas_engine::{EngineError, Expect, FileAttrs, NodeKind, OpenShare, ShareError, ShareKind};
use nas_engine::{Home, Upload, WriteOptions};
use nas_types::NasPath;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A request for the read-only WebDAV view of a checked share (`/s/{token}/dav/…`).
pub struct ShareDavRequest {
    /// The owner's home.
    pub home: Home,
    /// The shared folder's (or file's) current path in it.
    pub root: NasPath,
    /// Where the view is mounted: `/s/{token}/dav`.
    pub prefix: String,
    /// The request.
    pub req: Request,
}

/// What serves the WebDAV view (the WebDAV door; the server wires it, since this crate
/// may not depend on another door).
pub type ShareDav =
    Arc<dyn Fn(ShareDavRequest) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// State of the public share door.
#[derive(Clone)]
pub struct ShareDoor {
    pub(crate) rest: RestState,
    pub(crate) key: [u8; 32],
    pub(crate) limiter: Arc<RateLimiter>,
    dav: Option<ShareDav>,
    /// Passwords verified lately (a keyed hash of share, password and stored hash → when),
    /// so a WebDAV client sending Basic on every request costs one argon2 per few minutes.
    pub(crate) verified: Arc<Mutex<HashMap<[u8; 32], Instant>>>,
}

/// The `/s/…` routes; `dav` serves the WebDAV view of read shares (without it,
/// `/s/{token}/dav/` is 404).
pub fn router(rest: RestState, dav: Option<ShareDav>) -> std::io::Result<Router> {
    let key = rest.store().coordinator().secret(SHARE_COOKIE_SECRET)?;
    let mut limiter = RateLimiter::new(share_password_limits());
    if let Some(counts) = rest.store().coordinator().failure_counts() {
        limiter = limiter.sharing(counts, "share-password"); // cluster mode
    }
    let door = ShareDoor {
        rest,
        key,
        limiter: Arc::new(limiter),
        dav,
        verified: Arc::default(),
    };
    Ok(Router::new()
        .route("/s/{token}", any(handle))
        .route("/s/{token}/", any(handle))
        .route("/s/{token}/{*rest}", any(handle))
        .with_state(door))
}

/// What the audit entry of a request says.
struct Outcome {
    resp: Response,
    /// The share, when the token named one.
    share: Option<(String, String)>,
}

fn plain(resp: Response) -> Outcome {
    Outcome { resp, share: None }
}

async fn handle(State(d): State<ShareDoor>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let client = d.rest.client_ip(peer, req.headers());
    let method = req.method().clone();
    let raw = req.uri().path().to_owned();
    let after = raw.strip_prefix("/s/").unwrap_or("");
    let (token, rest) = match after.find('/') {
        Some(i) => (after[..i].to_owned(), after[i..].to_owned()),
        None => (after.to_owned(), String::new()),
    };
    let out = serve(&d, &token, &rest, client, req).await;
    let mut resp = out.resp;
    let h = resp.headers_mut();
    // the token is in the URL: never send it on as a Referer
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(log) = d.rest.audit() {
        let status = resp.status().as_u16();
        let kind = match status {
            401 | 429 => "auth_failure",
            s if s < 400 => "share_access",
            _ => "share_refused",
        };
        let (id, owner) = match out.share {
            Some((id, owner)) => (id, Some(owner)),
            None => ("-".to_owned(), None),
        };
        log.record(AuditRecord {
            id: 0,
            time_ns: nas_engine::now_ns(),
            user: owner,
            door: "share".into(),
            kind: kind.into(),
            client: Some(client.to_string()),
            method: method.as_str().to_owned(),
            path: format!("/s/{id}{rest}"),
            status,
            destination: None,
            access_key: None,
        });
    }
    resp
}

async fn serve(d: &ShareDoor, token: &str, rest: &str, client: IpAddr, req: Request) -> Outcome {
    let (t, store) = (token.to_owned(), d.rest.store().clone());
    let open = match tokio::task::spawn_blocking(move || store.open_share(&t)).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return plain(refusal_of(&e, req.headers())),
        Err(_) => {
            return plain(public_page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
                req.headers(),
            ));
        }
    };
    let share = Some((open.record.id.clone(), open.record.owner.clone()));
    let resp = match authorized(d, &open, token, rest, client, req).await {
        Ok(r) | Err(r) => r,
    };
    Outcome { resp, share }
}

/// The refusal of a share that cannot be opened.
fn refusal_of(e: &ShareError, h: &HeaderMap) -> Response {
    match e {
        ShareError::Unknown => public_page::error(StatusCode::NOT_FOUND, "no such share", h),
        ShareError::Expired => public_page::error(StatusCode::GONE, "this share has expired", h),
        ShareError::Exhausted => public_page::error(
            StatusCode::GONE,
            "this share has reached its download limit",
            h,
        ),
        ShareError::Engine(e) => engine_refusal(e, h),
    }
}

pub(crate) fn engine_refusal(e: &EngineError, h: &HeaderMap) -> Response {
    let (status, msg) = match e {
        EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not found"),
        EngineError::Path(_) => (StatusCode::BAD_REQUEST, "invalid path"),
        EngineError::QuotaExceeded { .. } | EngineError::StorageFull(_) => (
            StatusCode::INSUFFICIENT_STORAGE,
            "there is no room for this file; nothing was stored",
        ),
        EngineError::AlreadyExists(_) | EngineError::PreconditionFailed(_) => (
            StatusCode::CONFLICT,
            "the name was taken meanwhile; send the file again",
        ),
        EngineError::Incomplete(_) => (
            StatusCode::BAD_REQUEST,
            "the upload broke off; nothing was stored",
        ),
        _ => {
            tracing::error!("share: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    };
    public_page::error(status, msg, h)
}

/// The request after the share opened: the password, then what its kind allows.
async fn authorized(
    d: &ShareDoor,
    open: &OpenShare,
    token: &str,
    rest: &str,
    client: IpAddr,
    req: Request,
) -> Result<Response, Response> {
    let headers = req.headers().clone();
    let is_form = req.method() == Method::POST
        && rest.trim_matches('/').is_empty()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let mut cookie = None;
    if let Some(phc) = &open.record.password {
        if is_form {
            return Ok(password_form(d, open, token, client, req, phc).await);
        }
        if !cookie_valid(d, &open.record.id, &headers) {
            let Some(pass) = basic_password(&headers) else {
                return Err(public_page::password_needed(token, None, &headers));
            };
            check_password(d, open, &pass, client, phc, token, &headers).await?;
            let secure = crate::cookie::over_https(req.extensions(), &headers, &d.rest);
            cookie = Some(set_cookie(d, &open.record.id, token, secure));
        }
    }
    let is_dav = rest == "/dav" || rest.starts_with("/dav/");
    let mut resp = match open.record.kind {
        ShareKind::Read if is_dav => dav_view(d, open, token, req).await?,
        ShareKind::Read => read(open, token, rest, req).await?,
        ShareKind::Drop => drop_upload(open, token, rest, req).await?,
    };
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// The WebDAV view of a read share. A share with a download limit has none: its
/// downloads are counted at the direct link only.
async fn dav_view(
    d: &ShareDoor,
    open: &OpenShare,
    token: &str,
    req: Request,
) -> Result<Response, Response> {
    let h = req.headers().clone();
    let Some(dav) = &d.dav else {
        return Err(public_page::error(StatusCode::NOT_FOUND, "not found", &h));
    };
    if open.record.max_downloads.is_some() {
        return Err(public_page::error(
            StatusCode::FORBIDDEN,
            "this share counts its downloads: use its direct link",
            &h,
        ));
    }
    Ok(dav(ShareDavRequest {
        home: open.home.clone(),
        root: open.root.clone(),
        prefix: format!("/s/{token}/dav"),
        req,
    })
    .await)
}

fn query_flag(q: Option<&str>, name: &str) -> Option<String> {
    q?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// A read share: download a file, list or zip a folder.
async fn read(
    open: &OpenShare,
    token: &str,
    rest: &str,
    req: Request,
) -> Result<Response, Response> {
    let h = req.headers().clone();
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut r =
            public_page::error(StatusCode::METHOD_NOT_ALLOWED, "this link is read-only", &h);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return Err(r);
    }
    let rel = segments_to_path(rest)
        .map_err(|_| public_page::error(StatusCode::BAD_REQUEST, "invalid path", &h))?;
    let query = req.uri().query().map(str::to_owned);
    let (o, r2) = (open.clone(), rel.clone());
    let entry = tokio::task::spawn_blocking(move || -> Result<_, EngineError> {
        let path = o.path(&r2)?;
        let e = o.home.stat(&path)?;
        let reader = match e.kind {
            NodeKind::File => Some(o.home.open(&path, None)?),
            NodeKind::Dir => None,
        };
        Ok((path, e, reader))
    })
    .await
    .map_err(|_| public_page::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", &h))?
    .map_err(|e| engine_refusal(&e, &h))?;
    let (path, e, reader) = entry;
    let counts = method == Method::GET;
    let download = query_flag(query.as_deref(), "download").as_deref() == Some("1");
    if let Some(reader) = reader {
        if rel.is_root() && !download && !public_page::wants_json(&h) {
            // a browser at a shared file's link: its page (not counted); the button
            // below downloads it (`?download=1`), as `curl`/`wget` do directly
            let name = path.name().unwrap_or("download");
            return Ok(public_page::file_page(
                token,
                name,
                e.size,
                e.mtime_ns.div_euclid(1_000_000_000),
            ));
        }
        let name = path.name().unwrap_or("download").to_owned();
        let mut resp = serve_reader(reader, &name, &h).map_err(IntoResponse::into_response)?;
        let first_byte = match resp.status() {
            StatusCode::OK => true,
            StatusCode::PARTIAL_CONTENT => resp
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("bytes 0-")),
            _ => false,
        };
        if counts && first_byte {
            take_download(open, &h).await?;
        }
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
        return Ok(resp);
    }
    let json = query_flag(query.as_deref(), "format").as_deref() == Some("json")
        || public_page::wants_json(&h);
    if !download && !json && !rest.ends_with('/') {
        // a folder's page without its slash: the page's relative links need it
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
        if let Ok(v) = HeaderValue::from_str(&format!("/s/{token}{rest}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(r);
    }
    if download {
        if counts {
            take_download(open, &h).await?;
        }
        let name = match (rel.is_root(), path.name()) {
            (false, Some(n)) => n.to_owned(),
            _ => path.name().unwrap_or("share").to_owned(),
        };
        return Ok(crate::zip_folder::zip_response(
            open.home.clone(),
            path,
            &name,
        ));
    }
    let after = query_flag(query.as_deref(), "after");
    let limit = query_flag(query.as_deref(), "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1_000)
        .clamp(1, 1_000);
    let (o, p) = (open.clone(), path.clone());
    let page = tokio::task::spawn_blocking(move || o.home.list(&p, after.as_deref(), limit))
        .await
        .map_err(|_| public_page::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", &h))?
        .map_err(|e| engine_refusal(&e, &h))?;
    let listing = Listing {
        path: rel.to_string(),
        name: path.name().unwrap_or("share").to_owned(),
        entries: page
            .entries
            .iter()
            .map(|x| ListingEntry {
                name: x.name().to_owned(),
                kind: if x.kind == NodeKind::Dir {
                    "folder"
                } else {
                    "file"
                },
                size: x.size,
                mtime: x.mtime_ns.div_euclid(1_000_000_000),
            })
            .collect(),
        next_after: page.next_after,
        mtime: e.mtime_ns.div_euclid(1_000_000_000),
    };
    Ok(public_page::listing(token, &listing, json))
}

async fn take_download(open: &OpenShare, h: &HeaderMap) -> Result<(), Response> {
    let o = open.clone();
    match tokio::task::spawn_blocking(move || o.take_download()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(refusal_of(&e, h)),
        Err(_) => Err(public_page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            h,
        )),
    }
}

/// A drop share: `PUT`/`POST /s/{token}/{name}` stores a new file, and the page's form
/// (`POST /s/{token}/`, `multipart/form-data`) stores each file it carries; nothing is
/// ever read.
async fn drop_upload(
    open: &OpenShare,
    token: &str,
    rest: &str,
    req: Request,
) -> Result<Response, Response> {
    let h = req.headers().clone();
    let method = req.method().clone();
    if method != Method::PUT && method != Method::POST {
        let at_root = rest.trim_matches('/').is_empty() && req.uri().query().is_none();
        return Err(public_page::drop_page(token, at_root, &h));
    }
    if method == Method::POST
        && rest.trim_matches('/').is_empty()
        && crate::drop_form::is_multipart(&h)
    {
        return crate::drop_form::upload(open, token, req).await;
    }
    let rel = segments_to_path(rest)
        .map_err(|_| public_page::error(StatusCode::BAD_REQUEST, "invalid file name", &h))?;
    let mut segs = rel.segments();
    let (Some(name), None) = (segs.next(), segs.next()) else {
        return Err(public_page::error(
            StatusCode::BAD_REQUEST,
            "send one file to /s/{token}/{name} (no folders)",
            &h,
        ));
    };
    let content_type = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut up = drop_writer(open, name, &h).await?;
    let mut data = req.into_body().into_data_stream();
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(b) => up.push(b).await.map_err(|e| engine_refusal(&e, &h))?,
            Err(_) => {
                return Err(engine_refusal(
                    &EngineError::Incomplete("the body broke off".into()),
                    &h,
                ));
            }
        }
    }
    let attrs = FileAttrs {
        content_type,
        ..FileAttrs::default()
    };
    let v = up
        .finish(Some(attrs), None)
        .await
        .map_err(|e| engine_refusal(&e, &h))?;
    Ok(public_page::dropped(v.size, &h))
}

/// The upload of a new file called `name` (or `name (2)`…) in a drop share's folder:
/// never an overwrite, even when a rival takes the name meanwhile.
pub(crate) async fn drop_writer(
    open: &OpenShare,
    name: &str,
    h: &HeaderMap,
) -> Result<Upload, Response> {
    let (o, n) = (open.clone(), name.to_owned());
    let writer = tokio::task::spawn_blocking(move || -> Result<_, EngineError> {
        let path = o.free_name(&n)?;
        let opts = WriteOptions {
            expect: Some(Expect::Absent),
            author: Some(o.author()),
            ..WriteOptions::default()
        };
        o.home.writer(&path, opts)
    })
    .await
    .map_err(|_| public_page::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", h))?
    .map_err(|e| engine_refusal(&e, h))?;
    Ok(Upload::new(writer))
}

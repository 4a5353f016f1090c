//! The HTTP side of the door: Basic auth (before any body is read), per-user lock spaces
//! (read once per request: [`DbLs`] is built for each),
//! the `?version=N` read-only view of old versions (any other method naming a version is
//! 405), the checks of [`crate::precheck`] (XML bodies, `Destination`, `Range`),
//! `X-OC-Mtime`, finite PROPFIND depth, and cheap answers to macOS metadata files;
//! everything else goes to dav-server.

use crate::extras::{VersionSelector, old_version, version_param, win32_modified};
use crate::fs::{DavUser, EngineFs, Listed, REFUSAL, Refusal, Resolved};
use crate::locks::DbLs;
use crate::paths::{check_uri_path, dav_path, macos_noise};
use crate::precheck::{check_destination, check_nesting, guard_body, rewrite_range};
use crate::responses::{challenge, dav_options, status};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::any;
use base64::Engine as _;
use dav_server::DavHandler;
use futures_util::StreamExt;
use http::{HeaderValue, Method, Request, StatusCode, header};
use nas_auth::{AuthError, Authenticator, Principal};
use nas_engine::Store;
use nas_engine::audit::AuditNote;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Largest macOS metadata file (`._name`, `.DS_Store`) a PUT may send; it is discarded.
const MAX_NOISE_BODY: usize = 64 << 20;

/// Most locks one user holds at a time (they expire within 24 hours); a new LOCK beyond
/// it answers 507 Insufficient Storage.
pub const MAX_LOCKS_PER_USER: usize = 1000;

/// Shared state of the WebDAV door.
#[derive(Clone)]
pub struct DavState {
    store: Store,
    auth: Arc<Authenticator>,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for rate limits).
    trusted_proxies: Arc<Vec<IpAddr>>,
    /// Whether `PROPFIND Depth: infinity` is answered (a walk of the whole subtree) instead
    /// of refused with `propfind-finite-depth`.
    propfind_infinity: bool,
}

impl DavState {
    /// State over a store and an authenticator.
    pub fn new(store: Store, auth: Arc<Authenticator>) -> Self {
        DavState {
            store,
            auth,
            trusted_proxies: Arc::default(),
            propfind_infinity: false,
        }
    }

    /// Trusts `X-Forwarded-For` from these peers (a reverse proxy on the same host, say):
    /// the address it names is the one sign-in failures are counted against.
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Answers `PROPFIND Depth: infinity` (RFC 4918 lets a server refuse it, and this one
    /// does by default: one request would walk a whole tree).
    pub fn with_propfind_infinity(mut self, allow: bool) -> Self {
        self.propfind_infinity = allow;
        self
    }

    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    fn client_ip(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        nas_auth::client_address(peer, forwarded, &self.trusted_proxies)
    }

    /// A dav-server handler for one request of `user`: the user's lock space (lock paths
    /// are home-relative), read at most once by the request ([`DbLs`] keeps what it read
    /// for the request, so a handler is never reused for another).
    fn handler(&self, user: &str) -> DavHandler<DavUser> {
        DavHandler::builder()
            .filesystem(Box::new(EngineFs))
            .locksystem(DbLs::new(user, "/dav", self.store.locks()))
            .strip_prefix("/dav")
            .read_buf_size(256 * 1024)
            .build_handler()
    }
}

/// The `/dav` routes.
pub fn router(state: DavState) -> Router {
    Router::new()
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*path}", any(handle))
        .with_state(state)
}

/// 507 with a body saying why (see [`crate::responses::insufficient_storage`]): the
/// refusal the file system noted for this request, else the disk's state.
fn insufficient_storage(st: &DavState, noted: Option<Refusal>) -> Response {
    let why = noted.unwrap_or_else(|| {
        if st.store.space().is_some_and(|s| s.is_full()) {
            Refusal::DiskFull(String::new())
        } else {
            Refusal::Quota(String::new())
        }
    });
    crate::responses::insufficient_storage(&why)
}

fn basic_credentials(req: &Request<Body>) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn is_write(m: &Method) -> bool {
    !matches!(m.as_str(), "GET" | "HEAD" | "OPTIONS" | "PROPFIND")
}

async fn signed_in(
    st: &DavState,
    creds: Option<(String, String)>,
    addr: SocketAddr,
) -> Result<Principal, Response> {
    let Some((user, pass)) = creds else {
        return Err(challenge());
    };
    match st.auth.sign_in(user, pass, addr.ip()).await {
        Ok(p) => Ok(p),
        Err(AuthError::RateLimited(d)) => {
            let mut r = status(StatusCode::TOO_MANY_REQUESTS, "too many failed sign-ins");
            if let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(r)
        }
        Err(AuthError::Backend(nas_engine::EngineError::Unavailable(why))) => {
            // the metadata database is unreachable (PostgreSQL down): retry later
            tracing::warn!("sign-in: {why}");
            let mut r = status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the metadata database is unavailable, retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Err(r)
        }
        Err(AuthError::Backend(e)) => {
            tracing::error!("auth backend: {e}");
            Err(status(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
        Err(_) => Err(challenge()),
    }
}

async fn handle(
    State(st): State<DavState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut req: Request<Body>,
) -> Response {
    if req.method() == Method::OPTIONS && req.headers().get(header::AUTHORIZATION).is_none() {
        return dav_options(); // discovery must work before sign-in
    }
    let creds = basic_credentials(&req);
    let addr = SocketAddr::new(st.client_ip(addr.ip(), req.headers()), addr.port());
    let who = match signed_in(&st, creds, addr).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(note) = req.extensions().get::<AuditNote>() {
        note.set_user(&who.name); // for the audit log and the shutdown's cut-off line
    }
    if is_write(req.method()) && !who.role.can_write() {
        return status(StatusCode::FORBIDDEN, "read-only account");
    }
    let path = req.uri().path().to_owned();
    if let Err(why) = check_uri_path(&path) {
        return status(StatusCode::BAD_REQUEST, why);
    }
    if let Err((code, why)) = crate::precheck::check_if_header(req.headers()) {
        return status(code, why);
    }
    let method = req.method().as_str();
    if matches!(method, "COPY" | "MOVE") {
        if path.trim_end_matches('/') == "/dav" || dav_path(&path).is_some_and(|p| p.is_root()) {
            return status(
                StatusCode::FORBIDDEN,
                "the home folder cannot be copied or moved",
            );
        }
        let checked = check_destination(req.headers().get("destination"), req.headers())
            .and_then(|dest| check_nesting(&path, &dest));
        if let Err((code, why)) = checked {
            return status(code, why);
        }
    }
    let selector = version_param(req.uri().query());
    if selector != VersionSelector::Current && !matches!(method, "GET" | "HEAD" | "OPTIONS") {
        // a write (or PROPFIND, LOCK…) naming an old version: never the current file
        let mut r = status(
            StatusCode::METHOD_NOT_ALLOWED,
            "an old version is read-only: only GET and HEAD take ?version=",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if macos_noise(&path) {
        return match req.method().as_str() {
            "PUT" => {
                // drained, not buffered: nothing of it is kept, in memory or on disk
                let mut body = req.into_body().into_data_stream();
                let mut seen = 0usize;
                while let Some(Ok(frame)) = body.next().await {
                    seen += frame.len();
                    if seen > MAX_NOISE_BODY {
                        return status(StatusCode::PAYLOAD_TOO_LARGE, "macOS metadata too large");
                    }
                }
                status(StatusCode::CREATED, "macOS metadata is not stored")
            }
            "DELETE" => status(StatusCode::NO_CONTENT, ""),
            "GET" | "HEAD" | "PROPFIND" => status(StatusCode::NOT_FOUND, "not found"),
            _ => status(StatusCode::FORBIDDEN, "macOS metadata is not stored"),
        };
    }
    if req.method().as_str() == "PROPFIND"
        && req
            .headers()
            .get("depth")
            .and_then(|d| d.to_str().ok())
            .is_some_and(|d| d.eq_ignore_ascii_case("infinity"))
        && !st.propfind_infinity
    {
        let mut r = Response::new(Body::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n",
        ));
        *r.status_mut() = StatusCode::FORBIDDEN;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        return r;
    }
    let home = match st.store.home(&who.name) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("home of {}: {e}", who.name);
            return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    // a GET, HEAD, PROPFIND or PUT looks its path up once (`resolved.rs`)
    let resolved = match req.method().as_str() {
        "GET" | "HEAD" | "PROPFIND" => Resolved::for_reads(),
        "PUT" => Resolved::for_a_write(),
        _ => Resolved::default(),
    };
    if matches!(req.method().as_str(), "GET" | "HEAD") {
        match selector {
            VersionSelector::Version(v) => {
                let range = req
                    .headers()
                    .get(header::RANGE)
                    .and_then(|r| r.to_str().ok());
                let head = req.method() == Method::HEAD;
                return old_version(home, &path, v, head, range).await;
            }
            VersionSelector::Malformed => {
                return status(StatusCode::BAD_REQUEST, "?version= takes a version number");
            }
            VersionSelector::Current => {
                rewrite_range(req.headers_mut(), &home, &resolved, &path);
            }
        }
    }
    // Every body but PUT's is XML for dav-server: bounded and depth-checked first.
    let (req, body) = if req.method() == Method::PUT {
        (req, bytes::Bytes::new())
    } else {
        match guard_body(req).await {
            Ok(rb) => rb,
            Err(r) => return r,
        }
    };
    // A new lock (a LOCK with a body; a refresh has none) beyond the per-user cap: 507.
    if req.method().as_str() == "LOCK" && !body.is_empty() {
        let (locks, user) = (st.store.locks(), who.name.clone());
        let held = tokio::task::spawn_blocking(move || locks.list(Some(&user))).await;
        match held {
            Ok(Ok(l)) if l.len() >= MAX_LOCKS_PER_USER => {
                return status(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "too many locks held: release some first",
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!("lock table: {e}");
                return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }
    // Windows sets times with PROPPATCH Win32LastModifiedTime: applied as the mtime.
    let win32_mtime = (req.method().as_str() == "PROPPATCH")
        .then(|| win32_modified(&body))
        .flatten();
    // DELETE without any lock in the user's space: one O(1) move of the whole subtree to
    // the trash (one entry, restorable as a whole), instead of dav-server's file-by-file
    // walk. With locks around, dav-server evaluates tokens and answers 423 as it must.
    if req.method() == Method::DELETE
        && req.headers().get("if").is_none()
        && let Some(p) = dav_path(&path)
    {
        let (home2, locks, user) = (home.clone(), st.store.locks(), who.name.clone());
        let res = tokio::task::spawn_blocking(
            move || -> Result<Option<StatusCode>, nas_engine::EngineError> {
                if !locks.list(Some(&user))?.is_empty() {
                    return Ok(None);
                }
                Ok(Some(match home2.delete(&p) {
                    Ok(_) => StatusCode::NO_CONTENT,
                    Err(e) => crate::fs::status_of(e), // logged there when it is ours
                }))
            },
        )
        .await;
        match res {
            Ok(Ok(Some(StatusCode::INSUFFICIENT_STORAGE))) => {
                return insufficient_storage(&st, None);
            }
            Ok(Ok(Some(StatusCode::INTERNAL_SERVER_ERROR))) => {
                return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            Ok(Ok(Some(code))) => return status(code, ""),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::error!("delete: {e}");
                return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }
    let oc_mtime = (req.method() == Method::PUT)
        .then(|| {
            req.headers()
                .get("x-oc-mtime")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        })
        .flatten();
    let user = DavUser {
        home: home.clone(),
        can_write: who.role.can_write(),
        resolved,
        listed: Listed::default(),
    };
    let handler = st.handler(&who.name);
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let req = req.map(|b| crate::body::watched(b, broken.clone()));
    let (resp, refusal) = REFUSAL
        .scope(std::cell::RefCell::new(None), async {
            let resp = handler.handle_guarded(req, who.name.clone(), user).await;
            (resp, REFUSAL.with(|r| r.borrow_mut().take()))
        })
        .await;
    if resp.status() == StatusCode::BAD_GATEWAY && broken.load(std::sync::atomic::Ordering::Acquire)
    {
        return status(
            StatusCode::BAD_REQUEST,
            "malformed or incomplete request body",
        );
    }
    let empty = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    let why = match resp.status() {
        // dav-server answers a refused write with an empty 507: say why
        StatusCode::INSUFFICIENT_STORAGE if empty => Some(insufficient_storage(&st, refusal)),
        // an unreachable object store: 503, try again later
        StatusCode::INTERNAL_SERVER_ERROR if matches!(refusal, Some(Refusal::Unavailable(_))) => {
            let metadata = matches!(&refusal, Some(Refusal::Unavailable(w)) if w.starts_with("the metadata database"));
            let msg = if metadata {
                "service unavailable: the metadata database is unavailable; try again later"
            } else {
                "service unavailable: the storage holding this file's data is temporarily \
                 unreachable; try again later (new uploads are not affected)"
            };
            let mut r = status(StatusCode::SERVICE_UNAVAILABLE, msg);
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from_static("30"));
            Some(r)
        }
        // and a failure of the store (logged with its cause) with an empty 500
        StatusCode::INTERNAL_SERVER_ERROR if empty => Some(status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: the server could not complete the request (its log says why)",
        )),
        _ => None,
    };
    if let Some(mut r) = why {
        if let Some(close) = resp.headers().get(header::CONNECTION) {
            r.headers_mut().insert(header::CONNECTION, close.clone());
        }
        return r;
    }
    let mut resp = resp.map(Body::new);
    if let Some(ns) = win32_mtime
        && resp.status() == StatusCode::MULTI_STATUS
        && let Some(p) = dav_path(&path)
    {
        let home = home.clone();
        let _ = tokio::task::spawn_blocking(move || home.set_mtime(&p, ns)).await;
    }
    if let Some(secs) = oc_mtime
        && resp.status().is_success()
        && let Some(p) = dav_path(&path)
    {
        let ok = tokio::task::spawn_blocking(move || {
            home.set_mtime(&p, secs.saturating_mul(1_000_000_000))
        })
        .await;
        if matches!(ok, Ok(Ok(()))) {
            resp.headers_mut()
                .insert("X-OC-MTime", HeaderValue::from_static("accepted"));
        }
    }
    resp
}

//! Resumable uploads, tus 1.0 (<https://tus.io/protocols/resumable-upload>) at
//! `/api/v1/tus/`: the core protocol plus the creation, termination, checksum and
//! expiration extensions.
//!
//! `POST /api/v1/tus` with `Upload-Length` and `Upload-Metadata` (key `path`: the target
//! path in the caller's home, or `filename`: a file in the home's root; both base64 as tus
//! requires) creates an upload → 201 and `Location: /api/v1/tus/<id>`. `HEAD` tells its
//! `Upload-Offset`; each `PATCH` streams its body through the engine's write pipeline as
//! one segment file of a per-user staging home (see [`staging`]) and is acknowledged
//! only once that segment is committed (durable); the offset is the sum of committed
//! segments. When it reaches `Upload-Length`, the segments are composed into the target
//! file (`Home::compose`: no data copied, quota checked, one new version) and the staging
//! folder is purged. `DELETE` terminates. Upload ids are per user: another user's id
//! answers 404, like an unknown one.
//!
//! A PATCH whose body breaks off keeps the bytes that arrived (committed as a segment)
//! when it carried no `Upload-Checksum`; with one, nothing is kept (the digest cannot be
//! checked). Either way the client resumes from `HEAD`'s offset.

mod checksum;
pub(crate) mod patch;
mod staging;

pub use staging::{UploadLocks, expire_uploads};

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, body_path};
use crate::files::home_of;
use crate::state::{RestState, blocking};
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::options;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use nas_engine::{EngineError, FileAttrs, Home, NodeKind, WriteOptions};
use nas_types::NasPath;
use staging::{
    LENGTH_KEY, METADATA_KEY, PATH_KEY, Upload, load, marker, new_upload_id, progress,
    staging_name, upload_dir,
};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions implemented.
pub const EXTENSIONS: &str = "creation,termination,checksum,expiration";
/// Largest upload accepted (1 TiB).
pub const MAX_SIZE: u64 = 1 << 40;

/// The tus routes (merged into the REST router).
pub fn routes() -> Router<RestState> {
    Router::new()
        .route("/api/v1/tus", options(describe).post(create))
        .route("/api/v1/tus/", options(describe).post(create))
        .route(
            "/api/v1/tus/{id}",
            options(describe)
                .head(head)
                .patch(patch::patch)
                .delete(terminate),
        )
        .layer(axum::middleware::map_response(resumable))
}

/// Every tus response says which protocol version it speaks.
async fn resumable(mut r: Response) -> Response {
    r.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    r
}

/// Refuses requests without `Tus-Resumable: 1.0.0` (412 with `Tus-Version`).
fn need_tus(headers: &HeaderMap) -> RestResult<()> {
    match headers.get("tus-resumable").map(|v| v.as_bytes()) {
        Some(b"1.0.0") => Ok(()),
        _ => Err(RestError::TusVersion),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> RestResult<Option<u64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| RestError::BadRequest(format!("{name} must be a whole number"))),
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// `Upload-Expires` for an upload last active at `last_ns`, when uploads expire.
fn expires(st: &RestState, h: &mut HeaderMap, last_ns: i64) {
    if let Some(age) = st.upload_expiry() {
        let at = UNIX_EPOCH + Duration::from_secs(last_ns.max(0) as u64 / 1_000_000_000) + age;
        set(h, "upload-expires", httpdate::fmt_http_date(at));
    }
}

/// The caller's staging home. Blocking.
fn staging_of(st: &RestState, c: &Caller) -> RestResult<Home> {
    Ok(st.store().home(&staging_name(&c.who.name))?)
}

/// Refuses an upload onto a folder. Blocking.
fn not_a_folder(home: &Home, target: &NasPath) -> RestResult<()> {
    match home.stat(target) {
        Ok(e) if e.kind == NodeKind::Dir => {
            Err(EngineError::IsADirectory(target.to_string()).into())
        }
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
fn parse_metadata(raw: &str) -> RestResult<BTreeMap<String, Vec<u8>>> {
    let bad = |m: String| RestError::BadRequest(format!("Upload-Metadata: {m}"));
    let mut out = BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|_| bad(format!("the value of {k} is not base64")))?;
        if out.insert(k.to_owned(), value).is_some() {
            return Err(bad(format!("{k} is given twice")));
        }
    }
    Ok(out)
}

/// The target path: metadata `path` (in the caller's home), else `filename` (in its root).
fn target_path(meta: &BTreeMap<String, Vec<u8>>) -> RestResult<NasPath> {
    let text = |k: &str| -> RestResult<Option<String>> {
        meta.get(k)
            .map(|v| {
                String::from_utf8(v.clone()).map_err(|_| {
                    RestError::BadRequest(format!("Upload-Metadata: {k} is not UTF-8"))
                })
            })
            .transpose()
    };
    let p = if let Some(p) = text("path")? {
        body_path(&if p.starts_with('/') {
            p
        } else {
            format!("/{p}")
        })?
    } else if let Some(f) = text("filename")? {
        if f.contains('/') {
            return Err(RestError::BadPath(
                "filename contains '/' (use path)".into(),
            ));
        }
        body_path(&format!("/{f}"))?
    } else {
        return Err(RestError::BadRequest(
            "Upload-Metadata needs `path` (target path in your home) or `filename`".into(),
        ));
    };
    if p.is_root() {
        return Err(RestError::BadPath("the root is a folder".into()));
    }
    Ok(p)
}

/// `OPTIONS`: what this server supports (no sign-in needed).
#[utoipa::path(options, path = "/api/v1/tus", tag = "tus", security(()),
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm")))]
pub async fn describe() -> Response {
    let mut h = HeaderMap::new();
    set(&mut h, "tus-version", TUS_VERSION.into());
    set(&mut h, "tus-extension", EXTENSIONS.into());
    set(&mut h, "tus-max-size", MAX_SIZE.to_string());
    set(
        &mut h,
        "tus-checksum-algorithm",
        checksum::ALGORITHMS.into(),
    );
    (StatusCode::NO_CONTENT, h).into_response()
}

/// Creates an upload (tus creation extension).
#[utoipa::path(post, path = "/api/v1/tus", tag = "tus", operation_id = "tus_create",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "Total bytes"),
        ("Upload-Metadata" = String, Header, description = "`path <base64>` (target in your home) or `filename <base64>` (in its root); optional `filetype <base64>`"),
    ),
    responses(
        (status = 201, description = "Created; Location names the upload"),
        (status = 400, description = "Missing Upload-Length or target path", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 409, description = "A folder is at the target path", body = ErrorBody),
        (status = 412, description = "Missing or unsupported Tus-Resumable", body = ErrorBody),
        (status = 413, description = "Larger than Tus-Max-Size", body = ErrorBody),
        (status = 507, description = "The quota cannot hold it", body = ErrorBody),
    ))]
pub async fn create(
    State(st): State<RestState>,
    c: Caller,
    headers: HeaderMap,
) -> RestResult<Response> {
    need_tus(&headers)?;
    c.need_write()?;
    if headers.contains_key("upload-defer-length") {
        return Err(RestError::BadRequest(
            "Upload-Defer-Length is not supported: send Upload-Length".into(),
        ));
    }
    let length = header_u64(&headers, "upload-length")?
        .ok_or_else(|| RestError::BadRequest("Upload-Length is required".into()))?;
    if length > MAX_SIZE {
        return Err(RestError::TooLarge(format!(
            "Upload-Length is above Tus-Max-Size ({MAX_SIZE})"
        )));
    }
    let raw = match headers.get("upload-metadata") {
        Some(v) => v
            .to_str()
            .map_err(|_| RestError::BadRequest("Upload-Metadata is not ASCII".into()))?
            .to_owned(),
        None => String::new(),
    };
    let meta = parse_metadata(&raw)?;
    let target = target_path(&meta)?;
    let content_type = ["filetype", "content-type"]
        .iter()
        .find_map(|k| meta.get(*k))
        .and_then(|v| String::from_utf8(v.clone()).ok());
    let st2 = st.clone();
    let id = new_upload_id();
    let id2 = id.clone();
    let created = blocking(move || {
        let home = home_of(&st2, &c)?;
        not_a_folder(&home, &target)?;
        let staging = staging_of(&st2, &c)?;
        // the segments go to the staging home, which counts everything the account holds
        staging.check_room(None, length)?;
        let attrs = FileAttrs {
            content_type,
            ..FileAttrs::default()
        };
        if length == 0 {
            // nothing will be sent: the file is created now
            if let Some(parent) = target.parent() {
                home.mkdir_all(&parent)?;
            }
            let opts = WriteOptions {
                attrs,
                ..WriteOptions::default()
            };
            return Ok(home.write_all(&target, b"", opts)?.created_ns);
        }
        let dir = upload_dir(&id2).ok_or_else(|| RestError::Internal("bad upload id".into()))?;
        staging.mkdir(&dir)?;
        let mut attrs = attrs;
        attrs.user.insert(LENGTH_KEY.into(), length.to_string());
        attrs.user.insert(PATH_KEY.into(), target.to_string());
        attrs.user.insert(METADATA_KEY.into(), raw);
        let opts = WriteOptions {
            attrs,
            ..WriteOptions::default()
        };
        Ok(staging.write_all(&marker(&dir), b"", opts)?.created_ns)
    })
    .await?;
    let mut h = HeaderMap::new();
    set(&mut h, "location", format!("/api/v1/tus/{id}"));
    if length > 0 {
        expires(&st, &mut h, created);
    }
    Ok((StatusCode::CREATED, h).into_response())
}

/// The offset of an upload (tus core).
#[utoipa::path(head, path = "/api/v1/tus/{id}", tag = "tus",
    params(("id" = String, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 200, description = "Upload-Offset, Upload-Length, Upload-Metadata; Cache-Control: no-store"),
        (status = 404, description = "No such upload of yours (unknown, terminated, completed or expired)"),
    ))]
pub async fn head(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> RestResult<Response> {
    need_tus(&headers)?;
    let st2 = st.clone();
    let (up, p): (Upload, _) = blocking(move || {
        let staging = staging_of(&st2, &c)?;
        let up = load(&staging, &id)?;
        let p = progress(&staging, &up)?;
        Ok((up, p))
    })
    .await?;
    let mut h = HeaderMap::new();
    set(&mut h, "upload-offset", p.offset.to_string());
    set(&mut h, "upload-length", up.length.to_string());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !up.metadata.is_empty() {
        set(&mut h, "upload-metadata", up.metadata.clone());
    }
    expires(&st, &mut h, p.last_activity_ns);
    Ok((StatusCode::OK, h).into_response())
}

/// Terminates an upload: its staged segments are removed (tus termination extension).
#[utoipa::path(delete, path = "/api/v1/tus/{id}", tag = "tus", operation_id = "tus_terminate",
    params(("id" = String, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 204, description = "Terminated"),
        (status = 404, description = "No such upload of yours", body = ErrorBody),
    ))]
pub async fn terminate(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> RestResult<Response> {
    need_tus(&headers)?;
    c.need_write()?;
    blocking(move || {
        let staging = staging_of(&st, &c)?;
        let _held = st.tus_locks().lock(&id)?;
        let up = load(&staging, &id)?;
        staging.purge(&up.dir)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! `PUT /upload/{path}` (also `POST`): the request body streams into the engine through its
//! one upload bridge ([`nas_engine::Upload`]), so memory stays bounded whatever the size.
//! Read-only accounts get 403; the engine refuses bytes past the quota (507, nothing
//! stored); a body that breaks off is never committed (the old version stays).
//!
//! Optional headers: `If-Match: "<etag>"` (replace only that content) and `If-None-Match: *`
//! (create only), checked before the body is read and again atomically with the commit (the
//! engine commits only if the version checked is still current, else 412); `X-Nas-Mtime: <unix seconds>` sets the
//! version's modification time (sync clients).

use crate::download::etag_matches;
use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, home_path};
use crate::files::home_of;
use crate::model::EntryJson;
use crate::state::{RestState, blocking};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, Uri, header};
use nas_engine::{EngineError, Expect, FileAttrs, Upload, WriteOptions};

/// Uploads a file (a new version if it exists). Missing parent folders are created.
#[utoipa::path(put, path = "/api/v1/upload/{path}", tag = "files",
    params(("path" = String, Path, description = "File to write")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The content; its Content-Type is stored with the version"),
    responses(
        (status = 201, description = "Created", body = EntryJson),
        (status = 200, description = "A new version of an existing file", body = EntryJson),
        (status = 400, description = "Invalid path, or the body broke off", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 409, description = "A folder is there", body = ErrorBody),
        (status = 412, description = "If-Match / If-None-Match: * does not hold", body = ErrorBody),
        (status = 507, description = "The quota would be exceeded; nothing was stored", body = ErrorBody),
    ))]
pub async fn upload(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> RestResult<(StatusCode, Json<EntryJson>)> {
    c.need_write()?;
    let path = home_path(&uri, "/api/v1/upload")?;
    if path.is_root() {
        return Err(RestError::BadPath("the root is a folder".into()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mtime_ns = match headers.get("x-nas-mtime") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map(|s| s.saturating_mul(1_000_000_000))
                .ok_or_else(|| RestError::BadRequest("X-Nas-Mtime is Unix seconds".into()))?,
        ),
    };
    let expect = check_preconditions(&st, &c, &path, &headers).await?;
    let opts = WriteOptions {
        mtime_ns,
        expect,
        ..WriteOptions::default()
    };
    let (st2, c2, p2) = (st.clone(), c.clone(), path.clone());
    let (writer, existed) = blocking(move || {
        let home = home_of(&st2, &c2)?;
        if let Some(parent) = p2.parent() {
            home.mkdir_all(&parent)?;
        }
        Ok(home.writer_and_existing(&p2, opts)?)
    })
    .await?;
    // the engine's upload bridge: bounded memory, and a body refused part way (quota, full
    // disk) is read on and discarded up to its limit, then answered
    let mut up = Upload::new(writer);
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(b) => up.push(b).await?,
            // dropping the upload commits nothing
            Err(e) => {
                return Err(RestError::BadRequest(format!(
                    "the upload broke off ({e}); nothing was stored"
                )));
            }
        }
    }
    let attrs = FileAttrs {
        content_type,
        ..FileAttrs::default()
    };
    let v = up.finish(Some(attrs), None).await?;
    let entry = EntryJson::from(&nas_engine::Entry::of_version(path, &v));
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(entry)))
}

/// `If-Match` / `If-None-Match` of an upload against the file's current ETag (412 when one
/// does not hold). Costs a stat only when such a header is present. When they hold, the
/// version they were checked against is returned: the commit happens only if it is still
/// the current one (checked atomically by the engine), so no other write slips between.
async fn check_preconditions(
    st: &RestState,
    c: &Caller,
    path: &nas_types::NasPath,
    headers: &HeaderMap,
) -> RestResult<Option<Expect>> {
    let text = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (if_match, if_none) = (text(header::IF_MATCH), text(header::IF_NONE_MATCH));
    if if_match.is_none() && if_none.is_none() {
        return Ok(None);
    }
    let (st, c, p) = (st.clone(), c.clone(), path.clone());
    let current = blocking(move || match home_of(&st, &c)?.stat(&p) {
        Ok(e) => Ok(e.hash.map(|h| (format!("\"{}\"", h.to_hex()), e.version))),
        Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    })
    .await?;
    let tag = current.as_ref().map(|(t, _)| t.as_str());
    let holds_match = if_match.is_none_or(|m| tag.is_some_and(|t| etag_matches(&m, t)));
    let holds_none = if_none.is_none_or(|n| tag.is_none_or(|t| !etag_matches(&n, t)));
    if holds_match && holds_none {
        Ok(Some(match current.and_then(|(_, v)| v) {
            Some(v) => Expect::Head(v),
            None => Expect::Absent,
        }))
    } else {
        Err(RestError::PreconditionFailed)
    }
}

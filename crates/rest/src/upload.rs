//! `PUT /upload/{path}` (also `POST`): the request body streams into the engine's writer
//! through a bounded channel to one blocking task, so memory stays bounded whatever the
//! size. Read-only accounts get 403; the quota is checked as bytes arrive (507, nothing
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
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, Uri, header};
use nas_engine::{EngineError, Expect, FileAttrs, WriteOptions};

enum Part {
    Data(Bytes),
    End,
}

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
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Part>(4);
    let writer = tokio::task::spawn_blocking(move || -> RestResult<(bool, EntryJson)> {
        let home = home_of(&st, &c)?;
        if let Some(parent) = path.parent() {
            home.mkdir_all(&parent)?;
        }
        let old = match home.stat(&path) {
            Ok(e) => Some(e.size),
            Err(EngineError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let opts = WriteOptions {
            mtime_ns,
            expect,
            ..WriteOptions::default()
        };
        let mut w = home.writer(&path, opts)?;
        loop {
            match rx.blocking_recv() {
                // the engine refuses bytes past the quota: the writer is dropped
                Some(Part::Data(b)) => w.write(&b)?,
                Some(Part::End) => {
                    w.set_attrs(FileAttrs {
                        content_type,
                        ..FileAttrs::default()
                    });
                    let v = w.commit()?;
                    let e = nas_engine::Entry::of_version(path, &v);
                    return Ok((old.is_none(), EntryJson::from(&e)));
                }
                None => {
                    return Err(RestError::BadRequest(
                        "the upload ended before its last byte; nothing was stored".into(),
                    ));
                }
            }
        }
    });
    let mut data = body.into_data_stream();
    let mut broke = None;
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(b) => {
                if tx.send(Part::Data(b)).await.is_err() {
                    // the writer stopped: its error is the answer, once the client is
                    // listening again
                    drain(&mut data).await;
                    break;
                }
            }
            Err(e) => {
                broke = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(why) = broke {
        drop(tx); // no End: nothing is committed
        let _ = writer.await;
        return Err(RestError::BadRequest(format!(
            "the upload broke off ({why}); nothing was stored"
        )));
    }
    let _ = tx.send(Part::End).await;
    drop(tx);
    let (created, entry) = writer.await??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
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

/// Reads and discards the rest of a refused body (up to 64 MiB; past that the connection is
/// closed), so the client, still sending, gets to read the answer instead of a reset.
pub(crate) async fn drain(data: &mut axum::body::BodyDataStream) {
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = data.next().await {
        seen += chunk.len();
        if seen > 64 << 20 {
            break;
        }
    }
}

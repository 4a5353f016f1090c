//! `PATCH /api/v1/tus/{id}`: appends the body at `Upload-Offset` as one segment, streamed
//! through the engine's upload bridge ([`nas_engine::Upload`]: memory stays bounded
//! whatever the size), and answers only once the segment is committed (durable).
//! The PATCH that reaches `Upload-Length` also completes the upload.

use super::checksum::Claim;
use super::staging::{Upload, load, open_segments, progress, segment_path};
use super::{expires, header_u64, need_tus, set, staging_of};
use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::Caller;
use crate::files::home_of;
use crate::state::{RestState, blocking};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, header};
use nas_engine::{EngineError, Expect, FileAttrs, FileWriter, Home, WriteOptions, now_ns};

/// The only body type a PATCH takes.
const OFFSET_STREAM: &str = "application/offset+octet-stream";

/// Appends to an upload (tus core; checksum extension).
#[utoipa::path(patch, path = "/api/v1/tus/{id}", tag = "tus",
    params(("id" = String, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where this body starts; must equal the upload's offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "`<algorithm> <base64 digest>` of this body (sha1, md5, crc32, sha256)")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored (durable); Upload-Offset is the new offset"),
        (status = 400, description = "Bad headers, or the body broke off", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "No such upload of yours", body = ErrorBody),
        (status = 409, description = "Upload-Offset is not the upload's offset", body = ErrorBody),
        (status = 413, description = "The body goes past Upload-Length", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/offset+octet-stream", body = ErrorBody),
        (status = 460, description = "The body does not match Upload-Checksum; nothing stored", body = ErrorBody),
        (status = 507, description = "The quota would be exceeded; nothing stored", body = ErrorBody),
    ))]
pub async fn patch(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> RestResult<Response> {
    need_tus(&headers)?;
    c.need_write()?;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if ctype.as_deref() != Some(OFFSET_STREAM) {
        return Err(RestError::UnsupportedMediaType(format!(
            "a PATCH body must be {OFFSET_STREAM}"
        )));
    }
    let offset = header_u64(&headers, "upload-offset")?
        .ok_or_else(|| RestError::BadRequest("Upload-Offset is required".into()))?;
    let claim = match headers.get("upload-checksum") {
        Some(v) => Some(Claim::parse(v.to_str().map_err(|_| {
            RestError::BadRequest("Upload-Checksum is not ASCII".into())
        })?)?),
        None => None,
    };
    let (st2, c2, id2) = (st.clone(), c.clone(), id.clone());
    let (writer, room, length) = blocking(move || open_segment(&st2, &c2, &id2, offset)).await?;
    // the engine's upload bridge; a body refused part way (the quota, a full disk, or past
    // Upload-Length) is read on and discarded up to its limit, then answered
    let mut upload = nas_engine::Upload::new(writer);
    let mut claim = claim;
    let mut too_large = None;
    let mut broke = false;
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        let Ok(b) = chunk else {
            broke = true;
            break;
        };
        if too_large.is_none() && upload.received() + b.len() as u64 > room {
            too_large = Some(RestError::TooLarge(format!(
                "the body goes past Upload-Length ({room} bytes left); nothing was stored"
            )));
            upload.refuse();
        }
        if !upload.is_refused()
            && let Some(c) = claim.as_mut()
        {
            c.update(&b);
        }
        if let Err(e) = upload.push(b).await {
            return Err(too_large.unwrap_or_else(|| e.into()));
        }
    }
    if let Some(e) = too_large {
        return Err(e);
    }
    if broke && claim.is_some() {
        return Err(RestError::BadRequest(
            "the body broke off; with Upload-Checksum nothing is kept".into(),
        ));
    }
    if let Some(c) = claim
        && !c.holds()
    {
        return Err(RestError::ChecksumMismatch);
    }
    // what arrived is kept, even from a body that broke off: the client resumes from it
    let n = upload.received();
    if n > 0 {
        match upload.finish(None, None).await {
            Ok(_) => {}
            Err(EngineError::PreconditionFailed(_)) => {
                return Err(RestError::OffsetMismatch(
                    "another PATCH at this offset was stored first".into(),
                ));
            }
            Err(EngineError::NotFound(_)) => {
                return Err(RestError::NotFound(
                    "not_found",
                    format!("no upload {id} (terminated meanwhile)"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let new_offset = offset + n;
    if broke {
        return Err(RestError::BadRequest(format!(
            "the body broke off; the {n} bytes received were kept (offset {new_offset})"
        )));
    }
    if new_offset == length {
        let (st2, c2) = (st.clone(), c.clone());
        blocking(move || {
            let (home, staging) = (home_of(&st2, &c2)?, staging_of(&st2, &c2)?);
            complete(&st2, &home, &staging, &id)
        })
        .await?;
    }
    let mut h = HeaderMap::new();
    set(&mut h, "upload-offset", new_offset.to_string());
    expires(&st, &mut h, now_ns());
    Ok((StatusCode::NO_CONTENT, h).into_response())
}

/// Opens the segment a PATCH at `offset` writes (blocking): checks the offset, and returns
/// the writer, the bytes left before `Upload-Length`, and that length.
fn open_segment(
    st: &RestState,
    c: &Caller,
    id: &str,
    offset: u64,
) -> RestResult<(FileWriter, u64, u64)> {
    let staging = staging_of(st, c)?;
    let up = load(&staging, id)?;
    let at = progress(&staging, &up)?.offset;
    if at != offset {
        return Err(RestError::OffsetMismatch(format!(
            "the upload is at offset {at}, not {offset}"
        )));
    }
    let opts = WriteOptions {
        expect: Some(Expect::Absent),
        ..WriteOptions::default()
    };
    let w = staging.writer(&segment_path(&up.dir, offset), opts)?;
    Ok((w, up.length - offset, up.length))
}

/// Composes the segments into the target file (no data copied; the engine checks the quota),
/// commits one new version, then purges the staging folder. Serialized with termination
/// and expiry of the same upload. A crash after the commit leaves a whole upload behind
/// (offset = length); an empty PATCH at that offset completes it again, expiry removes it.
fn complete(st: &RestState, home: &Home, staging: &Home, id: &str) -> RestResult<()> {
    let _held = st.tus_locks().lock(id)?;
    let up: Upload = load(staging, id)?;
    let p = progress(staging, &up)?;
    if p.offset != up.length {
        return Err(RestError::OffsetMismatch(format!(
            "the upload is at offset {} of {}",
            p.offset, up.length
        )));
    }
    let readers = open_segments(staging, &p)?;
    if let Some(parent) = up.target.parent() {
        home.mkdir_all(&parent)?;
    }
    // one segment (the whole file in one PATCH, the usual case) becomes the file as it
    // is: nothing to read, its hash is known; several are read once for the file's hash.
    // The commit checks the quota.
    let composed = match readers.as_slice() {
        [one] => home.share(&up.target, one)?,
        _ => home.compose(&up.target, &readers, &mut |_| {})?,
    };
    composed.commit(WriteOptions {
        attrs: FileAttrs {
            content_type: up.content_type.clone(),
            ..FileAttrs::default()
        },
        ..WriteOptions::default()
    })?;
    drop(readers);
    if let Err(e) = staging.purge(&up.dir) {
        tracing::warn!("rest: completed tus upload {id} not purged: {e}");
    }
    Ok(())
}

//! `POST /instant/{path}` with `{"blake3","size"}`: "instant upload". When the caller's own
//! home already holds content of that size and BLAKE3 (any file, any version, the trash
//! included), the file is created as a new version sharing that content's chunks — no
//! byte is sent, nothing is read or copied. Otherwise 404 `not_found_content`, and the
//! client uploads normally.
//!
//! Only the caller's home is searched: content that exists only in another user's home
//! answers exactly like content that exists nowhere, so a hash cannot be used to learn
//! what others store.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, JsonBody, home_path};
use crate::files::home_of;
use crate::model::EntryJson;
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::State;
use http::{StatusCode, Uri};
use nas_engine::{EngineError, FileAttrs, NodeKind, WriteOptions};
use nas_types::ContentHash;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /instant/{path}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InstantRequest {
    /// BLAKE3 of the content (64 hex digits), as the file's ETag shows it.
    pub blake3: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// Content-Type of the new version (default: none).
    #[serde(default)]
    pub content_type: Option<String>,
}

/// Creates a file from content the caller already stores (no bytes sent).
#[utoipa::path(post, path = "/api/v1/instant/{path}", tag = "files",
    params(("path" = String, Path, description = "File to write")),
    request_body = InstantRequest,
    responses(
        (status = 201, description = "Created from existing content", body = EntryJson),
        (status = 200, description = "A new version of an existing file", body = EntryJson),
        (status = 400, description = "Invalid path or hash", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "not_found_content: upload the bytes normally", body = ErrorBody),
        (status = 409, description = "A folder is there", body = ErrorBody),
        (status = 507, description = "The quota would be exceeded", body = ErrorBody),
    ))]
pub async fn instant(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    JsonBody(b): JsonBody<InstantRequest>,
) -> RestResult<(StatusCode, Json<EntryJson>)> {
    c.need_write()?;
    let path = home_path(&uri, "/api/v1/instant")?;
    if path.is_root() {
        return Err(RestError::BadPath("the root is a folder".into()));
    }
    let hash = ContentHash::from_hex(b.blake3.trim())
        .filter(|_| b.blake3.trim().len() == 64)
        .ok_or_else(|| RestError::BadRequest("blake3 must be 64 hex digits".into()))?;
    blocking(move || {
        let home = home_of(&st, &c)?;
        let Some(source) = home.find_content(&hash, b.size)? else {
            return Err(RestError::NotFound(
                "not_found_content",
                "no content with this BLAKE3 and size in your files: upload it".into(),
            ));
        };
        let old = match home.stat(&path) {
            Ok(e) if e.kind == NodeKind::Dir => {
                return Err(EngineError::IsADirectory(path.to_string()).into());
            }
            Ok(e) => Some(e.size),
            Err(EngineError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(parent) = path.parent() {
            home.mkdir_all(&parent)?;
        }
        home.share(&path, &source)?.commit(WriteOptions {
            attrs: FileAttrs {
                content_type: b.content_type,
                ..FileAttrs::default()
            },
            ..WriteOptions::default()
        })?;
        let status = if old.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, Json(EntryJson::from(&home.stat(&path)?))))
    })
    .await
}

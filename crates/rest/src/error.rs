//! [`RestError`]: every way a request fails, and the one place where an error becomes an
//! HTTP status and a JSON body `{"error":{"code":"...","message":"..."}}`.
//!
//! Engine errors are mapped by [`engine_status`] and nowhere else; internal failures are
//! logged with their cause and answered with a generic message (no paths of the data
//! directory, no database text reach a client).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use nas_engine::EngineError;
use serde::Serialize;
use std::time::Duration;
use thiserror::Error;
use utoipa::ToSchema;

/// Why a REST request failed.
#[derive(Debug, Error)]
pub enum RestError {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The request is malformed (body, query, header).
    #[error("{0}")]
    BadRequest(String),
    /// A path breaks the naming rules (`..`, empty segment, encoded `/`…).
    #[error("{0}")]
    BadPath(String),
    /// No credentials, or credentials that are not (or no longer) valid.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Too many failed sign-ins; retry after this long.
    #[error("too many failed sign-ins")]
    RateLimited(Duration),
    /// `If-Match` or `If-None-Match` does not hold.
    #[error("the file's current ETag does not satisfy If-Match / If-None-Match")]
    PreconditionFailed,
    /// A `Range` outside the file (its size is given for `Content-Range: bytes */size`).
    #[error("range not satisfiable for a file of {0} bytes")]
    RangeNotSatisfiable(u64),
    /// A part of the server this route needs is not running.
    #[error("{0}")]
    Unavailable(&'static str),
    /// Nothing there, with a code more precise than `not_found` (e.g. `not_found_content`).
    #[error("{1}")]
    NotFound(&'static str, String),
    /// A tus upload's offset is not where the client says (409).
    #[error("{0}")]
    OffsetMismatch(String),
    /// The request body's type is not the one the route takes (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body does not match the checksum the client sent (tus: 460).
    #[error("the body does not match Upload-Checksum; nothing was stored")]
    ChecksumMismatch,
    /// More bytes than announced or allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// A tus request without a supported `Tus-Resumable` version (412, with `Tus-Version`).
    #[error("unsupported or missing Tus-Resumable version (this server speaks 1.0.0)")]
    TusVersion,
    /// Something that is not the client's fault (the cause is logged, not sent).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of the handlers.
pub type RestResult<T> = Result<T, RestError>;

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `invalid_path`, `unauthorized`,
    /// `forbidden`, `not_found`, `already_exists`, `not_a_folder`, `is_a_folder`,
    /// `conflict`, `invalid_argument`, `incomplete`, `rate_limited`, `quota_exceeded`, `precondition_failed`,
    /// `range_not_satisfiable`, `method_not_allowed`, `data_damaged`, `unavailable`,
    /// `storage_full`, `internal`; tus uploads add `offset_mismatch`, `unsupported_media_type`,
    /// `checksum_mismatch`, `too_large`, `unsupported_version`; instant upload
    /// `not_found_content`.
    pub code: String,
    /// For people; may change.
    pub message: String,
}

/// What a client is told when the server's disk is full.
const STORAGE_FULL: &str = "the server's storage is full; nothing was stored \
     (deleting files and emptying the trash gives space back)";

/// What a client is told when the object store holding the data cannot be reached (the
/// cause is logged).
const UNAVAILABLE: &str = "the storage holding this file's data is temporarily unreachable; \
                           try again later (new uploads are not affected)";

/// The status and code of an engine error: the door's only engine-error mapping.
fn engine_status(e: &EngineError) -> (StatusCode, &'static str) {
    match e {
        EngineError::Path(_) => (StatusCode::BAD_REQUEST, "invalid_path"),
        EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        EngineError::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
        EngineError::NotADirectory(_) => (StatusCode::CONFLICT, "not_a_folder"),
        EngineError::IsADirectory(_) => (StatusCode::CONFLICT, "is_a_folder"),
        EngineError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        EngineError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
        EngineError::Incomplete(_) => (StatusCode::BAD_REQUEST, "incomplete"),
        EngineError::QuotaExceeded { .. } => (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"),
        EngineError::PreconditionFailed(_) => {
            (StatusCode::PRECONDITION_FAILED, "precondition_failed")
        }
        EngineError::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "data_damaged"),
        EngineError::Locked(_) | EngineError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        // WebDAV's "Locked" (RFC 4918): the version is under object lock
        EngineError::Retained(_) => (StatusCode::LOCKED, "object_locked"),
        EngineError::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
        EngineError::Meta(_)
        | EngineError::Blob(_)
        | EngineError::Io(_)
        | EngineError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl RestError {
    /// Status, code and client-facing message.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            RestError::Engine(e) => {
                let (status, code) = engine_status(e);
                let msg = if let EngineError::StorageFull(why) = e {
                    // the detail (free bytes, database text) is for the log only
                    tracing::warn!("rest: storage full: {why}");
                    STORAGE_FULL.to_owned()
                } else if let EngineError::QuotaExceeded { .. } = e {
                    // the caller's own quota and usage: theirs to know
                    format!("{e}; nothing was stored")
                } else if status.is_server_error() {
                    tracing::error!("rest: {e}");
                    match e {
                        EngineError::Corrupt { path, .. } => format!("data of {path} is damaged"),
                        EngineError::Unavailable(_) => UNAVAILABLE.to_owned(),
                        _ => "internal error".to_owned(),
                    }
                } else {
                    e.to_string()
                };
                (status, code, msg)
            }
            RestError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            RestError::BadPath(m) => (StatusCode::BAD_REQUEST, "invalid_path", m.clone()),
            RestError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", (*m).into()),
            RestError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", (*m).into()),
            RestError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                self.to_string(),
            ),
            RestError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                self.to_string(),
            ),
            RestError::RangeNotSatisfiable(_) => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                self.to_string(),
            ),
            RestError::Unavailable(m) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", (*m).into())
            }
            RestError::NotFound(code, m) => (StatusCode::NOT_FOUND, code, m.clone()),
            RestError::OffsetMismatch(m) => (StatusCode::CONFLICT, "offset_mismatch", m.clone()),
            RestError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m.clone(),
            ),
            RestError::ChecksumMismatch => (
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
                "checksum_mismatch",
                self.to_string(),
            ),
            RestError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone()),
            RestError::TusVersion => (
                StatusCode::PRECONDITION_FAILED,
                "unsupported_version",
                self.to_string(),
            ),
            RestError::Internal(m) => {
                tracing::error!("rest: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".into(),
                )
            }
        }
    }
}

impl From<nas_types::PathError> for RestError {
    fn from(e: nas_types::PathError) -> Self {
        RestError::BadPath(e.to_string())
    }
}

impl From<nas_auth::AuthError> for RestError {
    fn from(e: nas_auth::AuthError) -> Self {
        match e {
            nas_auth::AuthError::RateLimited(d) => RestError::RateLimited(d),
            nas_auth::AuthError::Backend(e) => RestError::Engine(e),
            nas_auth::AuthError::BadCredentialName | nas_auth::AuthError::TooMany(_) => {
                RestError::BadRequest(e.to_string())
            }
            nas_auth::AuthError::Invalid | nas_auth::AuthError::BadName(_) => {
                RestError::Unauthorized("invalid user name or password")
            }
        }
    }
}

impl From<tokio::task::JoinError> for RestError {
    fn from(e: tokio::task::JoinError) -> Self {
        RestError::Internal(format!("blocking task failed: {e}"))
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut r = (status, Json(body)).into_response();
        let h = r.headers_mut();
        match self {
            RestError::Unauthorized(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"silent-nas\""),
                );
            }
            RestError::RateLimited(d) => {
                if let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            RestError::RangeNotSatisfiable(size) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    h.insert(header::CONTENT_RANGE, v);
                }
            }
            RestError::TusVersion => {
                h.insert("tus-version", HeaderValue::from_static("1.0.0"));
            }
            _ => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_statuses() {
        let cases = [
            (EngineError::NotFound("/x".into()), 404, "not_found"),
            (
                EngineError::AlreadyExists("/x".into()),
                409,
                "already_exists",
            ),
            (EngineError::Conflict("no".into()), 409, "conflict"),
            (
                EngineError::InvalidArgument("no".into()),
                400,
                "invalid_argument",
            ),
            (EngineError::Internal("no".into()), 500, "internal"),
            (
                EngineError::Io(std::io::Error::other("disk")),
                500,
                "internal",
            ),
            (
                EngineError::StorageFull("disk: 12 bytes free".into()),
                507,
                "storage_full",
            ),
        ];
        for (e, status, code) in cases {
            let (s, c, m) = RestError::Engine(e).parts();
            assert_eq!((s.as_u16(), c), (status, code));
            assert!(!m.contains("disk"), "internal causes are not sent: {m}");
        }
    }
}

//! `GET /admin/audit`: the audit log, newest first, filtered and paged by a cursor.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Admin, Query};
use crate::ops_model::{AuditJson, AuditParams, AuditResponse};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::State;
use nas_engine::audit::AuditQuery;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn ns(secs: Option<i64>) -> Option<i64> {
    secs.map(|s| s.saturating_mul(1_000_000_000))
}

/// Changes (WebDAV, S3 and REST writes) and refused sign-ins or permissions (401, 403) at
/// every door, newest first. Entries of requests answered before this one are included.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditParams),
    responses(
        (status = 200, description = "A page of entries", body = AuditResponse),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 503, description = "The server keeps no audit log", body = ErrorBody),
    ))]
pub async fn list(
    State(st): State<RestState>,
    _: Admin,
    Query(p): Query<AuditParams>,
) -> RestResult<Json<AuditResponse>> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(RestError::BadRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let before_id = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| RestError::BadRequest("invalid cursor".into()))?,
        ),
        None => None,
    };
    let log = st
        .audit()
        .cloned()
        .ok_or(RestError::Unavailable("this server keeps no audit log"))?;
    let q = AuditQuery {
        user: p.user,
        door: p.door,
        since_ns: ns(p.since),
        until_ns: ns(p.until),
        before_id,
        limit,
    };
    blocking(move || {
        let rows = log.query(&q)?;
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|r| r.id.to_string()))
            .flatten();
        Ok(Json(AuditResponse {
            entries: rows.into_iter().map(AuditJson::from).collect(),
            next_cursor,
        }))
    })
    .await
}

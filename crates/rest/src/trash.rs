//! The caller's trash: list (filtered by path prefix and deletion time), restore entries,
//! purge one or all.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, JsonBody, Query, body_path};
use crate::files::home_of;
use crate::model::{
    PurgeResponse, RestoredJson, TrashJson, TrashListResponse, TrashRestoreRequest,
    TrashRestoreResponse,
};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use nas_types::{NasPath, TrashId};
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters of the trash listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrashQuery {
    /// Only entries whose old path is this path or below it.
    pub path_prefix: Option<String>,
    /// Only entries deleted at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only entries deleted before this time (Unix seconds).
    pub until: Option<i64>,
}

/// Trash entries, newest first.
#[utoipa::path(get, path = "/api/v1/trash", tag = "trash", operation_id = "list_trash",
    params(TrashQuery),
    responses((status = 200, description = "Entries", body = TrashListResponse)))]
pub async fn list(
    State(st): State<RestState>,
    c: Caller,
    Query(q): Query<TrashQuery>,
) -> RestResult<Json<TrashListResponse>> {
    let prefix = q.path_prefix.as_deref().map(body_path).transpose()?;
    blocking(move || {
        let entries = home_of(&st, &c)?
            .trash_list()?
            .iter()
            .map(TrashJson::from)
            .filter(|t| q.since.is_none_or(|s| t.deleted >= s))
            .filter(|t| q.until.is_none_or(|u| t.deleted < u))
            .filter(|t| match &prefix {
                None => true,
                Some(p) => NasPath::parse(&t.path).is_ok_and(|tp| tp.is_within(p)),
            })
            .collect();
        Ok(Json(TrashListResponse { entries }))
    })
    .await
}

/// Restores entries to where they were (missing folders are re-created) or, for a single
/// entry, to `to`. Entries are restored in order; the first failure stops and is the
/// answer (entries before it stay restored).
#[utoipa::path(post, path = "/api/v1/trash/restore", tag = "trash",
    operation_id = "restore_trash",
    request_body = TrashRestoreRequest,
    responses(
        (status = 200, description = "Restored", body = TrashRestoreResponse),
        (status = 400, description = "`to` with several ids", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "Something is already at the destination", body = ErrorBody),
    ))]
pub async fn restore(
    State(st): State<RestState>,
    c: Caller,
    JsonBody(b): JsonBody<TrashRestoreRequest>,
) -> RestResult<Json<TrashRestoreResponse>> {
    c.need_write()?;
    if b.to.is_some() && b.ids.len() != 1 {
        return Err(RestError::BadRequest("`to` needs exactly one id".into()));
    }
    let to = b.to.as_deref().map(body_path).transpose()?;
    blocking(move || {
        let home = home_of(&st, &c)?;
        let mut restored = Vec::with_capacity(b.ids.len());
        for id in b.ids {
            let p = home.trash_restore(TrashId(id), to.as_ref())?;
            restored.push(RestoredJson {
                id,
                path: p.to_string(),
            });
        }
        Ok(Json(TrashRestoreResponse { restored }))
    })
    .await
}

/// Deletes one entry for good.
#[utoipa::path(delete, path = "/api/v1/trash/{id}", tag = "trash",
    operation_id = "purge_trash_entry",
    params(("id" = i64, Path, description = "Entry id")),
    responses(
        (status = 204, description = "Purged"),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 423, description = "A version in the entry is under object lock", body = ErrorBody),
    ))]
pub async fn purge_one(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
) -> RestResult<StatusCode> {
    c.need_write()?;
    let id: i64 = id
        .parse()
        .map_err(|_| RestError::BadRequest("a trash id is a number".into()))?;
    blocking(move || {
        home_of(&st, &c)?.trash_purge(TrashId(id))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Empties the trash.
#[utoipa::path(delete, path = "/api/v1/trash", tag = "trash", operation_id = "purge_trash",
    responses((status = 200, description = "Purged", body = PurgeResponse)))]
pub async fn purge_all(State(st): State<RestState>, c: Caller) -> RestResult<Json<PurgeResponse>> {
    c.need_write()?;
    blocking(move || {
        let r = home_of(&st, &c)?.trash_purge_all()?;
        Ok(Json(PurgeResponse {
            purged: r.purged,
            retained: r.retained,
        }))
    })
    .await
}

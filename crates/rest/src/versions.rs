//! A file's versions: list, restore (as a new version sharing the old one's chunks), delete
//! one. Old content is downloaded with `GET /download/{path}?version=N`.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, JsonBody, Query, home_path};
use crate::files::home_of;
use crate::model::{RestoreVersionRequest, VersionJson, VersionsResponse};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::State;
use http::{StatusCode, Uri};
use nas_types::VersionNum;
use serde::Deserialize;
use utoipa::IntoParams;

const PREFIX: &str = "/api/v1/versions";

/// Every version of a file, oldest first.
#[utoipa::path(get, path = "/api/v1/versions/{path}", tag = "versions",
    operation_id = "list_versions",
    params(("path" = String, Path, description = "File in the home")),
    responses(
        (status = 200, description = "The versions", body = VersionsResponse),
        (status = 404, description = "No such file", body = ErrorBody),
        (status = 409, description = "A folder", body = ErrorBody),
    ))]
pub async fn list(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
) -> RestResult<Json<VersionsResponse>> {
    let path = home_path(&uri, PREFIX)?;
    blocking(move || {
        let vs = home_of(&st, &c)?.versions(&path)?;
        Ok(Json(VersionsResponse {
            versions: vs.iter().map(VersionJson::from).collect(),
        }))
    })
    .await
}

/// Makes an old version current again, as a new version (nothing is lost). The URL is the
/// file's path followed by `/restore`.
#[utoipa::path(post, path = "/api/v1/versions/{path}/restore", tag = "versions",
    operation_id = "restore_version",
    params(("path" = String, Path, description = "File in the home")),
    request_body = RestoreVersionRequest,
    responses(
        (status = 200, description = "The new current version", body = VersionJson),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "No such file or version", body = ErrorBody),
    ))]
pub async fn restore(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    JsonBody(b): JsonBody<RestoreVersionRequest>,
) -> RestResult<Json<VersionJson>> {
    c.need_write()?;
    let raw = uri
        .path()
        .strip_suffix("/restore")
        .ok_or_else(|| RestError::BadRequest("POST a version to .../{path}/restore".into()))?;
    let path = crate::extract::segments_to_path(
        raw.strip_prefix(PREFIX)
            .ok_or_else(|| RestError::BadPath("path outside this route".into()))?,
    )?;
    blocking(move || {
        let v = home_of(&st, &c)?.restore_version(&path, VersionNum(b.version))?;
        Ok(Json(VersionJson::from(&v)))
    })
    .await
}

/// Query naming one version.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// Version number.
    pub version: u64,
}

/// Deletes one version (not the only one).
#[utoipa::path(delete, path = "/api/v1/versions/{path}", tag = "versions",
    operation_id = "delete_version",
    params(("path" = String, Path, description = "File in the home"), VersionQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The only version of a file cannot be deleted", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "No such file or version", body = ErrorBody),
        (status = 423, description = "The version is under object lock (S3 retention or legal hold)", body = ErrorBody),
    ))]
pub async fn delete(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    Query(q): Query<VersionQuery>,
) -> RestResult<StatusCode> {
    c.need_write()?;
    let path = home_path(&uri, PREFIX)?;
    blocking(move || {
        home_of(&st, &c)?.delete_version(&path, VersionNum(q.version))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

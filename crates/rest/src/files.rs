//! The namespace routes: list a folder or stat a file, create folders, move, copy and
//! delete (to the trash). Every path is in the caller's home.

use crate::error::{ErrorBody, RestResult};
use crate::extract::{Caller, JsonBody, Note, Query, body_path, home_path};
use crate::list::{ListQuery, list_page};
use crate::model::{EntryJson, FilesResponse, TransferRequest, TrashJson};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::State;
use http::{StatusCode, Uri};
use nas_engine::{Home, NodeKind};
use serde::Deserialize;
use utoipa::IntoParams;

/// The caller's home (created on first use). Blocking.
pub fn home_of(st: &RestState, c: &Caller) -> RestResult<Home> {
    Ok(st.store().home(&c.who.name)?)
}

/// Lists a folder (paged) or returns a file's metadata.
#[utoipa::path(get, path = "/api/v1/files/{path}", tag = "files",
    params(("path" = String, Path, description = "Path in the home (may contain '/'); \
        `/api/v1/files` is the root"), ListQuery),
    responses(
        (status = 200, description = "A folder's page (ListResponse) or a file (EntryJson)", body = FilesResponse),
        (status = 400, description = "Invalid path, cursor or query", body = ErrorBody),
        (status = 404, description = "Nothing there", body = ErrorBody),
    ))]
pub async fn get_files(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> RestResult<Json<FilesResponse>> {
    let path = home_path(&uri, "/api/v1/files")?;
    blocking(move || {
        let home = home_of(&st, &c)?;
        let e = home.stat(&path)?;
        Ok(Json(match e.kind {
            NodeKind::Dir => FilesResponse::Folder(list_page(&home, &path, &q)?),
            NodeKind::File => FilesResponse::File(EntryJson::from(&e)),
        }))
    })
    .await
}

/// Metadata of a file or folder.
#[utoipa::path(get, path = "/api/v1/stat/{path}", tag = "files",
    params(("path" = String, Path, description = "Path in the home")),
    responses(
        (status = 200, description = "The entry", body = EntryJson),
        (status = 404, description = "Nothing there", body = ErrorBody),
    ))]
pub async fn stat(State(st): State<RestState>, c: Caller, uri: Uri) -> RestResult<Json<EntryJson>> {
    let path = home_path(&uri, "/api/v1/stat")?;
    blocking(move || Ok(Json(EntryJson::from(&home_of(&st, &c)?.stat(&path)?)))).await
}

/// Query of `mkdir`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MkdirQuery {
    /// Also create missing parent folders, and succeed if the folder exists.
    #[serde(default)]
    pub parents: bool,
}

/// Creates a folder.
#[utoipa::path(post, path = "/api/v1/mkdir/{path}", tag = "files",
    params(("path" = String, Path, description = "Folder to create"), MkdirQuery),
    responses(
        (status = 201, description = "Created", body = EntryJson),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "The parent folder does not exist", body = ErrorBody),
        (status = 409, description = "Something is already there", body = ErrorBody),
    ))]
pub async fn mkdir(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    Query(q): Query<MkdirQuery>,
) -> RestResult<(StatusCode, Json<EntryJson>)> {
    c.need_write()?;
    let path = home_path(&uri, "/api/v1/mkdir")?;
    blocking(move || {
        let home = home_of(&st, &c)?;
        let e = if q.parents {
            home.mkdir_all(&path)?;
            home.stat(&path)?
        } else {
            home.mkdir(&path)?
        };
        Ok((StatusCode::CREATED, Json(EntryJson::from(&e))))
    })
    .await
}

/// Moves or renames a file or folder (one metadata update, whatever its size).
#[utoipa::path(post, path = "/api/v1/move", tag = "files", request_body = TransferRequest,
    responses(
        (status = 200, description = "Moved; the entry at its new path", body = EntryJson),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "No source, or no destination folder", body = ErrorBody),
        (status = 409, description = "The destination exists and overwrite is false", body = ErrorBody),
    ))]
pub async fn move_entry(
    State(st): State<RestState>,
    c: Caller,
    Note(note): Note,
    JsonBody(b): JsonBody<TransferRequest>,
) -> RestResult<Json<EntryJson>> {
    note.set_destination(&b.to);
    c.need_write()?;
    let (from, to) = (body_path(&b.from)?, body_path(&b.to)?);
    blocking(move || {
        let e = home_of(&st, &c)?.rename(&from, &to, b.overwrite)?;
        Ok(Json(EntryJson::from(&e)))
    })
    .await
}

/// Copies a file (its current version) or a folder tree; chunks are shared.
#[utoipa::path(post, path = "/api/v1/copy", tag = "files", request_body = TransferRequest,
    responses(
        (status = 200, description = "Copied; the new entry", body = EntryJson),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "No source, or no destination folder", body = ErrorBody),
        (status = 409, description = "The destination exists and overwrite is false", body = ErrorBody),
    ))]
pub async fn copy_entry(
    State(st): State<RestState>,
    c: Caller,
    Note(note): Note,
    JsonBody(b): JsonBody<TransferRequest>,
) -> RestResult<Json<EntryJson>> {
    note.set_destination(&b.to);
    c.need_write()?;
    let (from, to) = (body_path(&b.from)?, body_path(&b.to)?);
    blocking(move || {
        let e = home_of(&st, &c)?.copy(&from, &to, b.overwrite)?;
        Ok(Json(EntryJson::from(&e)))
    })
    .await
}

/// Moves a file or folder to the trash.
#[utoipa::path(delete, path = "/api/v1/files/{path}", tag = "files", operation_id = "delete_entry",
    params(("path" = String, Path, description = "What to delete")),
    responses(
        (status = 200, description = "In the trash", body = TrashJson),
        (status = 400, description = "The root cannot be deleted", body = ErrorBody),
        (status = 403, description = "Read-only account", body = ErrorBody),
        (status = 404, description = "Nothing there", body = ErrorBody),
    ))]
pub async fn delete(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
) -> RestResult<Json<TrashJson>> {
    c.need_write()?;
    let path = home_path(&uri, "/api/v1/files")?;
    blocking(move || Ok(Json(TrashJson::from(&home_of(&st, &c)?.delete(&path)?)))).await
}

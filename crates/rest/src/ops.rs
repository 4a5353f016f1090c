//! Operations (role `admin` only; everyone else gets 403): S3 access keys, WebDAV locks and
//! the background workers. Keys and locks go through the same `nas-auth` and engine calls
//! as `silent-nas key …` and `silent-nas locks …`; workers are the server's
//! [`nas_engine::workers::WorkerRunner`]. GC and scrub are the workers `gc` and `scrub`:
//! `POST /admin/workers/gc/run` starts a collection, `GET /admin/workers` shows it running
//! with its progress, and then its outcome.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Admin, JsonBody, Query};
use crate::ops_model::{
    CreateKeyRequest, CreatedKeyJson, KeyJson, KeysResponse, LockJson, LocksResponse, NodeJson,
    NodesResponse, RunResponse, UserFilter, WorkerJson, WorkersResponse,
};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use nas_auth::{AuthError, create_named_key};
use nas_engine::EngineError;
use nas_engine::workers::Trigger;

/// S3 access keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/keys", tag = "admin", params(UserFilter),
    responses(
        (status = 200, description = "Keys, revoked ones included", body = KeysResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_keys(
    State(st): State<RestState>,
    _: Admin,
    Query(q): Query<UserFilter>,
) -> RestResult<Json<KeysResponse>> {
    blocking(move || {
        let keys = st.accounts().keys(q.user.as_deref())?;
        Ok(Json(KeysResponse {
            keys: keys.iter().map(KeyJson::from).collect(),
        }))
    })
    .await
}

/// Creates an S3 key pair for a user. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/admin/keys", tag = "admin", operation_id = "create_key",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created; the secret is shown once", body = CreatedKeyJson),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn create(
    State(st): State<RestState>,
    _: Admin,
    JsonBody(b): JsonBody<CreateKeyRequest>,
) -> RestResult<(StatusCode, Json<CreatedKeyJson>)> {
    blocking(move || {
        let key = create_named_key(st.accounts(), &b.user, b.name.as_deref(), b.read_only)
            .map_err(|e| match e {
                AuthError::Invalid => {
                    RestError::Engine(EngineError::NotFound(format!("user {}", b.user)))
                }
                other => other.into(),
            })?;
        Ok((StatusCode::CREATED, Json(CreatedKeyJson::from(key))))
    })
    .await
}

/// Revokes a key: the S3 door refuses it from the next request on.
#[utoipa::path(delete, path = "/api/v1/admin/keys/{id}", tag = "admin",
    params(("id" = String, Path, description = "Access key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
    ))]
pub async fn revoke(
    State(st): State<RestState>,
    _: Admin,
    Path(id): Path<String>,
) -> RestResult<StatusCode> {
    blocking(move || {
        if st.accounts().key(&id)?.is_none() || !st.accounts().revoke_key(&id)? {
            return Err(EngineError::NotFound(format!("access key {id}")).into());
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Unexpired WebDAV locks.
#[utoipa::path(get, path = "/api/v1/admin/locks", tag = "admin", params(UserFilter),
    responses(
        (status = 200, description = "Locks", body = LocksResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_locks(
    State(st): State<RestState>,
    _: Admin,
    Query(q): Query<UserFilter>,
) -> RestResult<Json<LocksResponse>> {
    blocking(move || {
        let locks = st.store().locks().list(q.user.as_deref())?;
        Ok(Json(LocksResponse {
            locks: locks.iter().map(LockJson::from).collect(),
        }))
    })
    .await
}

/// Breaks a lock: the next request on its path no longer needs its token.
#[utoipa::path(delete, path = "/api/v1/admin/locks/{token}", tag = "admin",
    params(("token" = String, Path, description = "Lock token, e.g. urn:uuid:…")),
    responses(
        (status = 204, description = "Broken"),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such lock", body = ErrorBody),
    ))]
pub async fn break_lock(
    State(st): State<RestState>,
    _: Admin,
    Path(token): Path<String>,
) -> RestResult<StatusCode> {
    blocking(move || {
        if !st.store().locks().remove(&token)? {
            return Err(EngineError::NotFound(format!("lock {token}")).into());
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// The background workers (GC, retention, trash expiry, scrub, lifecycle rules, the name
/// index, S3 and tus upload expiry, S3 lifecycle upload aborts): schedule,
/// whether one runs now and how far it is, and what the last runs did.
#[utoipa::path(get, path = "/api/v1/admin/workers", tag = "admin",
    responses(
        (status = 200, description = "Workers", body = WorkersResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_workers(
    State(st): State<RestState>,
    _: Admin,
) -> RestResult<Json<WorkersResponse>> {
    let workers = st
        .workers()
        .map(|w| w.states().iter().map(WorkerJson::from).collect())
        .unwrap_or_default();
    Ok(Json(WorkersResponse { workers }))
}

/// The nodes of the cluster, as each last announced itself (every 10 s): name, address,
/// version, when it started, when it was last heard from, and whether it is live. A
/// single server (metadata in SQLite) is no cluster and lists none.
#[utoipa::path(get, path = "/api/v1/admin/nodes", tag = "admin",
    responses(
        (status = 200, description = "Nodes", body = NodesResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_nodes(State(st): State<RestState>, _: Admin) -> RestResult<Json<NodesResponse>> {
    blocking(move || {
        let Some(registry) = st.store().coordinator().node_registry() else {
            return Ok(Json(NodesResponse {
                cluster: false,
                nodes: Vec::new(),
            }));
        };
        let nodes = registry.nodes().map_err(EngineError::from)?;
        let this = st.node_instance();
        Ok(Json(NodesResponse {
            cluster: true,
            nodes: nodes.iter().map(|n| NodeJson::of(n, this)).collect(),
        }))
    })
    .await
}

/// Starts a worker now (or right after its current run). Poll `GET /admin/workers` for
/// its progress (`running`, `progress`, `runs`) and result (`last_outcome`, `last_error`).
#[utoipa::path(post, path = "/api/v1/admin/workers/{name}/run", tag = "admin",
    params(("name" = String, Path, description = "Worker name: gc, retention, trash, scrub, lifecycle, search-index, s3_uploads, s3_uploads_lifecycle, tus_uploads")),
    responses(
        (status = 202, description = "Started, or queued after the current run", body = RunResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such worker", body = ErrorBody),
    ))]
pub async fn run_worker(
    State(st): State<RestState>,
    _: Admin,
    Path(name): Path<String>,
) -> RestResult<(StatusCode, Json<RunResponse>)> {
    let runner = st
        .workers()
        .ok_or_else(|| EngineError::NotFound(format!("worker {name}")))?;
    let t = runner.run_now(&name)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunResponse {
            started: t == Trigger::Started,
            queued_after_current_run: t == Trigger::AfterCurrentRun,
        }),
    ))
}

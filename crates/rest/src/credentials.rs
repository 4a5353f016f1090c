//! The caller's own credentials: app passwords (for WebDAV clients and scripts; see
//! `nas_auth::create_app_password`) and S3 access keys. Everyone may list theirs; creating
//! or deleting one needs a sign-in with the account password (a session or Basic with the
//! password) — an app password cannot mint or revoke credentials.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, JsonBody};
use crate::ops_model::{CreatedKeyJson, KeyJson, KeysResponse};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use nas_auth::{create_app_password, create_named_key};
use nas_engine::{AppPasswordRecord, EngineError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An app password, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPasswordJson {
    /// Id (to delete it).
    pub id: String,
    /// What the owner called it.
    pub name: String,
    /// Signs in read-only whatever the owner's role.
    pub read_only: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last use, Unix seconds (recorded at most once a minute); absent if never used.
    pub last_used: Option<i64>,
}

impl From<&AppPasswordRecord> for AppPasswordJson {
    fn from(a: &AppPasswordRecord) -> Self {
        AppPasswordJson {
            id: a.id.clone(),
            name: a.name.clone(),
            read_only: a.read_only,
            created: a.created_ns.div_euclid(1_000_000_000),
            last_used: a.last_used_ns.map(|t| t.div_euclid(1_000_000_000)),
        }
    }
}

/// The caller's app passwords.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPasswordsResponse {
    /// Oldest first.
    pub app_passwords: Vec<AppPasswordJson>,
}

/// `POST /me/app-passwords` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateAppPasswordRequest {
    /// A name to recognise it by (1–100 characters), e.g. "phone".
    pub name: String,
    /// Sign in read-only with it (default false).
    #[serde(default)]
    pub read_only: bool,
}

/// A new app password. The secret is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAppPasswordJson {
    /// The stored part.
    #[serde(flatten)]
    pub app: AppPasswordJson,
    /// The app password (`snap_…`, shown once): use it as the password of HTTP Basic
    /// (WebDAV, REST) with your user name, or as `Authorization: Bearer` at the REST API.
    pub password: String,
}

/// `POST /me/keys` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateOwnKeyRequest {
    /// A name to recognise it by (optional, up to 100 characters).
    pub name: Option<String>,
    /// Read-only: requests signed with it may read, never change anything (default false).
    #[serde(default)]
    pub read_only: bool,
}

fn need_password(c: &Caller) -> RestResult<()> {
    if c.who.app_password.is_some() {
        return Err(RestError::Forbidden(
            "an app password cannot create or delete credentials: sign in with the account password",
        ));
    }
    Ok(())
}

/// The caller's app passwords (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/app-passwords", tag = "account",
    responses(
        (status = 200, description = "App passwords", body = AppPasswordsResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_app_passwords(
    State(st): State<RestState>,
    c: Caller,
) -> RestResult<Json<AppPasswordsResponse>> {
    blocking(move || {
        let apps = st.accounts().app_passwords(&c.who.name)?;
        Ok(Json(AppPasswordsResponse {
            app_passwords: apps.iter().map(AppPasswordJson::from).collect(),
        }))
    })
    .await
}

/// Creates an app password for the caller. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/app-passwords", tag = "account",
    request_body = CreateAppPasswordRequest,
    responses(
        (status = 201, description = "Created; the password is shown once", body = CreatedAppPasswordJson),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Signed in with an app password", body = ErrorBody),
    ))]
pub async fn create_app(
    State(st): State<RestState>,
    c: Caller,
    JsonBody(b): JsonBody<CreateAppPasswordRequest>,
) -> RestResult<(StatusCode, Json<CreatedAppPasswordJson>)> {
    need_password(&c)?;
    blocking(move || {
        let (rec, secret) = create_app_password(st.accounts(), &c.who.name, &b.name, b.read_only)?;
        Ok((
            StatusCode::CREATED,
            Json(CreatedAppPasswordJson {
                app: AppPasswordJson::from(&rec),
                password: secret,
            }),
        ))
    })
    .await
}

/// Deletes one of the caller's app passwords: it stops working at the next request.
#[utoipa::path(delete, path = "/api/v1/me/app-passwords/{id}", tag = "account",
    params(("id" = String, Path, description = "App password id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Signed in with an app password", body = ErrorBody),
        (status = 404, description = "The caller has no app password with this id", body = ErrorBody),
    ))]
pub async fn delete_app(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
) -> RestResult<StatusCode> {
    need_password(&c)?;
    blocking(move || {
        if !st.accounts().delete_app_password(&c.who.name, &id)? {
            return Err(EngineError::NotFound(format!("app password {id}")).into());
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// The caller's S3 access keys (never their secrets), revoked ones included.
#[utoipa::path(get, path = "/api/v1/me/keys", tag = "account", operation_id = "list_own_keys",
    responses(
        (status = 200, description = "Keys", body = KeysResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_keys(State(st): State<RestState>, c: Caller) -> RestResult<Json<KeysResponse>> {
    blocking(move || {
        let keys = st.accounts().keys(Some(&c.who.name))?;
        Ok(Json(KeysResponse {
            keys: keys.iter().map(KeyJson::from).collect(),
        }))
    })
    .await
}

/// Creates an S3 access key pair for the caller. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/keys", tag = "account", operation_id = "create_own_key",
    request_body = CreateOwnKeyRequest,
    responses(
        (status = 201, description = "Created; the secret is shown once", body = CreatedKeyJson),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Signed in with an app password", body = ErrorBody),
    ))]
pub async fn create_key(
    State(st): State<RestState>,
    c: Caller,
    JsonBody(b): JsonBody<CreateOwnKeyRequest>,
) -> RestResult<(StatusCode, Json<CreatedKeyJson>)> {
    need_password(&c)?;
    blocking(move || {
        let key = create_named_key(st.accounts(), &c.who.name, b.name.as_deref(), b.read_only)?;
        Ok((StatusCode::CREATED, Json(CreatedKeyJson::from(key))))
    })
    .await
}

/// Revokes one of the caller's S3 keys: the S3 door refuses it from the next request on.
#[utoipa::path(delete, path = "/api/v1/me/keys/{id}", tag = "account", operation_id = "revoke_own_key",
    params(("id" = String, Path, description = "Access key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Signed in with an app password", body = ErrorBody),
        (status = 404, description = "The caller has no key with this id", body = ErrorBody),
    ))]
pub async fn revoke_key(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
) -> RestResult<StatusCode> {
    need_password(&c)?;
    blocking(move || {
        let mine = st
            .accounts()
            .key(&id)?
            .is_some_and(|k| k.user == c.who.name);
        if !mine || !st.accounts().revoke_key(&id)? {
            return Err(EngineError::NotFound(format!("access key {id}")).into());
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

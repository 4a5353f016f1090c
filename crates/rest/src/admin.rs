//! Administration (role `admin` only; everyone else gets 403, before any body is read):
//! accounts and store totals.
//! Accounts are changed through `nas-auth` (names, password hashing) and the engine's
//! `Accounts`, exactly as `silent-nas user …` does.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Admin, JsonBody};
use crate::model::{CreateUserRequest, StatsJson, UpdateUserRequest, UserJson, UsersResponse};
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use nas_auth::{AuthError, Role, add_user, hash_password};
use nas_engine::UserRetention;

/// Shortest password accepted (as `silent-nas user add`).
const MIN_PASSWORD: usize = 8;

pub(crate) fn check_password(p: &str) -> RestResult<()> {
    if p.chars().count() < MIN_PASSWORD {
        return Err(RestError::BadRequest(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

fn role(s: &str) -> RestResult<Role> {
    Role::parse(s)
        .ok_or_else(|| RestError::BadRequest(format!("unknown role {s:?} (admin, user, readonly)")))
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses(
        (status = 200, description = "Accounts", body = UsersResponse),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_users(State(st): State<RestState>, _: Admin) -> RestResult<Json<UsersResponse>> {
    blocking(move || {
        let mut users: Vec<UserJson> = st.accounts().list()?.iter().map(UserJson::from).collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json(UsersResponse { users }))
    })
    .await
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserJson),
        (status = 400, description = "Invalid name or role", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ))]
pub async fn create_user(
    State(st): State<RestState>,
    _: Admin,
    JsonBody(b): JsonBody<CreateUserRequest>,
) -> RestResult<(StatusCode, Json<UserJson>)> {
    let r = role(b.role.as_deref().unwrap_or("user"))?;
    check_password(&b.password)?;
    blocking(move || {
        let accounts = st.accounts();
        add_user(accounts, &b.name, &b.password, r, b.quota).map_err(|e| match e {
            AuthError::BadName(n) => RestError::BadRequest(format!(
                "invalid user name {n:?}: 1-64 of A-Z a-z 0-9 . _ -, not starting with '.'"
            )),
            other => other.into(),
        })?;
        let u = accounts
            .get(&b.name)?
            .ok_or_else(|| RestError::Internal("a created user is missing".into()))?;
        Ok((StatusCode::CREATED, Json(UserJson::from(&u))))
    })
    .await
}

/// Changes an account: only the fields present change (`"quota": null` = unlimited;
/// `"keep_versions": null` / `"keep_days": null` = the server's retention rule, `0` = no
/// such rule for this user). Administrators cannot demote or disable themselves.
#[utoipa::path(patch, path = "/api/v1/admin/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The changed account", body = UserJson),
        (status = 400, description = "Invalid role, password or retention value, or demoting yourself", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn update_user(
    State(st): State<RestState>,
    Admin(c): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<UpdateUserRequest>,
) -> RestResult<Json<UserJson>> {
    let new_role = b.role.as_deref().map(role).transpose()?;
    let demotes = new_role.is_some_and(|r| r != Role::Admin) || b.disabled == Some(true);
    if name == c.who.name && demotes {
        return Err(RestError::BadRequest(
            "you cannot demote or disable your own account (ask another admin)".into(),
        ));
    }
    if let Some(p) = &b.password {
        check_password(p)?;
    }
    let (keep_versions, keep_days) = (b.keep_versions, b.keep_days);
    UserRetention {
        keep_versions: keep_versions.flatten(),
        keep_days: keep_days.flatten(),
    }
    .validate()
    .map_err(|e| match e {
        nas_engine::EngineError::InvalidArgument(m) => RestError::BadRequest(m),
        other => other.into(),
    })?;
    blocking(move || {
        let accounts = st.accounts();
        let mut u = accounts
            .get_fresh(&name)?
            .ok_or_else(|| nas_engine::EngineError::NotFound(format!("user {name}")))?;
        if let Some(r) = new_role {
            u.role = r.as_str().to_owned();
        }
        if let Some(q) = b.quota {
            u.quota = q;
        }
        if let Some(d) = b.disabled {
            u.disabled = d;
        }
        if let Some(p) = &b.password {
            u.password = hash_password(p);
        }
        let mut retention = UserRetention::of(&u);
        if let Some(v) = keep_versions {
            retention.keep_versions = v;
        }
        if let Some(d) = keep_days {
            retention.keep_days = d;
        }
        retention.store_in(&mut u);
        accounts.update(&u)?;
        Ok(Json(UserJson::from(&u)))
    })
    .await
}

/// Deletes an account (its files stay, as with `silent-nas user remove`) and ends its
/// sessions. Administrators cannot delete themselves.
#[utoipa::path(delete, path = "/api/v1/admin/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Deleting yourself", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn delete_user(
    State(st): State<RestState>,
    Admin(c): Admin,
    Path(name): Path<String>,
) -> RestResult<StatusCode> {
    if name == c.who.name {
        return Err(RestError::BadRequest(
            "you cannot delete your own account".into(),
        ));
    }
    blocking(move || {
        if st.accounts().get(&name)?.is_none() {
            return Err(nas_engine::EngineError::NotFound(format!("user {name}")).into());
        }
        st.accounts().remove(&name)?;
        st.close_sessions_of(&name)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Store totals: bytes, chunks, files, dedup and compression ratios.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    responses(
        (status = 200, description = "Totals", body = StatsJson),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn stats(State(st): State<RestState>, _: Admin) -> RestResult<Json<StatsJson>> {
    blocking(move || Ok(Json(StatsJson::from(st.store().stats()?)))).await
}

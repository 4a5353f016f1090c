//! Sign-in routes and the caller's own account: login (password → tokens, rate-limited
//! with the same limiter as WebDAV), refresh (refresh token → access token), logout (ends
//! the session for good), `/me` and the caller's own password change.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, ClientIp, JsonBody, Note};
use crate::model::{LoginRequest, LoginResponse, Me, RefreshRequest, RefreshResponse};
use crate::state::{ACCESS_TTL_SECS, REFRESH_TTL_SECS, RestState, blocking};
use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// Signs in with a password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong user name or password, or an app password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins (Retry-After)", body = ErrorBody),
    ))]
pub async fn login(
    State(st): State<RestState>,
    ClientIp(ip): ClientIp,
    Note(note): Note,
    JsonBody(b): JsonBody<LoginRequest>,
) -> RestResult<Json<LoginResponse>> {
    note.set_user(&b.username); // the audit log names who tried (never the password)
    let who = st.verify_password(b.username, b.password, ip).await?;
    if who.app_password.is_some() {
        return Err(RestError::Unauthorized(
            "an app password opens no session: send it as Basic or Bearer on each request",
        ));
    }
    let st2 = st.clone();
    let issued = blocking(move || st2.open_session(&who.name)).await?;
    Ok(Json(LoginResponse {
        access_token: issued.access,
        refresh_token: issued.refresh,
        expires_in: ACCESS_TTL_SECS,
        refresh_expires_in: REFRESH_TTL_SECS,
        token_type: "Bearer",
    }))
}

/// Trades a refresh token for a new access token and a new refresh token. The refresh
/// token sent is spent: sending it again ends the session (reuse detection). Access tokens
/// are refused here.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    security(()),
    responses(
        (status = 200, description = "A new access token and the next refresh token", body = RefreshResponse),
        (status = 401, description = "Not a valid refresh token, a spent one (the session is ended), or the session ended", body = ErrorBody),
    ))]
pub async fn refresh(
    State(st): State<RestState>,
    Note(note): Note,
    JsonBody(b): JsonBody<RefreshRequest>,
) -> RestResult<Json<RefreshResponse>> {
    let (issued, user) = blocking(move || st.refresh(&b.refresh_token)).await?;
    note.set_user(&user);
    let refresh_expires_in = (issued.refresh_expires - crate::state::now_secs()).max(0);
    Ok(Json(RefreshResponse {
        access_token: issued.access,
        refresh_token: issued.refresh,
        expires_in: ACCESS_TTL_SECS,
        refresh_expires_in,
        token_type: "Bearer",
    }))
}

/// Ends the session of the Bearer token: it and its refresh token stop working (also
/// after a restart).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "Signed in with Basic or an app password: there is no session", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn logout(State(st): State<RestState>, c: Caller) -> RestResult<StatusCode> {
    let sid = c.session.ok_or_else(|| {
        RestError::BadRequest("signed in with Basic: there is no session to end".into())
    })?;
    blocking(move || st.close_session(&sid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user: name, role, quota and bytes used.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn me(State(st): State<RestState>, c: Caller) -> RestResult<Json<Me>> {
    let store = st.store().clone();
    let name = c.who.name.clone();
    let used = blocking(move || Ok(store.home(&name)?.used_bytes()?)).await?;
    Ok(Json(Me {
        name: c.who.name,
        role: c.who.role.as_str().to_owned(),
        quota: c.who.quota,
        used_bytes: used,
    }))
}

/// `POST /me/password` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The password now (checked, and throttled like every sign-in).
    pub current: String,
    /// The new password (8 characters or more).
    pub new: String,
}

/// Changes the caller's own password. The current one must be given (a wrong one is a
/// 400 and counts against the sign-in throttle); an app password cannot do this. Every
/// session of the account ends, this one too: sign in again with the new password.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "account",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every session of the account has ended"),
        (status = 400, description = "The current password is wrong, or the new one too short", body = ErrorBody),
        (status = 403, description = "Signed in with an app password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins (Retry-After)", body = ErrorBody),
    ))]
pub async fn change_password(
    State(st): State<RestState>,
    ClientIp(ip): ClientIp,
    c: Caller,
    JsonBody(b): JsonBody<ChangePasswordRequest>,
) -> RestResult<StatusCode> {
    if c.who.app_password.is_some() {
        return Err(RestError::Forbidden(
            "an app password cannot change the account's password",
        ));
    }
    crate::admin::check_password(&b.new)?;
    let name = c.who.name.clone();
    st.verify_password(name.clone(), b.current, ip)
        .await
        .map_err(|e| match e {
            RestError::Unauthorized(_) => {
                RestError::BadRequest("the current password is wrong".into())
            }
            other => other,
        })?;
    blocking(move || {
        let accounts = st.accounts();
        let mut u = accounts
            .get_fresh(&name)?
            .ok_or_else(|| nas_engine::EngineError::NotFound(format!("user {name}")))?;
        u.password = nas_auth::hash_password(&b.new);
        accounts.update(&u)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Sign-in routes and the caller's own account: login (password → tokens, rate-limited
//! with the same limiter as WebDAV), refresh (refresh token → access token), logout (ends
//! the session for good) and `/me`.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, ClientIp, JsonBody, Note};
use crate::model::{LoginRequest, LoginResponse, Me, RefreshRequest, RefreshResponse};
use crate::state::{ACCESS_TTL_SECS, REFRESH_TTL_SECS, RestState, blocking};
use axum::Json;
use axum::extract::State;
use http::StatusCode;

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

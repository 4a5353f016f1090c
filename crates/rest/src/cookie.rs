//! Cookie sessions for the web UI, on the door's persisted sessions.
//!
//! `POST /api/v1/auth/session` (JSON `{"username","password"}`, rate-limited like every
//! sign-in) opens a session and sets two cookies:
//!
//! - `nas_session`: the session's token (kind `browser`, signed like every token, valid as
//!   long as its session — 30 days — and only from this cookie); `HttpOnly`,
//!   `SameSite=Lax`, `Path=/api/v1`, and `Secure` when the request came over HTTPS (the
//!   server's own TLS, or `X-Forwarded-Proto: https` from a trusted proxy);
//! - `nas_csrf`: the session's CSRF token, readable by the page's script (not
//!   `HttpOnly`), derived from the session id and the install's secret.
//!
//! A request with no `Authorization` header is signed in by the session cookie; if its
//! method changes state (anything but GET, HEAD, OPTIONS) it must carry the session's
//! CSRF token in `X-CSRF-Token`, or it is refused with 403 before anything happens. The
//! token is bound to the session (not compared with the cookie), so a cookie planted by
//! a sibling site cannot pass. Requests with `Authorization` (Bearer, Basic) are checked
//! as before and never look at cookies.
//!
//! Signing in again with a live session cookie ends that session first (one session per
//! browser). `DELETE /api/v1/auth/session` ends the cookie's session (CSRF token required when the
//! session is live) and clears both cookies.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, ClientIp, JsonBody, Note};
use crate::model::LoginRequest;
use crate::state::{REFRESH_TTL_SECS, RestState, blocking};
use crate::token::Kind;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use nas_engine::audit::AuditNote;
use serde::Serialize;
use std::net::SocketAddr;
use utoipa::ToSchema;

/// The session cookie (HttpOnly).
pub const SESSION_COOKIE: &str = "nas_session";
/// The CSRF cookie (readable by the page).
pub const CSRF_COOKIE: &str = "nas_csrf";
/// The header a cookie-signed-in state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Marks a request that came over the server's own TLS listener (a request extension set
/// by the server): session cookies are then `Secure`.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// The cookie routes.
pub fn routes() -> Router<RestState> {
    Router::new().route("/api/v1/auth/session", post(sign_in).delete(sign_out))
}

/// What a cookie sign-in answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    /// Who signed in.
    pub user: String,
    /// `admin`, `user` or `readonly`.
    pub role: String,
    /// The session's CSRF token (also in the `nas_csrf` cookie): send it as
    /// `X-CSRF-Token` on every request that changes something.
    pub csrf_token: String,
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Whether the request came over HTTPS: the server's TLS listener, or a trusted proxy
/// saying so.
pub(crate) fn over_https(
    parts_ext: &http::Extensions,
    headers: &HeaderMap,
    st: &RestState,
) -> bool {
    if parts_ext.get::<OverTls>().is_some() {
        return true;
    }
    let peer = parts_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    peer.is_some_and(|p| st.is_trusted_proxy(p))
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value (`SameSite=Lax`; `HttpOnly` and `Secure` as asked): the one
/// builder of every cookie the server sets (sessions here, share passwords in
/// `share_password`).
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    http_only: bool,
    max_age: i64,
    secure: bool,
) -> Option<HeaderValue> {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).ok()
}

fn with_cookies(mut r: Response, cookies: [Option<HeaderValue>; 2]) -> Response {
    for c in cookies.into_iter().flatten() {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Signs in the web UI: sets the `nas_session` cookie (HttpOnly, SameSite=Lax, Secure over
/// HTTPS) and the `nas_csrf` cookie. Requests without `Authorization` are then signed in by
/// the cookie; those that change something must send `X-CSRF-Token` (403 otherwise).
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Signed in; the cookies are set", body = SignedIn),
        (status = 400, description = "Not Content-Type: application/json", body = ErrorBody),
        (status = 401, description = "Wrong user name or password, or an app password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins (Retry-After)", body = ErrorBody),
    ))]
pub async fn sign_in(
    State(st): State<RestState>,
    ClientIp(ip): ClientIp,
    Note(note): Note,
    parts: RequestFacts,
    JsonBody(b): JsonBody<LoginRequest>,
) -> RestResult<Response> {
    // a form on another site cannot send JSON without a CORS preflight: no login CSRF
    if !parts.json {
        return Err(RestError::BadRequest(
            "sign-in takes Content-Type: application/json".into(),
        ));
    }
    note.set_user(&b.username);
    let who = st.verify_password(b.username, b.password, ip).await?;
    if who.app_password.is_some() {
        return Err(RestError::Unauthorized(
            "an app password cannot sign in to the web UI",
        ));
    }
    let (st2, name) = (st.clone(), who.name.clone());
    let replaced = parts.session.map(|(_, sid)| sid);
    let (token, sid) = blocking(move || {
        // signing in again in the same browser ends the session its cookie held
        if let Some(old) = replaced {
            st2.close_session(&old)?;
        }
        st2.open_browser_session(&name)
    })
    .await?;
    let csrf = st.csrf_token(&sid)?;
    let secure = parts.https;
    let body = Json(SignedIn {
        user: who.name,
        role: who.role.as_str().to_owned(),
        csrf_token: csrf.clone(),
    });
    Ok(with_cookies(
        body.into_response(),
        [
            set_cookie(
                SESSION_COOKIE,
                &token,
                "/api/v1",
                true,
                REFRESH_TTL_SECS,
                secure,
            ),
            set_cookie(CSRF_COOKIE, &csrf, "/", false, REFRESH_TTL_SECS, secure),
        ],
    ))
}

/// Signs the web UI out: ends the cookie's session (if it is live, only with its CSRF
/// token) and clears the cookies.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth", security(()),
    responses(
        (status = 204, description = "Signed out; the cookies are cleared"),
        (status = 403, description = "The session is live and X-CSRF-Token is missing or wrong", body = ErrorBody),
    ))]
pub async fn sign_out(State(st): State<RestState>, parts: RequestFacts) -> RestResult<Response> {
    if let Some((_, sid)) = parts.session {
        need_csrf(&st, &sid, &parts.headers)?;
        blocking(move || st.close_session(&sid)).await?;
    }
    let secure = parts.https;
    Ok(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        [
            set_cookie(SESSION_COOKIE, "", "/api/v1", true, 0, secure),
            set_cookie(CSRF_COOKIE, "", "/", false, 0, secure),
        ],
    ))
}

/// What the cookie routes read from a request's head.
pub struct RequestFacts {
    headers: HeaderMap,
    json: bool,
    https: bool,
    /// The live session of the cookie, if any: (user, session id).
    session: Option<(String, String)>,
}

impl axum::extract::FromRequestParts<RestState> for RequestFacts {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &RestState) -> RestResult<Self> {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        let session = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|t| st.check_token(t, Kind::Browser).ok())
            .map(|(who, sid)| (who.name, sid));
        Ok(RequestFacts {
            headers: parts.headers.clone(),
            json,
            https: over_https(&parts.extensions, &parts.headers, st),
            session,
        })
    }
}

/// Refuses (403) a state-changing request whose `X-CSRF-Token` is not its session's.
fn need_csrf(st: &RestState, sid: &str, headers: &HeaderMap) -> RestResult<()> {
    let want = st.csrf_token(sid)?;
    let got = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
    match got {
        Some(g) if constant_time_eq(g, want.as_bytes()) => Ok(()),
        _ => Err(RestError::Forbidden(
            "missing or wrong X-CSRF-Token: a change made with the session cookie must carry the session's CSRF token",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller of a request without `Authorization`, signed in by the session cookie
/// (`None` when there is no such cookie). A state-changing method needs the session's
/// CSRF token (403 otherwise).
pub(crate) fn caller(parts: &Parts, st: &RestState) -> RestResult<Option<Caller>> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let (who, sid) = st.check_token(token, Kind::Browser)?;
    if let Some(n) = parts.extensions.get::<AuditNote>() {
        n.set_user(&who.name);
    }
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        need_csrf(st, &sid, &parts.headers)?;
    }
    Ok(Some(Caller {
        who,
        session: Some(sid),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("x_nas_session=no; nas_csrf=c1"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("nas_session=\"tok\""),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("c1"));
        assert_eq!(cookie(&h, "nas"), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let c = set_cookie(SESSION_COOKIE, "t", "/api/v1", true, 60, true).unwrap();
        assert_eq!(
            c.to_str().unwrap(),
            "nas_session=t; Path=/api/v1; Max-Age=60; SameSite=Lax; HttpOnly; Secure"
        );
        let c = set_cookie(CSRF_COOKIE, "c", "/", false, 60, false).unwrap();
        assert_eq!(
            c.to_str().unwrap(),
            "nas_csrf=c; Path=/; Max-Age=60; SameSite=Lax"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

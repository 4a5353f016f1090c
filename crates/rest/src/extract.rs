//! What handlers take from a request: the signed-in [`Caller`] (Bearer access token, or
//! HTTP Basic for scripts, or — without `Authorization` — the web UI's session cookie), home paths from the raw URI (decoded here, segment by segment,
//! so `%2e%2e` and an encoded `/` are refused with 400), JSON bodies (read with size and
//! depth limits, in `json.rs`) and query strings whose rejections are JSON errors like
//! every other.

use crate::error::{RestError, RestResult};
use crate::state::RestState;
use crate::token::Kind;
use axum::extract::{ConnectInfo, FromRequestParts};
use base64::Engine as _;
use http::request::Parts;
use http::{Uri, header};
use nas_auth::{Principal, Role};
use nas_engine::audit::AuditNote;
use nas_types::NasPath;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use crate::json::JsonBody;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Name, role and quota, read from the account on this request.
    pub who: Principal,
    /// The session of the access token (`None` when signed in with Basic or an app
    /// password).
    pub session: Option<String>,
}

impl Caller {
    /// Refuses read-only accounts (403).
    pub fn need_write(&self) -> RestResult<()> {
        if self.who.role.can_write() {
            Ok(())
        } else {
            Err(RestError::Forbidden("read-only account"))
        }
    }

    /// Refuses everyone but administrators (403).
    pub fn need_admin(&self) -> RestResult<()> {
        if self.who.role == Role::Admin {
            Ok(())
        } else {
            Err(RestError::Forbidden("administrators only"))
        }
    }
}

/// The request's audit note (see [`AuditNote`]): a fresh, unobserved one when the server
/// has no audit middleware.
pub struct Note(pub AuditNote);

impl<S: Send + Sync> FromRequestParts<S> for Note {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Note, Self::Rejection> {
        Ok(Note(
            parts
                .extensions
                .get::<AuditNote>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// A signed-in administrator: everyone else is refused (403) before the request's body is
/// read, so a non-admin gets 403 whatever the body holds.
pub struct Admin(pub Caller);

impl FromRequestParts<RestState> for Admin {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &RestState) -> RestResult<Admin> {
        let c = Caller::from_request_parts(parts, st).await?;
        c.need_admin()?;
        Ok(Admin(c))
    }
}

/// The client's address, for rate limits.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<RestState> for ClientIp {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &RestState) -> RestResult<ClientIp> {
        Ok(ClientIp(client_ip(parts, st)))
    }
}

/// The client's address (the peer, or what a trusted proxy forwarded for).
fn client_ip(parts: &Parts, st: &RestState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    st.client_ip(peer, &parts.headers)
}

fn basic(value: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

impl FromRequestParts<RestState> for Caller {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &RestState) -> RestResult<Caller> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            // no Authorization: the web UI's session cookie, if any (cookie.rs)
            return crate::cookie::caller(parts, st)?.ok_or(RestError::Unauthorized(
                "sign in: Authorization: Bearer <access token> (or Basic)",
            ));
        };
        let value = value
            .to_str()
            .map_err(|_| RestError::Unauthorized("malformed Authorization header"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let note = parts.extensions.get::<AuditNote>().cloned();
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = rest.trim();
            if nas_auth::looks_like_app_password(token) {
                let who = st.verify_app_token(token, client_ip(parts, st))?;
                if let Some(n) = &note {
                    n.set_user(&who.name);
                }
                return Ok(Caller { who, session: None });
            }
            let (who, sid) = st.check_token(token, Kind::Access)?;
            if let Some(n) = &note {
                n.set_user(&who.name);
            }
            return Ok(Caller {
                who,
                session: Some(sid),
            });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let (user, pass) =
                basic(rest).ok_or(RestError::Unauthorized("malformed Basic credentials"))?;
            let ip = client_ip(parts, st);
            if let Some(n) = &note {
                n.set_user(&user); // the name tried, also when the sign-in fails
            }
            let who = st.verify_password(user, pass, ip).await?;
            return Ok(Caller { who, session: None });
        }
        Err(RestError::Unauthorized(
            "unsupported authorization scheme (use Bearer or Basic)",
        ))
    }
}

/// The home path after `prefix` in the raw request path: each segment percent-decoded on
/// its own and checked (UTF-8, not empty, not `.`/`..`, no encoded `/` or NUL), then parsed
/// as a [`NasPath`]. `/api/v1/files` and `/api/v1/files/` are the root.
pub fn home_path(uri: &Uri, prefix: &str) -> RestResult<NasPath> {
    let rest = uri
        .path()
        .strip_prefix(prefix)
        .ok_or_else(|| RestError::BadPath("path outside this route".into()))?;
    segments_to_path(rest)
}

/// Decodes and checks a raw (percent-encoded) path, e.g. `/a%20b/c`.
pub fn segments_to_path(raw: &str) -> RestResult<NasPath> {
    let rest = raw.strip_prefix('/').unwrap_or(raw);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut decoded = String::with_capacity(rest.len() + 1);
    if !rest.is_empty() {
        for seg in rest.split('/') {
            let s = percent_encoding::percent_decode_str(seg)
                .decode_utf8()
                .map_err(|_| RestError::BadPath("path is not UTF-8".into()))?;
            if s.is_empty() {
                return Err(RestError::BadPath("empty path segment".into()));
            }
            if s == "." || s == ".." {
                return Err(RestError::BadPath(
                    "'.' and '..' are not allowed in paths".into(),
                ));
            }
            if s.contains(['/', '\0']) {
                return Err(RestError::BadPath(
                    "encoded '/' or NUL in a path segment".into(),
                ));
            }
            decoded.push('/');
            decoded.push_str(&s);
        }
    }
    Ok(NasPath::parse(&decoded)?)
}

/// A path given in a JSON body or a query string (not percent-encoded).
pub fn body_path(p: &str) -> RestResult<NasPath> {
    Ok(NasPath::parse(p)?)
}

/// A query string; a malformed one is a JSON 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> RestResult<Self> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(RestError::BadRequest(e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_paths_follow_the_naming_rules() {
        for (ok, want) in [
            ("", "/"),
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a%20b/", "/a b"),
            ("/caf%C3%A9", "/café"),
        ] {
            assert_eq!(
                segments_to_path(ok).map(|p| p.to_string()).ok(),
                Some(want.into()),
                "{ok}"
            );
        }
        for bad in [
            "/../x",
            "/%2e%2e/x",
            "/a//b",
            "/./a",
            "/a%2fb",
            "/a%00b",
            "/%c0%ae",
            "/%2E%2E",
        ] {
            assert!(
                matches!(segments_to_path(bad), Err(RestError::BadPath(_))),
                "{bad}"
            );
        }
    }
}

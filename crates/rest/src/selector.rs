//! The REST door's guard on version selectors: a `version` query parameter is honoured
//! only where a route reads it (`GET`/`HEAD /api/v1/download/…` and
//! `DELETE /api/v1/versions/…`). Anywhere else — a delete, an upload, a stat — it would
//! be silently ignored and the request would act on the current file, so it is refused
//! with 400 instead; so is a differently-cased spelling (`Version=`) that the routes'
//! query parsers would ignore. Malformed and unknown versions on the routes that take
//! one are refused there (400 and 404).

use crate::error::RestError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;

/// Whether `method path` reads a `version` query parameter.
fn takes_version(method: &Method, path: &str) -> bool {
    (matches!(*method, Method::GET | Method::HEAD) && path.starts_with("/api/v1/download/"))
        || (*method == Method::DELETE && path.starts_with("/api/v1/versions/"))
}

/// The refusal of a request whose query names a version its route does not read.
pub fn stray_version(method: &Method, path: &str, query: Option<&str>) -> Option<RestError> {
    let takes = takes_version(method, path);
    query?.split('&').find_map(|kv| {
        let k = kv.split_once('=').map_or(kv, |(k, _)| k);
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        if !k.eq_ignore_ascii_case("version") {
            return None;
        }
        if !takes {
            return Some(RestError::BadRequest(format!(
                "{method} {path} does not take a `version` parameter: it would act on the \
                 current file"
            )));
        }
        (k != "version").then(|| RestError::BadRequest(format!("write `version`, not `{k}`")))
    })
}

/// Middleware applying [`stray_version`] to every `/api/v1` request.
pub async fn refuse_stray_version(req: Request, next: Next) -> Response {
    if let Some(e) = stray_version(req.method(), req.uri().path(), req.uri().query()) {
        return e.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_routes_that_read_a_version_take_one() {
        let refused = |m: Method, p: &str, q: &str| stray_version(&m, p, Some(q)).is_some();
        assert!(!refused(Method::GET, "/api/v1/download/a", "version=1"));
        assert!(!refused(Method::DELETE, "/api/v1/versions/a", "version=1"));
        assert!(!refused(Method::GET, "/api/v1/files/a", "cursor=x"));
        assert!(refused(Method::DELETE, "/api/v1/files/a", "version=1"));
        assert!(refused(Method::PUT, "/api/v1/upload/a", "version=1"));
        assert!(refused(Method::POST, "/api/v1/upload/a", "x=1&version"));
        assert!(refused(Method::GET, "/api/v1/stat/a", "version=1"));
        assert!(refused(Method::GET, "/api/v1/download/a", "Version=1"));
        assert!(refused(
            Method::GET,
            "/api/v1/download/a",
            "version=2&VERSION=1"
        ));
        assert!(stray_version(&Method::GET, "/api/v1/stat/a", None).is_none());
    }
}

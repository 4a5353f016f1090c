//! The two handlers: the page and an asset. Both answer conditional requests (304 on a
//! matching `If-None-Match`) and send the zstd copy to clients whose `Accept-Encoding`
//! names zstd.

use crate::assets::{Asset, table};
use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Cache rule of the page: always revalidate (it names the current build's assets).
const PAGE_CACHE: &str = "no-cache";
/// Cache rule of the current build's assets: their URL changes when they do.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /`: the page.
pub async fn page(headers: HeaderMap) -> Response {
    send(&table().page, &headers, PAGE_CACHE)
}

/// `GET /assets/{build}/{*file}`. An asset asked for under another build id (a page
/// loaded before an upgrade) gets the current bytes, revalidated rather than immutable.
pub async fn asset(Path((build, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let t = table();
    match t.get(&file) {
        Some(a) if build == t.build => send(a, &headers, IMMUTABLE),
        Some(a) => send(a, &headers, PAGE_CACHE),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

fn accepts_zstd(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';').map(str::trim);
            parts.next() == Some("zstd") && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
}

fn send(a: &Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let zstd = a.zstd.as_ref().filter(|_| accepts_zstd(headers));
    let etag = match zstd {
        Some(_) => format!("{}-z\"", a.etag.trim_end_matches('"')),
        None => a.etag.clone(),
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| {
            l.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
        });
    let mut r = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let body = zstd.unwrap_or(&a.raw).clone();
        Response::new(Body::from(body))
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if zstd.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("zstd"));
    }
    r
}

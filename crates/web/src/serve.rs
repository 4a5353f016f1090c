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
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
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

#[cfg(test)]
mod tests {
    use crate::assets::table;
    use axum::body::Body;
    use http::{Request, StatusCode, header};
    use tower::ServiceExt;

    async fn get(uri: &str, headers: &[(&str, &str)]) -> http::Response<Body> {
        let mut r = Request::get(uri);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        crate::router()
            .oneshot(r.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn h<'a>(r: &'a http::Response<Body>, name: &str) -> Option<&'a str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let build = &table().build;
        for uri in [
            "/",
            "/index.html",
            &format!("/assets/{build}/app.css"),
            "/assets/x/none.js",
        ] {
            let r = get(uri, &[]).await;
            assert_eq!(
                h(&r, "content-security-policy"),
                Some(crate::CONTENT_SECURITY_POLICY),
                "{uri}"
            );
            assert_eq!(h(&r, "x-content-type-options"), Some("nosniff"), "{uri}");
            assert_eq!(h(&r, "referrer-policy"), Some("no-referrer"), "{uri}");
            assert_eq!(h(&r, "x-frame-options"), Some("DENY"), "{uri}");
        }
        assert!(!crate::CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[tokio::test]
    async fn assets_are_immutable_under_the_build_and_revalidated_elsewhere() {
        let build = &table().build;
        let r = get(&format!("/assets/{build}/js/main.js"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            h(&r, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(
            h(&r, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
        let etag = h(&r, "etag").unwrap().to_owned();
        let again = get(
            &format!("/assets/{build}/js/main.js"),
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let old = get("/assets/0000000000000000/js/main.js", &[]).await;
        assert_eq!(h(&old, "cache-control"), Some("no-cache"));
        let page = get("/", &[]).await;
        assert_eq!(h(&page, "cache-control"), Some("no-cache"));
        assert_eq!(
            get("/assets/x/../Cargo.toml", &[]).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn zstd_is_sent_only_to_clients_that_accept_it() {
        let build = &table().build;
        let uri = format!("/assets/{build}/js/files.js");
        let z = get(&uri, &[("accept-encoding", "gzip, deflate, br, zstd")]).await;
        assert_eq!(h(&z, header::CONTENT_ENCODING.as_str()), Some("zstd"));
        assert_eq!(h(&z, "vary"), Some("accept-encoding"));
        let ze = h(&z, "etag").unwrap().to_owned();
        for refuse in ["gzip", "zstd;q=0", ""] {
            let r = get(&uri, &[("accept-encoding", refuse)]).await;
            assert_eq!(h(&r, header::CONTENT_ENCODING.as_str()), None, "{refuse}");
            assert_ne!(
                h(&r, "etag"),
                Some(ze.as_str()),
                "each encoding has its own ETag"
            );
        }
    }
}

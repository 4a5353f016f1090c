//! Small responses the door answers itself (before or instead of dav-server).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

pub fn status(code: StatusCode, msg: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{msg}\n")));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub fn challenge() -> Response {
    let mut r = status(StatusCode::UNAUTHORIZED, "authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Silent-NAS\", charset=\"UTF-8\""),
    );
    r
}

pub fn dav_options() -> Response {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    h.insert("DAV", HeaderValue::from_static("1, 2"));
    h.insert("MS-Author-Via", HeaderValue::from_static("DAV"));
    h.insert(
        header::ALLOW,
        HeaderValue::from_static(
            "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK",
        ),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

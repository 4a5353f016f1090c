//! Small responses the door answers itself (before or instead of dav-server).

use crate::fs::Refusal;
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

/// 507 as RFC 4918 §16 and RFC 4331 §6 shape it: a `DAV:error` body naming the failed
/// precondition (`quota-not-exceeded` or `sufficient-disk-space`) and, in our own
/// namespace, a sentence a person can act on (SabreDAV's shape: clients show the message).
pub fn insufficient_storage(why: &Refusal) -> Response {
    let (element, text, detail) = match why {
        Refusal::Quota(d) => (
            "quota-not-exceeded",
            "insufficient storage: the user's quota would be exceeded; nothing was stored",
            d,
        ),
        Refusal::DiskFull(d) => (
            "sufficient-disk-space",
            "insufficient storage: the server's disk is full; nothing was stored \
             (deleting files and emptying the trash gives space back)",
            d,
        ),
        Refusal::Unavailable(d) => ("sufficient-disk-space", "the storage is unavailable", d),
    };
    let message = if detail.is_empty() {
        text.to_owned()
    } else {
        format!("{text} ({detail})")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\" \
         xmlns:n=\"urn:silent-nas\"><D:{element}/><n:message>{}</n:message></D:error>\n",
        xml_text(&message)
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::INSUFFICIENT_STORAGE;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

/// `s` as XML character data.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
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

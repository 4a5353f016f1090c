//! The integrity header AWS requires on the calls that set an object lock: PutObject with
//! `x-amz-object-lock-*` headers, PutObjectRetention, PutObjectLegalHold and
//! PutObjectLockConfiguration must carry `Content-MD5` or a checksum (`x-amz-checksum-*`,
//! `x-amz-sdk-checksum-algorithm`, or an `x-amz-trailer` naming one, as newer SDKs send);
//! without one: 400 `InvalidRequest` with AWS's text, before the body is read. The XML
//! bodies of the three calls are read whole by the listener, which then checks a
//! `Content-MD5` against them (`BadDigest`; a PutObject's is checked as it streams).

use crate::guard::{Refusal, param, query};
use axum::extract::Request;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, Method, StatusCode};

/// The subresources of the lock calls whose body is an XML document.
const LOCK_SUBRESOURCES: [&str; 3] = ["retention", "legal-hold", "object-lock"];

/// AWS's text for a lock call without an integrity header.
const MISSING: &str = "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object \
                       requests with Object Lock parameters";

/// Whether `req` is one of the calls that set an object lock and need an integrity header
/// (a CopyObject carries no body, so no header is asked of it).
fn sets_lock(req: &Request) -> bool {
    if req.method() != Method::PUT {
        return false;
    }
    let q = query(req);
    if LOCK_SUBRESOURCES.iter().any(|s| param(&q, s).is_some()) {
        return true;
    }
    let h = req.headers();
    let subresource = ["uploadId", "partNumber", "acl", "tagging"]
        .iter()
        .any(|s| param(&q, s).is_some());
    !subresource
        && !h.contains_key("x-amz-copy-source")
        && [
            "x-amz-object-lock-mode",
            "x-amz-object-lock-retain-until-date",
            "x-amz-object-lock-legal-hold",
        ]
        .iter()
        .any(|n| h.contains_key(*n))
}

/// Whether the request names a `Content-MD5` or a checksum of its body.
fn has_integrity_header(h: &HeaderMap) -> bool {
    h.contains_key("content-md5")
        || h.contains_key("x-amz-sdk-checksum-algorithm")
        || h.keys().any(|k| k.as_str().starts_with("x-amz-checksum-"))
        || h.get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("x-amz-checksum-"))
}

/// `InvalidRequest` for a lock call without an integrity header.
pub fn check_head(req: &Request) -> Result<(), Refusal> {
    if sets_lock(req) && !has_integrity_header(req.headers()) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            MISSING,
        ));
    }
    Ok(())
}

/// Whether the listener must check the XML body of `req` against its `Content-MD5`.
pub fn checks_body(req: &Request) -> bool {
    req.method() == Method::PUT && {
        let q = query(req);
        LOCK_SUBRESOURCES.iter().any(|s| param(&q, s).is_some())
    }
}

/// The XML body of a lock call against its `Content-MD5`: `InvalidDigest` when the header
/// is not the base64 of 16 bytes, `BadDigest` when it is not the body's.
pub fn check_body(h: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let Some(v) = h.get("content-md5") else {
        return Ok(());
    };
    let claimed = v
        .to_str()
        .ok()
        .and_then(|s| B64.decode(s.trim()).ok())
        .filter(|d| d.len() == 16)
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidDigest",
                "The Content-MD5 you specified was invalid.",
            )
        })?;
    if claimed[..] != nas_md5::Md5::digest(body)[..] {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = http::Request::builder().method("PUT").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn lock_calls_need_an_integrity_header() {
        let missing = |r: &Request| check_head(r).is_err();
        assert!(missing(&req("/b/k?retention", &[])));
        assert!(missing(&req("/b/k?legal-hold", &[])));
        assert!(missing(&req("/b?object-lock", &[])));
        assert!(missing(&req(
            "/b/k",
            &[("x-amz-object-lock-legal-hold", "ON")]
        )));
        assert!(
            !missing(&req("/b/k", &[])),
            "a PutObject without lock headers"
        );
        let copy = [
            ("x-amz-object-lock-legal-hold", "ON"),
            ("x-amz-copy-source", "/b/s"),
        ];
        assert!(!missing(&req("/b/k", &copy)), "a CopyObject");
        for h in [
            ("content-md5", "x"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ] {
            assert!(!missing(&req("/b/k?retention", &[h])), "{h:?}");
        }
    }

    #[test]
    fn a_content_md5_must_be_the_body_s() {
        let body = b"<Retention/>";
        let good = B64.encode(nas_md5::Md5::digest(body));
        let mut h = HeaderMap::new();
        h.insert("content-md5", good.parse().unwrap());
        assert!(check_body(&h, body).is_ok());
        assert_eq!(check_body(&h, b"other").unwrap_err().code(), "BadDigest");
        h.insert("content-md5", "nope".parse().unwrap());
        assert_eq!(check_body(&h, body).unwrap_err().code(), "InvalidDigest");
        assert!(check_body(&HeaderMap::new(), body).is_ok());
    }
}

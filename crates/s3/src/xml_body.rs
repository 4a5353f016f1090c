//! XML request bodies, before s3s reads them whole: which requests carry one (every POST
//! but a browser form, a PUT of a sub-resource such as `?cors` or of a bucket), their size
//! caps ([`MAX_XML_BODY`], [`MAX_CORS_BODY`]), the nesting check (`xml_guard`), and
//! reading and discarding refused bodies so that the client still gets its answer.

use crate::guard::{Refusal, param, query};
use crate::xml_guard::{MAX_XML_DEPTH, check_xml};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Largest XML request body (DeleteObjects with 1,000 keys and CompleteMultipartUpload
/// with 10,000 parts and their checksums fit several times over).
pub const MAX_XML_BODY: usize = 8 << 20;

/// Largest CORS configuration body (AWS's limit).
pub const MAX_CORS_BODY: usize = 64 << 10;

/// Sub-resources whose PUT or POST carries an XML document (not object data).
const XML_SUBRESOURCES: [&str; 22] = [
    "acl",
    "accelerate",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "retention",
    "tagging",
    "versioning",
    "website",
];

/// An XML body from an anonymous request is never read: every operation that takes one
/// needs a signature.
pub fn anonymous_body() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "anonymous access is not allowed",
    )
}

/// Whether the request addresses an object (a key), not a bucket or the service.
fn has_key(req: &Request, domain: Option<&str>) -> bool {
    let path = req.uri().path().trim_start_matches('/');
    let vhost = domain.is_some_and(|d| {
        req.headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase())
            .is_some_and(|h| {
                h.strip_suffix(d)
                    .and_then(|b| b.strip_suffix('.'))
                    .is_some_and(|b| !b.is_empty())
            })
    });
    if vhost {
        !path.is_empty()
    } else {
        path.split_once('/').is_some_and(|(_, k)| !k.is_empty())
    }
}

/// The size cap of the request's body if it is an XML document s3s reads whole, `None`
/// when it is object data (streamed into the engine) or the request has no body.
pub fn xml_body_cap(req: &Request, domain: Option<&str>) -> Option<usize> {
    let q = query(req);
    let has = |s: &str| param(&q, s).is_some();
    let xml = match *req.method() {
        Method::POST => true,
        Method::PUT => XML_SUBRESOURCES.iter().any(|s| has(s)) || !has_key(req, domain),
        _ => false,
    };
    match (xml, has("cors")) {
        (false, _) => None,
        (true, true) => Some(MAX_CORS_BODY),
        (true, false) => Some(MAX_XML_BODY),
    }
}

/// The most of a refused body read and discarded so that a client still sending it gets
/// the answer (beyond it, the connection is closed instead).
const DRAIN_LIMIT: u64 = 64 << 20;

/// Reads and discards the body of a refused request so that a client still sending it
/// gets the answer. False when it was left unread (a client waiting for `100 Continue`,
/// or more than [`DRAIN_LIMIT`]): the connection must then close.
pub async fn discard(body: axum::body::Body, declared: Option<u64>, waits: bool) -> bool {
    if waits || declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return false;
    }
    let mut seen = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return false;
        };
        seen += chunk.len() as u64;
        if seen > DRAIN_LIMIT {
            return false;
        }
    }
    true
}

/// Reads an XML body of at most `cap` bytes and checks its nesting. A body over the cap
/// is read and discarded (up to [`DRAIN_LIMIT`]) so the client gets the answer; one
/// declared larger than that, or from a client waiting for `100 Continue`, is refused
/// unread and its connection closed.
pub async fn read_xml_body(
    body: axum::body::Body,
    declared: Option<u64>,
    cap: usize,
    waits: bool,
) -> Result<Bytes, Refusal> {
    let too_big = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "MaxMessageLengthExceeded",
            format!(
                "Your request was too big: this request's XML body may have at most {cap} bytes"
            ),
        )
    };
    let broken = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "the request body could not be read to its end",
        )
        .closing()
    };
    if declared.is_some_and(|n| n > cap as u64 && (waits || n > DRAIN_LIMIT)) {
        return Err(too_big().closing());
    }
    let mut buf = BytesMut::new();
    let mut seen = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| broken())?;
        seen += chunk.len() as u64;
        if seen > DRAIN_LIMIT {
            return Err(too_big().closing());
        }
        if seen <= cap as u64 {
            buf.extend_from_slice(&chunk);
        }
    }
    if seen > cap as u64 {
        return Err(too_big());
    }
    check_xml(&buf, MAX_XML_DEPTH)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "MalformedXML", e.to_string()))?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn xml_bodies_are_told_from_object_data() {
        let cap = |m: &str, u: &str| xml_body_cap(&req(m, u, &[]), None);
        assert_eq!(cap("PUT", "/b/k"), None, "PutObject");
        assert_eq!(
            cap("PUT", "/b/k?partNumber=1&uploadId=x"),
            None,
            "UploadPart"
        );
        assert_eq!(cap("PUT", "/b"), Some(MAX_XML_BODY), "CreateBucket");
        assert_eq!(cap("PUT", "/b?cors"), Some(MAX_CORS_BODY));
        assert_eq!(cap("PUT", "/b?versioning"), Some(MAX_XML_BODY));
        assert_eq!(cap("PUT", "/b/k?tagging"), Some(MAX_XML_BODY));
        assert_eq!(cap("POST", "/b?delete"), Some(MAX_XML_BODY));
        assert_eq!(cap("POST", "/b/k?uploadId=x"), Some(MAX_XML_BODY));
        assert_eq!(cap("GET", "/b/k"), None);
        let vh = req("PUT", "/k", &[("host", "b.s3.test:9000")]);
        assert_eq!(
            xml_body_cap(&vh, Some("s3.test")),
            None,
            "virtual-host PutObject"
        );
        let vh = req("PUT", "/", &[("host", "b.s3.test")]);
        assert_eq!(xml_body_cap(&vh, Some("s3.test")), Some(MAX_XML_BODY));
    }

    #[test]
    fn bodies_over_the_cap_or_too_deep_are_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(bodies_over_the_cap_or_too_deep());
    }

    async fn bodies_over_the_cap_or_too_deep() {
        let body = |s: &str| axum::body::Body::from(s.to_owned());
        let ok = read_xml_body(body("<a><b/></a>"), Some(11), 64, false).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"<a><b/></a>"));
        let big = "x".repeat(65);
        // read and discarded: the connection can carry on
        let drained = read_xml_body(body(&big), Some(65), 64, false)
            .await
            .unwrap_err();
        assert_eq!(
            (drained.code(), drained.closes()),
            ("MaxMessageLengthExceeded", false)
        );
        // a client waiting for 100 Continue never sends it: refused unread
        let unread = read_xml_body(body(&big), Some(65), 64, true)
            .await
            .unwrap_err();
        assert_eq!(
            (unread.code(), unread.closes()),
            ("MaxMessageLengthExceeded", true)
        );
        let huge = read_xml_body(body(""), Some(DRAIN_LIMIT + 1), 64, false)
            .await
            .unwrap_err();
        assert_eq!(
            (huge.code(), huge.closes()),
            ("MaxMessageLengthExceeded", true)
        );
        let undeclared = read_xml_body(body(&big), None, 64, false)
            .await
            .unwrap_err();
        assert_eq!(undeclared.code(), "MaxMessageLengthExceeded");
        let deep = "<a>".repeat(10_000);
        let e = read_xml_body(body(&deep), None, 1 << 20, false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "MalformedXML");
    }
}

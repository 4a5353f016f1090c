//! What the S3 listener refuses before s3s sees a request, and why (docs/compat/s3.md,
//! "Limits"): Signature Version 2 outside its time rules (`sigv2`); browser POST uploads
//! (s3s would buffer the whole file before anything is checked); a SigV4 credential scope
//! naming another region than [`REGION`]; presigned URLs valid for more than
//! [`MAX_PRESIGN_SECS`]; a `versionId` on a write (a write always makes a new version);
//! and XML request bodies over their size cap or nested deeper than
//! [`MAX_XML_DEPTH`](crate::MAX_XML_DEPTH). s3s itself refuses SigV4 signatures more than
//! 15 minutes from the server clock and expired presigned URLs.

use crate::xml_guard::{MAX_XML_DEPTH, check_xml};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// The one region this server is (what clients must sign for).
pub const REGION: &str = "us-east-1";

/// Longest validity of a presigned URL (`X-Amz-Expires`): 7 days, as AWS.
pub const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

/// Largest XML request body (DeleteObjects with 1,000 keys and CompleteMultipartUpload
/// with 10,000 parts and their checksums fit several times over).
pub const MAX_XML_BODY: usize = 8 << 20;

/// Largest CORS configuration body (AWS's limit).
pub const MAX_CORS_BODY: usize = 64 << 10;

/// A refusal answered by the listener itself, in S3's error format.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The body was not read: the connection cannot carry another request.
    close: bool,
}

impl Refusal {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            close: false,
        }
    }

    fn closing(mut self) -> Refusal {
        self.close = true;
        self
    }

    /// The S3 error code (for logs and tests).
    pub fn code(&self) -> &'static str {
        self.code
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::debug!(code = self.code(), message = %self.message, "s3: refused before s3s");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response();
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// `%XX`-decodes a query component (`+` stays: S3 clients encode a space as `%20`).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's parameters, decoded.
pub(crate) fn query(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A SigV4 credential `AK/DATE/REGION/SERVICE/aws4_request`: (access key, region).
fn scope(credential: &str) -> Option<(&str, &str)> {
    let mut it = credential.trim().rsplitn(5, '/');
    let (_term, _service, region, _date, ak) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    Some((ak, region))
}

/// The `Credential=` of a SigV4 `Authorization` header.
fn header_credential(auth: &str) -> Option<&str> {
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let at = rest.find("Credential=")? + "Credential=".len();
    Some(rest[at..].split(',').next().unwrap_or(""))
}

/// The access key a request is signed with (unverified: for finding whose settings apply,
/// never for access).
pub(crate) fn access_key(req: &Request) -> Option<String> {
    if let Some(c) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(header_credential)
    {
        return scope(c).map(|(ak, _)| ak.to_owned());
    }
    let q = query(req);
    scope(param(&q, "X-Amz-Credential")?).map(|(ak, _)| ak.to_owned())
}

fn wrong_region(region: &str) -> String {
    format!("the region '{region}' is wrong; expecting '{REGION}'")
}

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

/// Checks made on the request line and headers (before any body is read).
pub fn check_head(req: &Request) -> Result<(), Refusal> {
    let h = req.headers();
    let q = query(req);
    let auth = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    // Signature Version 2 (s3s checks the signature, not the time)
    if param(&q, "Signature").is_some() {
        crate::sigv2::check_expires(param(&q, "Expires"), crate::sigv2::now())?;
    } else if auth.is_some_and(|a| a.starts_with("AWS ")) {
        crate::sigv2::check_header(h, crate::sigv2::now())?;
    }
    if req.method() == Method::POST
        && h.get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| {
                c.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
    {
        return Err(Refusal::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "browser POST uploads (PostObject) are not supported; use PutObject or a presigned PUT URL",
        ));
    }
    if let Some(c) = auth.and_then(header_credential)
        && let Some((_, region)) = scope(c)
        && region != REGION
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            format!(
                "The authorization header is malformed; {}",
                wrong_region(region)
            ),
        ));
    }
    if param(&q, "X-Amz-Signature").is_some() {
        if let Some((_, region)) = param(&q, "X-Amz-Credential").and_then(scope)
            && region != REGION
        {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                format!(
                    "Error parsing the X-Amz-Credential parameter; {}",
                    wrong_region(region)
                ),
            ));
        }
        let expires = param(&q, "X-Amz-Expires").unwrap_or("");
        match expires.parse::<u64>() {
            Ok(n) if n <= MAX_PRESIGN_SECS => {}
            Ok(_) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "AuthorizationQueryParametersError",
                    format!(
                        "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_SECS}"
                    ),
                ));
            }
            Err(_) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "AuthorizationQueryParametersError",
                    "X-Amz-Expires should be a number of seconds",
                ));
            }
        }
    }
    let write = req.method() == Method::PUT || req.method() == Method::POST;
    if write
        && param(&q, "versionId").is_some()
        && !["acl", "tagging", "retention", "legal-hold", "restore"]
            .iter()
            .any(|s| param(&q, s).is_some())
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "a write cannot name a version (versionId): it always makes a new version",
        ));
    }
    Ok(())
}

/// Whether the request carries a signature at all (header or query; not checked here).
pub fn is_signed(req: &Request) -> bool {
    req.headers().contains_key(header::AUTHORIZATION) || {
        let q = query(req);
        param(&q, "X-Amz-Signature").is_some() || param(&q, "Signature").is_some()
    }
}

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

    fn refused(r: &Request) -> Option<&'static str> {
        check_head(r).err().map(|e| e.code())
    }

    #[test]
    fn signature_v2_times_are_checked_and_post_forms_refused() {
        let v2 = req("GET", "/b/k", &[("authorization", "AWS AKID:c2ln")]);
        assert_eq!(refused(&v2), Some("AccessDenied"), "no date");
        let stale = [
            ("authorization", "AWS AKID:c2ln"),
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ];
        assert_eq!(
            refused(&req("GET", "/b/k", &stale)),
            Some("RequestTimeTooSkewed")
        );
        let far = format!(
            "/b/k?AWSAccessKeyId=A&Expires={}&Signature=x",
            crate::sigv2::now() + 8 * 86_400
        );
        assert_eq!(
            refused(&req("GET", &far, &[])),
            Some("AuthorizationQueryParametersError")
        );
        let soon = format!(
            "/b/k?AWSAccessKeyId=A&Expires={}&Signature=x",
            crate::sigv2::now() + 60
        );
        assert_eq!(refused(&req("GET", &soon, &[])), None);
        let form = req(
            "POST",
            "/b",
            &[("content-type", "multipart/form-data; boundary=x")],
        );
        assert_eq!(refused(&form), Some("NotImplemented"));
    }

    #[test]
    fn regions_and_presign_lifetimes_are_checked() {
        let auth = |region: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=AK/20260101/{region}/s3/aws4_request, \
                 SignedHeaders=host, Signature=00"
            )
        };
        let ok = auth("us-east-1");
        assert_eq!(refused(&req("GET", "/b", &[("authorization", &ok)])), None);
        for bad in ["eu-west-1", ""] {
            let a = auth(bad);
            assert_eq!(
                refused(&req("GET", "/b", &[("authorization", &a)])),
                Some("AuthorizationHeaderMalformed"),
                "{bad:?}"
            );
        }
        let presigned = |region: &str, secs: &str| {
            format!(
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2F{region}%2Fs3%2Faws4_request\
                 &X-Amz-Date=20260101T000000Z&X-Amz-Expires={secs}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
            )
        };
        assert_eq!(
            refused(&req("GET", &presigned("us-east-1", "604800"), &[])),
            None
        );
        for (region, secs) in [
            ("us-east-1", "604801"),
            ("us-east-1", "-1"),
            ("eu-west-1", "60"),
        ] {
            assert_eq!(
                refused(&req("GET", &presigned(region, secs), &[])),
                Some("AuthorizationQueryParametersError"),
                "{region} {secs}"
            );
        }
        assert_eq!(
            access_key(&req("GET", &presigned("us-east-1", "1"), &[])).as_deref(),
            Some("AK")
        );
    }

    #[test]
    fn versions_cannot_be_named_on_writes() {
        assert_eq!(
            refused(&req("PUT", "/b/k?versionId=1", &[])),
            Some("InvalidArgument")
        );
        assert_eq!(refused(&req("PUT", "/b/k?tagging&versionId=1", &[])), None);
        assert_eq!(refused(&req("GET", "/b/k?versionId=1", &[])), None);
        assert_eq!(refused(&req("DELETE", "/b/k?versionId=1", &[])), None);
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
            (drained.code(), drained.close),
            ("MaxMessageLengthExceeded", false)
        );
        // a client waiting for 100 Continue never sends it: refused unread
        let unread = read_xml_body(body(&big), Some(65), 64, true)
            .await
            .unwrap_err();
        assert_eq!(
            (unread.code(), unread.close),
            ("MaxMessageLengthExceeded", true)
        );
        let huge = read_xml_body(body(""), Some(DRAIN_LIMIT + 1), 64, false)
            .await
            .unwrap_err();
        assert_eq!(
            (huge.code(), huge.close),
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

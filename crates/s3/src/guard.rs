//! What the S3 listener refuses before s3s sees a request, and why (docs/compat/s3.md,
//! "Limits"): Signature Version 2 outside its time rules (`sigv2`); a form POST to anything
//! but a bucket's URL (browser POST uploads to a bucket are served by `post_upload`, before
//! s3s, which would buffer the whole file before anything is checked); a SigV4 credential scope
//! naming another region than [`REGION`]; presigned URLs valid for more than
//! [`MAX_PRESIGN_SECS`]; a `versionId` on a write (a write always makes a new version).
//! XML request bodies are checked by `xml_body`. s3s itself refuses SigV4 signatures more
//! than 15 minutes from the server clock and expired presigned URLs.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The one region this server is (what clients must sign for).
pub const REGION: &str = "us-east-1";

/// Longest validity of a presigned URL (`X-Amz-Expires`): 7 days, as AWS.
pub const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

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

    pub(crate) fn closing(mut self) -> Refusal {
        self.close = true;
        self
    }

    /// Whether the answer closes the connection (the body was left unread).
    #[cfg(test)]
    pub(crate) fn closes(&self) -> bool {
        self.close
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

pub(crate) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
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

/// Whether a credential scope's region is this server's. (`US`, the legacy name of
/// us-east-1, is not: s3s refuses it as a region name anyway.)
fn region_ok(region: &str) -> bool {
    region == REGION
}

fn wrong_region(region: &str) -> String {
    format!("the region '{region}' is wrong; expecting '{REGION}'")
}

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
            "a browser POST upload (multipart/form-data) goes to the bucket's URL (POST /bucket)",
        ));
    }
    if let Some(c) = auth.and_then(header_credential)
        && let Some((_, region)) = scope(c)
        && !region_ok(region)
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
            && !region_ok(region)
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
    crate::lock_integrity::check_head(req)
}

/// Whether the request carries a signature at all (header or query; not checked here).
pub fn is_signed(req: &Request) -> bool {
    req.headers().contains_key(header::AUTHORIZATION) || {
        let q = query(req);
        param(&q, "X-Amz-Signature").is_some() || param(&q, "Signature").is_some()
    }
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
        for bad in ["eu-west-1", "", "US"] {
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
}

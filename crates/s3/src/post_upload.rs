//! Browser POST uploads (PostObject): `POST /bucket` with a `multipart/form-data` body, as
//! HTML forms and `generate_presigned_post` make them. Answered by the door itself, before
//! s3s (which would read the whole file into memory first): the fields before the file are
//! read (at most 20 KiB, `form`), the policy's SigV4 signature is verified with the access
//! key's secret, the policy is checked (expiration, and every condition: `eq`,
//! `starts-with`, `content-length-range`; every field must be covered by one), and only
//! then is the file streamed into the engine (`upload::receive`: bounded memory, quota,
//! MD5 for the ETag), its size held to the policy's range as it arrives. A refusal names
//! the condition that failed. SigV4 and SigV2 policies; anonymous POSTs are refused.

use crate::form::{self, Form, FormError};
use crate::guard::REGION;
use crate::keys::{bucket_path, object_path, s3_err};
use crate::objects::{MD5_KEY, Standard, object_attrs};
use crate::service::{NasS3, need_bucket};
use crate::upload::{Target, receive};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use s3s::dto::{Metadata, StreamingBlob, Timestamp, TimestampFormat};
use s3s::post_policy::{PostPolicy, PostPolicyCondition};
use sha2::Sha256;
use std::sync::{Arc, Mutex};

/// An answer refusing a POST upload: S3's error format; the connection is closed, since
/// the rest of the body was not read.
struct Fail {
    status: StatusCode,
    code: String,
    message: String,
}

fn fail(status: StatusCode, code: &str, message: impl Into<String>) -> Fail {
    Fail {
        status,
        code: code.to_owned(),
        message: message.into(),
    }
}

fn denied(message: impl Into<String>) -> Fail {
    fail(StatusCode::FORBIDDEN, "AccessDenied", message)
}

fn invalid(message: impl Into<String>) -> Fail {
    fail(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

impl From<s3s::S3Error> for Fail {
    fn from(e: s3s::S3Error) -> Self {
        let status = e
            .status_code()
            .or_else(|| e.code().status_code())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = e
            .message()
            .or_else(|| crate::messages::aws_message(e.code().as_str()))
            .unwrap_or("the upload was refused")
            .to_owned();
        Fail {
            status,
            code: e.code().as_str().to_owned(),
            message,
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        tracing::debug!(code = %self.code, message = %self.message, "s3: POST upload refused");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            crate::cors::xml_escape(&self.message)
        );
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response();
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    }
}

/// The bucket a browser POST upload goes to: a `multipart/form-data` POST to a bucket's
/// own URL (`/bucket` path-style, or `/` on `bucket.DOMAIN`).
pub fn bucket_of(req: &Request, domain: Option<&str>) -> Option<String> {
    if req.method() != axum::http::Method::POST
        || req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(form::boundary)
            .is_none()
        || req.uri().query().is_some_and(|q| !q.is_empty())
    {
        return None;
    }
    let path = req.uri().path();
    if let Some(d) = domain {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
        if let Some(b) = host
            .as_deref()
            .and_then(|h| h.strip_suffix(d))
            .and_then(|h| h.strip_suffix('.'))
            .filter(|b| !b.is_empty())
        {
            return (path == "/").then(|| b.to_owned());
        }
    }
    let b = path.strip_prefix('/')?;
    let b = b.strip_suffix('/').unwrap_or(b);
    (!b.is_empty() && !b.contains('/')).then(|| b.to_owned())
}

/// Serves a POST upload to `bucket`; the answer and the uploader's name (for CORS).
pub async fn serve(s3: &NasS3, req: Request, bucket: &str) -> (Response, Option<String>) {
    match run(s3, req, bucket).await {
        Ok((resp, who)) => (resp, Some(who)),
        Err(f) => (f.into_response(), None),
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: this never fails
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The SigV4 signature of a POST policy (the base64 text itself is the string to sign).
fn signature(secret: &str, date: &str, region: &str, policy_b64: &str) -> String {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, b"s3");
    let k = hmac(&k, b"aws4_request");
    hex::encode(hmac(&k, policy_b64.as_bytes()))
}

fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Who signed the form, and the policy's base64 text. Signature Version 4
/// (`x-amz-algorithm`, `-credential`, `-date`, `-signature`: what browsers' SDKs send) or
/// 2 (`AWSAccessKeyId`, `signature`: boto3's default), verified with the key's secret.
async fn signer(s3: &NasS3, f: &Form) -> Result<(nas_auth::Principal, String), Fail> {
    let Some(policy) = f.get("policy") else {
        return Err(denied(
            "anonymous POST uploads are not allowed: the form needs a signed policy",
        ));
    };
    // (access key, the signature expected from its secret)
    let (ak, sig, v4) = match (f.get("x-amz-algorithm"), f.get("awsaccesskeyid")) {
        (Some("AWS4-HMAC-SHA256"), _) => {
            let (ak, date, region, sig) = v4_fields(f)?;
            (ak, sig, Some((date, region)))
        }
        (None, Some(ak)) => {
            let sig = f
                .get("signature")
                .ok_or_else(|| invalid("the form has no signature"))?;
            (ak, sig, None)
        }
        _ => {
            return Err(invalid(
                "a POST policy is signed with Signature Version 4 (x-amz-algorithm \
                 AWS4-HMAC-SHA256) or 2 (AWSAccessKeyId, signature)",
            ));
        }
    };
    let check = |secret: &str| match v4 {
        Some((date, region)) => equal(&signature(secret, date, region, policy), sig),
        None => equal(&signature_v2(secret, policy), sig),
    };
    let (acc, key) = (s3.accounts.clone(), ak.to_owned());
    let found = tokio::task::spawn_blocking(move || nas_auth::key_owner(&acc, &key)).await;
    let (who, secret) = match found {
        Ok(Ok(x)) => x,
        Ok(Err(nas_auth::AuthError::Invalid)) => {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ));
        }
        _ => {
            return Err(fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "key lookup failed",
            ));
        }
    };
    if !check(&secret) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided",
        ));
    }
    Ok((who, policy.to_owned()))
}

/// The access key, date, region and signature of a SigV4 form.
fn v4_fields(f: &Form) -> Result<(&str, &str, &str, &str), Fail> {
    let cred = f
        .get("x-amz-credential")
        .ok_or_else(|| invalid("the form has no x-amz-credential"))?;
    let mut parts = cred.split('/');
    let (Some(ak), Some(date), Some(region), Some("s3"), Some("aws4_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid(format!("malformed x-amz-credential {cred:?}")));
    };
    if region != REGION {
        return Err(invalid(format!(
            "the region '{region}' is wrong; expecting '{REGION}'"
        )));
    }
    let amz_date = f
        .get("x-amz-date")
        .ok_or_else(|| invalid("the form has no x-amz-date"))?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(invalid(
            "x-amz-date does not match the date of x-amz-credential",
        ));
    }
    let sig = f
        .get("x-amz-signature")
        .ok_or_else(|| invalid("the form has no x-amz-signature"))?;
    Ok((ak, date, region, sig))
}

/// The SigV2 signature of a POST policy: base64 of its HMAC-SHA1.
fn signature_v2(secret: &str, policy_b64: &str) -> String {
    use base64::Engine as _;
    let Ok(mut m) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    m.update(policy_b64.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Fields no condition needs to cover.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file"
    ) || name.starts_with("x-ignore-")
}

/// Checks the policy's expiration and conditions against the form (`bucket` is the URL's);
/// the content length range, if any.
fn check_policy(policy: &PostPolicy, f: &Form, bucket: &str) -> Result<Option<(u64, u64)>, Fail> {
    let expires = time::OffsetDateTime::from(policy.expiration.clone());
    if expires <= time::OffsetDateTime::now_utc() {
        return Err(denied("Invalid according to Policy: Policy expired."));
    }
    if f.get("bucket").is_some_and(|b| b != bucket) {
        return Err(denied(
            "Invalid according to Policy: the form's bucket field is not the bucket posted to",
        ));
    }
    let value = |field: &str| -> Option<String> {
        if field == "bucket" {
            return Some(bucket.to_owned());
        }
        f.get(field).map(str::to_owned)
    };
    let mut covered: Vec<String> = vec!["bucket".into()];
    let mut range = None;
    for c in &policy.conditions {
        match c {
            PostPolicyCondition::Eq { field, value: want } => {
                let field = field.to_ascii_lowercase();
                if value(&field).as_deref() != Some(want.as_str()) {
                    return Err(denied(format!(
                        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"${field}\", \"{want}\"]"
                    )));
                }
                covered.push(field);
            }
            PostPolicyCondition::StartsWith { field, prefix } => {
                let field = field.to_ascii_lowercase();
                let ok = match value(&field) {
                    // Content-Type may list several values, each must match
                    Some(v) if field == "content-type" => {
                        v.split(',').all(|t| t.trim().starts_with(prefix.as_str()))
                    }
                    Some(v) => v.starts_with(prefix.as_str()),
                    None => false,
                };
                if !ok {
                    return Err(denied(format!(
                        "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"${field}\", \"{prefix}\"]"
                    )));
                }
                covered.push(field);
            }
            PostPolicyCondition::ContentLengthRange { min, max } => {
                range = Some((*min, *max));
            }
        }
    }
    if let Some((name, _)) = f
        .fields
        .iter()
        .find(|(k, _)| !exempt(k) && !covered.contains(k))
    {
        return Err(denied(format!(
            "Invalid according to Policy: Extra input fields: {name}"
        )));
    }
    Ok(range)
}

fn form_error(e: FormError) -> Fail {
    match e {
        FormError::TooLarge => fail(
            StatusCode::BAD_REQUEST,
            "MaxPostPreDataLengthExceeded",
            format!(
                "Your POST request fields preceding the upload file were too large (at most {} bytes)",
                form::MAX_PRE_DATA
            ),
        ),
        FormError::Malformed(m) => fail(StatusCode::BAD_REQUEST, "MalformedPOSTRequest", m),
        FormError::Body(m) => fail(StatusCode::BAD_REQUEST, "IncompleteBody", m),
    }
}

/// The file's bytes, refused as they arrive past the policy's maximum, or at the end below
/// its minimum (the refusal is left in `why`: the upload then stores nothing).
fn sized(
    file: form::ByteStream,
    range: Option<(u64, u64)>,
    why: Arc<Mutex<Option<Fail>>>,
) -> StreamingBlob {
    let mut total = 0u64;
    let mut ended = false;
    let s = file
        .map(Some)
        .chain(futures_util::stream::iter([None]))
        .filter_map(move |item| {
            let out = match item {
                Some(Ok(b)) => {
                    total += b.len() as u64;
                    match range {
                        Some((_, max)) if total > max => {
                            let f = fail(
                                StatusCode::BAD_REQUEST,
                                "EntityTooLarge",
                                format!(
                                    "Your proposed upload exceeds the maximum allowed size: \
                                     Policy Condition failed: [\"content-length-range\", {}, {max}]",
                                    range.map_or(0, |r| r.0)
                                ),
                            );
                            Some(Err(refuse(&why, f)))
                        }
                        _ => Some(Ok(b)),
                    }
                }
                Some(Err(e)) => Some(Err(e)),
                None if ended => None,
                None => {
                    ended = true;
                    match range {
                        Some((min, max)) if total < min => {
                            let f = fail(
                                StatusCode::BAD_REQUEST,
                                "EntityTooSmall",
                                format!(
                                    "Your proposed upload is smaller than the minimum allowed size: \
                                     Policy Condition failed: [\"content-length-range\", {min}, {max}]"
                                ),
                            );
                            Some(Err(refuse(&why, f)))
                        }
                        _ => None,
                    }
                }
            };
            std::future::ready(out)
        });
    // the form's stream is not Sync: through an unsync HTTP body, as s3s takes request bodies
    StreamingBlob::from(s3s::Body::http_body_unsync(axum::body::Body::from_stream(
        s,
    )))
}

fn refuse(why: &Mutex<Option<Fail>>, f: Fail) -> std::io::Error {
    let msg = f.message.clone();
    if let Ok(mut w) = why.lock() {
        *w = Some(f);
    }
    std::io::Error::other(msg)
}

async fn run(s3: &NasS3, req: Request, bucket: &str) -> Result<(Response, String), Fail> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary =
        form::boundary(ct).ok_or_else(|| form_error(FormError::Malformed("no boundary".into())))?;
    let note = req
        .extensions()
        .get::<nas_engine::audit::AuditNote>()
        .cloned();
    let body: form::ByteStream = Box::pin(
        req.into_body()
            .into_data_stream()
            .map(|r| r.map_err(std::io::Error::other)),
    );
    let (f, file) = form::read(body, &boundary).await.map_err(form_error)?;
    let (who, policy_b64) = signer(s3, &f).await?;
    if let Some(n) = &note {
        n.set_user(&who.name);
    }
    if !who.role.can_write() {
        return Err(denied("read-only account"));
    }
    let policy = PostPolicy::from_base64(&policy_b64).map_err(|e| {
        fail(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyDocument",
            format!("Invalid Policy: {e}"),
        )
    })?;
    let range = check_policy(&policy, &f, bucket)?;
    let key_field = f
        .get("key")
        .ok_or_else(|| invalid("Bucket POST must contain a field named 'key'"))?;
    let key = key_field.replace("${filename}", &f.filename);
    if f.get("acl").is_some_and(|a| a != "private") {
        return Err(fail(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "an acl field other than private in a POST upload is not supported",
        ));
    }
    let home = s3
        .store
        .cached_home(&who.name)
        .map_or_else(|| s3.store.home(&who.name), Ok)
        .map_err(|e| Fail::from(s3_err(e)))?;
    need_bucket(&home, bucket).await?;
    let path = object_path(bucket, &key)?;
    let meta: Metadata = f
        .fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("x-amz-meta-")?.to_owned(), v.clone())))
        .collect();
    let std = Standard {
        cache_control: f.get("cache-control").map(str::to_owned),
        content_disposition: f.get("content-disposition").map(str::to_owned),
        content_encoding: f.get("content-encoding").map(str::to_owned),
        content_language: f.get("content-language").map(str::to_owned),
        expires: f
            .get("expires")
            .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
            .and_then(|t| crate::objects::expires_text(Some(&t))),
    };
    let mut attrs = object_attrs(
        f.get("content-type").map(str::to_owned),
        &std,
        (!meta.is_empty()).then_some(meta),
    )?;
    let why = Arc::new(Mutex::new(None));
    let mut body = Some(sized(file, range, why.clone()));
    let target = Target {
        home: home.clone(),
        path: path.clone(),
        mkdirs: true,
        bucket: Some(bucket_path(bucket)?),
        expect: None,
        // the bucket's default retention, if any (a form names no lock of its own)
        lock: Some((bucket.to_owned(), Default::default())),
    };
    let got = receive(target, &mut body, &Default::default(), None, |md5, _| {
        attrs.user.insert(MD5_KEY.into(), md5.to_owned());
        attrs
    })
    .await;
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            if let Some(f) = why.lock().ok().and_then(|mut w| w.take()) {
                return Err(f);
            }
            return Err(e.into());
        }
    };
    if let Some(num) = got.entry.version {
        let (h, b, p, a) = (home, bucket.to_owned(), path, got.entry.attrs.clone());
        crate::keys::blocking(move || crate::versioning::after_write(&h, &b, &p, num, &a)).await?;
    }
    Ok((answer(&f, bucket, &key, &got.md5_hex), who.name))
}

/// The answer to a stored upload: a redirect (`success_action_redirect`), or the status
/// `success_action_status` names (200 and 204 empty, 201 with a `PostResponse`; 204 by
/// default).
fn answer(f: &Form, bucket: &str, key: &str, md5: &str) -> Response {
    let etag = format!("\"{md5}\"");
    let location = format!("/{bucket}/{key}");
    let redirect = f
        .get("success_action_redirect")
        .or_else(|| f.get("redirect"))
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"));
    let mut resp = if let Some(r) = redirect {
        let sep = if r.contains('?') { '&' } else { '?' };
        let to = format!(
            "{r}{sep}bucket={}&key={}&etag={}",
            enc(bucket),
            enc(key),
            enc(&etag)
        );
        let mut resp = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    } else {
        match f.get("success_action_status") {
            Some("200") => StatusCode::OK.into_response(),
            Some("201") => {
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    crate::cors::xml_escape(&location),
                    crate::cors::xml_escape(bucket),
                    crate::cors::xml_escape(key),
                    crate::cors::xml_escape(&etag)
                );
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/xml")],
                    xml,
                )
                    .into_response()
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if redirect.is_none()
        && let Ok(v) = HeaderValue::from_str(&enc_path(&location))
    {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// `%XX`-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX`-encodes a path (keeping `/`).
fn enc_path(s: &str) -> String {
    s.split('/').map(enc).collect::<Vec<_>>().join("/")
}

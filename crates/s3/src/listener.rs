//! The S3 listener's HTTP stack: CORS first (a browser's preflight is answered before
//! authentication, since it carries no credentials; a real request gets its signer's
//! rules), then the checks s3s does not make (`guard`: signature times and regions, XML
//! bodies read whole under a size cap and a depth check), then `s3s` (signatures,
//! routing, XML) on [`NasS3`]. Path-style addressing always works; virtual-host style
//! (`bucket.DOMAIN`) too when a domain is configured. A request answered before its body
//! was asked for, from a client waiting on `Expect: 100-continue`, closes its connection
//! after the answer. Answers are logged at debug, 5xx ones (but 501) at ERROR.

use crate::auth::KeyAuth;
use crate::cors::Cors;
use crate::service::NasS3;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nas_engine::Store;
use s3s::S3Result;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// How the S3 door is reached.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Base domain for virtual-host-style requests (`bucket.s3.example.com`).
    pub domain: Option<String>,
    /// Serve anonymous reads where an ACL or policy makes data public (off: every unsigned
    /// request is refused, whatever the buckets say).
    pub public_access: bool,
}

/// Virtual-host addressing under one domain: `bucket.DOMAIN[:port]` names a bucket; any
/// other host (the domain itself, an IP address, `localhost`) is path-style. (s3s's
/// `SingleDomain` would take an unknown host for a bucket name, which breaks path-style
/// requests to an address.)
struct Domain(String);

impl S3Host for Domain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
            _ => host,
        };
        let bucket = name
            .strip_suffix(self.0.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty());
        Ok(match bucket {
            Some(b) => VirtualHost::new(self.0.as_str()).with_bucket(b.to_ascii_lowercase()),
            None => VirtualHost::new(name),
        })
    }
}

#[derive(Clone)]
struct CorsState {
    cors: Cors,
    domain: Option<String>,
}

/// The S3 door as an axum router, and the service behind it (for maintenance work such
/// as expiring abandoned uploads).
pub fn router(store: Store, opts: S3Options) -> Result<(Router, NasS3), String> {
    let s3 = NasS3::new(store.clone());
    let mut b = S3ServiceBuilder::new(s3.clone());
    b.set_auth(KeyAuth::new(store.accounts()));
    // unsigned requests reach only the reads a public grant may allow (`public`)
    b.set_access(crate::public::AnonymousReads {
        enabled: opts.public_access,
    });
    if let Some(d) = &opts.domain {
        b.set_host(Domain(d.to_ascii_lowercase()));
    }
    let mut config = S3Config::default();
    config.xml_max_body_size = crate::xml_body::MAX_XML_BODY;
    b.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
    let svc = b.build();
    let domain = opts.domain.map(|d| d.to_ascii_lowercase());
    let state = CorsState {
        cors: Cors::new(store),
        domain: domain.clone(),
    };
    let door = s3.clone();
    let app = Router::new()
        .fallback(move |mut req: Request| {
            let svc = svc.clone();
            let domain = domain.clone();
            let door = door.clone();
            async move {
                if let Some(bucket) = crate::post_upload::bucket_of(&req, domain.as_deref()) {
                    let (mut resp, who) = crate::post_upload::serve(&door, req, &bucket).await;
                    if let Some(name) = who {
                        resp.extensions_mut().insert(Signer(name));
                    }
                    return resp;
                }
                let query = req.uri().query().map(str::to_owned);
                crate::read::normalize_range(req.headers_mut(), query.as_deref());
                serve(svc, req, domain.as_deref()).await
            }
        })
        .layer(axum::middleware::from_fn_with_state(state, cors_layer));
    Ok((app, s3))
}

/// The user whose access key signed the request (set on the response for the CORS layer;
/// the signature may still have failed: it selects whose settings apply, never access).
#[derive(Debug, Clone)]
struct Signer(String);

/// One S3 request: the checks made before s3s (`guard`), then s3s on [`NasS3`].
async fn serve(svc: s3s::service::S3Service, req: Request, domain: Option<&str>) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    // a request without a body says so exactly (s3s wants a known length)
    let bodyless = !req.headers().contains_key(header::CONTENT_LENGTH)
        && !req.headers().contains_key(header::TRANSFER_ENCODING);
    let waits = crate::upload::waits_for_continue(req.headers());
    let declared: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let cap = crate::xml_body::xml_body_cap(&req, domain).filter(|_| !bodyless);
    let checked = match crate::guard::check_head(&req) {
        Ok(()) if cap.is_some() && !crate::guard::is_signed(&req) => {
            Err(crate::xml_body::anonymous_body())
        }
        other => other,
    };
    if let Err(r) = checked {
        let drained = bodyless || crate::xml_body::discard(req.into_body(), declared, waits).await;
        let mut resp = r.into_response();
        if !drained {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return resp;
    }
    let lock_body = crate::lock_integrity::checks_body(&req);
    let read = Arc::new(AtomicBool::new(false));
    let (mut parts, body) = req.into_parts();
    if cap.is_none() && streams_unsized(&parts) {
        // s3s refuses an unsigned body of unknown length (as MinIO does); AWS and our
        // WebDAV door take it: s3s is told a length no body reaches, and the door streams
        // the body to its end (the header is not signed, so the signature stands)
        parts.headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(crate::upload::UNSIZED),
        );
    }
    let body = match cap {
        Some(cap) => {
            read.store(true, Ordering::Relaxed);
            match crate::xml_body::read_xml_body(body, declared, cap, waits).await {
                Ok(bytes) => {
                    if lock_body
                        && let Err(r) = crate::lock_integrity::check_body(&parts.headers, &bytes)
                    {
                        return r.into_response();
                    }
                    s3s::Body::from(bytes)
                }
                Err(r) => return r.into_response(),
            }
        }
        None if bodyless => s3s::Body::empty(),
        None => s3s::Body::http_body_unsync(Watched {
            inner: body,
            read: read.clone(),
        }),
    };
    let req = Request::from_parts(parts, body);
    let served = crate::auth::SIGNED_IN.scope(Default::default(), async {
        let resp = svc.call(req).await;
        let signer = crate::auth::SIGNED_IN
            .try_with(|s| s.borrow().as_ref().map(|(_, p)| p.name.clone()))
            .ok()
            .flatten();
        (resp, signer)
    });
    let (resp, signer) = served.await;
    let mut resp = match resp {
        Ok(resp) => resp.map(axum::body::Body::new),
        Err(e) => {
            tracing::error!(%method, %path, "s3: {e:?}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        resp = with_message(resp).await;
    }
    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
        tracing::error!(%method, %path, %status, "s3: request failed");
    } else {
        tracing::debug!(%method, %path, %status, "s3: request served");
    }
    if waits && (declared == Some(0) || (!bodyless && !read.load(Ordering::Relaxed))) {
        // answered before the body was asked for (no 100 Continue): the client may still
        // send it when its wait times out, so this connection cannot carry another request.
        // An empty body never gets a 100 Continue (hyper skips it), and botocore then
        // misreads the next answer on the connection (`aws s3 sync` of an empty file
        // stalled until a timeout): close after it too.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(name) = signer {
        resp.extensions_mut().insert(Signer(name));
    }
    resp
}

/// A PUT whose body comes chunked without a `Content-Length`, and whose signature does not
/// cover it (`UNSIGNED-PAYLOAD`, a presigned URL, SigV2): it can be streamed as it comes.
fn streams_unsized(parts: &http::request::Parts) -> bool {
    let h = &parts.headers;
    parts.method == Method::PUT
        && !h.contains_key(header::CONTENT_LENGTH)
        && h.get(header::TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        && h.get("x-amz-content-sha256")
            .is_none_or(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD")
}

/// An XML error answer with a `<Message>` (`messages`): a small body is read, and given
/// AWS's text for its code when it has no message. Other answers pass unchanged.
async fn with_message(resp: Response) -> Response {
    use http_body::Body as _;
    let xml = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"));
    let small = resp
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n <= 64 << 10);
    if !xml || !small {
        return resp;
    }
    let status = resp.status().as_u16();
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 10).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let bytes = match crate::messages::with_message(&bytes, status) {
        Some(b) => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
            bytes::Bytes::from(b)
        }
        None => bytes,
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A request body that records whether anything asked for it (which is when hyper sends
/// `100 Continue` to a client that waits for one).
struct Watched {
    inner: axum::body::Body,
    read: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.read.store(true, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The bucket a request addresses.
fn bucket_of(req: &Request, domain: Option<&str>) -> Option<String> {
    if let Some(d) = domain {
        let host = req.headers().get(header::HOST)?.to_str().ok()?;
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        if let Some(b) = host
            .strip_suffix(d)
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
        {
            return Some(b.to_owned());
        }
    }
    let first = req.uri().path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_owned())
}

fn text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)?.to_str().ok().map(str::to_owned)
}

fn forbidden() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessForbidden</Code>\
                <Message>CORSResponse: This CORS request is not allowed.</Message></Error>";
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

fn set(h: &mut HeaderMap, name: header::HeaderName, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(name, v);
    }
}

async fn cors_layer(State(st): State<CorsState>, req: Request, next: Next) -> Response {
    let Some(origin) = text(req.headers(), header::ORIGIN) else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let bucket = bucket_of(&req, st.domain.as_deref());
    if preflight {
        // no signature: a presigned URL's credential names the owner; otherwise every
        // owner of a bucket of this name is asked (the real request, signed, gets only
        // its owner's headers)
        let key = crate::guard::access_key(&req);
        let rules = match bucket {
            Some(b) => {
                let cors = st.cors.clone();
                tokio::task::spawn_blocking(move || cors.preflight_rules(&b, key.as_deref()))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        return answer_preflight(&req, &origin, &rules);
    }
    let method = req.method().as_str().to_owned();
    let mut resp = next.run(req).await;
    let (Some(b), Some(Signer(owner))) = (bucket, resp.extensions().get::<Signer>().cloned())
    else {
        return resp;
    };
    let cors = st.cors.clone();
    let rules = tokio::task::spawn_blocking(move || cors.rules(&owner, &b))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    if let Some(rule) = rules.iter().find(|r| r.allows(&origin, &method, &[])) {
        let h = resp.headers_mut();
        set(
            h,
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            rule.allow_origin(&origin),
        );
        if !rule.expose().is_empty() {
            set(
                h,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &rule.expose().join(", "),
            );
        }
        if rule.allow_origin(&origin) != "*" {
            set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        set(h, header::VARY, "Origin");
    }
    resp
}

/// The answer to a preflight from the first of `rules` that allows it (403 if none does).
fn answer_preflight(req: &Request, origin: &str, rules: &[crate::cors::Rule]) -> Response {
    let method = text(req.headers(), header::ACCESS_CONTROL_REQUEST_METHOD).unwrap_or_default();
    let asked = text(req.headers(), header::ACCESS_CONTROL_REQUEST_HEADERS).unwrap_or_default();
    let headers: Vec<&str> = asked
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let Some(rule) = rules.iter().find(|r| r.allows(origin, &method, &headers)) else {
        return forbidden();
    };
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    set(
        h,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        rule.allow_origin(origin),
    );
    set(
        h,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.methods().join(", "),
    );
    if !headers.is_empty() {
        set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, &headers.join(", "));
    }
    if let Some(age) = rule.max_age() {
        set(h, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    if rule.allow_origin(origin) != "*" {
        set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    set(
        h,
        header::VARY,
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    resp
}

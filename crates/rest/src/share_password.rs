//! Share passwords: HTTP Basic (any user name) or the page's form, checked with nas-auth's
//! argon2id against the share's stored hash, throttled per (share, client) by nas-auth's
//! limiter, remembered a few minutes (so a WebDAV client sending Basic on every request
//! costs one argon2 per few minutes), and proven afterwards by a cookie signed for that
//! one share (HMAC-SHA256 under a secret of its own, never the REST token secret): a share
//! cookie can neither open another share nor pass as the owner's session.

use crate::public_page;
use crate::public_share::ShareDoor;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use hmac::{KeyInit, Mac};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use nas_auth::{Limits, Throttle};
use nas_engine::OpenShare;
use std::net::IpAddr;
use std::time::{Duration, Instant};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long a share's password cookie is valid, seconds.
pub const SHARE_COOKIE_SECS: i64 = 3600;
/// File of the cookie-signing secret (kept by the store's coordinator; separate from the
/// REST token secret, so a share cookie can never pass as an API token).
pub const SHARE_COOKIE_SECRET: &str = "share-cookie.key";
const MAX_FORM: usize = 8 * 1024;

/// How long a verified share password is remembered.
const VERIFIED_FOR: Duration = Duration::from_secs(300);
/// Remembered verifications at most (the table is emptied when full).
const MAX_VERIFIED: usize = 10_000;

/// The limits of share password attempts, per (share, client) and per client: 3 free
/// failures, then 100 ms doubling to 1 s, refused (429) from the 5th failure of a pair for
/// 15 minutes (a client's own failures over all shares: from the 30th).
pub fn share_password_limits() -> Limits {
    Limits {
        free_failures: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        pair_refuse: 5,
        addr_refuse: 30,
        ..Limits::default()
    }
}

pub(crate) fn basic_password(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    Some(s.split_once(':')?.1.to_owned())
}

/// Checks a password, throttled per (share, client): a delay is awaited, a refusal is 429.
pub(crate) async fn check_password(
    d: &ShareDoor,
    open: &OpenShare,
    pass: &str,
    client: IpAddr,
    phc: &str,
    token: &str,
    h: &HeaderMap,
) -> Result<(), Response> {
    let pair = format!("share:{}", open.record.id);
    let seen = verified_key(d, &open.record.id, pass, phc);
    {
        let cache = d.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.get(&seen).is_some_and(|t| t.elapsed() < VERIFIED_FOR)
            && matches!(d.limiter.check(&pair, client), Throttle::Allow)
        {
            return Ok(());
        }
    }
    match d.limiter.attempt_async(&pair, client).await {
        Throttle::Refuse(wait) => {
            let mut r = public_page::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many wrong passwords: try again later",
                h,
            );
            if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Err(r);
        }
        Throttle::Delay(wait) => tokio::time::sleep(wait).await,
        Throttle::Allow => {}
    }
    if pass.len() > crate::shares::MAX_SHARE_PASSWORD {
        return Err(public_page::password_needed(
            token,
            Some("wrong password"),
            h,
        ));
    }
    let (p, phc) = (pass.to_owned(), phc.to_owned());
    let ok = tokio::task::spawn_blocking(move || nas_auth::verify_password(&p, &phc))
        .await
        .unwrap_or(false);
    if ok {
        d.limiter.succeed(&pair, client);
        let mut cache = d.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_VERIFIED {
            cache.clear();
        }
        cache.insert(seen, Instant::now());
        Ok(())
    } else {
        Err(public_page::password_needed(
            token,
            Some("wrong password"),
            h,
        ))
    }
}

/// `POST /s/{token}` with `password=…`: on success a cookie and a redirect to the share.
pub(crate) async fn password_form(
    d: &ShareDoor,
    open: &OpenShare,
    token: &str,
    client: IpAddr,
    req: Request,
    phc: &str,
) -> Response {
    let headers = req.headers().clone();
    let secure = crate::cookie::over_https(req.extensions(), &headers, &d.rest);
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_FORM).await else {
        return public_page::error(StatusCode::PAYLOAD_TOO_LARGE, "form too large", &headers);
    };
    let pass = form_field(&body, "password").unwrap_or_default();
    if let Err(r) = check_password(d, open, &pass, client, phc, token, &headers).await {
        return r;
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&format!("/s/{token}/")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(d, &open.record.id, token, secure),
    );
    r
}

/// A field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    s.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            let v = v.replace('+', " ");
            percent_encoding::percent_decode_str(&v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The cache key of a verified password: an HMAC under the door's secret, so the table
/// in memory holds nothing a password can be tested against offline.
fn verified_key(d: &ShareDoor, id: &str, pass: &str, phc: &str) -> [u8; 32] {
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(&d.key) else {
        return [0; 32];
    };
    m.update(b"share-password-v1");
    for part in [id, pass, phc] {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part.as_bytes());
    }
    m.finalize().into_bytes().into()
}

fn cookie_mac(d: &ShareDoor, id: &str, exp: i64) -> Option<HmacSha256> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(&d.key).ok()?;
    m.update(format!("share-cookie-v1\0{id}\0{exp}").as_bytes());
    Some(m)
}

fn cookie_name(id: &str) -> String {
    format!("nas_share_{id}")
}

/// A `Set-Cookie` proving the password of share `id` was given (for an hour); `Secure`
/// when the request came over HTTPS, like the session cookies.
pub(crate) fn set_cookie(d: &ShareDoor, id: &str, token: &str, secure: bool) -> HeaderValue {
    let exp = crate::state::now_secs() + SHARE_COOKIE_SECS;
    let mac = cookie_mac(d, id, exp)
        .map(|m| B64.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    crate::cookie::set_cookie(
        &cookie_name(id),
        &format!("{exp}.{mac}"),
        &format!("/s/{token}"),
        true,
        SHARE_COOKIE_SECS,
        secure,
    )
    .unwrap_or_else(|| HeaderValue::from_static("x=; Max-Age=0"))
}

pub(crate) fn cookie_valid(d: &ShareDoor, id: &str, h: &HeaderMap) -> bool {
    let name = cookie_name(id);
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .any(|(_, v)| {
            let Some((exp, mac)) = v.split_once('.') else {
                return false;
            };
            let (Ok(exp), Ok(mac)) = (exp.parse::<i64>(), B64.decode(mac)) else {
                return false;
            };
            exp > crate::state::now_secs()
                && cookie_mac(d, id, exp).is_some_and(|m| m.verify_slice(&mac).is_ok())
        })
}

//! What the engine adds to WebDAV: old versions at `GET /dav/PATH?version=N`, and
//! Windows' `Win32LastModifiedTime` applied as the mtime.

use crate::paths::dav_path;
use crate::responses::status;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use nas_engine::AsyncHome;
use nas_types::VersionNum;

/// The `Win32LastModifiedTime` value of a PROPPATCH body (an HTTP date), in ns.
pub fn win32_modified(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("Win32LastModifiedTime")?;
    let open_end = at + text[at..].find('>')?;
    if text[..open_end].ends_with('/') {
        return None; // <Win32LastModifiedTime/>: no value
    }
    let value = &text[open_end + 1..];
    let value = value[..value.find('<')?].trim();
    let t = httpdate::parse_http_date(value).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_nanos()).ok()
}

pub fn version_param(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("version="))
        .and_then(|v| v.parse().ok())
}

/// `GET /dav/PATH?version=N`: an old version, read-only.
pub async fn old_version(home: AsyncHome, uri_path: &str, v: u64, head_only: bool) -> Response {
    let Some(p) = dav_path(uri_path) else {
        return status(StatusCode::BAD_REQUEST, "bad path");
    };
    match home.read(p, Some(VersionNum(v)), None).await {
        Ok((rec, rx)) => {
            let body = if head_only {
                Body::empty()
            } else {
                Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                    match rx.recv().await? {
                        Ok(buf) => Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), rx)),
                        Err(e) => Some((Err(std::io::Error::other(e.to_string())), rx)),
                    }
                }))
            };
            let mut r = Response::new(body);
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(rec.size));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(e) = HeaderValue::from_str(&format!("\"{}\"", &rec.hash.to_hex()[..32])) {
                h.insert(header::ETAG, e);
            }
            h.insert("X-Silent-NAS-Version", HeaderValue::from(rec.num.0));
            r
        }
        Err(nas_engine::EngineError::NotFound(_)) => {
            status(StatusCode::NOT_FOUND, "no such version")
        }
        Err(nas_engine::EngineError::IsADirectory(_)) => {
            status(StatusCode::BAD_REQUEST, "folders have no versions")
        }
        Err(e) => {
            tracing::error!("version read: {e}");
            status(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win32_times_and_version_params() {
        let body =
            b"<Z:Win32LastModifiedTime>Tue, 14 Nov 2023 22:13:20 GMT</Z:Win32LastModifiedTime>";
        assert_eq!(win32_modified(body), Some(1_700_000_000_000_000_000));
        assert_eq!(win32_modified(b"<Z:Win32LastModifiedTime/>"), None);
        assert_eq!(
            win32_modified(b"<Z:Win32LastModifiedTime>garbage</Z:Win32LastModifiedTime>"),
            None
        );
        assert_eq!(version_param(Some("a=1&version=3")), Some(3));
        assert_eq!(version_param(Some("version=x")), None);
        assert_eq!(version_param(None), None);
    }
}

//! What the engine adds to WebDAV: old versions at `GET /dav/PATH?version=N` (the
//! selector parsed strictly: a malformed one is never read as "the current file"), and
//! Windows' `Win32LastModifiedTime` applied as the mtime.

use crate::paths::dav_path;
use crate::responses::status;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use nas_engine::{Home, read_ahead};
use nas_types::{ByteRange, RangePlan, RangeRequest, VersionNum};

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

/// What a request's query says about versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// No `version` parameter: the current file.
    Current,
    /// `version=N`.
    Version(u64),
    /// A `version` parameter that names no version (`abc`, empty, given twice).
    Malformed,
}

/// The `version` parameter of a query (the name compared case-insensitively, so that
/// `?Version=1` cannot slip past as "no selector").
pub fn version_param(query: Option<&str>) -> VersionSelector {
    let mut found = VersionSelector::Current;
    for kv in query.unwrap_or("").split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        if !k.eq_ignore_ascii_case("version") {
            continue;
        }
        if found != VersionSelector::Current {
            return VersionSelector::Malformed; // two selectors: which one?
        }
        found = match v.parse::<u64>() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => VersionSelector::Version(n),
            _ => VersionSelector::Malformed,
        };
    }
    found
}

/// `GET /dav/PATH?version=N`: an old version, read-only, with at most one range (the
/// single-range rule of `nas_types::RangeRequest`: several ranges get the whole version).
pub async fn old_version(
    home: Home,
    uri_path: &str,
    v: u64,
    head_only: bool,
    range: Option<&str>,
) -> Response {
    let Some(p) = dav_path(uri_path) else {
        return status(StatusCode::BAD_REQUEST, "bad path");
    };
    let h = home;
    let opened = tokio::task::spawn_blocking(move || h.open(&p, Some(VersionNum(v)))).await;
    let reader = match opened {
        Ok(Ok(r)) => r,
        Ok(Err(nas_engine::EngineError::NotFound(_))) => {
            return status(StatusCode::NOT_FOUND, "no such version");
        }
        Ok(Err(nas_engine::EngineError::IsADirectory(_))) => {
            return status(StatusCode::BAD_REQUEST, "folders have no versions");
        }
        Ok(Err(e)) => return status(crate::fs::status_of(e), "cannot read this version"),
        Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    let rec = reader.version().clone();
    let plan = range
        .and_then(RangeRequest::parse)
        .map_or(RangePlan::Whole, |r| r.plan_single(rec.size));
    let (code, part) = match plan {
        RangePlan::Whole => (StatusCode::OK, ByteRange::full(rec.size)),
        RangePlan::Ranges(rs) => match rs.first() {
            Some(r) => (StatusCode::PARTIAL_CONTENT, *r),
            None => (StatusCode::OK, ByteRange::full(rec.size)),
        },
        RangePlan::Unsatisfiable => {
            let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", rec.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let body = if head_only {
        Body::empty()
    } else {
        let rx = read_ahead(reader.range(part));
        Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await? {
                Ok(buf) => Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), rx)),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), rx)),
            }
        }))
    };
    let mut r = Response::new(body);
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(part.len()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if code == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{}",
            part.start,
            part.end - 1,
            rec.size
        ))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
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
        use VersionSelector::*;
        assert_eq!(version_param(Some("a=1&version=3")), Version(3));
        assert_eq!(version_param(Some("Version=3")), Version(3));
        assert_eq!(version_param(Some("%76ersion=3")), Version(3));
        for bad in [
            "version=x",
            "version=",
            "version",
            "version=+1",
            "version=1&version=1",
            "version=99999999999999999999",
        ] {
            assert_eq!(version_param(Some(bad)), Malformed, "{bad}");
        }
        assert_eq!(version_param(Some("a=1&versions=2")), Current);
        assert_eq!(version_param(None), Current);
    }
}

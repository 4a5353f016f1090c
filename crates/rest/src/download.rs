//! `GET /download/{path}`: a file's content (current or `?version=N`), streamed from the
//! engine in bounded memory, with a single `Range` (206/416; several ranges get the whole
//! file — the one rule of all doors, `nas_types::RangeRequest`), strong ETags (the BLAKE3 of
//! the content), `If-Match` (412), `If-None-Match` and `If-Modified-Since` (304), and a
//! `Content-Disposition` naming the file.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, Query, home_path};
use crate::files::home_of;
use crate::state::{RestState, blocking};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use nas_engine::FileReader;
use nas_types::{ByteRange, RangePlan, RangeRequest, VersionNum};
use serde::Deserialize;
use std::time::{Duration, UNIX_EPOCH};
use utoipa::IntoParams;

/// Query of a download.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// An older version (numbers from `GET /versions/{path}`); default the current one.
    pub version: Option<u64>,
}

/// Downloads a file.
#[utoipa::path(get, path = "/api/v1/download/{path}", tag = "files",
    params(("path" = String, Path, description = "File in the home"), DownloadQuery),
    responses(
        (status = 200, description = "The content", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range"),
        (status = 304, description = "Not modified (If-None-Match / If-Modified-Since)"),
        (status = 404, description = "No such file or version", body = ErrorBody),
        (status = 409, description = "A folder", body = ErrorBody),
        (status = 412, description = "If-Match does not match", body = ErrorBody),
        (status = 416, description = "Range outside the file", body = ErrorBody),
    ))]
pub async fn download(
    State(st): State<RestState>,
    c: Caller,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<DownloadQuery>,
) -> RestResult<Response> {
    let path = home_path(&uri, "/api/v1/download")?;
    let version = q.version.map(VersionNum);
    let p = path.clone();
    let reader = blocking(move || {
        let r = home_of(&st, &c)?.open(&p, version)?;
        r.check_available(0)?; // an unreachable object store: 503 now, not a cut body
        Ok(r)
    })
    .await?;
    serve_reader(reader, path.name().unwrap_or("download"), &headers)
}

/// The response for a file opened for download (every door of this crate that hands out
/// a file — `/download` and share links — answers through here): conditionals, one range,
/// ETag and `Content-Disposition: attachment` naming it `name`, the body streamed.
pub(crate) fn serve_reader(
    reader: FileReader,
    name: &str,
    headers: &HeaderMap,
) -> RestResult<Response> {
    let v = reader.version().clone();
    let etag = format!("\"{}\"", v.hash.to_hex());
    let mtime = UNIX_EPOCH + Duration::from_secs(v.mtime_ns.max(0) as u64 / 1_000_000_000);
    if let Some(im) = header_str(headers, header::IF_MATCH)
        && !etag_matches(im, &etag)
    {
        return Err(RestError::PreconditionFailed);
    }
    let not_modified = match header_str(headers, header::IF_NONE_MATCH) {
        Some(inm) => etag_matches(inm, &etag),
        None => header_str(headers, header::IF_MODIFIED_SINCE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .is_some_and(|since| mtime <= since),
    };
    let mut h = HeaderMap::new();
    insert(&mut h, header::ETAG, &etag);
    insert(
        &mut h,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(mtime),
    );
    insert(&mut h, header::ACCEPT_RANGES, "bytes");
    insert(&mut h, "x-nas-version", &v.num.to_string());
    if not_modified {
        return Ok(respond(StatusCode::NOT_MODIFIED, h, Body::empty()));
    }
    let range_applies = header_str(headers, header::IF_RANGE).is_none_or(|ir| ir == etag);
    let range = match header_str(headers, header::RANGE).filter(|_| range_applies) {
        Some(r) => single_range(r, v.size)?,
        None => None,
    };
    let ct = v
        .attrs
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    insert(&mut h, header::CONTENT_TYPE, &ct);
    insert(&mut h, header::CONTENT_DISPOSITION, &disposition(name));
    let (status, r) = match range {
        Some(r) => {
            let cr = format!("bytes {}-{}/{}", r.start, r.end - 1, v.size);
            insert(&mut h, header::CONTENT_RANGE, &cr);
            (StatusCode::PARTIAL_CONTENT, r)
        }
        None => (StatusCode::OK, ByteRange::full(v.size)),
    };
    insert(&mut h, header::CONTENT_LENGTH, &r.len().to_string());
    Ok(respond(status, h, stream(reader, r)))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn insert(h: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (or is `*`); weak tags compare
/// by their value.
pub(crate) fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// The one range to serve of a file of `size` bytes (`nas_types::RangeRequest`'s rule for
/// single-range doors): `Ok(None)` for the whole file (no usable header, several ranges),
/// 416 when the range selects no byte.
fn single_range(h: &str, size: u64) -> RestResult<Option<ByteRange>> {
    match RangeRequest::parse(h).map(|r| r.plan_single(size)) {
        None | Some(RangePlan::Whole) => Ok(None),
        Some(RangePlan::Unsatisfiable) => Err(RestError::RangeNotSatisfiable(size)),
        Some(RangePlan::Ranges(rs)) => Ok(rs.first().copied()),
    }
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266).
pub(crate) fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let utf8 = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}")
}

/// The range as a body, read ahead on the blocking pool by the engine's [`read_ahead`]
/// (~512 KiB blocks gathered from whole chunks, no zeroing, at most ~1.5 MiB in flight, so
/// a slow client holds back the reader instead of filling memory). A read failure
/// mid-body (damaged data) aborts the response: the client sees a short body, never wrong
/// bytes. Call from a tokio runtime.
///
/// [`read_ahead`]: nas_engine::read_ahead
fn stream(reader: FileReader, range: ByteRange) -> Body {
    let rx = nas_engine::read_ahead(reader.range(range));
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        let item = match rx.recv().await? {
            Ok(buf) => Ok(bytes::Bytes::from(buf)),
            Err(e) => {
                tracing::error!("download: {e}");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        Some((item, rx))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| single_range(h, 100).map(|o| o.map(|r| (r.start, r.end)));
        assert_eq!(r("bytes=0-9").ok(), Some(Some((0, 10))));
        assert_eq!(r("bytes=90-").ok(), Some(Some((90, 100))));
        assert_eq!(r("bytes=-10").ok(), Some(Some((90, 100))));
        assert_eq!(r("bytes=95-200").ok(), Some(Some((95, 100))));
        assert_eq!(r("bytes=0-1,5-6").ok(), Some(None));
        assert_eq!(r("items=0-1").ok(), Some(None));
        assert!(matches!(
            r("bytes=100-"),
            Err(RestError::RangeNotSatisfiable(100))
        ));
        assert!(matches!(
            r("bytes=-0"),
            Err(RestError::RangeNotSatisfiable(100))
        ));
    }

    #[test]
    fn etags_and_names() {
        assert!(etag_matches("\"a\", \"b\"", "\"b\""));
        assert!(etag_matches("*", "\"b\""));
        assert!(etag_matches("W/\"b\"", "\"b\""));
        assert!(!etag_matches("\"a\"", "\"b\""));
        assert_eq!(
            disposition("é \"x\".txt"),
            "attachment; filename=\"_ _x_.txt\"; filename*=UTF-8''%C3%A9%20%22x%22%2Etxt"
        );
    }
}

//! What the door checks and rewrites before dav-server sees a request, so that no header
//! or body can make dav-server panic, recurse without bound, or send more than a file:
//!
//! - the body of every method but PUT is read here, at most [`MAX_XML_BODY`] (413), and
//!   its element depth checked ([`check_xml_depth`], 400), then handed on as bytes;
//! - `Destination` (COPY, MOVE) must name a path in this server's `/dav` namespace:
//!   absent, unreadable or with a query → 400; on another host → 502 (RFC 4918 §9.8.5,
//!   "the destination is on another server"); outside `/dav` on this host → 502 as well
//!   ("another URL namespace", same section); the home root itself → 403, since nothing
//!   can be copied or moved onto the root of a home (§9.8.5 and §9.9.4: 403 when the
//!   operation is forbidden); a path breaking the naming rules → 400. "This host" is the
//!   request's `Host`, or what a proxy names in `X-Forwarded-Host` / `Forwarded: host=`,
//!   compared without scheme and port, so a TLS proxy's public URL works; a source and
//!   destination where one contains the other (or both are the same) → 403;
//! - a `Range` on GET/HEAD is rewritten by the one rule of all doors
//!   (`nas_types::RangeRequest::plan`): ranges merged, too many or amplifying ranges
//!   dropped (the whole file), so dav-server's `multipart/byteranges` never outgrows the
//!   file.

use crate::paths::{check_uri_path, dav_path};
use crate::resolved::Resolved;
use crate::responses::status;
use crate::xml_guard::{MAX_XML_BODY, MAX_XML_DEPTH, check_xml_depth};
use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use nas_engine::{Entry, Home, NodeKind};
use nas_types::{RangePlan, RangeRequest};

/// Reads a non-PUT body (bounded) and checks its XML depth: the request with the body as
/// bytes, or the refusal.
pub async fn guard_body(req: Request<Body>) -> Result<(Request<Body>, bytes::Bytes), Response> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_XML_BODY as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = stream.next().await {
        let Ok(data) = frame else {
            return Err(status(StatusCode::BAD_REQUEST, "request body broke off"));
        };
        if buf.len() + data.len() > MAX_XML_BODY {
            return Err(too_large());
        }
        buf.extend_from_slice(&data);
    }
    let bytes = buf.freeze();
    if let Err(e) = check_xml_depth(&bytes, MAX_XML_DEPTH) {
        return Err(status(StatusCode::BAD_REQUEST, &e.to_string()));
    }
    Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes))
}

fn too_large() -> Response {
    status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body too large (64 KiB at most)",
    )
}

/// Checks a COPY/MOVE `Destination` against the request's headers (see the module doc).
/// On success, the destination's `/dav/…` path (still percent-encoded).
pub fn check_destination(
    dest: Option<&HeaderValue>,
    headers: &HeaderMap,
) -> Result<String, (StatusCode, &'static str)> {
    const BAD: (StatusCode, &str) = (StatusCode::BAD_REQUEST, "invalid Destination header");
    let d = dest.ok_or((StatusCode::BAD_REQUEST, "COPY and MOVE need a Destination"))?;
    let d = d.to_str().map_err(|_| BAD)?.trim();
    if d.contains(['?', '#']) {
        return Err(BAD);
    }
    let path = if d.starts_with('/') {
        if d.starts_with("//") {
            return Err(BAD); // a network-path reference: a host in disguise
        }
        d.to_owned()
    } else {
        let uri: http::Uri = d.parse().map_err(|_| BAD)?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(BAD);
        }
        let host = uri.host().ok_or(BAD)?;
        if !this_host(host, headers) {
            return Err((StatusCode::BAD_GATEWAY, "Destination is on another server"));
        }
        uri.path().to_owned()
    };
    if path == "/dav" || path == "/dav/" {
        return Err((
            StatusCode::FORBIDDEN,
            "nothing can be copied or moved onto the home folder itself",
        ));
    }
    if !path.starts_with("/dav/") {
        return Err((
            StatusCode::BAD_GATEWAY,
            "Destination is outside the WebDAV namespace (/dav/)",
        ));
    }
    check_uri_path(&path).map_err(|why| (StatusCode::BAD_REQUEST, why))?;
    Ok(path)
}

/// COPY/MOVE between a folder and something inside it (either way) is refused with 403:
/// into itself it would copy without end, and onto its own ancestor the overwrite would
/// delete the source before moving it (as Apache's mod_dav, RFC 4918 §9.8.5 "forbidden").
pub fn check_nesting(src_uri: &str, dest_uri: &str) -> Result<(), (StatusCode, &'static str)> {
    match (dav_path(src_uri), dav_path(dest_uri)) {
        (Some(s), Some(d)) if s.is_within(&d) || d.is_within(&s) => Err((
            StatusCode::FORBIDDEN,
            "source and Destination contain one another",
        )),
        _ => Ok(()),
    }
}

/// Whether `host` names this server: the `Host` header's host, or one a proxy forwarded
/// (`X-Forwarded-Host`, `Forwarded: host=`); ports and case do not matter.
fn this_host(host: &str, headers: &HeaderMap) -> bool {
    let want = strip_port(host);
    let named = |v: &str| strip_port(v.trim().trim_matches('"')).eq_ignore_ascii_case(want);
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    values("host").iter().any(|v| named(v))
        || values("x-forwarded-host").iter().any(|v| named(v))
        || values("forwarded").iter().any(|el| {
            el.split(';').any(|pair| {
                pair.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("host") && named(v))
            })
        })
}

/// `host[:port]` or `[v6]:port` without the port.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    h.rsplit_once(':').map_or(h, |(host, _)| host)
}

/// Rewrites a GET/HEAD `Range` by the one range rule, for the file at `uri_path`: merged
/// ranges, or no `Range` (the whole file), or one dav-server answers with 416. The file is
/// looked up through `resolved`, which keeps it for the rest of the request.
pub fn rewrite_range(headers: &mut HeaderMap, home: &Home, resolved: &Resolved, uri_path: &str) {
    let path = dav_path(uri_path);
    rewrite_range_with(headers, || resolved.stat(home, &path?).ok());
}

/// [`rewrite_range`] for the file at `path` of `home` (`None`: not a valid path).
pub fn rewrite_range_at(headers: &mut HeaderMap, home: &Home, path: Option<nas_types::NasPath>) {
    rewrite_range_with(headers, || home.stat(&path?).ok());
}

/// The range rule, with `stat` finding the file (called only when there is a `Range`).
fn rewrite_range_with(headers: &mut HeaderMap, stat: impl FnOnce() -> Option<Entry>) {
    let Some(raw) = headers.get(header::RANGE) else {
        return;
    };
    let req = raw.to_str().ok().and_then(RangeRequest::parse);
    let size = stat().filter(|e| e.kind == NodeKind::File).map(|e| e.size);
    let value = match (req, size) {
        (Some(r), Some(size)) => match r.plan(size) {
            RangePlan::Whole => None,
            RangePlan::Unsatisfiable => Some(format!("bytes={size}-")),
            RangePlan::Ranges(rs) => Some(format!(
                "bytes={}",
                rs.iter()
                    .map(|r| format!("{}-{}", r.start, r.end - 1))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        },
        _ => None,
    };
    match value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        Some(v) => {
            headers.insert(header::RANGE, v);
        }
        None => {
            headers.remove(header::RANGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(d: &str, host: &str, extra: &[(&str, &str)]) -> Result<(), StatusCode> {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).unwrap());
        for (k, v) in extra {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        check_destination(Some(&HeaderValue::from_str(d).unwrap()), &h)
            .map(|_| ())
            .map_err(|e| e.0)
    }

    #[test]
    fn destinations() {
        let host = "127.0.0.1:8080";
        assert_eq!(dest("/dav/a", host, &[]), Ok(()));
        assert_eq!(dest("http://127.0.0.1:8080/dav/a/", host, &[]), Ok(()));
        assert_eq!(dest("https://127.0.0.1/dav/a", host, &[]), Ok(()));
        assert_eq!(
            dest(
                "https://NAS.example.com/dav/a",
                host,
                &[("x-forwarded-host", "nas.example.com")]
            ),
            Ok(())
        );
        assert_eq!(
            dest(
                "https://nas.example.com/dav/a",
                host,
                &[(
                    "forwarded",
                    "for=1.2.3.4;host=\"nas.example.com:443\";proto=https"
                )]
            ),
            Ok(())
        );
        assert_eq!(dest("http://[::1]:80/dav/a", "[::1]:8080", &[]), Ok(()));
        use StatusCode as S;
        for (d, want) in [
            ("/dav", S::FORBIDDEN),
            ("/dav/", S::FORBIDDEN),
            ("http://127.0.0.1:8080/dav", S::FORBIDDEN),
            ("http://127.0.0.1:8080/dav/", S::FORBIDDEN),
            ("http://x/dav", S::BAD_GATEWAY),
            ("http://x/dav/a", S::BAD_GATEWAY),
            ("/other/a", S::BAD_GATEWAY),
            ("/davx", S::BAD_GATEWAY),
            ("/", S::BAD_GATEWAY),
            ("//x/dav/a", S::BAD_REQUEST),
            ("/dav/a?x=1", S::BAD_REQUEST),
            ("/dav/a#f", S::BAD_REQUEST),
            ("/dav/../a", S::BAD_REQUEST),
            ("/dav/a//b", S::BAD_REQUEST),
            ("dav/a", S::BAD_REQUEST),
            ("ftp://127.0.0.1/dav/a", S::BAD_REQUEST),
            ("", S::BAD_REQUEST),
        ] {
            assert_eq!(dest(d, host, &[]), Err(want), "{d}");
        }
        assert_eq!(
            check_destination(None, &HeaderMap::new())
                .map(|_| ())
                .map_err(|e| e.0),
            Err(S::BAD_REQUEST)
        );
    }

    #[test]
    fn nested_sources_and_destinations() {
        assert!(check_nesting("/dav/k/", "/dav/k/l/in/").is_err());
        assert!(check_nesting("/dav/k/l/", "/dav/k/").is_err());
        assert!(check_nesting("/dav/k", "/dav/k/").is_err());
        assert!(check_nesting("/dav/k/", "/dav/k2/").is_ok());
        assert!(check_nesting("/dav/k/a.txt", "/dav/k/b.txt").is_ok());
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a:1"), "a");
        assert_eq!(strip_port("a"), "a");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("[::1]"), "::1");
    }
}

/// Refuses (400) an `If:` header that dav-server's parser would panic on: it reads past
/// the end of an unterminated `<…` or `[…` token (`If: *[` was found by the `if_header`
/// fuzz target). This walks the header the way that parser does, without reading past the
/// end; what it lets through, the parser either accepts or refuses cleanly.
pub fn check_if_header(headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    const BAD: (StatusCode, &str) = (StatusCode::BAD_REQUEST, "malformed If header");
    let ws = |c: u8| b" \t\r\n".contains(&c);
    for value in headers.get_all("if") {
        let mut b = value.as_bytes();
        loop {
            while b.first().is_some_and(|c| ws(*c)) {
                b = &b[1..];
            }
            let Some(&first) = b.first() else { break };
            match first {
                b'(' | b')' => b = &b[1..],
                b'<' | b'[' => {
                    let close = if first == b'<' { b'>' } else { b']' };
                    let (mut i, mut quote) = (1, false);
                    loop {
                        let Some(&c) = b.get(i) else { return Err(BAD) };
                        if !quote && c == close {
                            break;
                        }
                        if ws(c) {
                            return Ok(()); // the parser refuses this cleanly
                        }
                        if c == b'"' {
                            quote = !quote;
                        }
                        i += 1;
                    }
                    b = &b[i + 1..];
                }
                _ => {
                    let end = b
                        .iter()
                        .position(|&c| ws(c) || b"<>()[]".contains(&c) || c < 32)
                        .unwrap_or(b.len());
                    if end == 0 {
                        return Ok(()); // refused cleanly by the parser
                    }
                    b = &b[end..];
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod if_tests {
    use super::check_if_header;
    use http::{HeaderMap, HeaderValue};

    fn check(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert("if", HeaderValue::from_str(v).unwrap());
        check_if_header(&h).is_ok()
    }

    #[test]
    fn unterminated_tokens_are_refused_and_good_headers_pass() {
        for bad in ["*[", "<abc", "(<x", "([\"x]", "<a> (<b"] {
            assert!(!check(bad), "{bad}");
        }
        for good in [
            "(<opaquelocktoken:abc>)",
            "<http://h/dav/x> (<urn:uuid:1> [\"etag\"])",
            "(Not <DAV:no-lock>)",
            "(<a b>)",
            "",
        ] {
            assert!(check(good), "{good}");
        }
    }
}

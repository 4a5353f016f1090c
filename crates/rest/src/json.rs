//! [`JsonBody`]: how every JSON request body of the REST door is read — with a size limit
//! ([`MAX_JSON_BODY`], 413 beyond it, checked against `Content-Length` before anything is
//! read and again while reading) and a nesting limit ([`MAX_JSON_DEPTH`], 400 beyond it,
//! checked by a flat scan of the bytes before the parser sees them), so no body can make
//! the server buffer without bound or recurse deeply. serde_json's own recursion limit
//! (128) stays as a second guard; values it skips are skipped without recursion.

use crate::error::{RestError, RestResult};
use axum::extract::{FromRequest, Request};
use futures_util::StreamExt;
use http::header;
use serde::de::DeserializeOwned;

/// Largest JSON request body, in bytes (the largest legitimate one, a trash restore of
/// many ids, is far smaller).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Deepest nesting of arrays and objects accepted (this API's bodies nest 2 deep).
pub const MAX_JSON_DEPTH: usize = 32;

/// A JSON request body (`Content-Type: application/json` or `application/*+json`),
/// within the limits above; a malformed one is a JSON 400, a too large one a 413.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = RestError;

    async fn from_request(req: Request, _: &S) -> RestResult<Self> {
        if !is_json(req.headers()) {
            return Err(RestError::BadRequest(
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut data = req.into_body().into_data_stream();
        if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
            if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
                drain(&mut data, 0).await;
            }
            return Err(too_large());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = data.next().await {
            let chunk =
                chunk.map_err(|e| RestError::BadRequest(format!("cannot read the body: {e}")))?;
            if buf.len() + chunk.len() > MAX_JSON_BODY {
                drain(&mut data, (buf.len() + chunk.len()) as u64).await;
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        check_depth(&buf, MAX_JSON_DEPTH)?;
        serde_json::from_slice(&buf)
            .map(JsonBody)
            .map_err(|e| RestError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// A refused body is read and discarded up to this many bytes, so that a client still
/// sending gets the 413 (closing a socket with unread data resets the connection, and the
/// answer with it); a larger one is cut off.
const DRAIN_LIMIT: u64 = 8 << 20;

async fn drain(data: &mut axum::body::BodyDataStream, mut seen: u64) {
    while seen <= DRAIN_LIMIT {
        match data.next().await {
            Some(Ok(chunk)) => seen += chunk.len() as u64,
            _ => return,
        }
    }
}

fn too_large() -> RestError {
    RestError::TooLarge(format!("a JSON body is at most {MAX_JSON_BODY} bytes"))
}

fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuses (400) JSON text whose arrays and objects nest deeper than `max`: one pass over
/// the bytes, skipping strings (with their escapes), no recursion and no allocation. It
/// does not validate the JSON; the parser does that afterwards.
pub fn check_depth(json: &[u8], max: usize) -> RestResult<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(RestError::BadRequest(format!(
                        "the JSON body nests deeper than {max} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert!(check_depth(br#"{"a":[1,{"b":[]}]}"#, 4).is_ok());
        assert!(check_depth(br#"{"a":[1,{"b":[[]]}]}"#, 4).is_err());
        assert!(check_depth(br#"{"a":"[[[[[[\"[[[["}"#, 1).is_ok());
        assert!(check_depth(br#"{"a":"\\"}"#, 1).is_ok());
        assert!(check_depth(br#"{"a":"\\",[[["#, 2).is_err());
        let deep = "[".repeat(100_000);
        assert!(check_depth(deep.as_bytes(), MAX_JSON_DEPTH).is_err());
        assert!(check_depth(b"]]]]}}}", 1).is_ok(), "the parser refuses it");
    }

    #[test]
    fn json_content_types() {
        let mut h = http::HeaderMap::new();
        assert!(!is_json(&h));
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/json", false),
            ("application/jsonx", false),
        ] {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{ct}");
        }
    }
}

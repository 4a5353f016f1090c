//! What a share's recipient sees: a folder's listing (JSON, or a minimal HTML page), the
//! password form, the drop page, and refusals — JSON for API clients and `curl`, HTML for
//! browsers. Every name is escaped (a file called `<img src=x onerror=…>` is text); the
//! pages carry no script at all, under a Content-Security-Policy that forbids it.
//! The web UI may replace these pages; the JSON stays the contract.

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

/// No script, no framing, forms only to this server; inline styles only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;\
    padding:0 1rem;color:#222;background:#fff}@media(prefers-color-scheme:dark){body{color:#ddd;\
    background:#181818}a{color:#8ab4f8}}table{border-collapse:collapse;width:100%}\
    td,th{padding:.3rem .5rem;text-align:left;border-bottom:1px solid #8884}td.n{text-align:right}";

/// One entry of a listing.
#[derive(Debug, Serialize)]
pub struct ListingEntry {
    /// Name.
    pub name: String,
    /// `file` or `folder`.
    pub kind: &'static str,
    /// Bytes (0 for folders).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// A page of a shared folder.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// Path inside the share (`/` is the shared folder).
    pub path: String,
    /// The folder's name.
    pub name: String,
    /// Its modification time, Unix seconds.
    pub mtime: i64,
    /// Entries, by name.
    pub entries: Vec<ListingEntry>,
    /// Pass as `?after=` for the next page; `null` on the last.
    pub next_after: Option<String>,
}

/// Text as HTML: `& < > " '` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment for a URL (every byte but unreserved ones percent-encoded).
fn url_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Whether the client prefers JSON (an `Accept` naming JSON, or none naming HTML).
pub fn wants_json(h: &HeaderMap) -> bool {
    let accept = h
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("json") || !accept.contains("text/html")
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_error(status: StatusCode, msg: &str) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::GONE => "gone",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::INSUFFICIENT_STORAGE => "storage_full",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let body = crate::error::ErrorBody {
        error: crate::error::ErrorDetail {
            code: code.into(),
            message: msg.into(),
        },
    };
    (status, Json(body)).into_response()
}

/// A refusal: JSON, or a page for a browser.
pub fn error(status: StatusCode, msg: &str, h: &HeaderMap) -> Response {
    if wants_json(h) {
        json_error(status, msg)
    } else {
        html(status, msg, &format!("<h1>{}</h1>", escape(msg)))
    }
}

/// 401: the share needs its password (Basic for `curl -u :PASS`, a form for browsers).
pub fn password_needed(token: &str, why: Option<&str>, h: &HeaderMap) -> Response {
    let msg = why.unwrap_or("this share needs a password");
    let mut r = if wants_json(h) {
        json_error(StatusCode::UNAUTHORIZED, msg)
    } else {
        let note = why
            .map(|w| format!("<p role=\"alert\">{}</p>", escape(w)))
            .unwrap_or_default();
        html(
            StatusCode::UNAUTHORIZED,
            "Password needed",
            &format!(
                "<h1>This share needs a password</h1>{note}\
                 <form method=\"post\" action=\"/s/{}\"><label>Password \
                 <input type=\"password\" name=\"password\" autofocus required></label> \
                 <button type=\"submit\">Open</button></form>",
                escape(token)
            ),
        )
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"share\", charset=\"UTF-8\""),
    );
    r
}

/// 403 for every read of a drop share: the same answer whatever the path.
pub fn drop_only(h: &HeaderMap) -> Response {
    const MSG: &str = "this link only takes uploads: PUT /s/{token}/{file name} \
        (curl -T FILE https://…/s/{token}/)";
    if wants_json(h) {
        json_error(StatusCode::FORBIDDEN, MSG)
    } else {
        html(
            StatusCode::FORBIDDEN,
            "File drop",
            "<h1>File drop</h1><p>This link only takes uploads: files sent here go to its \
             owner, and nothing here can be listed or read.</p>\
             <p>With curl: <code>curl -T FILE https://&hellip;/s/TOKEN/</code></p>",
        )
    }
}

/// 201 for a dropped file (its stored name is not told: it would confirm other names).
pub fn dropped(size: u64, h: &HeaderMap) -> Response {
    #[derive(Serialize)]
    struct Stored {
        stored: bool,
        size: u64,
    }
    if wants_json(h) {
        (StatusCode::CREATED, Json(Stored { stored: true, size })).into_response()
    } else {
        html(
            StatusCode::CREATED,
            "Stored",
            &format!("<h1>Stored</h1><p>{size} bytes received. Thank you.</p>"),
        )
    }
}

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A folder page: JSON, or HTML with links relative to the folder's URL (which ends in
/// `/`), a ZIP link and a next-page link.
pub fn listing(l: &Listing, json: bool) -> Response {
    if json {
        let mut r = Json(l).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    }
    let mut rows = String::new();
    if l.path != "/" {
        rows.push_str("<tr><td><a href=\"../\">..</a></td><td></td></tr>");
    }
    for e in &l.entries {
        let (href, label) = if e.kind == "folder" {
            (
                format!("{}/", url_segment(&e.name)),
                format!("{}/", escape(&e.name)),
            )
        } else {
            (url_segment(&e.name), escape(&e.name))
        };
        let size = if e.kind == "folder" {
            String::new()
        } else {
            human(e.size)
        };
        rows.push_str(&format!(
            "<tr><td><a href=\"./{href}\">{label}</a></td><td class=\"n\">{size}</td></tr>"
        ));
    }
    let next = l
        .next_after
        .as_ref()
        .map(|a| format!("<p><a href=\"?after={}\">Next page</a></p>", url_segment(a)))
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p>{} &middot; <a href=\"?download=1\">Download all (zip)</a></p>\
         <table><thead><tr><th>Name</th><th class=\"n\">Size</th></tr></thead>\
         <tbody>{rows}</tbody></table>{next}",
        escape(&l.name),
        escape(&l.path),
    );
    html(StatusCode::OK, &l.name, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_text() {
        assert_eq!(
            escape("<img src=x onerror=alert(1)>.txt"),
            "&lt;img src=x onerror=alert(1)&gt;.txt"
        );
        assert_eq!(escape("a\"b'&"), "a&quot;b&#39;&amp;");
        assert_eq!(url_segment("a b/<c>"), "a%20b%2F%3Cc%3E");
    }
}

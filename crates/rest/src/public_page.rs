//! What a share's recipient sees, without an account: a file's page (name, size, a
//! download button), a folder's listing (JSON, or a page with breadcrumbs, sub-folders and
//! "download all as zip"), the password form, the drop page (a plain multipart form), and
//! refusals in words — JSON for API clients and `curl`, HTML for browsers. Every name is
//! escaped (a file called `<img src=x onerror=…>` is text); the pages carry no script at
//! all, under a Content-Security-Policy that forbids it (their one style block is allowed
//! by its hash). Light and dark follow `prefers-color-scheme`; one column on a phone.
//! The JSON is the contract for programs.

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use sha2::Digest;
use std::sync::LazyLock;

/// The pages' one stylesheet, inlined (light and dark from `prefers-color-scheme`, one
/// column on a phone).
const STYLE: &str = include_str!("public_page.css");

/// No script, no framing, no images, forms only to this server; the one style block is
/// allowed by its hash (not `'unsafe-inline'`), so even markup that slipped through the
/// escaping could neither run nor restyle the page.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"))
});

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

/// A page: a header saying what this is, the body in a card; no script anywhere.
fn html(status: StatusCode, title: &str, class: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{} \u{b7} Silent-NAS</title><style>{STYLE}</style></head><body>\
         <header><b>Silent-NAS</b> \u{b7} a shared link</header>\
         <main><div class=\"card {class}\">{body}</div></main></body></html>",
        escape(title)
    );
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
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
        return json_error(status, msg);
    }
    let (title, hint) = match status {
        StatusCode::NOT_FOUND => (
            "This link does not work",
            "It may have been revoked by its owner, or what it shared was deleted.",
        ),
        StatusCode::GONE => (
            "This link has ended",
            "Ask the person who sent it for a new one.",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("Too many attempts", "Wait a while and try again."),
        _ => ("This did not work", ""),
    };
    let mut first = msg.to_owned();
    if let Some(c) = first.get_mut(..1) {
        c.make_ascii_uppercase();
    }
    html(
        status,
        title,
        "error",
        &format!(
            "<h1>{}</h1><p>{}.</p><p class=\"muted\">{}</p>",
            escape(title),
            escape(&first),
            escape(hint)
        ),
    )
}

/// 401: the share needs its password — a Basic challenge for programs (`curl -u :PASS`,
/// WebDAV clients), a form for browsers (no challenge there: a browser would answer it
/// with its own login prompt instead of showing the page).
pub fn password_needed(token: &str, why: Option<&str>, h: &HeaderMap) -> Response {
    let msg = why.unwrap_or("this share needs a password");
    if wants_json(h) {
        let mut r = json_error(StatusCode::UNAUTHORIZED, msg);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"share\", charset=\"UTF-8\""),
        );
        r
    } else {
        let note = why
            .map(|w| format!("<p role=\"alert\" class=\"error\"><b>{}</b></p>", escape(w)))
            .unwrap_or_default();
        html(
            StatusCode::UNAUTHORIZED,
            "Password needed",
            "",
            &format!(
                "<h1>This link is protected</h1>\
                 <p>Enter the password you were given with the link.</p>{note}\
                 <form method=\"post\" action=\"/s/{}\"><label for=\"pw\">Password</label>\
                 <input id=\"pw\" type=\"password\" name=\"password\" autocomplete=\"off\" \
                 autofocus required><button type=\"submit\">Open</button></form>",
                escape(token)
            ),
        )
    }
}

/// The page of a drop share (a browser at its root: 200; anywhere else 403, with the
/// same page whatever the path — nothing is listed, read or confirmed). The form posts
/// `multipart/form-data` to the share; for a program, JSON 403 with how to `PUT`.
pub fn drop_page(token: &str, at_root: bool, h: &HeaderMap) -> Response {
    const MSG: &str = "this link only takes uploads: PUT /s/{token}/{file name} \
        (curl -T FILE https://…/s/{token}/)";
    if wants_json(h) {
        return json_error(StatusCode::FORBIDDEN, MSG);
    }
    let status = if at_root {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    let t = escape(token);
    html(
        status,
        "Send files",
        "",
        &format!(
            "<h1>Send files</h1><p>Files you send here go to the person who shared this \
             link. Nothing here can be listed or downloaded &mdash; not even what you sent.</p>\
             <form method=\"post\" action=\"/s/{t}/\" enctype=\"multipart/form-data\">\
             <label for=\"files\">Files</label>\
             <input id=\"files\" type=\"file\" name=\"file\" multiple required>\
             <button type=\"submit\">Send</button></form>\
             <p class=\"muted\">From a terminal: <code>curl -T FILE {}/s/{t}/</code></p>",
            "https://&hellip;"
        ),
    )
}

/// 201 for a dropped file (its stored name is not told: it would confirm other names).
pub fn dropped(size: u64, h: &HeaderMap) -> Response {
    dropped_files(None, 1, size, h)
}

/// 201 for files dropped through the page's form (or one `PUT`): how many and how
/// large, never under which names.
pub fn dropped_files(token: Option<&str>, files: u64, size: u64, h: &HeaderMap) -> Response {
    #[derive(Serialize)]
    struct Stored {
        stored: bool,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        files: Option<u64>,
    }
    if wants_json(h) {
        let files = token.map(|_| files);
        return (
            StatusCode::CREATED,
            Json(Stored {
                stored: true,
                size,
                files,
            }),
        )
            .into_response();
    }
    let what = if files == 1 {
        "1 file".to_owned()
    } else {
        format!("{files} files")
    };
    let more = token
        .map(|t| {
            format!(
                "<div class=\"actions\"><a class=\"button plain\" href=\"/s/{}/\">Send more</a></div>",
                escape(t)
            )
        })
        .unwrap_or_default();
    html(
        StatusCode::CREATED,
        "Sent",
        "ok",
        &format!(
            "<h1>Sent</h1><p role=\"status\">{what} ({}) received. Thank you.</p>{more}",
            human(size)
        ),
    )
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

/// Unix seconds as an HTTP date (UTC: the page runs no script to say it locally).
fn date(secs: i64) -> String {
    u64::try_from(secs)
        .map(|s| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)))
        .unwrap_or_default()
}

/// The page of a shared file, for a browser: its name, size and a download button (the
/// download is `?download=1`, counted; the page itself is not).
pub fn file_page(token: &str, name: &str, size: u64, mtime: i64) -> Response {
    html(
        StatusCode::OK,
        name,
        "",
        &format!(
            "<h1>{}</h1>\
             <p>{} &middot; <span class=\"muted\">modified {}</span></p>\
             <div class=\"actions\"><a class=\"button\" href=\"/s/{}?download=1\" \
             download>Download</a></div>",
            escape(name),
            human(size),
            escape(&date(mtime)),
            escape(token)
        ),
    )
}

/// A folder page: JSON, or HTML with breadcrumbs, links to sub-folders and files (from
/// the share's root, `/s/{token}/…`), a ZIP link and a next-page link.
pub fn listing(token: &str, l: &Listing, json: bool) -> Response {
    if json {
        let mut r = Json(l).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    }
    let base = format!("/s/{}/", url_segment(token));
    let segs: Vec<&str> = l.path.split('/').filter(|s| !s.is_empty()).collect();
    let mut here = base.clone();
    for s in &segs {
        here.push_str(&url_segment(s));
        here.push('/');
    }
    let mut crumbs = String::new();
    let mut acc = base.clone();
    let items = std::iter::once("Shared folder").chain(segs.iter().copied());
    let last = segs.len();
    for (i, label) in items.enumerate() {
        if i > 0 {
            acc.push_str(&url_segment(label));
            acc.push('/');
        }
        if i == last {
            crumbs.push_str(&format!("<li aria-current=\"page\">{}</li>", escape(label)));
        } else {
            crumbs.push_str(&format!("<li><a href=\"{acc}\">{}</a></li>", escape(label)));
        }
    }
    let mut rows = String::new();
    for e in &l.entries {
        let folder = e.kind == "folder";
        let (href, size) = if folder {
            (
                format!("{here}{}/", url_segment(&e.name)),
                "folder".to_owned(),
            )
        } else {
            (format!("{here}{}", url_segment(&e.name)), human(e.size))
        };
        // a folder opens (its name then a slash), a file downloads
        let (dl, slash) = if folder {
            ("", "<span class=\"muted\">/</span>")
        } else {
            (" download", "")
        };
        rows.push_str(&format!(
            "<tr><td class=\"name\"><a href=\"{href}\"{dl}>{}</a>{slash}</td>\
             <td class=\"n\">{size}</td><td class=\"t\">{}</td></tr>",
            escape(&e.name),
            escape(&date(e.mtime))
        ));
    }
    if l.entries.is_empty() {
        rows.push_str("<tr><td colspan=\"3\" class=\"muted\">This folder is empty.</td></tr>");
    }
    let next = l
        .next_after
        .as_ref()
        .map(|a| {
            format!(
                "<p><a href=\"{here}?after={}\">Next page</a></p>",
                url_segment(a)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<nav aria-label=\"Breadcrumb\"><ol>{crumbs}</ol></nav>\
         <h1>{}</h1>\
         <div class=\"actions\"><a class=\"button\" href=\"{here}?download=1\" download>\
         Download all as zip</a></div>\
         <table><thead><tr><th>Name</th><th class=\"n\">Size</th>\
         <th class=\"t\">Modified (UTC)</th></tr></thead><tbody>{rows}</tbody></table>{next}",
        escape(&l.name),
    );
    html(StatusCode::OK, &l.name, "", &body)
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

    #[test]
    fn pages_allow_their_style_by_hash_and_no_script() {
        let csp = CSP.to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"));
        let r = file_page("tok", "<b>x</b>.txt", 2048, 0);
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    }
}

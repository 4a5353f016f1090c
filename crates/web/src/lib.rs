//! The web UI of Silent-NAS: the page at `/` and its scripts, styles and icons, all
//! embedded in the binary (`include_bytes!` of `crates/web/assets/`) — plain JavaScript
//! modules, HTML and CSS with no build step, so building and running the server never
//! needs Node (see `docs/design/web-ui.md`). The UI talks to the REST door (`/api/v1`)
//! with a cookie session (`nas-rest`'s `cookie.rs`); this crate serves files only.
//!
//! What it owns: the asset table ([`assets`]), caching (assets live under
//! `/assets/<build>/…`, where `<build>` is a hash of every asset: immutable for a year;
//! the page itself is revalidated with its ETag), compression (zstd, compressed once at
//! start when it is smaller, sent to clients that accept it), and the security headers
//! every UI response carries ([`headers`]: a Content-Security-Policy without inline
//! script, `nosniff`, `no-referrer`, no framing).
//!
//! ```no_run
//! let app: axum::Router = axum::Router::new().merge(nas_web::router());
//! ```

mod assets;
mod headers;
mod serve;

pub use headers::CONTENT_SECURITY_POLICY;

use axum::Router;
use axum::routing::get;

/// The UI's routes: `/` (the page) and `/assets/{build}/{*file}`. No fallback (the
/// server merges it with routers that have their own), and never a path under `/api/` or
/// `/dav/`.
pub fn router() -> Router {
    assets::table(); // compress at start, not on the first request
    Router::new()
        .route("/", get(serve::page))
        .route("/index.html", get(serve::page))
        .route("/assets/{build}/{*file}", get(serve::asset))
        .layer(axum::middleware::map_response(headers::secure))
}

//! The WebDAV door of Silent-NAS, mounted at `/dav/`: each signed-in user sees their own
//! home. The protocol (PROPFIND/PROPPATCH, COPY/MOVE, LOCK/UNLOCK, `If:` evaluation,
//! conditional GET/PUT, ranges) comes from the `dav-server` crate; this crate backs it with
//! the engine ([`fs::EngineFs`]) and adds what the engine makes possible: content-hash
//! ETags, dead properties stored in the metadata database, old versions at
//! `GET /dav/PATH?version=N`, `X-OC-Mtime`, and cheap answers to macOS metadata noise.
//!
//! Nothing reaches dav-server unchecked: XML bodies are bounded and depth-checked
//! ([`xml_guard`], public so a fuzz target can call it), `Destination` is validated,
//! `Range` is rewritten by the one rule of all doors, a `?version=` on anything but
//! GET/HEAD is refused, and dead properties and locks have limits.
//!
//! It also serves the read-only view of a share link at `/s/{token}/dav/`
//! ([`serve_share_view`], called by the share door once the link is checked).
//!
//! It depends on `nas-engine` and `nas-auth` only: no chunk, pack or database detail.

mod body;
mod dead_props;
mod extras;
mod file;
mod fs;
mod http_layer;
mod listed;
mod locks;
mod metadata;
mod paths;
mod precheck;
mod resolved;
mod responses;
mod share_view;
pub mod xml_guard;

pub use http_layer::{DavState, MAX_LOCKS_PER_USER, router};
pub use locks::{DbLs, MAX_LOCK_TIMEOUT};
pub use precheck::{check_destination, check_if_header, check_nesting};
pub use share_view::serve_share_view;

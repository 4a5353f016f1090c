//! The REST door of Silent-NAS, mounted at `/api/v1`: a JSON API over the signed-in
//! user's home — files and folders (list, stat, upload, download with ranges and ETags,
//! mkdir, move, copy, delete to the trash, a folder as a streamed ZIP), versions, the trash,
//! share links (the owner's routes here; the public `/s/{token}` door is [`share_router`]),
//! the user's account, and
//! administration (accounts, S3 keys, WebDAV locks, background workers, the audit log) —
//! described by an OpenAPI document generated from the code
//! (`GET /api/v1/openapi.json`).
//!
//! Sign-in: `POST /api/v1/auth/login` trades a password for an access token (15 minutes)
//! and a refresh token (30 days), both HMAC-SHA256-signed with a per-install secret and
//! bound to a session persisted in the data directory, so a logout survives restarts.
//! Scripts may send HTTP Basic instead. Failed sign-ins count against the same rate
//! limiter as WebDAV (the server shares one [`nas_auth::Authenticator`]).
//!
//! Errors are `{"error":{"code":"...","message":"..."}}`; engine errors become statuses in
//! one function (`error.rs`). Like every door, this crate talks to `nas-engine` and
//! `nas-auth` only.
//!
//! ```no_run
//! # fn wire(store: nas_engine::Store, auth: std::sync::Arc<nas_auth::Authenticator>) -> std::io::Result<()> {
//! let state = nas_rest::RestState::new(store, auth, Vec::new())?;
//! let app: axum::Router = axum::Router::new().merge(nas_rest::router(state));
//! # Ok(()) }
//! ```

mod account;
mod admin;
mod audit;
mod cookie;
mod credentials;
mod download;
mod drop_form;
mod error;
mod extract;
mod files;
mod instant;
mod json;
mod list;
mod model;
mod openapi;
mod ops;
mod ops_model;
mod public_page;
mod public_share;
mod search;
mod selector;
mod sessions;
mod share_password;
mod shares;
mod state;
mod token;
mod trash;
mod tus;
mod upload;
mod versions;
mod zip;
mod zip_folder;

pub use cookie::OverTls;
pub use error::{ErrorBody, ErrorDetail, RestError};
pub use json::{MAX_JSON_BODY, MAX_JSON_DEPTH, check_depth as check_json_depth};
pub use openapi::ApiDoc;
pub use public_share::{ShareDav, ShareDavRequest, router as share_router};
pub use sessions::SESSIONS_FILE;
pub use share_password::{SHARE_COOKIE_SECRET, SHARE_COOKIE_SECS, share_password_limits};
pub use state::RestState;
pub use token::SECRET_FILE;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::StatusCode;

/// The `/api/v1` routes. Unknown paths under `/api/` get a JSON 404 (the router's
/// fallback; other paths keep an empty 404), a wrong method a JSON 405.
pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/auth/login", post(account::login))
        .route("/api/v1/auth/refresh", post(account::refresh))
        .route("/api/v1/auth/logout", post(account::logout))
        .route("/api/v1/me", get(account::me))
        .route("/api/v1/me/password", post(account::change_password))
        .route(
            "/api/v1/me/app-passwords",
            get(credentials::list_app_passwords).post(credentials::create_app),
        )
        .route(
            "/api/v1/me/app-passwords/{id}",
            delete(credentials::delete_app),
        )
        .route(
            "/api/v1/me/keys",
            get(credentials::list_keys).post(credentials::create_key),
        )
        .route("/api/v1/me/keys/{id}", delete(credentials::revoke_key))
        .route("/api/v1/files", get(files::get_files))
        .route("/api/v1/files/", get(files::get_files))
        .route(
            "/api/v1/files/{*path}",
            get(files::get_files).delete(files::delete),
        )
        .route("/api/v1/stat", get(files::stat))
        .route("/api/v1/stat/", get(files::stat))
        .route("/api/v1/stat/{*path}", get(files::stat))
        .route("/api/v1/mkdir/{*path}", post(files::mkdir))
        .route("/api/v1/move", post(files::move_entry))
        .route("/api/v1/copy", post(files::copy_entry))
        .route("/api/v1/download/{*path}", get(download::download))
        .route("/api/v1/instant/{*path}", post(instant::instant))
        .route("/api/v1/search", get(search::search))
        .route(
            "/api/v1/upload/{*path}",
            axum::routing::put(upload::upload).post(upload::upload),
        )
        .route(
            "/api/v1/versions/{*path}",
            get(versions::list)
                .post(versions::restore)
                .delete(versions::delete),
        )
        .route("/api/v1/trash", get(trash::list).delete(trash::purge_all))
        .route("/api/v1/trash/restore", post(trash::restore))
        .route(
            "/api/v1/trash/{id}",
            axum::routing::delete(trash::purge_one),
        )
        .route(
            "/api/v1/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/api/v1/admin/users/{name}",
            axum::routing::patch(admin::update_user).delete(admin::delete_user),
        )
        .route("/api/v1/admin/stats", get(admin::stats))
        .route("/api/v1/admin/keys", get(ops::list_keys).post(ops::create))
        .route(
            "/api/v1/admin/keys/{id}",
            axum::routing::delete(ops::revoke),
        )
        .route("/api/v1/admin/locks", get(ops::list_locks))
        .route(
            "/api/v1/admin/locks/{token}",
            axum::routing::delete(ops::break_lock),
        )
        .route("/api/v1/admin/workers", get(ops::list_workers))
        .route("/api/v1/admin/nodes", get(ops::list_nodes))
        .route("/api/v1/admin/workers/{name}/run", post(ops::run_worker))
        .route("/api/v1/admin/audit", get(audit::list))
        .route("/api/v1/shares", get(shares::list).post(shares::create))
        .route("/api/v1/shares/{id}", delete(shares::revoke))
        .route("/api/v1/zip", get(zip_folder::zip))
        .route("/api/v1/zip/", get(zip_folder::zip))
        .route("/api/v1/zip/{*path}", get(zip_folder::zip))
        .merge(tus::routes())
        .merge(cookie::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        .layer(axum::middleware::from_fn(selector::refuse_stray_version))
        .with_state(state)
}

fn json_error(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message,
        },
    };
    (status, axum::Json(body)).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {} {}", req.method(), req.uri().path()),
        )
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

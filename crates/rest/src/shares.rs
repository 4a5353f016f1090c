//! The owner's share routes: `POST /api/v1/shares` (create: the link's token appears in
//! this answer only), `GET /api/v1/shares` (list mine, with where each target is now) and
//! `DELETE /api/v1/shares/{id}` (revoke, effective at the next request). The rules are the
//! engine's (`nas_engine::shares`); the password is hashed here with nas-auth's argon2id.
//! Recipients use the links at `/s/{token}` (`public_share.rs`).

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, JsonBody, body_path};
use crate::files::home_of;
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use nas_engine::{NewShare, Share, ShareKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest share password, in bytes (argon2 hashes anything; this bounds the work).
pub const MAX_SHARE_PASSWORD: usize = 1_024;

/// `POST /shares` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShare {
    /// File or folder in the home.
    pub path: String,
    /// `read` (download a file; list, download and zip a folder) or `drop` (upload-only
    /// into a folder: never list or read). Default `read`.
    #[serde(default)]
    pub kind: Option<String>,
    /// A password the recipient must give (form, or HTTP Basic with any user name).
    #[serde(default)]
    pub password: Option<String>,
    /// When the link stops working (410 after), Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Downloads the link gives (read shares; 410 after), at least 1.
    #[serde(default)]
    pub max_downloads: Option<u64>,
}

/// A share as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareJson {
    /// Id, for `DELETE /shares/{id}` (not the link's token).
    pub id: String,
    /// `read` or `drop`.
    pub kind: &'static str,
    /// Where the target is now (it follows renames and moves); `null` when it is in the
    /// trash or gone (the link answers 404 then).
    pub path: Option<String>,
    /// `file` or `folder` (`null` when the target is gone).
    pub target: Option<&'static str>,
    /// Whether a password is needed.
    pub has_password: bool,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Download limit.
    pub max_downloads: Option<u64>,
    /// Downloads given so far.
    pub downloads: u64,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// A new share: its link, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedShare {
    /// The share.
    #[serde(flatten)]
    pub share: ShareJson,
    /// The link's token (only here: the server keeps only its hash).
    pub token: String,
    /// The link, relative to the server: `/s/{token}`.
    pub url: String,
}

impl From<&Share> for ShareJson {
    fn from(s: &Share) -> Self {
        let r = &s.record;
        ShareJson {
            id: r.id.clone(),
            kind: r.kind.as_str(),
            path: s.path.as_ref().map(|p| p.to_string()),
            target: s
                .path
                .as_ref()
                .map(|_| if s.is_dir { "folder" } else { "file" }),
            has_password: r.password.is_some(),
            expires_at: r.expires_ns.map(|n| n.div_euclid(1_000_000_000)),
            max_downloads: r.max_downloads,
            downloads: r.downloads,
            created_at: r.created_ns.div_euclid(1_000_000_000),
        }
    }
}

/// The share options of a request, checked (the password hashed with argon2id).
fn new_share(b: &CreateShare) -> RestResult<NewShare> {
    let kind = match b.kind.as_deref().unwrap_or("read") {
        "read" => ShareKind::Read,
        "drop" => ShareKind::Drop,
        _ => return Err(RestError::BadRequest("kind is \"read\" or \"drop\"".into())),
    };
    if kind == ShareKind::Drop && b.max_downloads.is_some() {
        return Err(RestError::BadRequest(
            "a file drop gives no downloads: max_downloads is for read shares".into(),
        ));
    }
    let password_hash = match b.password.as_deref() {
        None => None,
        Some("") => return Err(RestError::BadRequest("the password is empty".into())),
        Some(p) if p.len() > MAX_SHARE_PASSWORD => {
            return Err(RestError::BadRequest(format!(
                "a share password has at most {MAX_SHARE_PASSWORD} bytes"
            )));
        }
        Some(p) => Some(nas_auth::hash_password(p)),
    };
    let expires_ns = match b.expires_at {
        None => None,
        Some(s) if (0..=i64::MAX / 1_000_000_000).contains(&s) => Some(s * 1_000_000_000),
        Some(_) => return Err(RestError::BadRequest("expires_at is Unix seconds".into())),
    };
    Ok(NewShare {
        kind,
        password_hash,
        expires_ns,
        max_downloads: b.max_downloads,
    })
}

/// Creates a share link for a file or folder of the caller's home.
#[utoipa::path(post, path = "/api/v1/shares", tag = "shares", operation_id = "create_share",
    request_body = CreateShare,
    responses(
        (status = 201, description = "Created; the token and link appear only here", body = CreatedShare),
        (status = 400, description = "Bad kind, password, expiry or limit", body = ErrorBody),
        (status = 403, description = "A drop share from a read-only account", body = ErrorBody),
        (status = 404, description = "Nothing at the path", body = ErrorBody),
        (status = 409, description = "A drop share of a file", body = ErrorBody),
    ))]
pub async fn create(
    State(st): State<RestState>,
    c: Caller,
    JsonBody(b): JsonBody<CreateShare>,
) -> RestResult<(StatusCode, Json<CreatedShare>)> {
    let path = body_path(&b.path)?;
    let kind_is_drop = b.kind.as_deref() == Some("drop");
    if kind_is_drop {
        c.need_write()?; // a drop writes into the owner's home
    }
    blocking(move || {
        let new = new_share(&b)?; // argon2 runs here, on the blocking pool
        let home = home_of(&st, &c)?;
        let (rec, token) = home.create_share(&path, new)?;
        let share = Share {
            record: rec,
            is_dir: home.stat(&path)?.kind == nas_engine::NodeKind::Dir,
            path: Some(path),
        };
        Ok((
            StatusCode::CREATED,
            Json(CreatedShare {
                share: ShareJson::from(&share),
                url: format!("/s/{token}"),
                token,
            }),
        ))
    })
    .await
}

/// The caller's shares, oldest first (tokens are not kept, so not shown).
#[utoipa::path(get, path = "/api/v1/shares", tag = "shares", operation_id = "list_shares",
    responses((status = 200, description = "The shares", body = Vec<ShareJson>)))]
pub async fn list(State(st): State<RestState>, c: Caller) -> RestResult<Json<Vec<ShareJson>>> {
    blocking(move || {
        let shares = home_of(&st, &c)?.shares()?;
        Ok(Json(shares.iter().map(ShareJson::from).collect()))
    })
    .await
}

/// Revokes one of the caller's shares: its link answers 404 from the next request on.
#[utoipa::path(delete, path = "/api/v1/shares/{id}", tag = "shares", operation_id = "revoke_share",
    params(("id" = String, Path, description = "Share id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "The caller has no share with this id", body = ErrorBody),
    ))]
pub async fn revoke(
    State(st): State<RestState>,
    c: Caller,
    Path(id): Path<String>,
) -> RestResult<StatusCode> {
    blocking(move || {
        if home_of(&st, &c)?.revoke_share(&id)? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(RestError::NotFound("not_found", format!("no share {id}")))
        }
    })
    .await
}

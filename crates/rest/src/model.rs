//! The JSON shapes of the API (request and response bodies), with their OpenAPI schemas,
//! and the conversions from engine records. Times are Unix seconds; hashes BLAKE3 hex.

use nas_engine::{Entry, NodeKind, TrashRecord, UserRecord, VersionRecord};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

fn secs(ns: i64) -> i64 {
    ns.div_euclid(1_000_000_000)
}

fn kind_name(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Dir => "folder",
        NodeKind::File => "file",
    }
}

/// `POST /auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Tokens issued at sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for every other route.
    pub access_token: String,
    /// Only for `POST /auth/refresh`.
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Seconds the refresh token (the session) is valid.
    pub refresh_expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// `POST /auth/refresh` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// A refresh token from `/auth/login`.
    pub refresh_token: String,
}

/// A new access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshResponse {
    /// Bearer token.
    pub access_token: String,
    /// The next refresh token: the one sent is spent (sending it again ends the session).
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Seconds the refresh token is valid (the rest of the session).
    pub refresh_expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User name (= home name).
    pub name: String,
    /// `admin`, `user` or `readonly`.
    pub role: String,
    /// Byte quota; `null` is unlimited.
    pub quota: Option<u64>,
    /// Bytes of the current content of every live file in the home.
    pub used_bytes: u64,
}

/// A file or folder.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryJson {
    /// Last path segment (empty for the root).
    pub name: String,
    /// Path in the home.
    pub path: String,
    /// `file` or `folder`.
    pub kind: &'static str,
    /// Bytes (0 for folders).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// Current version number of a file.
    pub version: Option<u64>,
    /// BLAKE3 (hex) of a file's current content; also its ETag.
    pub hash: Option<String>,
    /// Content type given at upload.
    pub content_type: Option<String>,
}

impl From<&Entry> for EntryJson {
    fn from(e: &Entry) -> Self {
        EntryJson {
            name: e.name().to_owned(),
            path: e.path.to_string(),
            kind: kind_name(e.kind),
            size: e.size,
            mtime: secs(e.mtime_ns),
            version: e.version.map(|v| v.0),
            hash: e.hash.map(|h| h.to_hex()),
            content_type: e.attrs.content_type.clone(),
        }
    }
}

/// One page of a folder.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse {
    /// The folder.
    pub path: String,
    /// Entries of this page, in the requested order.
    pub entries: Vec<EntryJson>,
    /// Pass as `cursor` (with the same `sort` and `order`) for the next page; absent on the
    /// last page.
    pub next_cursor: Option<String>,
}

/// `GET /files/{path}`: a folder's page, or a file's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FilesResponse {
    /// The path is a folder.
    Folder(ListResponse),
    /// The path is a file.
    File(EntryJson),
}

/// `POST /move` and `POST /copy` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// Source path.
    pub from: String,
    /// Destination path (its parent folder must exist).
    pub to: String,
    /// Replace an existing destination (which goes to the trash); default false (409).
    #[serde(default)]
    pub overwrite: bool,
}

/// One version of a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionJson {
    /// 1, 2, 3… oldest first; never reused.
    pub version: u64,
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// When it was committed, Unix seconds.
    pub created: i64,
    /// BLAKE3 (hex) of the content.
    pub hash: String,
    /// Who made it: an account's name, or `share:<id>` for an upload through a file-drop
    /// link; absent for versions stored before authors were recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl From<&VersionRecord> for VersionJson {
    fn from(v: &VersionRecord) -> Self {
        VersionJson {
            version: v.num.0,
            size: v.size,
            mtime: secs(v.mtime_ns),
            created: secs(v.created_ns),
            hash: v.hash.to_hex(),
            author: v.author.clone(),
        }
    }
}

/// Every version of a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionsResponse {
    /// Oldest first.
    pub versions: Vec<VersionJson>,
}

/// `POST /versions/{path}/restore` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RestoreVersionRequest {
    /// The version to make current again.
    pub version: u64,
}

/// A trash entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrashJson {
    /// Entry id.
    pub id: i64,
    /// Path it had.
    pub path: String,
    /// `file` or `folder`.
    pub kind: &'static str,
    /// When it was deleted, Unix seconds.
    pub deleted: i64,
}

impl From<&TrashRecord> for TrashJson {
    fn from(t: &TrashRecord) -> Self {
        TrashJson {
            id: t.id.0,
            path: t.path.clone(),
            kind: kind_name(t.kind),
            deleted: secs(t.deleted_ns),
        }
    }
}

/// Trash entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrashListResponse {
    /// Entries.
    pub entries: Vec<TrashJson>,
}

/// `POST /trash/restore` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TrashRestoreRequest {
    /// Entries to restore, in order.
    pub ids: Vec<i64>,
    /// Restore to this path instead of the old one (only with a single id; its parent
    /// folder must exist).
    pub to: Option<String>,
}

/// A restored entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoredJson {
    /// Entry id.
    pub id: i64,
    /// Where it is now.
    pub path: String,
}

/// Result of `POST /trash/restore`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrashRestoreResponse {
    /// Restored entries.
    pub restored: Vec<RestoredJson>,
}

/// Result of purging the whole trash.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeResponse {
    /// Entries purged.
    pub purged: usize,
    /// Entries kept because a version in them is under object lock (S3 retention or
    /// legal hold).
    pub retained: usize,
}

/// An account, as administrators see it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    /// Name.
    pub name: String,
    /// `admin`, `user` or `readonly`.
    pub role: String,
    /// Byte quota; `null` is unlimited.
    pub quota: Option<u64>,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Retention of old versions in this user's home, keep the newest N: `null` follows the
    /// server's `retention_keep_versions`, `0` turns the count rule off for this user.
    pub keep_versions: Option<u32>,
    /// Retention, keep versions younger than D days: `null` follows the server's
    /// `retention_keep_days`, `0` turns the age rule off for this user. Both rules off
    /// keeps every version.
    pub keep_days: Option<u32>,
}

impl From<&UserRecord> for UserJson {
    fn from(u: &UserRecord) -> Self {
        UserJson {
            name: u.name.clone(),
            role: u.role.clone(),
            quota: u.quota,
            disabled: u.disabled,
            created: secs(u.created_ns),
            keep_versions: u.keep_versions,
            keep_days: u.keep_days,
        }
    }
}

/// Every account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersResponse {
    /// Sorted by name.
    pub users: Vec<UserJson>,
}

/// `POST /admin/users` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// 1–64 of `[A-Za-z0-9._-]`, not starting with `.`.
    pub name: String,
    /// Initial password.
    pub password: String,
    /// `admin`, `user` (default) or `readonly`.
    pub role: Option<String>,
    /// Byte quota; absent or `null` is unlimited.
    pub quota: Option<u64>,
}

/// `PATCH /admin/users/{name}` body: only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    /// New role.
    pub role: Option<String>,
    /// New quota in bytes; `null` makes it unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub quota: Option<Option<u64>>,
    /// Disable (true) or enable (false) sign-in.
    pub disabled: Option<bool>,
    /// New password.
    pub password: Option<String>,
    /// Retention, keep the newest N versions of each file in this user's home (0 to
    /// 1,000,000): `null` follows the server's rule again, `0` turns the count rule off for
    /// this user.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, maximum = 1_000_000)]
    pub keep_versions: Option<Option<u32>>,
    /// Retention, keep versions younger than D days (0 to 36,500): `null` follows the
    /// server's rule again, `0` turns the age rule off. `keep_versions` and `keep_days`
    /// both `0` keep every version of this user's files.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, maximum = 36_500)]
    pub keep_days: Option<Option<u32>>,
}

/// A field that is present (possibly `null`) becomes `Some(value)`; absent stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Store totals (`GET /admin/stats`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsJson {
    /// Sum of the sizes of every version of every file.
    pub logical_bytes: u64,
    /// Sum of the sizes of the current version of each live file.
    pub current_bytes: u64,
    /// Bytes of chunk frames (after dedup and compression).
    pub stored_bytes: u64,
    /// Bytes of pack files on disk.
    pub pack_bytes: u64,
    /// Size of the metadata database.
    pub meta_bytes: u64,
    /// Distinct chunks.
    pub chunks: u64,
    /// Plaintext bytes of distinct chunks.
    pub unique_bytes: u64,
    /// Live files.
    pub files: u64,
    /// Live folders.
    pub dirs: u64,
    /// Versions (live and trashed files).
    pub versions: u64,
    /// Trash entries.
    pub trash_entries: u64,
    /// `logical_bytes / unique_bytes`.
    pub dedup_ratio: f64,
    /// `unique_bytes / stored_bytes`.
    pub compression_ratio: f64,
}

impl From<nas_engine::StoreStats> for StatsJson {
    fn from(s: nas_engine::StoreStats) -> Self {
        StatsJson {
            logical_bytes: s.logical_bytes,
            current_bytes: s.current_bytes,
            stored_bytes: s.stored_bytes,
            pack_bytes: s.pack_bytes,
            meta_bytes: s.meta_bytes,
            chunks: s.chunks,
            unique_bytes: s.unique_bytes,
            files: s.files,
            dirs: s.dirs,
            versions: s.versions,
            trash_entries: s.trash_entries,
            dedup_ratio: s.dedup_ratio,
            compression_ratio: s.compression_ratio,
        }
    }
}

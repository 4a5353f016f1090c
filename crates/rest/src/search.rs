//! `GET /search`: files and folders of the caller's home whose name contains `q`
//! (ASCII case-insensitive), with optional filters, paged by an opaque cursor. The engine
//! answers a `q` of 3+ characters from its name index (trigram), a shorter one with a scan
//! of names that stops once a page is full; the results are the same either way.

use crate::error::{ErrorBody, RestError, RestResult};
use crate::extract::{Caller, Query};
use crate::files::home_of;
use crate::list::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::model::EntryJson;
use crate::state::{RestState, blocking};
use axum::Json;
use axum::extract::State;
use nas_engine::{NodeKind, SearchFilter};
use nas_types::NodeId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /search`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Substring of the name (ASCII case-insensitive; required).
    pub q: Option<String>,
    /// `file` or `folder`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Files of at least this many bytes (folders are then excluded).
    pub min_size: Option<u64>,
    /// Files of at most this many bytes (folders are then excluded).
    pub max_size: Option<u64>,
    /// Modified at or after (Unix seconds).
    pub modified_after: Option<i64>,
    /// Modified before (Unix seconds).
    pub modified_before: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// One page of matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Matches of this page (in no particular order of name or path).
    pub entries: Vec<EntryJson>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn ns(secs: Option<i64>) -> Option<i64> {
    secs.map(|s| s.saturating_mul(1_000_000_000))
}

/// Searches the caller's home by name.
#[utoipa::path(get, path = "/api/v1/search", tag = "files", params(SearchQuery),
    responses(
        (status = 200, description = "One page of matches", body = SearchResponse),
        (status = 400, description = "No q, or a bad type or cursor", body = ErrorBody),
    ))]
pub async fn search(
    State(st): State<RestState>,
    c: Caller,
    Query(q): Query<SearchQuery>,
) -> RestResult<Json<SearchResponse>> {
    let needle = q.q.clone().unwrap_or_default();
    if needle.is_empty() {
        return Err(RestError::BadRequest("q is required".into()));
    }
    let kind = match q.kind.as_deref() {
        None => None,
        Some("file") => Some(NodeKind::File),
        Some("folder") => Some(NodeKind::Dir),
        Some(other) => {
            return Err(RestError::BadRequest(format!(
                "type must be file or folder, not {other:?}"
            )));
        }
    };
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            Some(NodeId(c.parse().map_err(|_| {
                RestError::BadRequest("invalid cursor".into())
            })?))
        }
    };
    let filter = SearchFilter {
        needle,
        kind,
        min_size: q.min_size,
        max_size: q.max_size,
        modified_after: ns(q.modified_after),
        modified_before: ns(q.modified_before),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    blocking(move || {
        let page = home_of(&st, &c)?.search(&filter, after, limit)?;
        Ok(Json(SearchResponse {
            entries: page.entries.iter().map(EntryJson::from).collect(),
            next_cursor: page.next_after.map(|n| n.0.to_string()),
        }))
    })
    .await
}

//! Folder listings, paged with keyset cursors in any order: by name ascending straight from
//! the engine's name paging, or — `sort=size|mtime`, `order=desc` — from the engine's sorted
//! listing (`Home::list_sorted`). Any folder size; every entry present for a whole walk
//! comes exactly once.
//!
//! Cursors are opaque to clients: `n.<base64url name>` (name ascending) or
//! `k.<key value>.<base64url name>` (every other order: the last entry's size or mtime in
//! ns, and its name). A cursor is only valid with the `sort` and `order` it was issued for.

use crate::error::{RestError, RestResult};
use crate::model::{EntryJson, ListResponse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use nas_engine::{Entry, Home, ListKey};
use nas_types::NasPath;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size (larger values are clamped).
pub const MAX_LIMIT: usize = 1000;
/// Sort key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Bytewise by name (default).
    #[default]
    Name,
    /// By size, then name.
    Size,
    /// By modification time, then name.
    Mtime,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Ascending (default).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// Query of a folder listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page: default 100, at most 1000.
    pub limit: Option<usize>,
    /// `name` (default), `size` or `mtime`.
    pub sort: Option<Sort>,
    /// `asc` (default) or `desc`.
    pub order: Option<Order>,
}

/// One page of the folder `path`. Blocking (engine calls).
pub fn list_page(home: &Home, path: &NasPath, q: &ListQuery) -> RestResult<ListResponse> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let (sort, order) = (q.sort.unwrap_or_default(), q.order.unwrap_or_default());
    let (entries, next) = if sort == Sort::Name && order == Order::Asc {
        by_name(home, path, q.cursor.as_deref(), limit)?
    } else {
        sorted(home, path, q.cursor.as_deref(), limit, sort, order)?
    };
    Ok(ListResponse {
        path: path.to_string(),
        entries: entries.iter().map(EntryJson::from).collect(),
        next_cursor: next,
    })
}

fn bad_cursor() -> RestError {
    RestError::BadRequest("invalid cursor (or one issued for another sort or order)".into())
}

fn by_name(
    home: &Home,
    path: &NasPath,
    cursor: Option<&str>,
    limit: usize,
) -> RestResult<(Vec<Entry>, Option<String>)> {
    let after = match cursor {
        None => None,
        Some(c) => {
            let raw = c.strip_prefix("n.").ok_or_else(bad_cursor)?;
            let bytes = B64.decode(raw).map_err(|_| bad_cursor())?;
            Some(String::from_utf8(bytes).map_err(|_| bad_cursor())?)
        }
    };
    // one more than asked tells whether another page exists
    let mut page = home.list(path, after.as_deref(), limit + 1)?.entries;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|e| format!("n.{}", B64.encode(e.name())))
    } else {
        None
    };
    Ok((page, next))
}

fn sorted(
    home: &Home,
    path: &NasPath,
    cursor: Option<&str>,
    limit: usize,
    sort: Sort,
    order: Order,
) -> RestResult<(Vec<Entry>, Option<String>)> {
    let key = match sort {
        Sort::Name => ListKey::Name,
        Sort::Size => ListKey::Size,
        Sort::Mtime => ListKey::Mtime,
    };
    let after = match cursor {
        None => None,
        Some(c) => {
            let (v, name) = c
                .strip_prefix("k.")
                .and_then(|r| r.split_once('.'))
                .ok_or_else(bad_cursor)?;
            let v: i64 = v.parse().map_err(|_| bad_cursor())?;
            let name = B64.decode(name).map_err(|_| bad_cursor())?;
            Some((v, String::from_utf8(name).map_err(|_| bad_cursor())?))
        }
    };
    let after = after.as_ref().map(|(v, n)| (*v, n.as_str()));
    let mut page = home.list_sorted(path, key, order == Order::Desc, after, limit + 1)?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last()
            .map(|e| format!("k.{}.{}", e.sort_value(key), B64.encode(e.name())))
    } else {
        None
    };
    Ok((page, next))
}

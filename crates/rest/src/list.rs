//! Folder listings, paged with keyset cursors in every order (`Home::list_sorted`: by name,
//! size or mtime, ascending or descending, ties by name). Any folder size; every entry
//! present for a whole walk comes exactly once.
//!
//! Cursors are opaque to clients: `<sort><order>.<key value>.<base64url name>` — e.g.
//! `sd.4096.Zm9v` (size descending, after the entry of 4096 bytes named `foo`). A cursor
//! names the order it was issued for and is refused (400) with another.

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
    let (entries, next) = page(home, path, q.cursor.as_deref(), limit, sort, order)?;
    Ok(ListResponse {
        path: path.to_string(),
        entries: entries.iter().map(EntryJson::from).collect(),
        next_cursor: next,
    })
}

fn bad_cursor() -> RestError {
    RestError::BadRequest("invalid cursor (or one issued for another sort or order)".into())
}

fn page(
    home: &Home,
    path: &NasPath,
    cursor: Option<&str>,
    limit: usize,
    sort: Sort,
    order: Order,
) -> RestResult<(Vec<Entry>, Option<String>)> {
    let (key, k) = match sort {
        Sort::Name => (ListKey::Name, 'n'),
        Sort::Size => (ListKey::Size, 's'),
        Sort::Mtime => (ListKey::Mtime, 'm'),
    };
    let tag = format!("{k}{}.", if order == Order::Desc { 'd' } else { 'a' });
    let after = match cursor {
        None => None,
        Some(c) => {
            let (v, name) = c
                .strip_prefix(&tag)
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
            .map(|e| format!("{tag}{}.{}", e.sort_value(key), B64.encode(e.name())))
    } else {
        None
    };
    Ok((page, next))
}

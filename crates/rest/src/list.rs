//! Folder listings: pages in name order straight from the engine's keyset paging (any
//! folder size), or — for `sort=size|mtime` or `order=desc` — a bounded folder sorted in
//! memory (at most [`MAX_SORTED`] entries; larger folders get a 400 that says so).
//!
//! Cursors are opaque to clients: `n.<base64url name>` (the last name of the page, name
//! order) or `o.<offset>` (sorted in memory). A cursor is only valid with the `sort` and
//! `order` it was issued for.

use crate::error::{RestError, RestResult};
use crate::model::{EntryJson, ListResponse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use nas_engine::{Entry, Home};
use nas_types::NasPath;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size (larger values are clamped).
pub const MAX_LIMIT: usize = 1000;
/// Largest folder that can be sorted by size or mtime, or by name descending.
pub const MAX_SORTED: usize = 10_000;

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
    let offset: usize = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("o.")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad_cursor)?,
    };
    let mut all: Vec<Entry> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = home.list(path, after.as_deref(), MAX_LIMIT)?;
        all.extend(page.entries);
        if all.len() > MAX_SORTED {
            return Err(RestError::BadRequest(format!(
                "sorting by size or mtime, or descending, is limited to folders of up to \
                 {MAX_SORTED} entries; list this folder by name ascending"
            )));
        }
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    match sort {
        Sort::Name => {} // the engine's order
        Sort::Size => all.sort_by(|a, b| a.size.cmp(&b.size).then_with(|| a.name().cmp(b.name()))),
        Sort::Mtime => all.sort_by(|a, b| {
            a.mtime_ns
                .cmp(&b.mtime_ns)
                .then_with(|| a.name().cmp(b.name()))
        }),
    }
    if order == Order::Desc {
        all.reverse();
    }
    let end = offset.saturating_add(limit).min(all.len());
    let next = (end < all.len()).then(|| format!("o.{end}"));
    let page = all
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .collect();
    Ok((page, next))
}

//! Delete markers: S3's view of the trash. Deleting an object (through any door) moves its
//! file to the trash; while no file is at that key again, the newest trash entry of the
//! key's path is the object's **current delete marker**: GET/HEAD answer 404 with
//! `x-amz-delete-marker: true`, ListObjectVersions lists it (`IsLatest`) above the trashed
//! file's versions, and deleting the marker's version id restores the file from the trash.
//! A marker's version id is `dm` and the trash entry's id (`dm42`), so it can never be
//! mistaken for a version number. Folders in the trash are not markers (S3 deletes keys,
//! not folders). The older file trash entries of a key are its older markers: each stands
//! between the versions of the file it holds and those of the file put at the key after
//! it (the engine's history of a path, `Home::locate_version`).

use crate::keys::bucket_path;
use nas_engine::{EngineError, Home, NodeKind, TrashRecord, VersionRecord};
use nas_types::{NasPath, TrashId, VersionNum};
use s3s::{S3Error, S3ErrorCode, S3Result};
use std::collections::BTreeMap;

/// A version id as clients send it: one of the engine's version numbers (`None`: `null`)
/// or a delete marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vid {
    Version(Option<VersionNum>),
    Marker(TrashId),
}

/// Parses a client's version id (`InvalidArgument` when malformed).
pub fn parse(id: &str) -> S3Result<Vid> {
    if let Some(n) = id.strip_prefix("dm") {
        let ok = !n.is_empty() && n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit());
        return match n.parse::<i64>() {
            Ok(v) if ok && v > 0 => Ok(Vid::Marker(TrashId(v))),
            _ => Err(crate::version_id::malformed()),
        };
    }
    crate::version_id::parse(id).map(Vid::Version)
}

/// The version id of the marker a trash entry stands for.
pub fn id_of(t: &TrashRecord) -> String {
    format!("dm{}", t.id)
}

fn is_file_at(home: &Home, p: &NasPath) -> Result<bool, EngineError> {
    match home.stat(p) {
        Ok(e) => Ok(e.kind == NodeKind::File),
        Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The current delete marker of the key at `p`: the newest trash entry of a file at that
/// path, when no file is there (blocking).
pub fn current(home: &Home, p: &NasPath) -> Result<Option<TrashRecord>, EngineError> {
    if is_file_at(home, p)? {
        return Ok(None);
    }
    Ok(home
        .trash_list()?
        .into_iter()
        .find(|t| t.kind == NodeKind::File && t.path == p.as_str()))
}

/// The marker `id` names at `p`, if it is one of this key's trash entries (blocking).
pub fn named(home: &Home, p: &NasPath, id: TrashId) -> Result<Option<TrashRecord>, EngineError> {
    match home.trash_entry(id) {
        Ok(t) if t.kind == NodeKind::File && t.path == p.as_str() => Ok(Some(t)),
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// True when `t` is the current marker of its key.
pub fn is_current(home: &Home, t: &TrashRecord) -> Result<bool, EngineError> {
    let p = NasPath::parse(&t.path)?;
    Ok(current(home, &p)?.is_some_and(|c| c.id == t.id))
}

/// Every delete marker of a bucket, by key (blocking): the file trash entries of each path
/// below the bucket, newest first (the first is the key's current marker when no file is
/// at that path now).
pub fn of_bucket(home: &Home, bucket: &str) -> S3Result<BTreeMap<String, Vec<TrashRecord>>> {
    let root = bucket_path(bucket)?;
    let dir = format!("{}/", root.as_str());
    let mut out: BTreeMap<String, Vec<TrashRecord>> = BTreeMap::new();
    let all = home.trash_list().map_err(crate::keys::s3_err)?; // newest first
    for t in all {
        if t.kind != NodeKind::File {
            continue;
        }
        if let Some(key) = t.path.strip_prefix(&dir) {
            out.entry(key.to_owned()).or_default().push(t);
        }
    }
    Ok(out)
}

/// The versions of a trashed file, newest first (empty if the entry went meanwhile).
pub fn versions(home: &Home, t: &TrashRecord) -> Result<Vec<VersionRecord>, EngineError> {
    match home.trash_versions(t.id) {
        Ok(mut v) => {
            v.reverse();
            Ok(v)
        }
        Err(EngineError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The headers of an answer about a delete marker.
fn marker_headers(t: &TrashRecord) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        "content-type",
        http::HeaderValue::from_static("application/xml"),
    );
    h.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&id_of(t)) {
        h.insert("x-amz-version-id", v);
    }
    h
}

/// GET/HEAD of a key whose current state is a delete marker: 404 `NoSuchKey` with
/// `x-amz-delete-marker: true` and the marker's version id.
pub fn no_such_key(t: &TrashRecord) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::NoSuchKey,
        "The specified key does not exist (its current version is a delete marker)",
    );
    e.set_headers(marker_headers(t));
    e
}

/// GET/HEAD naming a delete marker's version id: 405 `MethodNotAllowed`, as AWS.
pub fn not_allowed(t: &TrashRecord) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::MethodNotAllowed,
        "The specified method is not allowed against a delete marker",
    );
    e.set_headers(marker_headers(t));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_ids_are_dm_and_a_trash_id() {
        assert_eq!(parse("dm7").unwrap(), Vid::Marker(TrashId(7)));
        assert_eq!(parse("7").unwrap(), Vid::Version(Some(VersionNum(7))));
        assert_eq!(parse("null").unwrap(), Vid::Version(None));
        for bad in ["dm", "dm0", "dm-1", "dmx", "dm 1", "dm99999999999999999999"] {
            assert_eq!(
                *parse(bad).unwrap_err().code(),
                S3ErrorCode::InvalidArgument
            );
        }
    }
}

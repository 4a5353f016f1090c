//! ListObjectVersions: walks keys like ListObjects and lists each key's versions, newest
//! first; version ids are the engine's version numbers. Each file deleted from a key (a
//! trash entry) lists as a delete marker (`markers`) above the deleted file's versions,
//! below the versions of what was put at the key after it.
//! The versioning status: `versioning`.

use crate::keys::{blocking, bucket_path, object_path};
use crate::list::{common, encoder, walk_page};
use crate::markers::{self, Vid};
use crate::objects::etag_of_version;
use crate::service::{NasS3, need_bucket, owner_of, timestamp};
use nas_engine::{EngineError, Home, TrashRecord, VersionRecord};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One listed version or delete marker, before encoding.
struct Listed {
    key: String,
    id: String,
    num: u64,
    latest: bool,
    /// `None` for a delete marker.
    content: Option<(ETag, u64)>,
    mtime_ns: i64,
}

/// A version of `key` as listed (not yet knowing whether it is the latest).
fn listed(key: &str, v: VersionRecord) -> Listed {
    Listed {
        key: key.to_owned(),
        id: v.num.to_string(),
        num: v.num.0,
        latest: false,
        content: Some((etag_of_version(&v.attrs, Some(&v.hash)), v.size)),
        mtime_ns: v.mtime_ns,
    }
}

/// A key's history as S3 lists it, newest first (blocking): the versions of the file at
/// the key now, then for each file deleted from it (`trashed`, newest first) its delete
/// marker and its versions. Only the first is `IsLatest`. A version number met twice (files
/// deleted before schema 20 numbered apart) is listed once, the newer.
fn versions_of(
    home: &Home,
    bucket: &str,
    key: &str,
    trashed: &[TrashRecord],
) -> Result<Vec<Listed>, EngineError> {
    let p = object_path(bucket, key).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
    let mut all: Vec<Listed> = match home.versions(&p) {
        Ok(v) => v.into_iter().rev().map(|v| listed(key, v)).collect(),
        Err(
            EngineError::NotFound(_) | EngineError::NotADirectory(_) | EngineError::IsADirectory(_),
        ) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut seen: HashSet<u64> = all.iter().map(|v| v.num).collect();
    for t in trashed {
        all.push(Listed {
            key: key.to_owned(),
            id: markers::id_of(t),
            num: 0,
            latest: false,
            content: None,
            mtime_ns: t.deleted_ns,
        });
        for v in markers::versions(home, t)? {
            if seen.insert(v.num.0) {
                all.push(listed(key, v));
            }
        }
    }
    if let Some(first) = all.first_mut() {
        first.latest = true;
    }
    Ok(all)
}

/// The keys and common prefixes that only delete markers hold (their files are in the
/// trash, so the tree walk does not see them), after `after` and up to `upto`.
fn marker_items(
    marks: &BTreeMap<String, Vec<TrashRecord>>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    upto: Option<&str>,
) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for key in marks.keys() {
        if !key.starts_with(prefix) || after.is_some_and(|a| key.as_str() <= a) {
            continue;
        }
        if upto.is_some_and(|u| key.as_str() > u) {
            break;
        }
        let rel = &key[prefix.len()..];
        match delimiter.and_then(|d| rel.find(d).map(|i| i + d.len())) {
            Some(end) => {
                let cp = format!("{prefix}{}", &rel[..end]);
                if after.is_none_or(|a| cp.as_str() > a) {
                    out.push((cp, true));
                }
            }
            None => out.push((key.clone(), false)),
        }
    }
    out
}

pub async fn list_versions(
    s3: &NasS3,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let (home, who) = s3.caller(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = input.max_keys.unwrap_or(1000).clamp(1, 1000) as usize;
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    // a malformed marker is refused, never read as "from the start"
    let vid_marker: Option<(String, Option<u64>)> = match input.version_id_marker.as_deref() {
        None | Some("") => None,
        Some(v) => match markers::parse(v)? {
            Vid::Version(n) => Some((v.to_owned(), n.map(|n| n.0))),
            Vid::Marker(_) => Some((v.to_owned(), None)),
        },
    };
    let bucket = input.bucket.clone();
    let (p2, d2) = (prefix.clone(), delimiter.clone());
    let (versions, prefixes, next) = blocking(move || {
        let root = bucket_path(&bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        let marks = markers::of_bucket(&home, &bucket)
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        let of = |key: &str| {
            let t = marks.get(key).map_or(&[][..], Vec::as_slice);
            versions_of(&home, &bucket, key, t)
        };
        let mut out: Vec<Listed> = Vec::new();
        let mut prefixes = Vec::new();
        // the last item listed: where the next page resumes
        let mut last: Option<(String, String)> = None;
        // the rest of a key cut short by the previous page
        if let (Some(k), Some((vid, num))) = (&key_marker, &vid_marker) {
            let all = of(k)?;
            let rest: Vec<Listed> = match all.iter().position(|v| &v.id == vid) {
                Some(i) => all.into_iter().skip(i + 1).collect(),
                None => all
                    .into_iter()
                    .filter(|v| v.content.is_some() && num.is_some_and(|m| v.num < m))
                    .collect(),
            };
            for v in rest {
                if out.len() >= max {
                    return Ok((out, prefixes, last));
                }
                last = Some((v.key.clone(), v.id.clone()));
                out.push(v);
            }
        }
        let page = walk_page(
            &home,
            &root,
            p2.clone(),
            d2.clone(),
            max - out.len(),
            key_marker.clone(),
        )?;
        let upto = page.truncated.then(|| page.last.clone()).flatten();
        // keys and prefixes in S3's order, with those only delete markers hold
        let mut items: BTreeSet<(String, bool)> = page
            .contents
            .iter()
            .filter_map(|o| o.key.clone().map(|k| (k, false)))
            .chain(page.prefixes.iter().map(|p| (p.clone(), true)))
            .collect();
        items.extend(marker_items(
            &marks,
            &p2,
            d2.as_deref(),
            key_marker.as_deref(),
            upto.as_deref(),
        ));
        let mut seen_prefix = BTreeSet::new();
        for (key, is_prefix) in items {
            if is_prefix {
                if !seen_prefix.insert(key.clone()) {
                    continue;
                }
                if out.len() + prefixes.len() >= max {
                    return Ok((out, prefixes, last));
                }
                last = Some((key.clone(), String::new()));
                prefixes.push(key);
                continue;
            }
            for v in of(&key)? {
                if out.len() + prefixes.len() >= max {
                    return Ok((out, prefixes, last));
                }
                last = Some((v.key.clone(), v.id.clone()));
                out.push(v);
            }
        }
        let next = if page.truncated {
            page.last.map(|k| (k, String::new()))
        } else {
            None
        };
        Ok((out, prefixes, next))
    })
    .await?;
    let enc = encoder(input.encoding_type.as_ref());
    let (next_key, next_vid) = match next {
        Some((k, v)) => (Some(enc(k)), (!v.is_empty()).then_some(v)),
        None => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(prefix)),
        delimiter: delimiter.map(&enc),
        key_marker: input.key_marker,
        version_id_marker: input.version_id_marker,
        max_keys: Some(max as i32),
        is_truncated: Some(next_key.is_some()),
        next_key_marker: next_key,
        next_version_id_marker: next_vid,
        encoding_type: input.encoding_type,
        delete_markers: Some(
            versions
                .iter()
                .filter(|v| v.content.is_none())
                .map(|v| DeleteMarkerEntry {
                    key: Some(enc(v.key.clone())),
                    version_id: Some(v.id.clone()),
                    is_latest: Some(v.latest),
                    last_modified: Some(timestamp(v.mtime_ns)),
                    owner: Some(owner_of(&who.name)),
                })
                .collect(),
        ),
        versions: Some(
            versions
                .into_iter()
                .filter_map(|v| {
                    let (etag, size) = v.content?;
                    Some(ObjectVersion {
                        key: Some(enc(v.key)),
                        version_id: Some(v.id),
                        is_latest: Some(v.latest),
                        e_tag: Some(etag),
                        size: Some(size as i64),
                        last_modified: Some(timestamp(v.mtime_ns)),
                        owner: Some(owner_of(&who.name)),
                        storage_class: Some(ObjectVersionStorageClass::from_static(
                            ObjectVersionStorageClass::STANDARD,
                        )),
                        ..Default::default()
                    })
                })
                .collect(),
        ),
        common_prefixes: common(prefixes, &enc),
        ..Default::default()
    }))
}

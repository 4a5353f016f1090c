//! Versions through S3: every overwrite keeps the old version (the engine's promise), so a
//! bucket's versioning status is always `Enabled`; version ids are the engine's version
//! numbers. ListObjectVersions walks keys like ListObjects and lists each key's versions,
//! newest first. Deleted objects are in the trash, not behind delete markers, so no
//! delete markers are listed (see docs/compat/s3.md).

use crate::keys::{blocking, bucket_path, object_path};
use crate::list::{common, encoder, walk_page};
use crate::objects::etag_of_version;
use crate::service::{NasS3, need_bucket, timestamp};
use nas_engine::EngineError;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

pub async fn get_versioning(
    s3: &NasS3,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::ENABLED,
        )),
        ..Default::default()
    }))
}

pub async fn put_versioning(
    s3: &NasS3,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    match req.input.versioning_configuration.status.as_ref() {
        Some(s) if s.as_str() == BucketVersioningStatus::ENABLED => {
            Ok(S3Response::new(PutBucketVersioningOutput::default()))
        }
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "versioning cannot be suspended: Silent-NAS keeps every version of every file; \
             old versions are pruned by the retention policy",
        )),
    }
}

/// One listed version, before encoding.
struct Listed {
    key: String,
    num: u64,
    latest: bool,
    etag: ETag,
    size: u64,
    mtime_ns: i64,
}

pub async fn list_versions(
    s3: &NasS3,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = input.max_keys.unwrap_or(1000).clamp(1, 1000) as usize;
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    // a malformed marker is refused, never read as "from the start"
    let vid_marker: Option<u64> = match input.version_id_marker.as_deref() {
        None | Some("") => None,
        Some(v) => crate::version_id::parse(v)?.map(|n| n.0),
    };
    let bucket = input.bucket.clone();
    let (p2, d2) = (prefix.clone(), delimiter.clone());
    let (versions, prefixes, next) = blocking(move || {
        let root = bucket_path(&bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        let versions_of = |key: &str| -> Result<Vec<Listed>, EngineError> {
            let p = object_path(&bucket, key)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
            let mut all = match home.versions(&p) {
                Ok(v) => v,
                Err(EngineError::NotFound(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            all.reverse(); // newest first
            let head = all.first().map(|v| v.num);
            Ok(all
                .into_iter()
                .map(|v| Listed {
                    key: key.to_owned(),
                    num: v.num.0,
                    latest: Some(v.num) == head,
                    etag: etag_of_version(&v.attrs, Some(&v.hash)),
                    size: v.size,
                    mtime_ns: v.mtime_ns,
                })
                .collect())
        };
        let mut out: Vec<Listed> = Vec::new();
        let mut prefixes = Vec::new();
        // the rest of a key cut short by the previous page
        if let (Some(k), Some(m)) = (&key_marker, vid_marker) {
            out.extend(versions_of(k)?.into_iter().filter(|v| v.num < m));
            if out.len() > max {
                out.truncate(max);
                let last = out.last().map(|v| (v.key.clone(), v.num.to_string()));
                return Ok((out, prefixes, last));
            }
        }
        let page = walk_page(&home, &root, p2, d2, max - out.len(), key_marker)?;
        // keys and prefixes in walk order
        let mut items: Vec<(String, bool)> = page
            .contents
            .iter()
            .filter_map(|o| o.key.clone().map(|k| (k, false)))
            .chain(page.prefixes.iter().map(|p| (p.clone(), true)))
            .collect();
        items.sort();
        for (key, is_prefix) in items {
            if out.len() + prefixes.len() >= max {
                let last = out.last().map(|v| (v.key.clone(), v.num.to_string()));
                return Ok((out, prefixes, last));
            }
            if is_prefix {
                prefixes.push(key);
                continue;
            }
            for v in versions_of(&key)? {
                if out.len() + prefixes.len() >= max {
                    let last = out.last().map(|v| (v.key.clone(), v.num.to_string()));
                    return Ok((out, prefixes, last));
                }
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
        versions: Some(
            versions
                .into_iter()
                .map(|v| ObjectVersion {
                    key: Some(enc(v.key)),
                    version_id: Some(v.num.to_string()),
                    is_latest: Some(v.latest),
                    e_tag: Some(v.etag),
                    size: Some(v.size as i64),
                    last_modified: Some(timestamp(v.mtime_ns)),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    ..Default::default()
                })
                .collect(),
        ),
        common_prefixes: common(prefixes, &enc),
        ..Default::default()
    }))
}
